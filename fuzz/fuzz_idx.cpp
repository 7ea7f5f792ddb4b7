// libFuzzer target: parse_idx on raw bytes, and on the same bytes gzip'd. Both forms hold the same IDX content,
// so both must give the same array or both must refuse it with mnist::Error; anything else (a crash, a sanitizer
// report, another exception, a disagreement) is a bug.
#include <cstdint>
#include <cstdlib>
#include <span>
#include <vector>

#include "gzip_bytes.hpp"
#include "mnist/error.hpp"
#include "mnist/idx.hpp"

namespace {

bool parses(std::span<const std::uint8_t> bytes, mnist::IdxArray& out) {
  try {
    out = mnist::parse_idx(bytes, "fuzz.idx");
    return true;
  } catch (const mnist::Error&) {
    return false;
  }
}

void check_valid(const mnist::IdxArray& a) {
  std::size_t n = 1;
  for (std::size_t d : a.dims) {
    if (d == 0) std::abort();
    n *= d;
  }
  if (a.dims.empty() || a.bytes.size() != n) std::abort();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::span<const std::uint8_t> raw(data, size);
  mnist::IdxArray from_raw, from_gz;
  const bool raw_ok = parses(raw, from_raw);
  if (raw_ok) check_valid(from_raw);
  // Raw input that itself starts like gzip is parsed as gzip; the comparison only holds for true raw input.
  if (size >= 2 && data[0] == 0x1f && data[1] == 0x8b) return 0;
  const std::vector<std::uint8_t> gz = mnist::fuzz::gzip_bytes(data, size, 1);  // level 1: speed, not ratio
  const bool gz_ok = parses(gz, from_gz);
  if (raw_ok != gz_ok) std::abort();
  if (raw_ok && (from_raw.dims != from_gz.dims || from_raw.bytes != from_gz.bytes)) std::abort();
  return 0;
}
