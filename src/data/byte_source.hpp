// Sequential byte sources for the IDX reader: memory, a file, and gzip inflation over either. Each knows an upper
// bound of what it can still yield, so that a header can be checked before its buffer is allocated.
#pragma once
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

namespace mnist::data {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  /// Reads up to n bytes into out; returns fewer only at the end of the data. Throws Error on corrupt input.
  virtual std::size_t read(std::uint8_t* out, std::size_t n) = 0;
  /// An upper bound of the bytes still to come (exact for raw sources).
  virtual std::uint64_t max_remaining() const = 0;
  /// Size of the underlying (compressed) input, for messages.
  virtual std::uint64_t input_size() const = 0;
  virtual bool compressed() const { return false; }
};

/// True when bytes start like a gzip member (1f 8b).
bool looks_gzipped(std::span<const std::uint8_t> bytes);

class MemorySource final : public ByteSource {
 public:
  explicit MemorySource(std::span<const std::uint8_t> bytes) : bytes_(bytes) {}
  std::size_t read(std::uint8_t* out, std::size_t n) override;
  std::uint64_t max_remaining() const override { return bytes_.size() - pos_; }
  std::uint64_t input_size() const override { return bytes_.size(); }

 private:
  std::span<const std::uint8_t> bytes_;
  std::size_t pos_ = 0;
};

class FileSource final : public ByteSource {
 public:
  explicit FileSource(const std::filesystem::path& path);  // throws Error naming the file when it cannot be opened
  ~FileSource() override;
  FileSource(const FileSource&) = delete;
  FileSource& operator=(const FileSource&) = delete;
  std::size_t read(std::uint8_t* out, std::size_t n) override;
  /// Copies the first n bytes without consuming them (only before the first read).
  std::size_t peek(std::uint8_t* out, std::size_t n);
  std::uint64_t max_remaining() const override { return size_ - pos_; }
  std::uint64_t input_size() const override { return size_; }

 private:
  std::string name_;
  std::FILE* file_ = nullptr;
  std::uint64_t size_ = 0, pos_ = 0;
};

/// Inflates gzip data (one or more members) read from another source.
class GzipSource final : public ByteSource {
 public:
  GzipSource(ByteSource& input, std::uint64_t input_size, std::string name);
  ~GzipSource() override;
  GzipSource(const GzipSource&) = delete;
  GzipSource& operator=(const GzipSource&) = delete;
  std::size_t read(std::uint8_t* out, std::size_t n) override;
  /// DEFLATE cannot expand data by more than about 1032:1, so this bounds any honest header's claim.
  std::uint64_t max_remaining() const override;
  std::uint64_t input_size() const override { return input_size_; }
  bool compressed() const override { return true; }

 private:
  bool refill();

  ByteSource& input_;
  std::uint64_t input_size_;
  std::string name_;
  std::vector<std::uint8_t> buffer_;  // compressed input chunk
  z_stream stream_{};
  bool member_ended_ = false;
  bool at_end_ = false;
  std::uint64_t produced_ = 0;
};

}  // namespace mnist::data
