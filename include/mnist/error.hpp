// The one exception type of the library. Its message is the one line the CLI prints.
#pragma once
#include <stdexcept>
#include <string>

namespace mnist {

/// Every error the library reports: a one-line message that names the file, flag or tensor at fault.
class Error : public std::runtime_error {
 public:
  /// message is the whole one-line report (what() returns it unchanged; the CLI prints it after "error: ").
  explicit Error(const std::string& message) : std::runtime_error(message) {}
};

/// An error in what the caller asked for (a bad option value, a spec that does not parse), as opposed to a
/// failure of the data or the system. The CLI exits 2 for these and 1 for every other Error.
class UsageError : public Error {
 public:
  /// message names the option or argument at fault and, where it can, the values that are accepted.
  explicit UsageError(const std::string& message) : Error(message) {}
};

}  // namespace mnist
