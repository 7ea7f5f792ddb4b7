#include "data/byte_source.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cerrno>
#include <cstring>

#include "mnist/error.hpp"
#include "util/files.hpp"

namespace mnist::data {
namespace {
constexpr std::uint64_t kMaxDeflateRatio = 1032;
constexpr std::size_t kChunk = 256 * 1024;
}  // namespace

bool looks_gzipped(std::span<const std::uint8_t> bytes) {
  return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

std::size_t MemorySource::read(std::uint8_t* out, std::size_t n) {
  std::size_t count = std::min(n, bytes_.size() - pos_);
  if (count) std::memcpy(out, bytes_.data() + pos_, count);
  pos_ += count;
  return count;
}

FileSource::FileSource(const std::filesystem::path& path) : name_(path.string()) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw Error(name_ + ": is a directory, expected a file");
  util::refuse_special_file(path);  // opening a FIFO would wait for a writer forever
  file_ = std::fopen(path.c_str(), "rb");
  if (!file_) throw Error(name_ + ": cannot open: " + std::strerror(errno));
  auto size = std::filesystem::file_size(path, ec);
  if (ec) {
    std::fclose(file_);
    throw Error(name_ + ": cannot read: " + ec.message());
  }
  size_ = size;
}

FileSource::~FileSource() {
  if (file_) std::fclose(file_);
}

std::size_t FileSource::read(std::uint8_t* out, std::size_t n) {
  std::size_t got = std::fread(out, 1, n, file_);
  if (got < n && std::ferror(file_)) throw Error(name_ + ": read error: " + std::strerror(errno));
  pos_ += got;
  return got;
}

std::size_t FileSource::peek(std::uint8_t* out, std::size_t n) {
  std::size_t got = std::fread(out, 1, n, file_);
  std::rewind(file_);
  return got;
}

GzipSource::GzipSource(ByteSource& input, std::uint64_t input_size, std::string name)
    : input_(input), input_size_(input_size), name_(std::move(name)), buffer_(kChunk) {
  // 16 + MAX_WBITS: expect a gzip wrapper (header and CRC32/ISIZE trailer).
  if (inflateInit2(&stream_, 16 + MAX_WBITS) != Z_OK) throw Error(name_ + ": cannot initialise zlib");
}

GzipSource::~GzipSource() { inflateEnd(&stream_); }

std::uint64_t GzipSource::max_remaining() const {
  std::uint64_t bound = input_size_ * kMaxDeflateRatio;
  return bound > produced_ ? bound - produced_ : 0;
}

bool GzipSource::refill() {
  std::size_t got = input_.read(buffer_.data(), buffer_.size());
  stream_.next_in = buffer_.data();
  stream_.avail_in = static_cast<uInt>(got);
  return got > 0;
}

std::size_t GzipSource::read(std::uint8_t* out, std::size_t n) {
  std::size_t done = 0;
  while (done < n && !at_end_) {
    if (member_ended_) {
      // Another gzip member may follow (concatenated .gz files are valid gzip); anything else is trailing junk.
      if (stream_.avail_in == 0 && !refill()) {
        at_end_ = true;
        break;
      }
      if (stream_.next_in[0] != 0x1f) throw Error(name_ + ": trailing bytes after the gzip data");
      inflateReset(&stream_);
      member_ended_ = false;
    }
    if (stream_.avail_in == 0 && !refill()) throw Error(name_ + ": truncated gzip data (unexpected end of file)");
    // zlib counts in uInt: feed the output in pieces of at most 1 GiB.
    std::size_t want = std::min<std::size_t>(n - done, std::size_t{1} << 30);
    stream_.next_out = out + done;
    stream_.avail_out = static_cast<uInt>(want);
    int rc = inflate(&stream_, Z_NO_FLUSH);
    std::size_t produced = want - stream_.avail_out;
    done += produced;
    produced_ += produced;
    if (rc == Z_STREAM_END) {
      member_ended_ = true;
    } else if (rc != Z_OK && rc != Z_BUF_ERROR) {
      throw Error(fmt::format("{}: corrupt gzip data ({})", name_, stream_.msg ? stream_.msg : zError(rc)));
    }
  }
  return done;
}

}  // namespace mnist::data
