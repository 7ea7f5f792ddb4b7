#include "io/plot_figure.hpp"

#include <cerrno>
#include <cstring>
#include <fstream>
#include <mutex>
#include <string>
#include <vector>

#include "mnist/error.hpp"
#include "util/files.hpp"

namespace fs = std::filesystem;

namespace mnist::io {
namespace {

// PLplot's streams, handlers and driver state are global: one figure at a time.
std::mutex& plplot_mutex() {
  static std::mutex mutex;
  return mutex;
}

// plabort() messages (API misuse, non-fatal) are kept here instead of printed, and turned into an Error.
std::string& abort_message() {
  static std::string message;
  return message;
}

extern "C" void on_plplot_abort(PLCHAR_VECTOR message) {
  if (abort_message().empty()) abort_message() = message != nullptr ? message : "unknown PLplot error";
}

constexpr std::array<std::array<PLINT, 3>, kSeriesColours> kTab10 = {{{31, 119, 180},
                                                                       {255, 127, 14},
                                                                       {44, 160, 44},
                                                                       {214, 39, 40},
                                                                       {148, 103, 189},
                                                                       {140, 86, 75},
                                                                       {227, 119, 194},
                                                                       {127, 127, 127},
                                                                       {188, 189, 34},
                                                                       {23, 190, 207}}};

}  // namespace

void render_png(const fs::path& png, int width, int height, const std::function<void(plstream&)>& draw) {
  if (width < 32 || height < 32 || width > 8192 || height > 8192)
    throw Error(png.string() + ": figure size " + std::to_string(width) + "x" + std::to_string(height) +
                " is out of range (32 to 8192 pixels a side)");
  std::lock_guard<std::mutex> lock(plplot_mutex());
  util::replace_file_atomically(png, [&](const fs::path& temp) {
    // PLplot's own file opening prompts on stdin or exits the process when it fails, so make sure it cannot:
    // create the file first and report failure ourselves.
    {
      std::ofstream probe(temp, std::ios::binary | std::ios::trunc);
      if (!probe) throw Error(png.string() + ": cannot write: " + std::strerror(errno));
    }
    abort_message().clear();
    plsabort(on_plplot_abort);
    {
      plstream pls;  // a new stream per figure; its destructor ends the stream, which writes the PNG
      pls.sdev("pngcairo");
      pls.sfnam(temp.c_str());
      pls.spage(0, 0, width, height, 0, 0);
      pls.scolbg(255, 255, 255);
      pls.scmap0n(16);
      pls.scol0(kBlack, 0, 0, 0);
      pls.scol0(kGrid, 225, 225, 225);
      pls.scol0(kFrame, 160, 160, 160);
      for (int i = 0; i < kSeriesColours; ++i)
        pls.scol0(kFirstSeries + i, kTab10[static_cast<std::size_t>(i)][0], kTab10[static_cast<std::size_t>(i)][1],
                  kTab10[static_cast<std::size_t>(i)][2]);
      pls.init();
      pls.col0(kBlack);
      draw(pls);
    }
    plsabort(nullptr);
    if (!abort_message().empty()) throw Error(png.string() + ": PLplot: " + abort_message());
    std::error_code ec;
    if (fs::file_size(temp, ec) == 0 || ec) throw Error(png.string() + ": PLplot wrote no image");
  });
}

void use_gray_colormap(plstream& pls) {
  std::vector<PLINT> ramp(256);
  for (int i = 0; i < 256; ++i) ramp[static_cast<std::size_t>(i)] = i;
  pls.scmap1n(256);
  pls.scmap1(ramp.data(), ramp.data(), ramp.data(), 256);
}

}  // namespace mnist::io
