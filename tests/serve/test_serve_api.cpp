// `mnist serve` end to end: a server started on a free port (--port 0) answers every endpoint, refuses every bad
// request with the right status and a JSON error, keeps answering after them, predicts exactly what the library
// and `mnist predict --json` compute for the same image (PNG and JPEG; an MLP and a conv net), and stops on
// SIGINT/SIGTERM with exit 0 within a second, answering a request in flight first.
#include <gtest/gtest.h>
#include <httplib.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cmath>
#include <fstream>
#include <iterator>
#include <thread>
#include <nlohmann/json.hpp>

#include "mnist/checkpoint.hpp"
#include "mnist/datasets.hpp"
#include "mnist/image.hpp"
#include "serve/serve_fixture.hpp"
#include "serve/server_process.hpp"
#include "support/cli_runner.hpp"
#include "support/test_support.hpp"

namespace fs = std::filesystem;
using namespace mnist;
using namespace mnist::testing;
using json = nlohmann::json;

namespace {

std::string as_text(const std::vector<std::uint8_t>& bytes) { return {bytes.begin(), bytes.end()}; }

// What `mnist predict MODEL IMAGE --json -` says about image: its probabilities (read back as the floats they print)
// and its predicted class; {{}, -1} (and a failure) when it does not answer.
std::pair<std::vector<float>, int> predict_json(const fs::path& model, const fs::path& image) {
  const CliRun cli = run_cli("predict " + quoted(model) + " " + quoted(image) + " --json -");
  EXPECT_EQ(cli.code, 0) << cli.err;
  const json doc = json::parse(cli.out, nullptr, false);
  if (!doc.is_array() || doc.size() != 1 || !doc[0].contains("probabilities") || !doc[0].contains("predicted")) {
    ADD_FAILURE() << "predict --json -: " << cli.out << cli.err;
    return {{}, -1};
  }
  return {doc[0]["probabilities"].get<std::vector<float>>(), doc[0]["predicted"].get<int>()};
}

class ServeApi : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir;
    write_noise_dataset(*dir_ / "data");
    write_test_model(*dir_ / "model.safetensors");
    server_ = new ServerProcess({"serve", (*dir_ / "model.safetensors").string(), "--port", "0", "--data-dir",
                                 (*dir_ / "data").string()});
    port_ = server_->wait_for_port();
  }
  static void TearDownTestSuite() {
    delete server_;
    delete dir_;
  }
  void SetUp() override { ASSERT_GT(port_, 0) << "no serving line; stderr: " << server_->err(); }

  httplib::Client client() const {
    httplib::Client c("127.0.0.1", port_);
    c.set_read_timeout(30);
    return c;
  }
  // POSTs body and returns (status, parsed JSON body).
  std::pair<int, json> post(const std::string& body, const std::string& type) const {
    httplib::Client c = client();
    auto res = c.Post("/api/predict", body, type.c_str());
    if (!res) return {0, json()};
    return {res->status, json::parse(res->body, nullptr, false)};
  }
  // What the library computes for these pixels: the reference the server must match bit for bit.
  static std::vector<float> library_probabilities(const std::vector<std::uint8_t>& pixels) {
    Checkpoint ck = load_checkpoint(*dir_ / "model.safetensors");
    std::vector<float> x(pixels.size());
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>(pixels[i]) / 255.0f;
    const Tensor p = ck.model.predict_proba(x, 1);
    return std::vector<float>(p.data(), p.data() + 10);
  }
  static void expect_error(int status, const json& body, int want) {
    EXPECT_EQ(status, want);
    ASSERT_TRUE(body.is_object()) << "not JSON";
    ASSERT_TRUE(body.contains("error"));
    EXPECT_FALSE(body["error"].get<std::string>().empty());
    EXPECT_EQ(body["error"].get<std::string>().find('\n'), std::string::npos);
  }

  static TempDir* dir_;
  static ServerProcess* server_;
  static int port_;
};
TempDir* ServeApi::dir_ = nullptr;
ServerProcess* ServeApi::server_ = nullptr;
int ServeApi::port_ = -1;

