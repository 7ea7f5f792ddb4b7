#include "gzip_bytes.hpp"

#include <zlib.h>

#include <cstdlib>

namespace mnist::fuzz {

std::vector<std::uint8_t> gzip_bytes(const std::uint8_t* data, std::size_t size, int level) {
  z_stream s{};
  // windowBits 16 + 15: a gzip header and trailer around the deflate stream.
  if (deflateInit2(&s, level, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK) std::abort();
  // deflateBound covers the deflate stream; the extra room is for the gzip header (10) and trailer (8).
  std::vector<std::uint8_t> out(deflateBound(&s, static_cast<uLong>(size)) + 32);
  s.next_in = const_cast<Bytef*>(data);  // zlib's API is not const-correct; it does not write the input
  s.avail_in = static_cast<uInt>(size);
  s.next_out = out.data();
  s.avail_out = static_cast<uInt>(out.size());
  if (deflate(&s, Z_FINISH) != Z_STREAM_END) std::abort();
  out.resize(s.total_out);
  deflateEnd(&s);
  return out;
}

}  // namespace mnist::fuzz
