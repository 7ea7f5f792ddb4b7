// mnist train, compare, plot and plot-activation, end to end on a small real data set: 3,000 Fashion-MNIST images
// as the train split and 1,000 as the test split. Checks the files a run leaves, that its checkpoint is the model
// it reports, that the same seed gives the same run, that an interrupted run resumed ends bit-identical to an
// uninterrupted one, that divergence is reported, and the charts and summary of compare and plot.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "mnist/checkpoint.hpp"
#include "mnist/datasets.hpp"
#include "mnist/image.hpp"
#include "mnist/loader.hpp"
#include "mnist/safetensors.hpp"
#include "mnist/train.hpp"
#include "support/cli_runner.hpp"
#include "support/dataset_dirs.hpp"
#include "support/test_support.hpp"

using namespace mnist;
using namespace mnist::testing;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

std::string text_of(const fs::path& path) {
  auto bytes = read_file(path);
  return {bytes.begin(), bytes.end()};
}

json json_of(const fs::path& path) { return json::parse(text_of(path)); }

// Every file directly in dir whose name starts with '.' (a temporary left behind by an atomic write).
std::vector<std::string> hidden_files(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.path().filename().string().starts_with(".")) names.push_back(entry.path().filename().string());
  return names;
}

void expect_png(const fs::path& path, std::size_t width, std::size_t height) {
  ASSERT_TRUE(fs::exists(path)) << path;
  GrayImage image = read_image(path);
  EXPECT_EQ(image.width, width) << path;
  EXPECT_EQ(image.height, height) << path;
  // A chart is not blank: it has both light background and dark ink.
  const auto [lo, hi] = std::minmax_element(image.pixels.begin(), image.pixels.end());
  EXPECT_LT(*lo, 128) << path;
  EXPECT_GT(*hi, 128) << path;
}

// The tensors of a safetensors file, name -> raw bytes (metadata, which may hold timings, left out).
std::map<std::string, std::vector<std::uint8_t>> tensor_bytes(const fs::path& path) {
  SafetensorsFile file = SafetensorsFile::read(path);
  std::map<std::string, std::vector<std::uint8_t>> tensors;
  for (const TensorEntry& e : file.tensors()) {
    auto raw = file.raw(e.name);
    tensors[e.name].assign(raw.begin(), raw.end());
  }
  return tensors;
}

// (train_loss, val_accuracy) of every epoch of a history.json.
std::vector<std::pair<double, double>> curve_of(const json& history) {
  std::vector<std::pair<double, double>> curve;
  for (const json& e : history["epochs"]) curve.emplace_back(e["train_loss"].get<double>(), e["val_accuracy"].get<double>());
  return curve;
}

// The flags every run here shares: the subset, hidden-relu with momentum, 2 epochs, a fixed seed, 2 threads.
const std::string kRunFlags = "--model hidden-relu --epochs 2 --momentum 0.9 --seed 7 --threads 2";

class CliTrain : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fashion_mnist_dir()) return;  // every test skips
    root_ = new TempDir();
    write_fashion_mnist_subset(data_dir());
    // The reference run most tests look at.
    first_ = new CliRun(run_cli("train " + data_flags() + " " + kRunFlags + " --out " + quoted(run_dir()), 120));
  }
  static void TearDownTestSuite() {
    delete first_;
    delete root_;
    first_ = nullptr;
    root_ = nullptr;
  }
  void SetUp() override {
    if (!root_) GTEST_SKIP() << "Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)";
  }
  static fs::path data_dir() { return *root_ / "data"; }
  static fs::path run_dir() { return *root_ / "run"; }
  static std::string data_flags() { return "--dataset fashion-mnist --data-dir " + quoted(data_dir()); }
  // The reference run succeeded; tests depending on it stop otherwise.
  static ::testing::AssertionResult first_ok() {
    if (first_ && first_->code == 0) return ::testing::AssertionSuccess();
    return ::testing::AssertionFailure() << "the reference train run failed: code " << (first_ ? first_->code : -1)
                                         << " " << (first_ ? first_->err : "");
  }

  static TempDir* root_;
  static CliRun* first_;
  TempDir out_;
};
TempDir* CliTrain::root_ = nullptr;
CliRun* CliTrain::first_ = nullptr;

