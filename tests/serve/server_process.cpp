#include "serve/server_process.hpp"

#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <thread>

extern char** environ;

namespace mnist::testing {

using Clock = std::chrono::steady_clock;

ServerProcess::ServerProcess(const std::vector<std::string>& args) {
  const char* cli = std::getenv("MNIST_CLI");
  if (!cli) return;
  err_path_ = std::filesystem::temp_directory_path() / ("mnist-serve-err-" + std::to_string(::getpid()) + "-" +
                                                        std::to_string(Clock::now().time_since_epoch().count()));
  int fds[2];
  if (::pipe(fds) != 0) return;
  std::vector<std::string> all = {cli};
  all.insert(all.end(), args.begin(), args.end());
  std::vector<char*> argv;
  for (auto& a : all) argv.push_back(a.data());
  argv.push_back(nullptr);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], 1);
  posix_spawn_file_actions_addclose(&actions, fds[0]);
  posix_spawn_file_actions_addopen(&actions, 2, err_path_.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
  if (posix_spawn(&pid_, cli, &actions, nullptr, argv.data(), environ) != 0) pid_ = 0;
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  out_fd_ = fds[0];
}

ServerProcess::~ServerProcess() {
  if (pid_ > 0 && !exited_) {
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
  }
  if (out_fd_ >= 0) ::close(out_fd_);
  std::error_code ec;
  if (!err_path_.empty()) std::filesystem::remove(err_path_, ec);
}

bool ServerProcess::read_some(std::chrono::milliseconds timeout) {
  if (out_fd_ < 0) return false;
  pollfd p{out_fd_, POLLIN, 0};
  if (::poll(&p, 1, static_cast<int>(timeout.count())) <= 0) return false;
  char buf[4096];
  const ssize_t n = ::read(out_fd_, buf, sizeof buf);
  if (n <= 0) {
    ::close(out_fd_);
    out_fd_ = -1;
    return false;
  }
  out_.append(buf, static_cast<std::size_t>(n));
  buffered_.append(buf, static_cast<std::size_t>(n));
  return true;
}

std::string ServerProcess::wait_for_line(const std::string& prefix, std::chrono::milliseconds timeout) {
  const auto end = Clock::now() + timeout;
  for (;;) {
    for (std::size_t nl; (nl = buffered_.find('\n')) != std::string::npos;) {
      std::string line = buffered_.substr(0, nl);
      buffered_.erase(0, nl + 1);
      if (line.rfind(prefix, 0) == 0) return line;
    }
    const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(end - Clock::now());
    if (left.count() <= 0 || out_fd_ < 0) return "";
    read_some(std::min(left, std::chrono::milliseconds(100)));
  }
}

int ServerProcess::wait_for_port(std::chrono::milliseconds timeout) {
  const std::string line = wait_for_line("serving http://", timeout);
  const std::size_t colon = line.rfind(':');
  if (line.empty() || colon == std::string::npos) return -1;
  return std::atoi(line.c_str() + colon + 1);
}

bool ServerProcess::running() {
  if (pid_ <= 0 || exited_) return false;
  const pid_t r = ::waitpid(pid_, &status_, WNOHANG);
  if (r == pid_) exited_ = true;
  return !exited_;
}

int ServerProcess::wait(std::chrono::milliseconds timeout) {
  const auto end = Clock::now() + timeout;
  while (running() && Clock::now() < end) {
    if (!read_some(std::chrono::milliseconds(10))) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  if (!exited_) {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, &status_, 0);
      exited_ = true;
    }
    return -1;
  }
  while (read_some(std::chrono::milliseconds(0))) {
  }
  if (WIFEXITED(status_)) return WEXITSTATUS(status_);
  if (WIFSIGNALED(status_)) return 128 + WTERMSIG(status_);
  return -1;
}

int ServerProcess::stop(int signal, std::chrono::milliseconds timeout, std::chrono::milliseconds* took) {
  const auto start = Clock::now();
  if (pid_ > 0 && !exited_) ::kill(pid_, signal);
  const int code = wait(timeout);
  if (took) *took = std::chrono::duration_cast<std::chrono::milliseconds>(Clock::now() - start);
  return code;
}

std::string ServerProcess::err() const {
  std::ifstream in(err_path_);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace mnist::testing
