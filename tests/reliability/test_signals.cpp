// Real signals during `mnist train` (issue 6, item 4): SIGINT (Ctrl-C) or SIGTERM while a run is training finishes
// the current batch, keeps the last completed epoch's checkpoint, optimizer state and history, says on one line
// where they are and how to continue, and exits 130; `train --resume` then goes on from there. The CLI tests stop
// runs with --stop-after-batches (the same path, deterministic); these send the signal itself, from outside.
#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "support/cli_runner.hpp"
#include "support/test_support.hpp"

extern char** environ;

namespace fs = std::filesystem;
using namespace mnist::testing;
using Clock = std::chrono::steady_clock;

namespace {

std::string text_of(const fs::path& path) {
  const std::vector<std::uint8_t> bytes = read_file(path);
  return {bytes.begin(), bytes.end()};
}

// A 28x28 data set of 1,000 train and 100 test images of noise with labels 0..9: an epoch takes well under a
// second even under the sanitizers, so the first epoch's files come quickly and the run is interrupted mid-way.
void write_noise_dataset(const fs::path& dir) {
  fs::create_directories(dir);
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
  write_file(dir / "train-images-idx3-ubyte", images(1000, 1));
  write_file(dir / "train-labels-idx1-ubyte", labels(1000));
  write_file(dir / "t10k-images-idx3-ubyte", images(100, 2));
  write_file(dir / "t10k-labels-idx1-ubyte", labels(100));
}

// `$MNIST_CLI args...` started in the background (no shell, so a signal reaches mnist itself), stdout and stderr
// to files in capture.
class Background {
 public:
  Background(const std::vector<std::string>& args, const fs::path& capture) : capture_(capture) {
    const char* cli = std::getenv("MNIST_CLI");
    if (!cli) return;
    std::vector<std::string> all = {cli};
    all.insert(all.end(), args.begin(), args.end());
    std::vector<char*> argv;
    for (auto& a : all) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 0, "/dev/null", O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&actions, 1, (capture / "out").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&actions, 2, (capture / "err").c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0644);
    if (posix_spawn(&pid_, cli, &actions, nullptr, argv.data(), environ) != 0) pid_ = 0;
    posix_spawn_file_actions_destroy(&actions);
  }
  ~Background() {
    if (pid_ > 0) {
      ::kill(pid_, SIGKILL);
      ::waitpid(pid_, nullptr, 0);
    }
  }
  bool started() const { return pid_ > 0; }
  bool running() const { return pid_ > 0 && ::waitpid(pid_, nullptr, WNOHANG) == 0; }
  void signal(int sig) const { ::kill(pid_, sig); }
  // The exit code, or -n when signal n killed it (so that a run killed by SIGINT is not taken for one that exited
  // 130); -1000 after timeout seconds (the destructor then kills it).
  int wait(double timeout) {
    const auto end = Clock::now() + std::chrono::duration<double>(timeout);
    int status = 0;
    while (::waitpid(pid_, &status, WNOHANG) == 0) {
      if (Clock::now() > end) return -1000;
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    pid_ = 0;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -WTERMSIG(status);
  }
  std::string err() const { return text_of(capture_ / "err"); }

 private:
  fs::path capture_;
  pid_t pid_ = 0;
};

// Waits until path exists (the run has completed an epoch) while the process runs; false after timeout seconds.
bool wait_for(const fs::path& path, const Background& run, double timeout) {
  const auto end = Clock::now() + std::chrono::duration<double>(timeout);
  while (!fs::exists(path)) {
    if (Clock::now() > end || !run.running()) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
  return true;
}

std::vector<std::string> hidden_files(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().filename().string().starts_with(".")) names.push_back(entry.path().filename().string());
  return names;
}

std::size_t epochs_in_history(const fs::path& dir) {
  return nlohmann::json::parse(text_of(dir / "history.json"))["epochs"].size();
}

class TrainSignals : public ::testing::TestWithParam<int> {};

TEST_P(TrainSignals, StopAfterTheBatchKeepTheLastEpochExit130AndResume) {
  const int sig = GetParam();
  TempDir tmp;
  write_noise_dataset(tmp / "data");
  const fs::path out = tmp / "run";
  // 100,000 epochs: the run is still training when the signal comes, however fast the machine.
  Background run({"train", "--data-dir", (tmp / "data").string(), "--model", "hidden-relu", "--epochs", "100000",
                  "--momentum", "0.9", "--seed", "3", "--out", out.string()},
                 tmp.path());
  ASSERT_TRUE(run.started()) << "cannot start $MNIST_CLI";
  // history.json is written last after each epoch, after the checkpoint and the optimizer state.
  ASSERT_TRUE(wait_for(out / "history.json", run, 120)) << "no epoch completed: " << run.err();
  run.signal(sig);
  const int code = run.wait(60);
  const std::string err = run.err();
  ASSERT_EQ(code, 130) << err;
  EXPECT_EQ(line_count(err), 1u) << err;
  EXPECT_NE(err.find("interrupted"), std::string::npos) << err;
  EXPECT_NE(err.find(out.string() + "/model.safetensors"), std::string::npos) << err;
  EXPECT_NE(err.find("mnist train --resume " + out.string()), std::string::npos) << err;
  EXPECT_TRUE(fs::exists(out / "model.safetensors"));
  EXPECT_TRUE(fs::exists(out / "resume.safetensors"));
  EXPECT_EQ(hidden_files(out), std::vector<std::string>{}) << "a temporary file was left behind";
  const std::size_t done = epochs_in_history(out);
  ASSERT_GE(done, 1u);
  EXPECT_NE(err.find("hold epoch " + std::to_string(done) + " of 100000"), std::string::npos) << err;

  // Resume for one more epoch: it starts from the saved state and ends normally.
  const CliRun resumed =
      run_cli("train --resume " + quoted(out) + " --epochs " + std::to_string(done + 1), 120, tmp.path().string());
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_EQ(epochs_in_history(out), done + 1);
  EXPECT_EQ(hidden_files(out), std::vector<std::string>{});
}

std::string signal_name(const ::testing::TestParamInfo<int>& info) { return info.param == SIGINT ? "SIGINT" : "SIGTERM"; }

INSTANTIATE_TEST_SUITE_P(Reliability, TrainSignals, ::testing::Values(SIGINT, SIGTERM), signal_name);

// A second Ctrl-C while the first is being honoured ends the process at once (the handler restores the default
// action). Whenever that kill lands, even inside a save, the files of the run are whole: each is written to a
// temporary name and renamed, so the checkpoint and the history on disk are always a complete earlier version.
TEST(TrainSignalsTwice, SecondSignalEndsAtOnceAndTheFilesStayWhole) {
  TempDir tmp;
  write_noise_dataset(tmp / "data");
  const fs::path out = tmp / "run";
  Background run({"train", "--data-dir", (tmp / "data").string(), "--model", "hidden", "--epochs", "100000", "--out",
                  out.string()},
                 tmp.path());
  ASSERT_TRUE(run.started());
  ASSERT_TRUE(wait_for(out / "history.json", run, 120)) << run.err();
  run.signal(SIGINT);
  run.signal(SIGINT);
  const int code = run.wait(60);
  EXPECT_TRUE(code == 130 || code == -SIGINT) << code << " " << run.err();
  EXPECT_GE(epochs_in_history(out), 1u);
  const CliRun check = run_cli("evaluate " + quoted(out / "model.safetensors") + " --data-dir " + quoted(tmp / "data"),
                               120, tmp.path().string());
  EXPECT_EQ(check.code, 0) << check.err;
}

}  // namespace