TEST_F(CliTrain, WritesCheckpointHistoryAndCharts) {
  ASSERT_TRUE(first_ok());
  for (const char* name : {"model.safetensors", "history.json", "history.csv", "loss.png", "accuracy.png"})
    EXPECT_TRUE(fs::exists(run_dir() / name)) << name;
  EXPECT_EQ(hidden_files(run_dir()), std::vector<std::string>{});

  const json h = json_of(run_dir() / "history.json");
  EXPECT_EQ(h["model"], "hidden-relu");
  EXPECT_EQ(h["dataset"], "fashion-mnist");
  ASSERT_TRUE(h["epochs"].is_array());
  ASSERT_EQ(h["epochs"].size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    const json& e = h["epochs"][i];
    EXPECT_EQ(e["epoch"].get<int>(), static_cast<int>(i + 1));
    ASSERT_TRUE(e["train_loss"].is_number());
    EXPECT_GT(e["train_loss"].get<double>(), 0.0);
    EXPECT_LT(e["train_loss"].get<double>(), 2.5);  // below chance (ln 10 = 2.30) after an epoch of real data
    ASSERT_TRUE(e["val_accuracy"].is_number());
    EXPECT_GT(e["val_accuracy"].get<double>(), 0.3);
    EXPECT_LE(e["val_accuracy"].get<double>(), 1.0);
    EXPECT_GE(e["seconds"].get<double>(), 0.0);
  }
  // Learning happens: the second epoch's loss is lower.
  EXPECT_LT(h["epochs"][1]["train_loss"].get<double>(), h["epochs"][0]["train_loss"].get<double>());
  ASSERT_TRUE(h["train_seconds"].is_number());
  EXPECT_NEAR(h["train_seconds"].get<double>(),
              h["epochs"][0]["seconds"].get<double>() + h["epochs"][1]["seconds"].get<double>(), 1e-9);
  EXPECT_GT(h["samples_per_second"].get<double>(), 0.0);
  ASSERT_TRUE(h["test_accuracy"].is_number());
  EXPECT_GT(h["test_accuracy"].get<double>(), 0.3);
  EXPECT_LE(h["test_accuracy"].get<double>(), 1.0);

  // history.csv: a header and one row per epoch, agreeing with the JSON.
  std::istringstream csv(text_of(run_dir() / "history.csv"));
  std::string line;
  ASSERT_TRUE(std::getline(csv, line));
  EXPECT_TRUE(line.starts_with("epoch,train_loss,val_accuracy")) << line;
  std::vector<std::string> rows;
  while (std::getline(csv, line)) rows.push_back(line);
  ASSERT_EQ(rows.size(), 2u);
  for (std::size_t i = 0; i < 2; ++i) {
    std::istringstream row(rows[i]);
    std::string epoch, loss, acc;
    std::getline(row, epoch, ',');
    std::getline(row, loss, ',');
    std::getline(row, acc, ',');
    EXPECT_EQ(epoch, std::to_string(i + 1));
    EXPECT_NEAR(std::stod(loss), h["epochs"][i]["train_loss"].get<double>(), 1e-6);
    EXPECT_NEAR(std::stod(acc), h["epochs"][i]["val_accuracy"].get<double>(), 1e-6);
  }

  expect_png(run_dir() / "loss.png", 800, 560);
  expect_png(run_dir() / "accuracy.png", 800, 560);

  // Not a terminal: one plain line per epoch on stdout, no progress bar on stderr.
  EXPECT_TRUE(std::regex_search(first_->out, std::regex(R"((^|\n)epoch 1/2  loss \d+\.\d{4}  val_acc \d\.\d{4})")))
      << first_->out;
  EXPECT_TRUE(std::regex_search(first_->out, std::regex(R"((^|\n)epoch 2/2  loss \d+\.\d{4}  val_acc \d\.\d{4})")))
      << first_->out;
  EXPECT_TRUE(std::regex_search(first_->out, std::regex(R"(test accuracy \d\.\d{4} \(1000 images\))"))) << first_->out;
  EXPECT_EQ(first_->err.find('\r'), std::string::npos) << first_->err;
}

