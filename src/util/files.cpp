#include "util/files.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <string>

#include "mnist/error.hpp"

namespace fs = std::filesystem;

namespace mnist::util {
namespace {

fs::path temp_name_for(const fs::path& target) {
  static std::atomic<unsigned> counter{0};
  fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  return dir / ("." + target.filename().string() + ".tmp-" + std::to_string(::getpid()) + "-" +
                std::to_string(counter++));
}

// Flushes a written file to disk so that a crash after the rename cannot leave an empty file behind.
void sync_file(const fs::path& path) {
  int fd = ::open(path.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}

// Where a write to `target` lands: the file a symbolic link names (so that the link survives), else target.
fs::path write_destination(const fs::path& target) {
  std::error_code ec;
  if (!fs::is_symlink(fs::symlink_status(target, ec))) return target;
  const fs::path resolved = fs::canonical(target, ec);
  if (ec) throw Error(target.string() + ": is a symbolic link to nothing (" + fs::read_symlink(target, ec).string() +
                      "); give the file to write instead");
  return resolved;
}

}  // namespace

void refuse_special_file(const fs::path& path) {
  std::error_code ec;
  const fs::file_status s = fs::status(path, ec);
  if (ec || !fs::exists(s) || fs::is_regular_file(s) || fs::is_directory(s)) return;
  const char* kind = fs::is_fifo(s)                                           ? "a FIFO"
                     : fs::is_character_file(s) || fs::is_block_file(s) ? "a device"
                     : fs::is_socket(s)                                       ? "a socket"
                                                                              : "a special file";
  throw Error(path.string() + ": is " + kind + ", not a regular file");
}

void replace_file_atomically(const fs::path& given, const std::function<void(const fs::path& temp)>& write) {
  if (fs::is_directory(given)) throw Error(given.string() + ": is a directory, expected a file path");
  refuse_special_file(given);
  const fs::path target = write_destination(given);
  fs::path temp = temp_name_for(target);
  try {
    write(temp);
    sync_file(temp);
    std::error_code ec;
    fs::rename(temp, target, ec);
    if (ec) throw Error(given.string() + ": cannot write: " + ec.message());
  } catch (...) {
    std::error_code ignored;
    fs::remove(temp, ignored);
    throw;
  }
}

void write_file_atomically(const fs::path& target, std::span<const std::uint8_t> bytes) {
  replace_file_atomically(target, [&](const fs::path& temp) {
    std::ofstream out(temp, std::ios::binary | std::ios::trunc);
    if (!out) throw Error(target.string() + ": cannot write: " + std::strerror(errno));
    out.write(reinterpret_cast<const char*>(bytes.data()), static_cast<std::streamsize>(bytes.size()));
    out.flush();
    if (!out) throw Error(target.string() + ": cannot write: " + std::strerror(errno));
  });
}

std::vector<std::uint8_t> read_file_bytes(const fs::path& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec)) throw Error(path.string() + ": is a directory, expected a file");
  refuse_special_file(path);
  std::ifstream in(path, std::ios::binary | std::ios::ate);
  if (!in) throw Error(path.string() + ": cannot open: " + std::strerror(errno));
  std::streamsize size = in.tellg();
  if (size < 0) throw Error(path.string() + ": cannot read");
  std::vector<std::uint8_t> bytes(static_cast<std::size_t>(size));
  in.seekg(0);
  if (size > 0 && !in.read(reinterpret_cast<char*>(bytes.data()), size)) throw Error(path.string() + ": cannot read");
  return bytes;
}

}  // namespace mnist::util
