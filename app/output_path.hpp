// Checking where an output file will go before any work is done, so that a long run does not end in "cannot write".
#pragma once
#include <filesystem>
#include <string>

namespace mnist::cli {

/// UsageError naming flag when path is empty; Error naming path when it is a directory, a device, FIFO or socket
/// (writing replaces the file: /dev/null would become a PNG), or its directory does not exist or is not a
/// directory. (Whether it can be written is only known by writing: the writer reports that.)
void check_output_path(const std::string& flag, const std::string& path);

/// Whether a and b are one file or directory: reached by both (links included), or, where either does not exist
/// yet, the same path once "." / ".." and symbolic links in the directories are resolved.
bool same_path(const std::string& a, const std::string& b);

/// Error naming output when it is the same file as input (a name, a link or a path through other directories):
/// the output would overwrite what the command reads.
void check_not_input(const std::string& flag, const std::string& output, const std::string& input);

/// UsageError when two output flags name the same file (the second write would replace the first).
void check_distinct_outputs(const std::string& flag_a, const std::string& a, const std::string& flag_b,
                            const std::string& b);

/// Creates dir and its parents; Error naming dir and the reason when that fails (not the raw filesystem_error).
void create_output_dir(const std::filesystem::path& dir);

/// For an output directory (created later, with its parents): UsageError naming flag when path is empty, Error
/// naming path when it exists and is not a directory.
void check_output_dir(const std::string& flag, const std::string& path);

}  // namespace mnist::cli