TEST_F(ServeApi, ServesThePageAndItsEmbeddedFiles) {
  httplib::Client c = client();
  auto page = c.Get("/");
  ASSERT_TRUE(page);
  EXPECT_EQ(page->status, 200);
  EXPECT_EQ(page->get_header_value("Content-Type"), "text/html; charset=utf-8");
  for (const char* id : {"id=\"draw\"", "id=\"clear\"", "id=\"prediction\"", "chart.min.js",
                         "<body data-pending=\"false\">"})
    EXPECT_NE(page->body.find(id), std::string::npos) << id;
  for (const char* path : {"/app.js", "/style.css", "/chart.min.js"}) {
    auto res = c.Get(path);
    ASSERT_TRUE(res) << path;
    EXPECT_EQ(res->status, 200) << path;
    EXPECT_GT(res->body.size(), 500u) << path;
  }
  EXPECT_NE(c.Get("/chart.min.js")->body.find("Chart"), std::string::npos);
}

TEST_F(ServeApi, ServesNoFileOfTheFileSystem) {
  // Sent raw: a client library would normalise "..".
  for (const char* path : {"/../CMakeLists.txt", "/%2e%2e/%2e%2e/etc/passwd", "/%2E%2E%2Fetc%2Fpasswd",
                           "//etc/passwd", "/etc/passwd", "/app.js/../../../etc/passwd", "/src/serve/assets/app.js",
                           "/index.html/", "/./app.js", "/appXjs", "/chart.min.jsx", "/api/model/../../etc/passwd", "/%00", "/nothing"}) {
    std::string response;
    const int status =
        raw_status(port_, std::string("GET ") + path + " HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n", &response);
    EXPECT_TRUE(status == 404 || status == 400) << path << " -> " << status;
    EXPECT_EQ(response.find("root:"), std::string::npos) << path;
    EXPECT_EQ(response.find("cmake_minimum_required"), std::string::npos) << path;
  }
  auto res = client().Get("/no/such/page");
  ASSERT_TRUE(res);
  expect_error(res->status, json::parse(res->body, nullptr, false), 404);
}

TEST_F(ServeApi, AnswersOnlyRequestsAddressedToALocalName) {
  // DNS rebinding: a page of evil.example resolving its name to 127.0.0.1.
  std::string response;
  EXPECT_EQ(raw_status(port_, "GET /api/model HTTP/1.1\r\nHost: evil.example:8080\r\nConnection: close\r\n\r\n",
                       &response),
            403);
  EXPECT_NE(response.find("\"error\""), std::string::npos);
  EXPECT_EQ(raw_status(port_, "GET /api/model HTTP/1.1\r\nConnection: close\r\n\r\n"), 403);  // no Host
  for (const char* host : {"127.0.0.1:1234", "localhost:8080", "localhost", "[::1]:8080"})
    EXPECT_EQ(raw_status(port_, std::string("GET /api/model HTTP/1.1\r\nHost: ") + host +
                                    "\r\nConnection: close\r\n\r\n"),
              200)
        << host;
}

TEST_F(ServeApi, DescribesTheModel) {
  auto res = client().Get("/api/model");
  ASSERT_TRUE(res);
  EXPECT_EQ(res->status, 200);
  const json m = json::parse(res->body);
  EXPECT_EQ(m["spec"], "hidden-relu");
  EXPECT_EQ(m["dataset"], "mnist");
  EXPECT_EQ(m["classes"], json(dataset_info("mnist").classes));
  EXPECT_EQ(m["input"], json({1, 28, 28}));
  EXPECT_EQ(m["parameters"], 784 * 32 + 32 + 32 * 10 + 10);
  EXPECT_EQ(m["training"], false);
}

