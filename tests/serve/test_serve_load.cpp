// Load: 8 clients x 200 predictions (a 280x280 PNG each, as the page sends) at once against `mnist serve`: every one
// answered 200, the server's memory flat. Prints p50/p99 latency, predictions/s and the server's RSS before/after
// (docs/serve.md quotes them). MNIST_SERVE_LOAD_REQUESTS changes the per-client count (scripts run longer doses).
#include <gtest/gtest.h>
#include <httplib.h>
#include <signal.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "serve/serve_fixture.hpp"
#include "serve/server_process.hpp"
#include "support/test_support.hpp"

using namespace mnist::testing;
using Clock = std::chrono::steady_clock;

namespace {

TEST(ServeLoad, EightClientsAtOnceAllAnsweredMemoryFlat) {
  constexpr int kClients = 8;
  const char* env = std::getenv("MNIST_SERVE_LOAD_REQUESTS");
  const int per_client = env ? std::max(1, std::atoi(env)) : 200;
  TempDir dir;
  write_test_model(dir / "m.safetensors");
  ServerProcess server({"serve", (dir / "m.safetensors").string(), "--port", "0"});
  const int port = server.wait_for_port();
  ASSERT_GT(port, 0) << server.err();
  const std::vector<std::uint8_t> png = digit_png(280, 280, 1);
  const std::string body(png.begin(), png.end());
  {  // warm up: the first requests size the model's buffers and the allocator's pools
    httplib::Client c("127.0.0.1", port);
    for (int i = 0; i < 20; ++i) ASSERT_EQ(c.Post("/api/predict", body, "image/png")->status, 200);
  }
  const long rss_before = rss_kib(server.pid());

  std::vector<std::vector<double>> latencies(kClients);
  std::vector<int> failures(kClients, 0);
  const auto start = Clock::now();
  std::vector<std::thread> clients;
  for (int t = 0; t < kClients; ++t)
    clients.emplace_back([&, t] {
      httplib::Client c("127.0.0.1", port);
      c.set_read_timeout(60);
      for (int i = 0; i < per_client; ++i) {
        const auto t0 = Clock::now();
        auto res = c.Post("/api/predict", body, "image/png");
        latencies[t].push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        if (!res || res->status != 200) ++failures[t];
      }
    });
  for (std::thread& t : clients) t.join();
  const double seconds = std::chrono::duration<double>(Clock::now() - start).count();
  const long rss_after = rss_kib(server.pid());

  std::vector<double> all;
  for (const auto& l : latencies) all.insert(all.end(), l.begin(), l.end());
  std::sort(all.begin(), all.end());
  const auto pct = [&](double q) { return all[std::min(all.size() - 1, static_cast<std::size_t>(q * all.size()))]; };
  int failed = 0;
  for (int f : failures) failed += f;
  std::printf("load: %d clients x %d predictions (280x280 PNG): %zu answered, %d failed, %.2f s, %.0f predictions/s, "
              "latency p50 %.2f ms p99 %.2f ms; server RSS %ld KiB before, %ld KiB after\n",
              kClients, per_client, all.size(), failed, seconds, static_cast<double>(all.size()) / seconds, pct(0.5),
              pct(0.99), rss_before, rss_after);
  EXPECT_EQ(failed, 0);
  EXPECT_EQ(all.size(), static_cast<std::size_t>(kClients * per_client));
#if MNIST_SANITIZED
  // AddressSanitizer keeps freed memory in quarantine (up to 256 MB): the resident size grows by design there.
#else
  EXPECT_LT(rss_after - rss_before, 16 * 1024) << "memory grew under load";
#endif
  EXPECT_EQ(server.stop(SIGTERM, std::chrono::seconds(5)), 0) << server.err();
}

}  // namespace
