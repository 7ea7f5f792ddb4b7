// Downloads against a local HTTP server (python3 -m http.server on 127.0.0.1, a free port), started by the test
// and stopped after: published MD5s, mirror fallback, corrupt data, and nothing left behind on failure.
#include <arpa/inet.h>
#include <fcntl.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <thread>

#include "mnist/datasets.hpp"
#include "mnist/download.hpp"
#include "mnist/error.hpp"
#include "support/test_support.hpp"

extern char** environ;

namespace fs = std::filesystem;
using namespace mnist;
using namespace mnist::testing;

namespace {

// A port nobody listens on right now (the kernel picks it).
int free_port() {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  ::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  ::close(fd);
  return ntohs(addr.sin_port);
}

bool accepts_connections(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  bool ok = ::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0;
  ::close(fd);
  return ok;
}

// python3 -m http.server serving `root` on 127.0.0.1; stopped (SIGTERM, then reaped) on destruction.
class HttpServer {
 public:
  explicit HttpServer(const fs::path& root) : port_(free_port()) {
    std::string port = std::to_string(port_), dir = root.string();
    std::vector<std::string> args = {"python3", "-m", "http.server", port, "--bind", "127.0.0.1", "--directory", dir};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, "/dev/null", O_WRONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 2, "/dev/null", O_WRONLY, 0);
    int rc = posix_spawnp(&pid_, "python3", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      pid_ = 0;
      return;
    }
    for (int i = 0; i < 100 && !accepts_connections(port_); ++i)
      std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  ~HttpServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;
  bool running() const { return pid_ > 0 && accepts_connections(port_); }
  std::string url(const std::string& path = "") const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/" + path;
  }

 private:
  int port_;
  pid_t pid_ = 0;
};

std::string download_error(const std::vector<std::string>& mirrors, const std::string& name, const std::string& md5,
                           const fs::path& target) {
  try {
    download_file(mirrors, name, md5, target, DownloadOptions{});
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "download did not fail";
  return {};
}

bool is_empty_dir(const fs::path& dir) { return fs::directory_iterator(dir) == fs::directory_iterator(); }

}  // namespace

TEST(Md5, KnownValues) {
  EXPECT_EQ(md5_hex({}), "d41d8cd98f00b204e9800998ecf8427e");
  const std::string abc = "abc";
  EXPECT_EQ(md5_hex({reinterpret_cast<const std::uint8_t*>(abc.data()), abc.size()}),
            "900150983cd24fb0d6963f7d28e17f72");
  auto dir = mnist_test_dir();
  if (!dir) GTEST_SKIP() << "../shared/data/mnist absent: published MD5 of the real file not checked";
  EXPECT_EQ(md5_hex_file(*dir / "t10k-labels-idx1-ubyte.gz"), dataset_info("mnist").files[3].md5);
}

TEST(Download, RealMnistTestSplitWithPublishedMd5) {
  auto shared = mnist_test_dir();
  if (!shared) GTEST_SKIP() << "../shared/data/mnist absent: download of the real files not tested";
  HttpServer server(*shared);
  ASSERT_TRUE(server.running()) << "could not start python3 -m http.server";
  TempDir target;
  const auto& info = dataset_info("mnist");
  for (int f : {2, 3}) {
    download_file({server.url()}, info.files[f].name, info.files[f].md5, target.path(), DownloadOptions{});
    EXPECT_EQ(read_file(target / info.files[f].name), read_file(*shared / info.files[f].name)) << info.files[f].name;
  }
  Dataset test = load_dataset_dir(target.path(), Split::Test, "mnist");
  EXPECT_EQ(test.size(), 10000u);
  EXPECT_EQ(test[0].label, 7);
  // Nothing but the two files: no temporary left over.
  EXPECT_EQ(std::distance(fs::directory_iterator(target.path()), fs::directory_iterator()), 2);
}

TEST(Download, CorruptCopyFailsAndLeavesNothing) {
  TempDir served, target;
  std::vector<std::uint8_t> good(5000);
  for (std::size_t i = 0; i < good.size(); ++i) good[i] = static_cast<std::uint8_t>(i * 31);
  std::string md5 = md5_hex(good);
  auto bad = good;
  bad[1234] ^= 0x01;
  write_file(served / "t10k-labels-idx1-ubyte.gz", bad);
  HttpServer server(served.path());
  ASSERT_TRUE(server.running());
  std::string message = download_error({server.url()}, "t10k-labels-idx1-ubyte.gz", md5, target.path());
  EXPECT_NE(message.find("t10k-labels-idx1-ubyte.gz"), std::string::npos) << message;
  EXPECT_NE(message.find(server.url("t10k-labels-idx1-ubyte.gz")), std::string::npos) << message;
  EXPECT_NE(message.find("MD5 " + md5_hex(bad) + " does not match the published " + md5), std::string::npos)
      << message;
  EXPECT_TRUE(is_empty_dir(target.path()));
}

