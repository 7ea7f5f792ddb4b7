// What the serve tests share: a small model and data directory, an HTTP client to the server, raw requests for what
// a client library would tidy up (paths with "..", a Content-Length larger than any body sent).
#pragma once
#include <httplib.h>

#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace mnist::testing {

/// A 28x28 data set of 300 train and 100 test images of noise, labels 0..9, in dir (the four IDX files).
void write_noise_dataset(const std::filesystem::path& dir);
/// A hidden-relu model (seed 7) saved as an mnist checkpoint of data set "mnist" at path.
void write_test_model(const std::filesystem::path& path);
/// A PNG of a dark digit-like stroke on a light background, width x height (shape 0: a "1", 1: a "0", 2: none, blank).
std::vector<std::uint8_t> digit_png(std::size_t width, std::size_t height, int shape);
/// The same drawing as a grayscale JPEG (libjpeg, quality 95).
std::vector<std::uint8_t> digit_jpeg(std::size_t width, std::size_t height, int shape);
/// One whole HTTP answer (headers and Content-Length bytes) read from the connected socket fd, which stays open.
std::string read_http_answer(int fd);
/// Sends request as is to 127.0.0.1:port and returns the response's status code (0 when none came).
int raw_status(int port, const std::string& request, std::string* response = nullptr);
/// Resident memory of a process, in KiB (VmRSS), 0 when unknown.
long rss_kib(int pid);

}  // namespace mnist::testing
