// gzip in memory, for the fuzz targets and the seed generator (fuzz/ only: the library reads gzip, never writes it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <vector>

namespace mnist::fuzz {

// The gzip member (RFC 1952) holding data[0, size), compressed at zlib level 0 (stored) to 9. Aborts if zlib
// fails: in a fuzz target or the seed generator that is a bug of the harness, not a finding.
std::vector<std::uint8_t> gzip_bytes(const std::uint8_t* data, std::size_t size, int level);

inline std::vector<std::uint8_t> gzip_bytes(const std::vector<std::uint8_t>& data, int level) {
  return gzip_bytes(data.data(), data.size(), level);
}

}  // namespace mnist::fuzz
