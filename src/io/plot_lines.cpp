// Line charts: training histories (loss, validation accuracy; one model or several overlaid) and function plots.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "io/plot_figure.hpp"
#include "mnist/error.hpp"
#include "mnist/plot.hpp"

namespace mnist {
namespace {

struct Range {
  double lo = std::numeric_limits<double>::infinity(), hi = -std::numeric_limits<double>::infinity();
  void add(double v) {
    if (std::isfinite(v)) lo = std::min(lo, v), hi = std::max(hi, v);
  }
  // The range with a margin of `fraction` of its span on each side (a unit span when all values are equal).
  Range padded(double fraction) const {
    double span = hi - lo;
    double pad = span > 0 ? span * fraction : std::max(0.5, std::abs(lo) * 0.1);
    return {lo - pad, hi + pad};
  }
};

// Tick step for whole-number x values (epochs): 1, 2, 5, 10, 20, 50 ... with at most a dozen ticks.
double integer_tick(double span) {
  for (double step = 1;; step *= 10)
    for (double m : {1.0, 2.0, 5.0})
      if (span / (step * m) <= 12) return step * m;
}

void validate(const std::filesystem::path& png, const LineChart& chart) {
  if (chart.series.empty()) throw Error(png.string() + ": line chart \"" + chart.title + "\" has no series");
  for (const Series& s : chart.series) {
    if (s.x.size() != s.y.size())
      throw Error(png.string() + ": series \"" + s.label + "\" has " + std::to_string(s.x.size()) + " x and " +
                  std::to_string(s.y.size()) + " y values");
    if (s.x.empty()) throw Error(png.string() + ": series \"" + s.label + "\" is empty");
  }
}

}  // namespace

void plot_lines(const std::filesystem::path& png, const LineChart& chart, int width, int height) {
  validate(png, chart);
  Range xr, yr;
  for (const Series& s : chart.series) {
    for (double v : s.x) xr.add(v);
    for (double v : s.y) yr.add(v);
  }
  if (!std::isfinite(xr.lo) || !std::isfinite(yr.lo))
    throw Error(png.string() + ": line chart \"" + chart.title + "\" has no finite values");
  Range xw = xr.padded(chart.integer_x ? 0.03 : 0.0), yw = yr.padded(0.06);
  if (chart.integer_x && xr.hi - xr.lo < 1) xw = {xr.lo - 0.5, xr.hi + 0.5};

  io::render_png(png, width, height, [&](plstream& pls) {
    pls.adv(0);
    pls.schr(0, 1.25);
    pls.vpor(0.12, 0.96, 0.13, 0.90);
    pls.wind(xw.lo, xw.hi, yw.lo, yw.hi);
    double xtick = chart.integer_x ? integer_tick(xr.hi - xr.lo) : 0;
    PLINT nxsub = chart.integer_x ? 1 : 0;

    pls.col0(io::kGrid);
    pls.width(1);
    pls.box("g", xtick, nxsub, "g", 0, 0);
    pls.col0(io::kBlack);
    pls.box("bcnst", xtick, nxsub, "bcnstv", 0, 0);
    pls.mtex("b", 3.0, 0.5, 0.5, chart.x_label.c_str());
    pls.mtex("l", 4.6, 0.5, 0.5, chart.y_label.c_str());
    pls.schr(0, 1.6);
    pls.mtex("t", 1.2, 0.5, 0.5, chart.title.c_str());
    pls.schr(0, 1.25);

    const char* marker = "•";
    // A dot on each epoch while they are few enough to tell apart.
    bool markers = chart.integer_x && xr.hi - xr.lo <= 30;
    for (std::size_t i = 0; i < chart.series.size(); ++i) {
      const Series& s = chart.series[i];
      pls.col0(io::kFirstSeries + static_cast<PLINT>(i % io::kSeriesColours));
      pls.width(2.5);
      // Non-finite values (a diverged run) break the line instead of being drawn.
      for (std::size_t begin = 0; begin < s.x.size();) {
        std::size_t end = begin;
        while (end < s.x.size() && std::isfinite(s.x[end]) && std::isfinite(s.y[end])) ++end;
        auto n = static_cast<PLINT>(end - begin);
        if (n > 1) pls.line(n, &s.x[begin], &s.y[begin]);
        if (n > 0 && markers) {
          pls.schr(0, 2.0);
          pls.string(n, &s.x[begin], &s.y[begin], marker);
          pls.schr(0, 1.25);
        }
        begin = end + 1;
      }
    }
    pls.width(1);
    pls.col0(io::kBlack);

    if (chart.series.size() > 1) {
      // Put the legend in the corner the lines leave free: curves that end high (accuracy) keep the bottom free.
      double end_mean = 0;
      for (const Series& s : chart.series) end_mean += s.y.back();
      end_mean /= static_cast<double>(chart.series.size());
      bool ends_high = end_mean > (yr.lo + yr.hi) / 2;
      PLINT position = PL_POSITION_INSIDE | PL_POSITION_RIGHT | (ends_high ? PL_POSITION_BOTTOM : PL_POSITION_TOP);

      auto n = static_cast<PLINT>(chart.series.size());
      std::vector<PLINT> opts(chart.series.size(), PL_LEGEND_LINE | (markers ? PL_LEGEND_SYMBOL : 0));
      std::vector<PLINT> colours, text_colours(chart.series.size(), io::kBlack), styles(chart.series.size(), 1),
          symbol_numbers(chart.series.size(), 1);
      std::vector<PLFLT> widths(chart.series.size(), 2.5), symbol_scales(chart.series.size(), 1.6);
      std::vector<const char*> texts, symbols(chart.series.size(), marker);
      for (std::size_t i = 0; i < chart.series.size(); ++i) {
        colours.push_back(io::kFirstSeries + static_cast<PLINT>(i % io::kSeriesColours));
        texts.push_back(chart.series[i].label.c_str());
      }
      PLFLT legend_width = 0, legend_height = 0;
      pls.legend(&legend_width, &legend_height, PL_LEGEND_BACKGROUND | PL_LEGEND_BOUNDING_BOX, position, 0.02, 0.03,
                 0.07, io::kWhite, io::kFrame, 1, 0, 0, n, opts.data(), 0.8, 1.0, 2.0, 0.0, text_colours.data(),
                 texts.data(), nullptr, nullptr, nullptr, nullptr, colours.data(), styles.data(), widths.data(),
                 colours.data(), symbol_scales.data(), symbol_numbers.data(), symbols.data());
    }
  });
}

}  // namespace mnist
