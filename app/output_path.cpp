#include "output_path.hpp"

#include <filesystem>

#include "mnist/error.hpp"
#include "util/files.hpp"

namespace mnist::cli {

void check_output_path(const std::string& flag, const std::string& path) {
  namespace fs = std::filesystem;
  if (path.empty()) throw UsageError(flag + ": the file name is empty");
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw Error(path + ": is a directory; " + flag + " needs a file name");
  util::refuse_special_file(path);
  const fs::path parent = fs::path(path).parent_path();
  if (!parent.empty() && !fs::is_directory(parent, ec))
    throw Error(path + ": cannot write there: " + parent.string() +
                (fs::exists(parent, ec) ? " is not a directory" : " does not exist"));
}

bool same_path(const std::string& a, const std::string& b) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (fs::equivalent(a, b, ec)) return true;
  const fs::path ca = fs::weakly_canonical(a, ec);
  if (ec) return false;
  const fs::path cb = fs::weakly_canonical(b, ec);
  return !ec && ca == cb;
}

void check_not_input(const std::string& flag, const std::string& output, const std::string& input) {
  if (same_path(output, input))
    throw Error(output + ": is " + input + ", which this command reads; " + flag + " would overwrite it");
}

void check_distinct_outputs(const std::string& flag_a, const std::string& a, const std::string& flag_b,
                            const std::string& b) {
  if (same_path(a, b)) throw UsageError(flag_a + " and " + flag_b + " name the same file, " + a);
}

void create_output_dir(const std::filesystem::path& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) throw Error(dir.string() + ": cannot create the directory: " + ec.message());
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
