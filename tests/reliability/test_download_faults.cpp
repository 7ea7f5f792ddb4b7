// Download faults: download_file against tests/reliability/fault_server.py on 127.0.0.1, which injects one fault
// per URL prefix (404, 500, reset mid-body, short body, wrong bytes, stall, ...). Every fault must end in the next
// mirror or in one Error naming the file, the URL and the reason, within the stall timeout, and must leave no
// partial or corrupt file in the data directory (nor damage a good file already there).
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <fstream>
#include <sstream>
#include <thread>

#include "mnist/download.hpp"
#include "mnist/error.hpp"
#include "support/test_support.hpp"

extern char** environ;

namespace fs = std::filesystem;
using namespace mnist;
using namespace mnist::testing;
using Clock = std::chrono::steady_clock;

namespace {

const char* kFile = "payload-idx1-ubyte.gz";
constexpr long kStallTimeout = 1;     // seconds: the downloader's stall timeout in these tests
constexpr double kServerStall = 20;   // seconds: how long the server stalls (far beyond kStallTimeout)

fs::path server_script() { return fs::path(MNIST_SOURCE_DIR) / "tests/reliability/fault_server.py"; }

// fault_server.py serving dir; stopped (SIGTERM, reaped) on destruction.
class FaultServer {
 public:
  explicit FaultServer(const fs::path& root) : log_(root.parent_path() / (root.filename().string() + ".log")) {
    const fs::path port_file = root.parent_path() / (root.filename().string() + ".port");
    std::vector<std::string> args = {"python3", server_script().string(), root.string(), port_file.string(),
                                     "--stall-seconds", std::to_string(kServerStall)};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    int rc = posix_spawnp(&pid_, "python3", &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (rc != 0) {
      pid_ = 0;
      return;
    }
    for (int i = 0; i < 200 && !fs::exists(port_file); ++i) std::this_thread::sleep_for(std::chrono::milliseconds(25));
    std::ifstream in(port_file);
    in >> port_;
  }
  ~FaultServer() {
    if (pid_ > 0) {
      ::kill(pid_, SIGTERM);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool running() const { return pid_ > 0 && port_ > 0; }
  std::string mirror(const std::string& fault) const {
    return "http://127.0.0.1:" + std::to_string(port_) + "/" + fault + "/";
  }
  // The faults requested so far, in order ("404 payload...").
  std::string requests() const {
    std::ifstream in(log_);
    std::stringstream s;
    s << in.rdbuf();
    return s.str();
  }

 private:
  fs::path log_;
  pid_t pid_ = 0;
  int port_ = 0;
};

// Every file under dir (recursively), as names relative to it.
std::vector<std::string> listing(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::recursive_directory_iterator(dir)) names.push_back(fs::relative(e.path(), dir).string());
  std::sort(names.begin(), names.end());
  return names;
}

DownloadOptions quick_options() {
  DownloadOptions o;
  o.connect_timeout_seconds = 2;
  o.stall_timeout_seconds = kStallTimeout;
  o.progress = false;
  return o;
}

// One server for the whole suite (starting python3 takes a second or two on a busy machine); a fresh data
// directory for each test.
class DownloadFaults : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    served_dir_ = new TempDir();
    // 200 kB of incompressible-looking bytes: large enough that "half the body" is several TCP segments.
    payload_.resize(200000);
    std::uint32_t x = 12345;
    for (auto& b : payload_) {
      x = x * 1664525u + 1013904223u;
      b = static_cast<std::uint8_t>(x >> 24);
    }
    fs::create_directories(served_dir_->path() / "served");
    write_file(served_dir_->path() / "served" / kFile, payload_);
    md5_ = md5_hex(payload_);
    server_ = new FaultServer(served_dir_->path() / "served");
  }
  static void TearDownTestSuite() {
    delete server_;
    delete served_dir_;
    server_ = nullptr;
    served_dir_ = nullptr;
  }
  void SetUp() override {
    fs::create_directories(data_);
    if (!server_->running()) GTEST_SKIP() << "cannot start python3 " << server_script();
  }

