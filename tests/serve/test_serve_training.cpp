// `mnist train --serve 0`: while the model trains, the page's API answers predictions with the current weights and
// GET /api/events streams the run (start, per-batch losses, one event per epoch, done); after training the server
// keeps serving the trained model until SIGINT, which ends it with exit 0.
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <thread>

#include "serve/serve_fixture.hpp"
#include "serve/server_process.hpp"
#include "support/test_support.hpp"

using namespace mnist::testing;
using json = nlohmann::json;

namespace {

// The events of a stream, by name, with their data.
std::vector<std::pair<std::string, json>> parse_events(const std::string& text) {
  std::vector<std::pair<std::string, json>> events;
  std::size_t at = 0;
  for (std::size_t end; (end = text.find("\n\n", at)) != std::string::npos; at = end + 2) {
    const std::string block = text.substr(at, end - at);
    const std::size_t data = block.find("\ndata: ");
    if (block.rfind("event: ", 0) != 0 || data == std::string::npos) continue;
    events.emplace_back(block.substr(7, data - 7), json::parse(block.substr(data + 7), nullptr, false));
  }
  return events;
}

TEST(ServeTraining, StreamsTheRunAndPredictsWithTheCurrentWeights) {
  TempDir dir;
  write_noise_dataset(dir / "data");
  ServerProcess server({"train", "--data-dir", (dir / "data").string(), "--model", "784-16-relu-10", "--epochs", "3",
                        "--batch-size", "10", "--out", (dir / "run").string(), "--serve", "0", "--threads", "2"});
  // Two threads: the engine's thread pool is busy with training while predictions are asked for.
  const int port = server.wait_for_port();
  ASSERT_GT(port, 0) << server.out() << server.err();

  httplib::Client api("127.0.0.1", port);
  api.set_read_timeout(30);
  auto model = api.Get("/api/model");
  ASSERT_TRUE(model);
  const json m = json::parse(model->body);
  EXPECT_EQ(m["training"], true);
  EXPECT_EQ(m["spec"], "784-16-relu-10");
  EXPECT_EQ(m["input"], json({1, 28, 28}));

  // Predictions while it trains: every one answered.
  std::atomic<bool> done{false};
  std::atomic<int> answered{0}, failed{0};
  std::thread predictor([&] {
    httplib::Client c("127.0.0.1", port);
    c.set_read_timeout(30);
    const std::string body = json{{"pixels", std::vector<int>(784, 30)}}.dump();
    while (!done.load()) {
      auto res = c.Post("/api/predict", body, "application/json");
      (res && res->status == 200 ? answered : failed)++;
    }
  });

  // The stream, read until the run is done (it replays what happened before the connection).
  std::string stream;
  httplib::Client events("127.0.0.1", port);
  events.set_read_timeout(60);
  events.Get("/api/events", [&](const char* data, std::size_t size) {
    stream.append(data, size);
    return stream.find("event: done") == std::string::npos;
  });
  done = true;
  predictor.join();
  const auto parsed = parse_events(stream);
  ASSERT_FALSE(parsed.empty()) << stream;
  EXPECT_EQ(parsed.front().first, "start");
  EXPECT_EQ(parsed.front().second["epochs"], 3);
  std::size_t batches = 0, epochs = 0;
  double last_progress = 0;
  for (const auto& [name, data] : parsed) {
    ASSERT_FALSE(data.is_discarded()) << name;
    if (name == "batch") {
      ++batches;
      EXPECT_GE(data["progress"].get<double>(), last_progress);
      last_progress = data["progress"].get<double>();
      EXPECT_GT(data["loss"].get<double>(), 0);
    }
    if (name == "epoch") EXPECT_EQ(data["epoch"], epochs++);
  }
  EXPECT_GE(batches, 3u);  // at least each epoch's last batch
  EXPECT_EQ(epochs, 3u);
  EXPECT_EQ(parsed.back().first, "done");
  EXPECT_DOUBLE_EQ(last_progress, 1.0);
  EXPECT_GT(answered.load(), 0);
  EXPECT_EQ(failed.load(), 0);

  // After training: still serving the trained model, until SIGINT.
  EXPECT_NE(server.wait_for_line("training done", std::chrono::seconds(30)), "") << server.out();
  auto after = api.Post("/api/predict", json{{"pixels", std::vector<int>(784, 30)}}.dump(), "application/json");
  ASSERT_TRUE(after);
  EXPECT_EQ(after->status, 200);
  std::chrono::milliseconds took{};
  EXPECT_EQ(server.stop(SIGINT, std::chrono::seconds(5), &took), 0) << server.err();
  EXPECT_LT(took.count(), kStopLimitMs);
  EXPECT_TRUE(std::filesystem::exists(dir / "run" / "model.safetensors"));
}

TEST(ServeTraining, InterruptedWhileTrainingExits130WithItsFiles) {
  TempDir dir;
  write_noise_dataset(dir / "data");
  ServerProcess server({"train", "--data-dir", (dir / "data").string(), "--model", "784-16-relu-10", "--epochs",
                        "100000", "--batch-size", "10", "--out", (dir / "run").string(), "--serve", "0"});
  ASSERT_GT(server.wait_for_port(), 0) << server.err();
  // Wait for the first epoch's files, then Ctrl-C.
  for (int i = 0; i < 600 && !std::filesystem::exists(dir / "run" / "resume.safetensors"); ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  std::chrono::milliseconds took{};
  EXPECT_EQ(server.stop(SIGINT, std::chrono::seconds(10), &took), 130) << server.err();
  EXPECT_LT(took.count(), 2 * kStopLimitMs);
  EXPECT_NE(server.err().find("continue with: mnist train --resume"), std::string::npos) << server.err();
}

TEST(ServeTraining, RefusesABadPort) {
  TempDir dir;
  for (const char* port : {"70000", "x", "-5"}) {
    ServerProcess server({"train", "--data-dir", (dir / "nothing").string(), "--serve", port});
    EXPECT_EQ(server.wait(std::chrono::seconds(20)), 2) << port << ": " << server.err();
  }
}

}  // namespace
