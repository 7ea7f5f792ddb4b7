// Writing files so that nothing is ever half-written: write to a temporary name beside the target, flush, rename.
#pragma once
#include <cstdint>
#include <filesystem>
#include <functional>
#include <span>
#include <vector>

namespace mnist::util {

/// Calls write(temp_path) for a fresh temporary path in the target's directory, then renames it over target.
/// When write throws, the temporary file is removed and the exception propagates: target is untouched.
void replace_file_atomically(const std::filesystem::path& target,
                             const std::function<void(const std::filesystem::path& temp)>& write);

/// Writes bytes to target through replace_file_atomically (flushed to disk before the rename).
void write_file_atomically(const std::filesystem::path& target, std::span<const std::uint8_t> bytes);

/// Whole contents of a file; throws Error naming the file when it cannot be read or is a directory.
std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& path);

}  // namespace mnist::util