  // Downloads from the given faults' mirrors in order; returns the error message ("" on success) and the time.
  std::string attempt(const std::vector<std::string>& faults, double* seconds = nullptr) {
    std::vector<std::string> mirrors;
    for (const auto& f : faults) mirrors.push_back(f.rfind("http", 0) == 0 ? f : server_->mirror(f));
    const auto start = Clock::now();
    std::string message;
    try {
      download_file(mirrors, kFile, md5_, data_, quick_options());
    } catch (const Error& e) {
      message = e.what();
    }
    if (seconds) *seconds = std::chrono::duration<double>(Clock::now() - start).count();
    return message;
  }

  // The data directory holds exactly the good file.
  void expect_good_file() {
    EXPECT_EQ(listing(data_), std::vector<std::string>{kFile});
    EXPECT_EQ(read_file(data_ / kFile), payload_);
  }

  // A lone faulty mirror: one error naming file, URL and reason; nothing left behind.
  void expect_clean_failure(const std::string& fault, const std::vector<std::string>& reasons) {
    double seconds = 0;
    const std::string message = attempt({fault}, &seconds);
    ASSERT_FALSE(message.empty()) << fault << ": download reported success";
    EXPECT_NE(message.find(kFile), std::string::npos) << message;
    EXPECT_NE(message.find(server_->mirror(fault) + kFile), std::string::npos) << "no URL in: " << message;
    bool named = false;
    for (const auto& r : reasons) named = named || message.find(r) != std::string::npos;
    EXPECT_TRUE(named) << "reason not named in: " << message;
    EXPECT_EQ(message.find('\n'), std::string::npos) << "not one line: " << message;
    EXPECT_TRUE(listing(data_).empty()) << fault << " left " << ::testing::PrintToString(listing(data_));
    // libcurl judges the speed over a window of the last ~5 s, so a stall after a burst of data is seen up to
    // ~5 s late; anything quicker than the server's own 20 s stall proves the timeout worked.
    EXPECT_LT(seconds, kStallTimeout + 8.0) << fault << " took " << seconds << " s";
  }

  // A faulty mirror followed by a good one: the good one's file, and both were asked.
  void expect_fallback(const std::string& fault) {
    const std::size_t logged_before = server_->requests().size();
    const std::string message = attempt({fault, "ok"});
    EXPECT_EQ(message, "");
    expect_good_file();
    const std::string log = server_->requests().substr(logged_before);
    EXPECT_NE(log.find(fault + " " + kFile), std::string::npos) << log;
    EXPECT_NE(log.find(std::string("ok ") + kFile), std::string::npos) << log;
  }

