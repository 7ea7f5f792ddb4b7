#include "data/pages.hpp"

#include <sys/mman.h>

#include <cstdint>
#include <cstdio>
#include <fstream>

namespace mnist::data {

void advise_pages(void* data, std::size_t bytes, Pages pages) {
  constexpr std::uintptr_t kHuge = std::uintptr_t{2} << 20;
  const auto at = reinterpret_cast<std::uintptr_t>(data);
  const std::uintptr_t begin = (at + kHuge - 1) & ~(kHuge - 1), end = (at + bytes) & ~(kHuge - 1);
  if (end > begin)  // a failure (no THP in this kernel) leaves the pages as they were: nothing to report
    madvise(reinterpret_cast<void*>(begin), end - begin, pages == Pages::Huge ? MADV_HUGEPAGE : MADV_NOHUGEPAGE);
}

std::string mapping_field(const void* p, std::string_view field) {
  std::ifstream smaps("/proc/self/smaps");
  const auto addr = reinterpret_cast<std::uintptr_t>(p);
  bool inside = false;
  for (std::string line; std::getline(smaps, line);) {
    unsigned long lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2) inside = lo <= addr && addr < hi;
    else if (inside && line.size() > field.size() && line.compare(0, field.size(), field) == 0 &&
             line[field.size()] == ':') {
      const std::size_t value = line.find_first_not_of(' ', field.size() + 1);
      return value == std::string::npos ? std::string() : line.substr(value);
    }
  }
  return {};
}

}  // namespace mnist::data
