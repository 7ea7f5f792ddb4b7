// MNIST-style preprocessing of an arbitrary picture of one digit (LeCun et al.: "normalized to fit in a 20x20
// pixel box while preserving their aspect ratio ... anti-aliasing ... centered in a 28x28 image by computing the
// center of mass of the pixels"). MNIST's own images have their centre of mass at (14, 14) in pixel indices.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <string>
#include <vector>

#include "mnist/error.hpp"
#include "mnist/image.hpp"

namespace mnist {
namespace {

constexpr std::size_t kSide = 28;      // output side
constexpr std::size_t kBox = 20;       // the ink is fitted into kBox x kBox
constexpr double kCentre = 14.0;       // where the centre of mass goes (row and column index)
constexpr double kInkThreshold = 0.1;  // fraction of the ink range that counts as ink for the bounding box

struct Box {
  std::size_t top, left, height, width;
};

// One output sample of a 1-D resampling: source index and weight pairs.
struct Taps {
  std::vector<std::size_t> index;
  std::vector<double> weight;
};

// Weights that map n_in samples onto n_out: area averaging when shrinking (each output sample is the mean of the
// source interval it covers, which anti-aliases), linear interpolation when enlarging.
std::vector<Taps> resampling_taps(std::size_t n_in, std::size_t n_out) {
  std::vector<Taps> taps(n_out);
  double step = static_cast<double>(n_in) / static_cast<double>(n_out);  // source samples per output sample
  for (std::size_t i = 0; i < n_out; ++i) {
    Taps& t = taps[i];
    if (step >= 1.0) {
      double begin = static_cast<double>(i) * step, end = begin + step;
      for (auto j = static_cast<std::size_t>(begin); j < n_in && static_cast<double>(j) < end; ++j) {
        double overlap = std::min(end, static_cast<double>(j + 1)) - std::max(begin, static_cast<double>(j));
        if (overlap > 0) {
          t.index.push_back(j);
          t.weight.push_back(overlap / step);
        }
      }
    } else {
      double x = std::clamp((static_cast<double>(i) + 0.5) * step - 0.5, 0.0, static_cast<double>(n_in - 1));
      auto j = static_cast<std::size_t>(x);
      double frac = x - static_cast<double>(j);
      t.index.push_back(j);
      t.weight.push_back(1.0 - frac);
      if (j + 1 < n_in) {
        t.index.push_back(j + 1);
        t.weight.push_back(frac);
      }
    }
  }
  return taps;
}

// in is [in_h][in_w]; returns [out_h][out_w], resampled separably (rows, then columns).
std::vector<double> resample(const std::vector<double>& in, std::size_t in_h, std::size_t in_w, std::size_t out_h,
                             std::size_t out_w) {
  std::vector<Taps> tx = resampling_taps(in_w, out_w), ty = resampling_taps(in_h, out_h);
  std::vector<double> rows(in_h * out_w, 0.0);  // [in_h][out_w]
  for (std::size_t r = 0; r < in_h; ++r)
    for (std::size_t c = 0; c < out_w; ++c) {
      double sum = 0;
      for (std::size_t k = 0; k < tx[c].index.size(); ++k) sum += tx[c].weight[k] * in[r * in_w + tx[c].index[k]];
      rows[r * out_w + c] = sum;
    }
  std::vector<double> out(out_h * out_w, 0.0);  // [out_h][out_w]
  for (std::size_t r = 0; r < out_h; ++r)
    for (std::size_t k = 0; k < ty[r].index.size(); ++k) {
      const double* src = &rows[ty[r].index[k] * out_w];
      for (std::size_t c = 0; c < out_w; ++c) out[r * out_w + c] += ty[r].weight[k] * src[c];
    }
  return out;
}

// Ink of every pixel, 0 = background: inverted when the picture's border is light (dark digit on paper), then the
// background level and its noise (95th percentile of the border) subtracted and the rest stretched to [0, 255].
std::vector<double> ink_of(const GrayImage& img) {
  std::size_t w = img.width, h = img.height;
  std::size_t ring = std::max<std::size_t>(1, std::min(w, h) / 32);  // border thickness that is sampled
  std::vector<std::uint8_t> border;
  for (std::size_t r = 0; r < h; ++r)
    for (std::size_t c = 0; c < w; ++c)
      if (r < ring || c < ring || r + ring >= h || c + ring >= w) border.push_back(img.pixels[r * w + c]);
  double mean = 0;
  for (std::uint8_t v : border) mean += v;
  mean /= static_cast<double>(border.size());
  bool light_background = mean > 127.5;
  auto ink_value = [&](std::uint8_t v) { return light_background ? 255.0 - v : static_cast<double>(v); };

  std::vector<double> border_ink(border.size());
  std::transform(border.begin(), border.end(), border_ink.begin(), ink_value);
  auto p95 = border_ink.begin() + static_cast<std::ptrdiff_t>(border_ink.size() * 95 / 100);
  std::nth_element(border_ink.begin(), p95, border_ink.end());
  double background = *p95;

  std::vector<double> ink(w * h);
  std::transform(img.pixels.begin(), img.pixels.end(), ink.begin(), ink_value);
  double peak = *std::max_element(ink.begin(), ink.end());
  if (peak - background < 32)
    throw Error("preprocess_digit: the image is blank: no ink stands out from the background");
  for (double& v : ink) v = std::max(0.0, v - background) * 255.0 / (peak - background);
  return ink;
}

// Bounding box of the pixels that are clearly ink (above the faint noise that survives background removal).
Box ink_box(const std::vector<double>& ink, std::size_t h, std::size_t w) {
  std::size_t top = h, bottom = 0, left = w, right = 0;
  for (std::size_t r = 0; r < h; ++r)
    for (std::size_t c = 0; c < w; ++c)
      if (ink[r * w + c] > kInkThreshold * 255.0) {
        top = std::min(top, r);
        bottom = std::max(bottom, r);
        left = std::min(left, c);
        right = std::max(right, c);
      }
  return {top, left, bottom - top + 1, right - left + 1};
}

}  // namespace

GrayImage preprocess_digit(const GrayImage& img) {
  if (img.width == 0 || img.height == 0 || img.pixels.size() != img.width * img.height)
    throw Error("preprocess_digit: invalid image (" + std::to_string(img.width) + "x" + std::to_string(img.height) +
                ", " + std::to_string(img.pixels.size()) + " pixels)");
  std::vector<double> ink = ink_of(img);
  Box box = ink_box(ink, img.height, img.width);

  std::vector<double> crop(box.height * box.width);  // [box.height][box.width]
  for (std::size_t r = 0; r < box.height; ++r)
    for (std::size_t c = 0; c < box.width; ++c) crop[r * box.width + c] = ink[(box.top + r) * img.width + box.left + c];

  double scale = static_cast<double>(kBox) / static_cast<double>(std::max(box.height, box.width));
  auto fit = [&](std::size_t n) {
    return std::clamp<std::size_t>(static_cast<std::size_t>(std::lround(static_cast<double>(n) * scale)), 1, kBox);
  };
  std::size_t h = fit(box.height), w = fit(box.width);
  std::vector<double> digit = resample(crop, box.height, box.width, h, w);  // [h][w]

  // Thin strokes lose contrast when shrunk a lot; MNIST strokes peak at full white, so stretch back to 255.
  double peak = *std::max_element(digit.begin(), digit.end());
  double mass = 0, row_moment = 0, col_moment = 0;
  for (std::size_t r = 0; r < h; ++r)
    for (std::size_t c = 0; c < w; ++c) {
      double& v = digit[r * w + c];
      v = std::min(255.0, v * 255.0 / peak);
      mass += v;
      row_moment += v * static_cast<double>(r);
      col_moment += v * static_cast<double>(c);
    }
  // Integer shift that puts the centre of mass nearest (14, 14), keeping the whole digit inside the frame.
  auto offset = [&](double moment, std::size_t extent) {
    long at = std::lround(kCentre - moment / mass);
    return static_cast<std::size_t>(std::clamp<long>(at, 0, static_cast<long>(kSide - extent)));
  };
  std::size_t top = offset(row_moment, h), left = offset(col_moment, w);

  GrayImage out;
  out.width = out.height = kSide;
  out.pixels.assign(kSide * kSide, 0);
  for (std::size_t r = 0; r < h; ++r)
    for (std::size_t c = 0; c < w; ++c)
      out.pixels[(top + r) * kSide + left + c] = static_cast<std::uint8_t>(std::lround(digit[r * w + c]));
  return out;
}

}  // namespace mnist