  static TempDir* served_dir_;
  static FaultServer* server_;
  static std::vector<std::uint8_t> payload_;
  static std::string md5_;
  TempDir tmp_;
  fs::path data_ = tmp_ / "data";
};

TempDir* DownloadFaults::served_dir_ = nullptr;
FaultServer* DownloadFaults::server_ = nullptr;
std::vector<std::uint8_t> DownloadFaults::payload_;
std::string DownloadFaults::md5_;

TEST_F(DownloadFaults, GoodMirrorGivesTheFileAndNothingElse) {
  EXPECT_EQ(attempt({"ok"}), "");
  expect_good_file();
}

TEST_F(DownloadFaults, Http404) { expect_clean_failure("404", {"HTTP 404"}); }
TEST_F(DownloadFaults, Http404ThenNextMirror) { expect_fallback("404"); }
TEST_F(DownloadFaults, Http500) { expect_clean_failure("500", {"HTTP 500"}); }
TEST_F(DownloadFaults, Http500ThenNextMirror) { expect_fallback("500"); }
TEST_F(DownloadFaults, ResetMidBody) { expect_clean_failure("reset", {"reset", "Recv failure"}); }
TEST_F(DownloadFaults, ResetMidBodyThenNextMirror) { expect_fallback("reset"); }
TEST_F(DownloadFaults, BodyShorterThanContentLength) { expect_clean_failure("short", {"closed", "remaining", "partial"}); }
TEST_F(DownloadFaults, BodyShorterThanContentLengthThenNextMirror) { expect_fallback("short"); }
TEST_F(DownloadFaults, WrongBytesFailTheMd5) { expect_clean_failure("wrong", {"MD5"}); }
TEST_F(DownloadFaults, WrongBytesThenNextMirror) { expect_fallback("wrong"); }
TEST_F(DownloadFaults, HtmlPageInsteadOfTheFileFailsTheMd5) { expect_clean_failure("html", {"MD5"}); }
TEST_F(DownloadFaults, StallMidBodyEndsByTheStallTimeout) { expect_clean_failure("stall", {"too slow", "timed out", "stall"}); }
TEST_F(DownloadFaults, StallMidBodyThenNextMirror) { expect_fallback("stall"); }
TEST_F(DownloadFaults, StallBeforeHeadersEndsByTheStallTimeout) {
  expect_clean_failure("stall-headers", {"too slow", "timed out", "stall"});
}
TEST_F(DownloadFaults, StallBeforeHeadersThenNextMirror) { expect_fallback("stall-headers"); }

TEST_F(DownloadFaults, ConnectionRefusedThenNextMirror) {
  // Port 1 on loopback: nobody listens there (and an unprivileged process cannot).
  EXPECT_EQ(attempt({"http://127.0.0.1:1/", "ok"}), "");
  expect_good_file();
}

TEST_F(DownloadFaults, EveryMirrorFailingNamesEachUrlAndReason) {
  const std::string message = attempt({"404", "wrong", "short"});
  for (const std::string fault : {"404", "wrong", "short"})
    EXPECT_NE(message.find(server_->mirror(fault) + kFile), std::string::npos) << message;
  EXPECT_NE(message.find("HTTP 404"), std::string::npos) << message;
  EXPECT_NE(message.find("MD5"), std::string::npos) << message;
  EXPECT_TRUE(listing(data_).empty());
}

TEST_F(DownloadFaults, FailedDownloadKeepsAGoodFileAlreadyThere) {
  // A re-download (e.g. of a file believed corrupt) that fails must not destroy what was there.
  const std::vector<std::uint8_t> old = {1, 2, 3, 4, 5};
  write_file(data_ / kFile, old);
  for (const std::string fault : {"reset", "short", "wrong", "404"}) {
    EXPECT_NE(attempt({fault}), "") << fault;
    EXPECT_EQ(listing(data_), std::vector<std::string>{kFile}) << fault;
    EXPECT_EQ(read_file(data_ / kFile), old) << fault;
  }
}

TEST_F(DownloadFaults, MissingDataDirectoryIsAClearError) {
  std::string message;
  try {
    download_file({server_->mirror("ok")}, kFile, md5_, tmp_ / "no-such-dir", quick_options());
  } catch (const Error& e) {
    message = e.what();
  }
  EXPECT_NE(message.find("no-such-dir"), std::string::npos) << message;
}

// Regression: the stall detection was "under 1 byte/s", so a server that trickled a few bytes per second was
// never given up on (the server here gives up itself after 20 s). Now under 1 kB/s for the stall timeout.
TEST_F(DownloadFaults, TrickleEndsByTheStallTimeout) {
  expect_clean_failure("trickle", {"too slow", "timed out", "stall"});
}

// Regression: libcurl 7.88 follows redirects without limit by default, so a redirect loop never ended (the
// server here answers 404 after 1000 redirects). Now at most 10.
TEST_F(DownloadFaults, RedirectLoopEndsQuickly) {
  // libcurl's reason for giving up is "Maximum (N) redirects followed"; the URL itself says "redirect-loop".
  expect_clean_failure("redirect-loop", {"redirects followed"});
  const std::string log = server_->requests();
  std::size_t redirects = 0;
  for (std::size_t at = log.find("redirect-loop "); at != std::string::npos; at = log.find("redirect-loop ", at + 1))
    ++redirects;
  EXPECT_LE(redirects, 60u);
}

}  // namespace