TEST_F(CliTrain, CheckpointIsTheModelItReports) {
  ASSERT_TRUE(first_ok());
  Checkpoint ck = load_checkpoint(run_dir() / "model.safetensors");
  EXPECT_EQ(ck.model.spec(), "hidden-relu");
  EXPECT_EQ(ck.dataset, "fashion-mnist");
  EXPECT_EQ(ck.metadata.at("epochs_completed"), "2");

  // The library's accuracy of the reloaded model on the test split is the one history.json reports.
  Dataset test = load_dataset_dir(data_dir(), Split::Test, "fashion-mnist");
  ASSERT_EQ(test.size(), 1000u);
  DataLoader loader(test, LoaderOptions{.batch_size = 1000});
  const EvalResult r = evaluate(ck.model, loader);
  const json h = json_of(run_dir() / "history.json");
  EXPECT_NEAR(r.accuracy, h["test_accuracy"].get<double>(), 1e-12);

  // mnist predict on the checkpoint picks the classes the reloaded model picks.
  const std::vector<std::size_t> indices = {0, 1, 17, 500, 999};
  std::string args = "predict " + quoted(run_dir() / "model.safetensors") + " " + data_flags() + " --split test --index";
  for (std::size_t i : indices) args += " " + std::to_string(i);
  CliRun run = run_cli(args);
  ASSERT_EQ(run.code, 0) << run.err;
  const std::vector<int> cli = predicted_classes(run.out);
  ASSERT_EQ(cli.size(), indices.size()) << run.out;
  for (std::size_t k = 0; k < indices.size(); ++k) {
    auto image = test.images().subspan(indices[k] * test.image_size(), test.image_size());
    std::vector<float> x(image.size());
    for (std::size_t i = 0; i < image.size(); ++i) x[i] = static_cast<float>(image[i]) / 255.0f;
    EXPECT_EQ(cli[k], ck.model.predict(x, 1)[0]) << "test image " << indices[k];
  }
}

TEST_F(CliTrain, SameSeedSameRun) {
  ASSERT_TRUE(first_ok());
  const fs::path again = out_ / "again";
  CliRun run = run_cli("train " + data_flags() + " " + kRunFlags + " --out " + quoted(again), 120);
  ASSERT_EQ(run.code, 0) << run.err;
  const json a = json_of(run_dir() / "history.json"), b = json_of(again / "history.json");
  EXPECT_EQ(curve_of(a), curve_of(b));
  EXPECT_EQ(a["test_accuracy"], b["test_accuracy"]);
  EXPECT_EQ(tensor_bytes(run_dir() / "model.safetensors"), tensor_bytes(again / "model.safetensors"));

  // A different seed gives a different run (the comparison above can fail).
  const fs::path other = out_ / "other";
  run = run_cli("train " + data_flags() + " --model hidden-relu --epochs 1 --momentum 0.9 --seed 8 --threads 2 --out " +
                    quoted(other),
                120);
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_NE(json_of(other / "history.json")["epochs"][0]["train_loss"], a["epochs"][0]["train_loss"]);
}