TEST_F(ServeApi, PredictsAnImageAsTheLibraryAndMnistPredictDo) {
  const std::vector<std::uint8_t> png = digit_png(120, 90, 1);
  write_file(*dir_ / "digit.png", png);
  const auto [status, answer] = post(as_text(png), "image/png");
  ASSERT_EQ(status, 200) << answer.dump();
  // The pixels the server saw are mnist predict's preprocessing of the same file.
  const GrayImage seen = preprocess_digit(read_image(*dir_ / "digit.png"));
  ASSERT_EQ(answer["pixels"].size(), 784u);
  EXPECT_EQ(answer["pixels"].get<std::vector<int>>(), std::vector<int>(seen.pixels.begin(), seen.pixels.end()));
  const std::vector<float> want = library_probabilities(seen.pixels);
  const std::vector<float> got = answer["probabilities"].get<std::vector<float>>();
  ASSERT_EQ(got.size(), 10u);
  EXPECT_EQ(got, want);  // full float precision: the very same floats
  double sum = 0;
  for (float p : got) sum += p;
  EXPECT_NEAR(sum, 1.0, 1e-5);
  const auto best = static_cast<int>(std::max_element(want.begin(), want.end()) - want.begin());
  EXPECT_EQ(answer["label"], best);
  EXPECT_EQ(answer["class"], dataset_info("mnist").classes[best]);
  // And `mnist predict --json` on the same file says exactly the same: the very floats, the same class.
  const auto [printed, predicted] = predict_json(*dir_ / "model.safetensors", *dir_ / "digit.png");
  EXPECT_EQ(printed, got);
  EXPECT_EQ(predicted, best);
  EXPECT_EQ(answer["label"], predicted);
}

TEST_F(ServeApi, PredictsAJpegAsTheLibraryAndMnistPredictDo) {
  const std::vector<std::uint8_t> jpeg = digit_jpeg(100, 140, 0);
  write_file(*dir_ / "digit.jpg", jpeg);
  const auto [status, answer] = post(as_text(jpeg), "image/jpeg");
  ASSERT_EQ(status, 200) << answer.dump();
  const GrayImage seen = preprocess_digit(decode_image(jpeg, "x"));
  EXPECT_EQ(answer["pixels"].get<std::vector<int>>(), std::vector<int>(seen.pixels.begin(), seen.pixels.end()));
  const std::vector<float> got = answer["probabilities"].get<std::vector<float>>();
  EXPECT_EQ(got, library_probabilities(seen.pixels));
  const auto [printed, predicted] = predict_json(*dir_ / "model.safetensors", *dir_ / "digit.jpg");
  EXPECT_EQ(printed, got);
  EXPECT_EQ(answer["label"], predicted);
}