TEST(Download, TriesEachMirrorAndNamesEveryFailure) {
  TempDir served, target;
  fs::create_directories(served / "good");
  std::vector<std::uint8_t> bytes = {1, 2, 3, 4, 5};
  write_file(served / "good" / "f.gz", bytes);
  HttpServer server(served.path());
  ASSERT_TRUE(server.running());
  std::string dead = "http://127.0.0.1:" + std::to_string(free_port()) + "/";
  // 404 first, connection refused second, then a mirror that works.
  download_file({server.url("missing/"), dead, server.url("good")}, "f.gz", md5_hex(bytes), target.path(),
                DownloadOptions{});
  EXPECT_EQ(read_file(target / "f.gz"), bytes);

  TempDir target2;
  std::string message = download_error({server.url("missing/"), dead}, "f.gz", md5_hex(bytes), target2.path());
  EXPECT_NE(message.find("cannot download f.gz"), std::string::npos) << message;
  EXPECT_NE(message.find(server.url("missing/f.gz") + ": HTTP 404"), std::string::npos) << message;
  EXPECT_NE(message.find(dead + "f.gz: "), std::string::npos) << message;
  EXPECT_EQ(message.find('\n'), std::string::npos);
  EXPECT_TRUE(is_empty_dir(target2.path()));
}

// A server that accepts the connection but never answers: the stall timeout ends the attempt.
TEST(Download, StalledServerTimesOut) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 4), 0);  // the kernel completes the handshake; nobody ever reads or writes
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  std::string mirror = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/";
  TempDir target;
  DownloadOptions options;
  options.connect_timeout_seconds = 2;
  options.stall_timeout_seconds = 1;
  auto start = std::chrono::steady_clock::now();
  std::string message;
  try {
    download_file({mirror}, "f.gz", "", target.path(), options);
  } catch (const Error& e) {
    message = e.what();
  }
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  ::close(fd);
  EXPECT_NE(message.find(mirror + "f.gz: "), std::string::npos) << message;
  EXPECT_NE(message.find("too slow"), std::string::npos) << message;
  EXPECT_LT(seconds, 10.0);
  EXPECT_TRUE(is_empty_dir(target.path()));
}

TEST(Download, LocateWithDownloadFetchesIntoLocalRoot) {
  auto shared = mnist_test_dir();
  if (!shared) GTEST_SKIP() << "../shared/data/mnist absent";
  HttpServer server(*shared);
  ASSERT_TRUE(server.running());
  TempDir root;
  DataOptions options;
  options.dataset = "mnist";
  options.local_root = root.path();
  options.download = true;
  options.mirrors = {server.url()};
  // ../shared lacks train-images (it cannot be had on these machines): the error names it and the URL.
  try {
    locate_dataset(options);
    FAIL() << "no error";
  } catch (const Error& e) {
    std::string message = e.what();
    EXPECT_NE(message.find("train-images-idx3-ubyte.gz"), std::string::npos) << message;
    EXPECT_NE(message.find(server.url("train-images-idx3-ubyte.gz") + ": HTTP 404"), std::string::npos) << message;
  }
  // The other three files were still fetched, verified against their published MD5s.
  for (const char* name : {"train-labels-idx1-ubyte.gz", "t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"})
    EXPECT_EQ(read_file(root / "mnist" / name), read_file(*shared / name)) << name;
  EXPECT_EQ(load_dataset_dir(root / "mnist", Split::Test, "mnist").size(), 10000u);
  for (const auto& entry : fs::directory_iterator(root / "mnist"))
    EXPECT_EQ(entry.path().filename().string().rfind('.', 0), std::string::npos) << "temporary left: " << entry.path();

  // A mirror that serves nothing: the error, and no empty directory made for the data set.
  options.dataset = "kmnist";
  options.mirrors = {server.url() + "nothing-here/"};
  EXPECT_THROW(locate_dataset(options), Error);
  EXPECT_FALSE(fs::exists(root / "kmnist"));
}
