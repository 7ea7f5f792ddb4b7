// IDX reader: validates the header against what the input can hold before allocating, then inflates or reads
// the elements straight into the final buffer.
#include "mnist/idx.hpp"

#include <fmt/format.h>
#include <zlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>

#include "data/byte_source.hpp"
#include "data/pages.hpp"
#include "mnist/error.hpp"

namespace fs = std::filesystem;

namespace mnist {
namespace {

// Largest number of header dimensions accepted; MNIST-format files use 1 (labels) or 3 (images).
constexpr unsigned kMaxDims = 8;

std::size_t element_size(IdxType type) {
  switch (type) {
    case IdxType::UInt8:
    case IdxType::Int8: return 1;
    case IdxType::Int16: return 2;
    case IdxType::Int32:
    case IdxType::Float32: return 4;
    case IdxType::Float64: return 8;
  }
  return 0;
}

bool known_type(std::uint8_t byte) {
  return byte == 0x08 || byte == 0x09 || byte == 0x0B || byte == 0x0C || byte == 0x0D || byte == 0x0E;
}

std::string dims_string(const std::vector<std::size_t>& dims) {
  std::string out;
  for (std::size_t i = 0; i < dims.size(); ++i) out += (i ? " x " : "") + std::to_string(dims[i]);
  return out;
}

IdxArray parse_stream(data::ByteSource& src, const std::string& name) {
  std::uint8_t head[4];
  std::size_t got = src.read(head, 4);
  if (got == 0) throw Error(name + ": empty file, expected an IDX header");
  if (got < 4) throw Error(fmt::format("{}: truncated IDX header ({} of 4 magic bytes)", name, got));
  if (head[0] != 0 || head[1] != 0)
    throw Error(fmt::format("{}: bad magic {:02x} {:02x} {:02x} {:02x}, not an IDX file (expected 00 00 <type> <ndim>)",
                            name, head[0], head[1], head[2], head[3]));
  if (!known_type(head[2])) throw Error(fmt::format("{}: unknown IDX element type 0x{:02x}", name, head[2]));
  auto type = static_cast<IdxType>(head[2]);
  if (type != IdxType::UInt8)
    throw Error(fmt::format("{}: IDX element type 0x{:02x} ({}) is not supported, only unsigned byte (0x08)", name,
                            head[2], to_string(type)));
  unsigned ndim = head[3];
  if (ndim == 0 || ndim > kMaxDims)
    throw Error(fmt::format("{}: bad IDX header, {} dimensions (expected 1 to {})", name, ndim, kMaxDims));

  std::uint8_t dim_bytes[4 * kMaxDims];
  got = src.read(dim_bytes, 4 * ndim);
  if (got < 4 * ndim)
    throw Error(fmt::format("{}: truncated IDX header ({} of {} dimension bytes)", name, got, 4 * ndim));

  IdxArray array;
  array.type = type;
  // The product is kept in 64 bits and compared with what the input can hold before anything is allocated.
  std::uint64_t total = element_size(type);
  bool overflow = false;
  for (unsigned d = 0; d < ndim; ++d) {
    const std::uint8_t* p = dim_bytes + 4 * d;
    std::uint32_t dim = (std::uint32_t{p[0]} << 24) | (std::uint32_t{p[1]} << 16) | (std::uint32_t{p[2]} << 8) | p[3];
    if (dim == 0) throw Error(fmt::format("{}: dimension {} of the IDX header is 0", name, d));
    array.dims.push_back(dim);
    if (total > std::numeric_limits<std::uint64_t>::max() / dim) overflow = true;
    else total *= dim;
  }
  std::uint64_t limit = src.max_remaining();
  if (overflow || total > limit) {
    if (src.compressed())
      throw Error(fmt::format("{}: header claims {} elements ({} bytes), more than {} bytes of gzip data can hold",
                              name, dims_string(array.dims), overflow ? std::string("> 2^64") : std::to_string(total),
                              src.input_size()));
    throw Error(fmt::format("{}: truncated, header claims {} elements ({} bytes) but only {} bytes follow it", name,
                            dims_string(array.dims), overflow ? std::string("> 2^64") : std::to_string(total), limit));
  }
  if (!src.compressed() && total < limit)
    throw Error(fmt::format("{}: {} trailing bytes after the {} elements the header claims", name, limit - total,
                            dims_string(array.dims)));

  // A raw file's claim was checked against the bytes that follow it. A gzip'd claim is bounded only by DEFLATE's
  // best ratio (1032:1), so a 1 MB file may claim a gigabyte: the buffer grows (doubling from 64 MiB) as the data
  // actually arrives, and a lying file fails after inflating what it holds, not after allocating what it claims.
  constexpr std::uint64_t kFirstChunk = std::uint64_t{64} << 20;
  std::uint64_t capacity = src.compressed() ? std::min(total, kFirstChunk) : total;
  got = 0;
  for (;;) {
    // reserve() leaves the new room untouched, so the advice still counts for it (on growth, the bytes already
    // read are copied in first and keep the pages they get).
    if (capacity > array.bytes.capacity()) {
      array.bytes.reserve(static_cast<std::size_t>(capacity));
      data::advise_pages(array.bytes.data(), array.bytes.capacity(), data::Pages::Huge);
    }
    array.bytes.resize(static_cast<std::size_t>(capacity));
    got += src.read(array.bytes.data() + got, static_cast<std::size_t>(capacity - got));
    if (got < capacity || capacity == total) break;
    capacity = std::min(total, 2 * capacity);
  }
  if (got < total)
    throw Error(fmt::format("{}: truncated, header claims {} elements ({} bytes) but the data ends after {}", name,
                            dims_string(array.dims), total, got));
  // Reading one byte more both detects trailing data and, for gzip, checks the stream's CRC trailer.
  std::uint8_t extra;
  if (src.read(&extra, 1) != 0)
    throw Error(fmt::format("{}: trailing bytes after the {} elements the header claims", name,
                            dims_string(array.dims)));
  return array;
}

bool ends_with_gz(const std::string& name) { return name.size() >= 3 && name.compare(name.size() - 3, 3, ".gz") == 0; }

}  // namespace

std::string_view to_string(IdxType type) {
  switch (type) {
    case IdxType::UInt8: return "unsigned byte";
    case IdxType::Int8: return "signed byte";
    case IdxType::Int16: return "int16";
    case IdxType::Int32: return "int32";
    case IdxType::Float32: return "float32";
    case IdxType::Float64: return "float64";
  }
  return "unknown";
}

IdxArray parse_idx(std::span<const std::uint8_t> bytes, std::string_view name_for_errors) {
  std::string name(name_for_errors);
  data::MemorySource raw(bytes);
  if (data::looks_gzipped(bytes)) {
    data::GzipSource gz(raw, bytes.size(), name);
    return parse_stream(gz, name);
  }
  return parse_stream(raw, name);
}

IdxArray read_idx(const fs::path& path) {
  std::string name = path.string();
  data::FileSource file(path);
  std::uint8_t magic[2] = {0, 0};
  std::size_t peeked = file.peek(magic, 2);
  if (peeked == 0) throw Error(name + ": empty file, expected an IDX header");
  bool gzipped = data::looks_gzipped({magic, peeked});
  if (ends_with_gz(path.filename().string()) && !gzipped)
    throw Error(fmt::format("{}: not gzip data (the name ends in .gz but the file starts with {:02x} {:02x}, not 1f 8b)",
                            name, magic[0], peeked > 1 ? magic[1] : 0));
  if (gzipped) {
    data::GzipSource gz(file, file.max_remaining(), name);
    return parse_stream(gz, name);
  }
  return parse_stream(file, name);
}

}  // namespace mnist
