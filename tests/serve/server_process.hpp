// `mnist serve` / `mnist train --serve` run in the background by the tests: started without a shell (so that a signal
// reaches mnist itself), stdout read through a pipe until the "serving http://127.0.0.1:PORT/" line gives the port.
#pragma once
#include <sys/types.h>

#include <chrono>
#include <filesystem>
#include <string>
#include <vector>

namespace mnist::testing {

/// How long a stop may take: a second, as promised; under the sanitizers, whose exit-time leak check alone can take
/// longer on a busy machine, three.
#if MNIST_SANITIZED
inline constexpr long kStopLimitMs = 3000;
#else
inline constexpr long kStopLimitMs = 1000;
#endif

class ServerProcess {
 public:
  /// Starts $MNIST_CLI args...; stderr goes to a file (err()).
  explicit ServerProcess(const std::vector<std::string>& args);
  ~ServerProcess();  // SIGKILL if still running
  ServerProcess(const ServerProcess&) = delete;
  ServerProcess& operator=(const ServerProcess&) = delete;

  /// Reads stdout until a line starting with prefix, within timeout; returns the line ("" on timeout or exit).
  std::string wait_for_line(const std::string& prefix, std::chrono::milliseconds timeout);
  /// Waits for "serving http://HOST:PORT/" and returns PORT (-1 when it did not come).
  int wait_for_port(std::chrono::milliseconds timeout = std::chrono::seconds(60));
  /// Sends signal and waits for the exit; returns the exit code (128 + signal when killed by one, -1 when it did not
  /// end within timeout, then killed). *took: how long it took.
  int stop(int signal, std::chrono::milliseconds timeout, std::chrono::milliseconds* took = nullptr);
  /// Waits for the process to end by itself (exit code as for stop).
  int wait(std::chrono::milliseconds timeout);
  bool running();
  int pid() const { return pid_; }
  /// Everything read from stdout so far, and stderr's file.
  const std::string& out() const { return out_; }
  std::string err() const;

 private:
  pid_t pid_ = 0;
  int out_fd_ = -1;
  std::string out_, buffered_;
  std::filesystem::path err_path_;
  int status_ = -1;
  bool exited_ = false;
  bool read_some(std::chrono::milliseconds timeout);
};

}  // namespace mnist::testing
