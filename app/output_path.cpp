#include "output_path.hpp"

#include <filesystem>

#include "mnist/error.hpp"

namespace mnist::cli {

void check_output_path(const std::string& flag, const std::string& path) {
  namespace fs = std::filesystem;
  if (path.empty()) throw UsageError(flag + ": the file name is empty");
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw Error(path + ": is a directory; " + flag + " needs a file name");
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty() && !fs::is_directory(parent, ec))
    throw Error(path + ": cannot write there: " + parent.string() +
                (fs::exists(parent, ec) ? " is not a directory" : " does not exist"));
}

void check_output_dir(const std::string& flag, const std::string& path) {
  namespace fs = std::filesystem;
  if (path.empty()) throw UsageError(flag + ": the directory name is empty");
  std::error_code ec;
  if (fs::exists(path, ec) && !fs::is_directory(path, ec))
    throw Error(path + ": is a file; " + flag + " needs a directory");
  for (fs::path p = fs::path(path).parent_path(); !p.empty(); p = p.parent_path()) {
    if (fs::exists(p, ec)) {
      if (!fs::is_directory(p, ec)) throw Error(path + ": cannot write there: " + p.string() + " is not a directory");
      break;
    }
    if (p == p.parent_path()) break;
  }
}

}  // namespace mnist::cli