// A conv net (conv, BatchNorm, max pooling, dropout) trained by mnist train for an epoch on the noise images: the
// server describes it and predicts PNG and JPEG inputs exactly as `mnist predict --json` does (dropout off, BatchNorm
// on its running statistics in both).
TEST_F(ServeApi, ServesAConvNetAsMnistPredictDoes) {
  const std::string spec = "1x28x28-conv4k3p1-bn-relu-maxpool2-dropout0.25-flatten-10";
  const fs::path run = *dir_ / "conv";
  const CliRun trained = run_cli("train --model " + spec + " --data-dir " + quoted(*dir_ / "data") +
                                     " --epochs 1 --batch-size 32 --lr 0.05 --seed 3 --threads 1 --out " + quoted(run),
                                 120);
  ASSERT_EQ(trained.code, 0) << trained.err;
  const fs::path model = run / "model.safetensors";
  ServerProcess server({"serve", model.string(), "--port", "0", "--data-dir", (*dir_ / "data").string()});
  const int port = server.wait_for_port();
  ASSERT_GT(port, 0) << server.err();
  httplib::Client c("127.0.0.1", port);
  c.set_read_timeout(30);

  auto res = c.Get("/api/model");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200);
  const json m = json::parse(res->body);
  EXPECT_EQ(m["spec"], spec);
  EXPECT_EQ(m["input"], json({1, 28, 28}));
  // conv 4x1x3x3 + 4, BatchNorm's weight and bias 4 + 4 (its running statistics are buffers), linear 784x10 + 10.
  EXPECT_EQ(m["parameters"], 4 * 9 + 4 + 4 + 4 + 4 * 14 * 14 * 10 + 10);

  write_file(*dir_ / "conv-digit.png", digit_png(120, 90, 1));
  write_file(*dir_ / "conv-digit.jpg", digit_jpeg(100, 140, 0));
  for (const auto& [file, type] : {std::pair<std::string, std::string>{"conv-digit.png", "image/png"},
                                   std::pair<std::string, std::string>{"conv-digit.jpg", "image/jpeg"}}) {
    SCOPED_TRACE(file);
    std::ifstream in(*dir_ / file, std::ios::binary);
    const std::string body((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    auto answer = c.Post("/api/predict", body, type.c_str());
    ASSERT_TRUE(answer);
    ASSERT_EQ(answer->status, 200) << answer->body;
    const json a = json::parse(answer->body);
    const std::vector<float> got = a["probabilities"].get<std::vector<float>>();
    const auto [printed, predicted] = predict_json(model, *dir_ / file);
    ASSERT_EQ(got.size(), 10u);
    EXPECT_EQ(got, printed);
    EXPECT_EQ(a["label"], predicted);
  }
  auto test = c.Get("/api/test");
  ASSERT_TRUE(test);
  EXPECT_EQ(test->status, 200);
  EXPECT_EQ(json::parse(test->body)["total"], 100);
  EXPECT_EQ(server.stop(SIGINT, std::chrono::seconds(5)), 0) << server.err();
}

TEST_F(ServeApi, PredictsJsonPixelsAsIs) {
  std::vector<int> pixels(784);
  for (std::size_t i = 0; i < 784; ++i) pixels[i] = static_cast<int>((i * 37) % 256);
  const auto [status, answer] = post(json{{"pixels", pixels}}.dump(), "application/json; charset=utf-8");
  ASSERT_EQ(status, 200) << answer.dump();
  EXPECT_EQ(answer["pixels"].get<std::vector<int>>(), pixels);
  const std::vector<float> want = library_probabilities(std::vector<std::uint8_t>(pixels.begin(), pixels.end()));
  EXPECT_EQ(answer["probabilities"].get<std::vector<float>>(), want);
}

TEST_F(ServeApi, RefusesBadBodiesWithAJsonErrorAndKeepsServing) {
  const std::string zeros = json{{"pixels", std::vector<int>(784, 0)}}.dump();
  std::string out_of_range = zeros, fractional = zeros, negative = zeros;
  out_of_range.replace(out_of_range.find('0'), 1, "256");
  fractional.replace(fractional.find('0'), 1, "0.5");
  negative.replace(negative.find('0'), 1, "-1");
  const std::vector<std::pair<std::string, std::string>> json_cases = {
      {"", "empty"},
      {"{\"pixels\": [1, 2,", "truncated"},
      {"[1, 2, 3]", "not an object"},
      {"{\"pixel\": []}", "no pixels"},
      {"{\"pixels\": \"abc\"}", "pixels not an array"},
      {json{{"pixels", std::vector<int>(783, 0)}}.dump(), "783 values"},
      {json{{"pixels", std::vector<int>(785, 0)}}.dump(), "785 values"},
      {out_of_range, "256"},
      {fractional, "0.5"},
      {negative, "-1"},
      {json{{"pixels", std::vector<std::string>(784, "1")}}.dump(), "strings"},
      {json{{"pixels", std::vector<json>(784, nullptr)}}.dump(), "nulls"},
  };
  for (const auto& [body, what] : json_cases) {
    SCOPED_TRACE(what);
    const auto [status, answer] = post(body, "application/json");
    expect_error(status, answer, 400);
  }
  std::vector<std::uint8_t> png = digit_png(64, 64, 0);
  std::string huge = as_text(png);
  huge[16] = 0x00, huge[17] = 0x01, huge[18] = 0x86, huge[19] = 0xA0;  // IHDR width 100000
  const std::vector<std::tuple<std::string, std::string, std::string>> image_cases = {
      {"not an image at all", "image/png", "garbage"},
      {as_text(png).substr(0, png.size() / 2), "image/png", "truncated PNG"},
      {"\xff\xd8\xff\xe0 truncated", "image/jpeg", "truncated JPEG"},
      {as_text(digit_png(50, 50, 2)), "image/png", "blank white image"},
      {huge, "image/png", "a header claiming 100000 pixels wide"},
      {"", "image/png", "empty"},
  };
  for (const auto& [body, type, what] : image_cases) {
    SCOPED_TRACE(what);
    const auto [status, answer] = post(body, type);
    expect_error(status, answer, 400);
  }
  {
    const auto [status, answer] = post("hello", "text/plain");
    expect_error(status, answer, 415);
  }
  // Over 2 MB: 413 with a JSON error.
  std::string response;
  const std::string over(2 * 1024 * 1024 + 1, 'x');
  EXPECT_EQ(raw_status(port_,
                       "POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\nContent-Length: " +
                           std::to_string(over.size()) + "\r\n\r\n" + over,
                       &response),
            413);
  EXPECT_NE(response.find("\"error\""), std::string::npos) << response;
  // A malformed request line, a wrong method.
  EXPECT_EQ(raw_status(port_, "BLAH\r\n\r\n"), 400);
  EXPECT_EQ(client().Get("/api/predict")->status, 404);
  // Still serving, and still right.
  const auto [status, answer] = post(zeros, "application/json");
  EXPECT_EQ(status, 200);
  EXPECT_TRUE(server_->running());
}

TEST_F(ServeApi, ShowsTheTestSplitMistakesFirst) {
  auto res = client().Get("/api/test");
  ASSERT_TRUE(res);
  ASSERT_EQ(res->status, 200) << res->body;
  const json t = json::parse(res->body);
  EXPECT_EQ(t["total"], 100);
  std::size_t sum = 0, diagonal = 0;
  for (std::size_t i = 0; i < 10; ++i)
    for (std::size_t j = 0; j < 10; ++j) {
      sum += t["confusion"][i][j].get<std::size_t>();
      if (i == j) diagonal += t["confusion"][i][j].get<std::size_t>();
    }
  EXPECT_EQ(sum, 100u);
  EXPECT_EQ(t["correct"], diagonal);
  ASSERT_EQ(t["samples"].size(), 100u);
  bool seen_right = false;
  for (const json& s : t["samples"]) {
    const bool right = s["label"] == s["predicted"];
    EXPECT_FALSE(seen_right && !right) << "a mistake after a correct one";
    seen_right = seen_right || right;
    EXPECT_EQ(s["pixels"].get<std::string>().size(), 784u / 3 * 4 + 4);  // base64 of 784 bytes
  }
  EXPECT_EQ(client().Get("/api/events")->status, 404);  // no training here
}

// A separate server per case: each is stopped.
TEST(ServeLifecycle, StopsOnSigintAndSigtermWithinASecondExitZero) {
  TempDir dir;
  write_test_model(dir / "m.safetensors");
  for (int sig : {SIGINT, SIGTERM}) {
    SCOPED_TRACE(sig);
    ServerProcess server({"serve", (dir / "m.safetensors").string(), "--port", "0"});
    const int port = server.wait_for_port();
    ASSERT_GT(port, 0) << server.err();
    // An open keep-alive connection (as a browser keeps) must not hold the stop up.
    httplib::Client c("127.0.0.1", port);
    c.set_keep_alive(true);
    ASSERT_EQ(c.Get("/api/model")->status, 200);
    std::chrono::milliseconds took{};
    EXPECT_EQ(server.stop(sig, std::chrono::seconds(5), &took), 0) << server.err();
    EXPECT_LT(took.count(), kStopLimitMs);
    EXPECT_EQ(server.err(), "");
  }
}

// A request in flight when SIGINT comes (its body half sent) is still answered, and the server then exits 0 within
// the limit. The connection first serves a GET, so that the server has accepted it and a worker is reading from it
// when the POST starts.
TEST(ServeLifecycle, AnswersARequestInFlightOnSigintThenExitsZero) {
  TempDir dir;
  write_test_model(dir / "m.safetensors");
  ServerProcess server({"serve", (dir / "m.safetensors").string(), "--port", "0"});
  const int port = server.wait_for_port();
  ASSERT_GT(port, 0) << server.err();

  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{10, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  ASSERT_EQ(::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  const auto send_all = [fd](const std::string& data) {
    return ::send(fd, data.data(), data.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(data.size());
  };
  const auto read_answer = [fd] { return read_http_answer(fd); };
  ASSERT_TRUE(send_all("GET /api/model HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"));
  ASSERT_EQ(read_answer().rfind("HTTP/1.1 200", 0), 0u);

  const std::string png = as_text(digit_png(120, 90, 1));
  const std::size_t half = png.size() / 2;
  ASSERT_TRUE(send_all("POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: image/png\r\nContent-Length: " +
                       std::to_string(png.size()) + "\r\n\r\n" + png.substr(0, half)));
  std::this_thread::sleep_for(std::chrono::milliseconds(200));  // the worker is now reading the body
  int code = -2;
  std::chrono::milliseconds took{};
  std::thread stopper([&] { code = server.stop(SIGINT, std::chrono::seconds(5), &took); });
  std::this_thread::sleep_for(std::chrono::milliseconds(150));  // SIGINT has come; the rest of the body comes after
  const bool sent = send_all(png.substr(half));
  const std::string answer = read_answer();
  stopper.join();
  ::close(fd);
  EXPECT_TRUE(sent);
  EXPECT_EQ(answer.rfind("HTTP/1.1 200", 0), 0u) << answer.substr(0, 200);
  EXPECT_NE(answer.find("\"probabilities\""), std::string::npos) << answer.substr(0, 200);
  EXPECT_EQ(code, 0) << server.err();
  EXPECT_LT(took.count(), kStopLimitMs);
  EXPECT_EQ(server.err(), "");
}

TEST(ServeLifecycle, WarnsForANetworkAddressAndRefusesBadPortsAndFiles) {
  TempDir dir;
  write_test_model(dir / "m.safetensors");
  {
    ServerProcess server({"serve", (dir / "m.safetensors").string(), "--host", "0.0.0.0", "--port", "0"});
    const int port = server.wait_for_port();
    ASSERT_GT(port, 0) << server.err();
    EXPECT_NE(server.err().find("warning: listening on 0.0.0.0"), std::string::npos) << server.err();
    EXPECT_EQ(line_count(server.err()), 1u);
    // The same port again: taken.
    const CliRun taken = run_cli("serve " + quoted(dir / "m.safetensors") + " --port " + std::to_string(port), 20);
    EXPECT_EQ(taken.code, 1) << taken.err;
    EXPECT_EQ(line_count(taken.err), 1u) << taken.err;
    EXPECT_NE(taken.err.find("cannot listen"), std::string::npos) << taken.err;
    EXPECT_EQ(server.stop(SIGTERM, std::chrono::seconds(5)), 0);
  }
  for (const char* args : {"--port 70000", "--port -1", "--port x", "--host ''"}) {
    const CliRun r = run_cli("serve " + quoted(dir / "m.safetensors") + " " + args, 20);
    EXPECT_EQ(r.code, 2) << args << ": " << r.err;
    EXPECT_EQ(line_count(r.err), 1u) << r.err;
  }
  const CliRun missing = run_cli("serve " + quoted(dir / "none.safetensors") + " --port 0", 20);
  EXPECT_EQ(missing.code, 1) << missing.err;
  EXPECT_EQ(line_count(missing.err), 1u) << missing.err;
}

}  // namespace
