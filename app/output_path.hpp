// Checking where an output file will go before any work is done, so that a long run does not end in "cannot write".
#pragma once
#include <string>

namespace mnist::cli {

/// UsageError naming flag when path is empty; Error naming path when it is a directory or its directory does not
/// exist or is not a directory. (Whether it can be written is only known by writing: the writer reports that.)
void check_output_path(const std::string& flag, const std::string& path);

/// For an output directory (created later, with its parents): UsageError naming flag when path is empty, Error
/// naming path when it exists and is not a directory.
void check_output_dir(const std::string& flag, const std::string& path);

}  // namespace mnist::cli