TEST_F(CliTrain, InterruptedRunResumesBitIdentically) {
  ASSERT_TRUE(first_ok());
  // 2,700 training images in batches of 128: 22 batches per epoch, so 30 batches stop inside epoch 2.
  const fs::path dir = out_ / "resumed";
  CliRun stopped =
      run_cli("train " + data_flags() + " " + kRunFlags + " --stop-after-batches 30 --out " + quoted(dir), 120);
  EXPECT_EQ(stopped.code, 130) << stopped.err;
  EXPECT_EQ(line_count(stopped.err), 1u) << stopped.err;
  EXPECT_NE(stopped.err.find("epoch 1 of 2"), std::string::npos) << stopped.err;
  EXPECT_NE(stopped.err.find("--resume"), std::string::npos) << stopped.err;
  ASSERT_TRUE(fs::exists(dir / "resume.safetensors"));
  EXPECT_EQ(json_of(dir / "history.json")["epochs"].size(), 1u);
  EXPECT_EQ(hidden_files(dir), std::vector<std::string>{});

  CliRun resumed = run_cli("train --resume " + quoted(dir) + " --threads 2", 120);
  ASSERT_EQ(resumed.code, 0) << resumed.err;
  EXPECT_EQ(tensor_bytes(dir / "model.safetensors"), tensor_bytes(run_dir() / "model.safetensors"));
  const json a = json_of(run_dir() / "history.json"), b = json_of(dir / "history.json");
  EXPECT_EQ(curve_of(a), curve_of(b));
  EXPECT_EQ(a["test_accuracy"], b["test_accuracy"]);
  expect_png(dir / "loss.png", 800, 560);
  EXPECT_EQ(hidden_files(dir), std::vector<std::string>{});
}

TEST_F(CliTrain, ResumeWithMoreEpochsContinuesTheCurve) {
  ASSERT_TRUE(first_ok());
  const fs::path dir = out_ / "longer";
  fs::copy(run_dir(), dir, fs::copy_options::recursive);
  CliRun run = run_cli("train --resume " + quoted(dir) + " --epochs 3 --threads 2", 120);
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(std::regex_search(run.out, std::regex(R"((^|\n)epoch 3/3  loss )"))) << run.out;
  const auto before = curve_of(json_of(run_dir() / "history.json")), after = curve_of(json_of(dir / "history.json"));
  ASSERT_EQ(after.size(), 3u);
  EXPECT_EQ(after[0], before[0]);
  EXPECT_EQ(after[1], before[1]);
  EXPECT_EQ(load_checkpoint(dir / "model.safetensors").metadata.at("epochs_completed"), "3");
  EXPECT_NE(tensor_bytes(dir / "model.safetensors"), tensor_bytes(run_dir() / "model.safetensors"));
}

TEST_F(CliTrain, InterruptedBeforeFirstEpochSavesNothingAndCannotResume) {
  const fs::path dir = out_ / "early";
  CliRun stopped =
      run_cli("train " + data_flags() + " " + kRunFlags + " --stop-after-batches 5 --out " + quoted(dir), 120);
  EXPECT_EQ(stopped.code, 130) << stopped.err;
  EXPECT_EQ(line_count(stopped.err), 1u) << stopped.err;
  EXPECT_NE(stopped.err.find("nothing was saved"), std::string::npos) << stopped.err;
  EXPECT_FALSE(fs::exists(dir / "model.safetensors"));
  EXPECT_FALSE(fs::exists(dir / "resume.safetensors"));
  CliRun resumed = run_cli("train --resume " + quoted(dir), 60);
  EXPECT_EQ(resumed.code, 1) << resumed.err;
  EXPECT_EQ(line_count(resumed.err), 1u) << resumed.err;
  EXPECT_NE(resumed.err.find("resume.safetensors"), std::string::npos) << resumed.err;
}

