// The check behind lsan.supp: PLplot with its cairo driver, used as this project uses it (one stream per figure,
// text on it, the stream destroyed) but with none of this project's code, under AddressSanitizer:
//   g++ -fsanitize=address -g $(pkg-config --cflags plplot-c++) scripts/sanitizers/plplot_leak_check.cpp \
//       -o /tmp/plplot_leak_check $(pkg-config --libs plplot-c++) && /tmp/plplot_leak_check /tmp/check.png
// LeakSanitizer reports ~17 kB in ~570 allocations, every one allocated inside libfontconfig or libltdl; with
// LSAN_OPTIONS=suppressions=scripts/sanitizers/lsan.supp it reports none and exits 0.
#include <plstream.h>

int main(int argc, char** argv) {
  const char* png = argc > 1 ? argv[1] : "plplot_leak_check.png";
  for (int i = 0; i < 3; ++i) {
    plstream pls;
    pls.sdev("pngcairo");
    pls.sfnam(png);
    pls.spage(0, 0, 400, 300, 0, 0);
    pls.init();
    pls.env(0, 1, 0, 1, 0, 0);
    pls.lab("x", "y", "title");
  }
  return 0;
}
