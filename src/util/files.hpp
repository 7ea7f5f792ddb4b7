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
/// A target that is a symbolic link is written through (the file it names is replaced, the link kept); a target
/// that exists but is not a regular file (a device such as /dev/null, a FIFO, a socket) is refused with an Error
/// naming it: renaming over it would replace the device or pipe itself.
void replace_file_atomically(const std::filesystem::path& target,
                             const std::function<void(const std::filesystem::path& temp)>& write);

/// Writes bytes to target through replace_file_atomically (flushed to disk before the rename).
void write_file_atomically(const std::filesystem::path& target, std::span<const std::uint8_t> bytes);

/// Throws Error naming path when it exists and is neither a regular file nor a directory, after following symbolic
/// links: a FIFO would block its reader forever, a device would be read without end or replaced by a writer.
void refuse_special_file(const std::filesystem::path& path);

/// Whole contents of a file; throws Error naming the file when it cannot be read, is a directory or is not a regular
/// file (a FIFO, a device).
std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& path);

}  // namespace mnist::util
