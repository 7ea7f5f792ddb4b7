#include "serve/serve_fixture.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <cstdio>  // before jpeglib.h, which uses FILE
#include <jpeglib.h>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>

#include "mnist/checkpoint.hpp"
#include "mnist/datasets.hpp"
#include "mnist/image.hpp"
#include "support/test_support.hpp"

namespace mnist::testing {

void write_noise_dataset(const std::filesystem::path& dir) {
  std::filesystem::create_directories(dir);
  const auto images = [](std::uint32_t n, std::uint32_t seed) {
    std::vector<std::uint8_t> px(std::size_t{n} * 784);
    std::uint32_t x = seed;
    for (auto& p : px) {
      x = x * 1664525u + 1013904223u;
      p = static_cast<std::uint8_t>(x >> 24);
    }
    return idx_bytes(0x08, {n, 28, 28}, px);
  };
  const auto labels = [](std::uint32_t n) {
    std::vector<std::uint8_t> l(n);
    for (std::uint32_t i = 0; i < n; ++i) l[i] = static_cast<std::uint8_t>(i % 10);
    return idx_bytes(0x08, {n}, l);
  };
  write_file(dir / "train-images-idx3-ubyte", images(300, 1));
  write_file(dir / "train-labels-idx1-ubyte", labels(300));
  write_file(dir / "t10k-images-idx3-ubyte", images(100, 2));
  write_file(dir / "t10k-labels-idx1-ubyte", labels(100));
}

void write_test_model(const std::filesystem::path& path) {
  Model model = make_model("hidden-relu", 7);
  const nlohmann::json classes = dataset_info("mnist").classes;
  save_checkpoint(path, model,
                  {{"dataset", "mnist"}, {"classes", classes.dump()}, {"input_shape", "[1, 28, 28]"},
                   {"pixel_scaling", "x / 255"}});
}

namespace {

GrayImage digit_image(std::size_t width, std::size_t height, int shape) {
  GrayImage image{width, height, std::vector<std::uint8_t>(width * height, 255)};
  const double cx = static_cast<double>(width) / 2, cy = static_cast<double>(height) / 2;
  const double r = static_cast<double>(std::min(width, height)) * 0.35, w = r * 0.18;
  for (std::size_t y = 0; y < height; ++y)
    for (std::size_t x = 0; x < width; ++x) {
      const double dx = static_cast<double>(x) - cx, dy = static_cast<double>(y) - cy;
      const bool ink = shape == 0 ? (std::abs(dx) < w && std::abs(dy) < r)
                                  : shape == 1 ? std::abs(std::hypot(dx / 0.7, dy) - r * 0.8) < w
                                              : false;  // blank
      if (ink) image.pixels[y * width + x] = 20;
    }
  return image;
}

}  // namespace

std::vector<std::uint8_t> digit_png(std::size_t width, std::size_t height, int shape) {
  const GrayImage image = digit_image(width, height, shape);
  const std::filesystem::path tmp =
      std::filesystem::temp_directory_path() / ("mnist-digit-" + std::to_string(::getpid()) + ".png");
  write_png(tmp, image);
  std::vector<std::uint8_t> bytes = read_file(tmp);
  std::filesystem::remove(tmp);
  return bytes;
}

std::vector<std::uint8_t> digit_jpeg(std::size_t width, std::size_t height, int shape) {
  const GrayImage image = digit_image(width, height, shape);
  jpeg_compress_struct cinfo{};
  jpeg_error_mgr err{};
  cinfo.err = jpeg_std_error(&err);
  jpeg_create_compress(&cinfo);
  unsigned char* buffer = nullptr;
  unsigned long size = 0;
  jpeg_mem_dest(&cinfo, &buffer, &size);
  cinfo.image_width = static_cast<JDIMENSION>(width);
  cinfo.image_height = static_cast<JDIMENSION>(height);
  cinfo.input_components = 1;
  cinfo.in_color_space = JCS_GRAYSCALE;
  jpeg_set_defaults(&cinfo);
  jpeg_set_quality(&cinfo, 95, TRUE);
  jpeg_start_compress(&cinfo, TRUE);
  while (cinfo.next_scanline < cinfo.image_height) {
    JSAMPROW row = const_cast<JSAMPROW>(&image.pixels[cinfo.next_scanline * width]);
    jpeg_write_scanlines(&cinfo, &row, 1);
  }
  jpeg_finish_compress(&cinfo);
  std::vector<std::uint8_t> bytes(buffer, buffer + size);
  jpeg_destroy_compress(&cinfo);
  std::free(buffer);
  return bytes;
}

std::string read_http_answer(int fd) {
  // Until the answer is complete (headers and Content-Length bytes), not until the server closes: a kept-alive
  // connection would wait for its timeout.
  std::string got;
  char buf[4096];
  for (ssize_t n; (n = ::recv(fd, buf, sizeof buf, 0)) > 0;) {
    got.append(buf, static_cast<std::size_t>(n));
    const std::size_t head = got.find("\r\n\r\n");
    if (head == std::string::npos) continue;
    std::size_t length = 0;
    const std::size_t field = got.find("Content-Length: ");
    if (field != std::string::npos && field < head) length = std::strtoul(got.c_str() + field + 16, nullptr, 10);
    if (got.size() >= head + 4 + length) break;
  }
  return got;
}

int raw_status(int port, const std::string& request, std::string* response) {
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return 0;
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  std::string got;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0 &&
      ::send(fd, request.data(), request.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(request.size())) {
    got = read_http_answer(fd);
  }
  ::close(fd);
  if (response) *response = got;
  if (got.rfind("HTTP/1.1 ", 0) != 0 || got.size() < 12) return 0;
  return std::atoi(got.c_str() + 9);
}

long rss_kib(int pid) {
  std::ifstream in("/proc/" + std::to_string(pid) + "/status");
  for (std::string line; std::getline(in, line);)
    if (line.rfind("VmRSS:", 0) == 0) return std::atol(line.c_str() + 6);
  return 0;
}

}  // namespace mnist::testing
