// The IDX file format of MNIST and its relatives: a big-endian header (magic 00 00 <type> <ndim>, then ndim
// 32-bit dimensions) followed by the elements, row-major. Files may be gzip'd (detected by content).
#pragma once
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace mnist {

/// The element type byte of an IDX header. Only UInt8 is read; the others are recognised so that the error
/// can name them.
enum class IdxType : std::uint8_t { UInt8 = 0x08, Int8 = 0x09, Int16 = 0x0B, Int32 = 0x0C, Float32 = 0x0D, Float64 = 0x0E };

/// "unsigned byte", "float32", ...
std::string_view to_string(IdxType type);

/// A validated IDX array: bytes.size() == product of dims (times the element size, 1 for UInt8).
struct IdxArray {
  IdxType type = IdxType::UInt8;     ///< element type from the header (always UInt8 once read)
  std::vector<std::size_t> dims;     ///< outermost first, every one > 0: {60000, 28, 28} for train images
  std::vector<std::uint8_t> bytes;   ///< the elements, row-major
};

/// Parses an IDX array held in memory, gzip'd or raw. name_for_errors prefixes every error message.
/// Validates the header before allocating: the claimed size must fit in what the bytes can hold.
IdxArray parse_idx(std::span<const std::uint8_t> bytes, std::string_view name_for_errors);

/// Reads an IDX file, gzip'd or raw, streaming it straight into the final buffer (no whole-file copy).
/// A file whose name ends in ".gz" must be gzip data. Throws Error naming the file and what is wrong.
IdxArray read_idx(const std::filesystem::path& path);

}  // namespace mnist
