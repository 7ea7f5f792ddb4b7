// The parts of the web server that need no socket: what a POST /api/predict body becomes (and every refusal), the
// JSON answers, the embedded assets, the event log, and predictions answered by a training thread.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <thread>

#include "mnist/image.hpp"
#include "serve/assets.hpp"
#include "serve/event_log.hpp"
#include "serve/model_service.hpp"
#include "serve/predict_request.hpp"
#include "serve/serve_fixture.hpp"

using namespace mnist;
using namespace mnist::serve;
using json = nlohmann::json;

namespace {

ModelInfo mnist_info() {
  ModelInfo m;
  m.spec = "hidden-relu";
  m.dataset = "mnist";
  for (int k = 0; k < 10; ++k) m.classes.push_back(std::to_string(k));
  m.parameters = 25450;
  return m;
}

int status_of(std::string_view type, std::string_view body, const ModelInfo& m = mnist_info()) {
  try {
    request_pixels(type, body, m);
    return 200;
  } catch (const BadRequest& e) {
    EXPECT_EQ(std::string(e.what()).find('\n'), std::string::npos);
    return e.status;
  }
}

TEST(ServeRequest, JsonPixelsAreUsedAsIs) {
  std::vector<int> pixels(784);
  for (int i = 0; i < 784; ++i) pixels[i] = i % 256;
  const std::vector<std::uint8_t> got = request_pixels("application/json", json{{"pixels", pixels}}.dump(), mnist_info());
  EXPECT_EQ(std::vector<int>(got.begin(), got.end()), pixels);
  EXPECT_EQ(status_of("Application/JSON ; charset=utf-8", json{{"pixels", pixels}}.dump()), 200);
  EXPECT_EQ(status_of("application/json", "{\"pixels\": [1]}"), 400);
  EXPECT_EQ(status_of("application/json", "nonsense"), 400);
  EXPECT_EQ(status_of("application/json", json{{"pixels", std::vector<double>(784, 1e300)}}.dump()), 400);
  EXPECT_EQ(status_of("application/json", json{{"pixels", std::vector<bool>(784, true)}}.dump()), 400);
  EXPECT_EQ(status_of("text/plain", "x"), 415);
  EXPECT_EQ(status_of("", "x"), 415);
}

TEST(ServeRequest, ImagesArePreprocessedAsMnistPredictDoes) {
  const std::vector<std::uint8_t> png = mnist::testing::digit_png(90, 120, 0);
  const std::vector<std::uint8_t> got =
      request_pixels("image/png", std::string_view(reinterpret_cast<const char*>(png.data()), png.size()), mnist_info());
  EXPECT_EQ(got, preprocess_digit(decode_image(png, "x")).pixels);
  // A model of another input size cannot take preprocessed 28x28 images.
  ModelInfo small = mnist_info();
  small.rows = small.cols = 8;
  EXPECT_EQ(status_of("image/png", std::string_view(reinterpret_cast<const char*>(png.data()), png.size()), small), 400);
}

TEST(ServeRequest, ReadsImageSizesFromHeadersBeforeDecoding) {
  const std::vector<std::uint8_t> png = mnist::testing::digit_png(90, 120, 0);
  const auto [w, h] = image_header_size(std::string_view(reinterpret_cast<const char*>(png.data()), png.size()));
  EXPECT_EQ(w, 90u);
  EXPECT_EQ(h, 120u);
  const std::vector<std::uint8_t> jpg = mnist::testing::digit_jpeg(70, 50, 1);
  EXPECT_EQ(image_header_size(std::string_view(reinterpret_cast<const char*>(jpg.data()), jpg.size())),
            (std::pair<std::size_t, std::size_t>{70, 50}));
  // A JPEG: SOI, an APP0 segment, then SOF0 with height 300 and width 5000.
  const std::string jpeg("\xff\xd8\xff\xe0\x00\x04xx\xff\xc0\x00\x0b\x08\x01\x2c\x13\x88\x01\x01\x11\x00", 21);
  EXPECT_EQ(image_header_size(jpeg), (std::pair<std::size_t, std::size_t>{5000, 300}));
  EXPECT_EQ(status_of("image/jpeg", jpeg), 400);
  EXPECT_EQ(image_header_size("\xff\xd8\xff"), (std::pair<std::size_t, std::size_t>{0, 0}));
  EXPECT_EQ(image_header_size(""), (std::pair<std::size_t, std::size_t>{0, 0}));
}

TEST(ServeRequest, AnswersAreJson) {
  std::vector<float> p(10, 0.01f);
  p[3] = 0.91f;
  const std::vector<std::uint8_t> pixels(784, 7);
  const json answer = json::parse(prediction_json(p, pixels, mnist_info()));
  EXPECT_EQ(answer["label"], 3);
  EXPECT_EQ(answer["class"], "3");
  EXPECT_EQ(answer["probabilities"].get<std::vector<float>>(), p);  // reads back to the same floats
  EXPECT_EQ(answer["pixels"].size(), 784u);
  const json model = json::parse(model_json(mnist_info(), false));
  EXPECT_EQ(model["input"], json({1, 28, 28}));
  EXPECT_EQ(json::parse(error_json("bad \"thing\"\xff"))["error"].get<std::string>().substr(0, 11), "bad \"thing\"");
}

TEST(ServeAssets, OnlyExactUrlsOfEmbeddedFiles) {
  ASSERT_NE(find_asset("/"), nullptr);
  EXPECT_NE(find_asset("/")->body.find("id=\"draw\""), std::string_view::npos);
  EXPECT_NE(find_asset("/chart.min.js"), nullptr);
  for (const char* url : {"", "/index.html", "/../app.js", "/%2e%2e/app.js", "//app.js", "/app.js/", "app.js"})
    EXPECT_EQ(find_asset(url), nullptr) << url;
}

TEST(ServeEvents, StreamsReplayTheLogAndEndWhenClosed) {
  EventLog log;
  log.append("start", "{}");
  std::size_t next = 0;
  EXPECT_EQ(log.read(0, &next, std::chrono::milliseconds(0)), "event: start\ndata: {}\n\n");
  EXPECT_EQ(next, 1u);
  EXPECT_EQ(log.read(next, &next, std::chrono::milliseconds(10)), "");  // nothing new: times out
  std::thread writer([&] { log.append("batch", "{\"loss\": 1}"); });
  EXPECT_EQ(log.read(next, &next, std::chrono::seconds(10)), "event: batch\ndata: {\"loss\": 1}\n\n");
  writer.join();
  log.close();
  EXPECT_TRUE(log.closed());
  EXPECT_EQ(log.read(0, &next, std::chrono::seconds(10)), "");  // returns at once
}

TEST(ServeTrainingModel, RequestsAreAnsweredByTheTrainingThreadBetweenBatches) {
  Model model = make_model("784-8-10", 1);
  TrainingModel predictor;
  const std::vector<float> x(784, 0.5f);
  std::vector<float> got;
  std::thread request([&] { got = predictor.predict(x, 1); });
  // The "training thread": steps change the weights; service() answers with the weights of that moment.
  const Tensor before = model.predict_proba(x, 1);
  while (got.empty()) {
    predictor.service(model);
    std::this_thread::sleep_for(std::chrono::milliseconds(1));
    if (!got.empty()) break;
  }
  request.join();
  EXPECT_EQ(got, std::vector<float>(before.data(), before.data() + 10));
  for (float& w : model.parameters()) w *= 2;  // a step
  predictor.weights_changed();
  predictor.finish(model);
  const Tensor after = model.predict_proba(x, 1);
  EXPECT_EQ(predictor.predict(x, 1), std::vector<float>(after.data(), after.data() + 10));  // answered directly now
}

TEST(ServeTrainingModel, LockedModelMatchesTheModel) {
  Model model = make_model("hidden-relu", 3);
  LockedModel locked(model);
  const std::vector<float> x(2 * 784, 0.25f);
  const Tensor want = model.predict_proba(x, 2);
  EXPECT_EQ(locked.predict(x, 2), std::vector<float>(want.data(), want.data() + 20));
}

}  // namespace
