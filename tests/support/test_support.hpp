// Helpers shared by the tests: where the shared data lives, temporary directories, small IDX fixtures.
#pragma once
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace mnist::testing {

/// ../shared (or $MNIST_SHARED_DIR) when it exists; tests that need it GTEST_SKIP() with a message otherwise.
std::optional<std::filesystem::path> shared_dir();
/// ../shared/data/mnist when it holds the real MNIST test set.
std::optional<std::filesystem::path> mnist_test_dir();
/// /usr/share/datasets/fashion-mnist when Debian's dataset-fashion-mnist is installed.
std::optional<std::filesystem::path> fashion_mnist_dir();

/// A fresh directory under the system temp dir, removed with everything in it on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

 private:
  std::filesystem::path path_;
};

/// Bytes of an IDX file: magic 0 0 type ndim, big-endian dims, then the payload as given.
std::vector<std::uint8_t> idx_bytes(std::uint8_t type, const std::vector<std::uint32_t>& dims,
                                    const std::vector<std::uint8_t>& payload);
void write_file(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes);
void write_gzip(const std::filesystem::path& path, const std::vector<std::uint8_t>& bytes);
std::vector<std::uint8_t> read_file(const std::filesystem::path& path);

}  // namespace mnist::testing