TEST_F(CliTrain, ThreadCountDoesNotChangeTheRun) {
  ASSERT_TRUE(first_ok());
  const fs::path one = out_ / "one-thread";
  const std::string flags = "--model hidden-relu --epochs 2 --momentum 0.9 --seed 7 --threads 1";
  CliRun run = run_cli("train " + data_flags() + " " + flags + " --out " + quoted(one), 120);
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(curve_of(json_of(run_dir() / "history.json")), curve_of(json_of(one / "history.json")));
  EXPECT_EQ(tensor_bytes(run_dir() / "model.safetensors"), tensor_bytes(one / "model.safetensors"));
}

TEST_F(CliTrain, DivergenceIsReportedWithEpochAndLr) {
  const fs::path dir = out_ / "diverged";
  CliRun run = run_cli("train " + data_flags() + " --model hidden --lr 1e4 --epochs 2 --threads 2 --out " + quoted(dir), 120);
  EXPECT_EQ(run.code, 1) << run.out << run.err;
  EXPECT_EQ(line_count(run.err), 1u) << run.err;
  EXPECT_NE(run.err.find("diverged"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("epoch"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("lr"), std::string::npos) << run.err;
  if (fs::exists(dir)) EXPECT_EQ(hidden_files(dir), std::vector<std::string>{});
}

TEST_F(CliTrain, CompareTrainsEachModelAndSummarises) {
  const fs::path dir = out_ / "compare";
  CliRun run = run_cli("compare " + data_flags() + " --models logistic,hidden --epochs 1 --threads 2 --out " + quoted(dir), 120);
  ASSERT_EQ(run.code, 0) << run.err;
  for (const char* model : {"logistic", "hidden"}) {
    EXPECT_TRUE(fs::exists(dir / model / "model.safetensors")) << model;
    ASSERT_TRUE(fs::exists(dir / model / "history.json")) << model;
    const json h = json_of(dir / model / "history.json");
    EXPECT_EQ(h["model"], model);
    EXPECT_EQ(h["epochs"].size(), 1u);
    EXPECT_EQ(load_checkpoint(dir / model / "model.safetensors").model.spec(), model);
  }
  expect_png(dir / "loss.png", 800, 560);
  expect_png(dir / "accuracy.png", 800, 560);
  ASSERT_TRUE(fs::exists(dir / "summary.md"));
  const std::string md = text_of(dir / "summary.md");
  EXPECT_TRUE(std::regex_search(md, std::regex(R"(\n\| logistic \| 7850 \| \d+\.\d{4} \| \d\.\d{4} \| \d\.\d{4} \|)")))
      << md;
  EXPECT_TRUE(std::regex_search(md, std::regex(R"(\n\| hidden \| 25450 \| \d+\.\d{4} \| \d\.\d{4} \| \d\.\d{4} \|)")))
      << md;
  EXPECT_EQ(hidden_files(dir), std::vector<std::string>{});
}

TEST_F(CliTrain, PlotRedrawsHistories) {
  ASSERT_TRUE(first_ok());
  // A second history, edited so that it is another model's.
  json other = json_of(run_dir() / "history.json");
  other["model"] = "logistic";
  other["epochs"][0]["train_loss"] = 1.5;
  const fs::path other_path = out_ / "other.json";
  std::ofstream(other_path) << other.dump();
  const fs::path dir = out_ / "charts";
  CliRun run = run_cli("plot " + quoted(run_dir() / "history.json") + " " + quoted(other_path) + " -o " + quoted(dir));
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_NE(run.out.find("(2 runs)"), std::string::npos) << run.out;
  expect_png(dir / "loss.png", 800, 560);
  expect_png(dir / "accuracy.png", 800, 560);
  EXPECT_EQ(hidden_files(dir), std::vector<std::string>{});
}

TEST(CliPlotActivation, WritesReluFigure) {
  TempDir dir;
  const fs::path png = dir / "relu.png";
  CliRun run = run_cli("plot-activation relu -o " + quoted(png));
  ASSERT_EQ(run.code, 0) << run.err;
  expect_png(png, 800, 560);
  EXPECT_EQ(hidden_files(dir.path()), std::vector<std::string>{});
}

}  // namespace
