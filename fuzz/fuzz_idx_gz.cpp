// libFuzzer target: parse_idx on bytes taken as they come, seeded with gzip'd IDX files, so that the mutations
// reach zlib's inflate (corrupt blocks, bad CRC/ISIZE, concatenated members, trailing junk) and the IDX checks
// behind it. Only mnist::Error may come out.
#include <cstdint>
#include <cstdlib>

#include "mnist/error.hpp"
#include "mnist/idx.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  try {
    const mnist::IdxArray a = mnist::parse_idx({data, size}, "fuzz.idx.gz");
    std::size_t n = 1;
    for (std::size_t d : a.dims) n *= d;
    if (a.dims.empty() || a.bytes.size() != n) std::abort();
  } catch (const mnist::Error&) {
  }
  return 0;
}
