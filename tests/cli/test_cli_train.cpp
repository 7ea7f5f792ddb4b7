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

// ---- Runs and their directories: nothing is written, trained or mixed when a run is refused ----------------------
// These need no installed data: a 28x28 data set of noise (300 train / 100 test images, labels 0..9) trains in well
// under a second.

std::vector<std::uint8_t> noise(std::size_t n, std::size_t seed) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>((i * 7919 + seed * 104729) % 251);
  return v;
}
std::vector<std::uint8_t> cycling_labels(std::size_t n) {
  std::vector<std::uint8_t> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = static_cast<std::uint8_t>(i % 10);
  return v;
}
void write_noise_data(const fs::path& dir) {
  write_dataset_dir(dir, 28, 28, noise(300 * 784, 1), cycling_labels(300), noise(100 * 784, 2), cycling_labels(100));
}

// The files directly in dir with their bytes: what a refused command must leave exactly as it was.
std::map<std::string, std::vector<std::uint8_t>> snapshot(const fs::path& dir) {
  std::map<std::string, std::vector<std::uint8_t>> files;
  for (const auto& entry : fs::directory_iterator(dir))
    if (entry.is_regular_file()) files[entry.path().filename().string()] = read_file(entry.path());
  return files;
}

// Rewrites one "__metadata__" value of a safetensors file (the header is JSON after an 8-byte little-endian length).
void set_safetensors_metadata(const fs::path& path, const std::string& key, const std::string& value) {
  std::vector<std::uint8_t> bytes = read_file(path);
  std::uint64_t n = 0;
  for (int i = 7; i >= 0; --i) n = n << 8 | bytes[static_cast<std::size_t>(i)];
  json header = json::parse(std::string(bytes.begin() + 8, bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n)));
  header["__metadata__"][key] = value;
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');
  std::vector<std::uint8_t> out;
  for (int i = 0; i < 8; ++i) out.push_back(static_cast<std::uint8_t>(text.size() >> (8 * i)));
  for (char c : text) out.push_back(static_cast<std::uint8_t>(c));
  out.insert(out.end(), bytes.begin() + 8 + static_cast<std::ptrdiff_t>(n), bytes.end());
  write_file(path, out);
}

TEST(CliPlotChecks, AHistoryWithoutAccuracyIsRefusedBeforeAnyChartIsReplaced) {
  TempDir tmp;
  const fs::path dir = tmp / "charts";
  fs::create_directories(dir);
  write_file(dir / "loss.png", {'o', 'l', 'd', '1'});
  write_file(dir / "accuracy.png", {'o', 'l', 'd', '2'});
  const auto before = snapshot(dir);
  const fs::path history = tmp / "no-accuracy.json";
  std::ofstream(history) << R"({"model":"a","epochs":[{"epoch":1,"train_loss":1.5,"val_accuracy":null},)"
                         << R"({"epoch":2,"train_loss":1.2,"val_accuracy":null}]})";
  CliRun run = run_cli("plot " + quoted(history) + " -o " + quoted(dir));
  EXPECT_EQ(run.code, 1) << run.err;
  EXPECT_EQ(line_count(run.err), 1u) << run.err;
  EXPECT_NE(run.err.find(history.string() + ": "), std::string::npos) << "names the input: " << run.err;
  EXPECT_NE(run.err.find("val_accuracy"), std::string::npos) << run.err;
  EXPECT_EQ(snapshot(dir), before) << "a chart was replaced";

  // The same for a loss series of nulls, named after a good history: the good one is not drawn alone either.
  const fs::path no_loss = tmp / "no-loss.json";
  std::ofstream(no_loss) << R"({"model":"b","epochs":[{"epoch":1,"train_loss":null,"val_accuracy":0.5}]})";
  const fs::path good = tmp / "good.json";
  std::ofstream(good) << R"({"model":"c","epochs":[{"epoch":1,"train_loss":0.9,"val_accuracy":0.5}]})";
  run = run_cli("plot " + quoted(good) + " " + quoted(no_loss) + " -o " + quoted(dir));
  EXPECT_EQ(run.code, 1) << run.err;
  EXPECT_NE(run.err.find(no_loss.string() + ": "), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("train_loss"), std::string::npos) << run.err;
  EXPECT_EQ(snapshot(dir), before) << "a chart was replaced";
}

TEST(CliPlotChecks, EmptyEpochsAreRefusedWithoutMakingTheDirectory) {
  TempDir tmp;
  const fs::path history = tmp / "empty-epochs.json";
  std::ofstream(history) << R"({"model":"a","epochs":[]})";
  const fs::path dir = tmp / "charts";
  CliRun run = run_cli("plot " + quoted(history) + " -o " + quoted(dir));
  EXPECT_EQ(run.code, 1) << run.err;
  EXPECT_EQ(line_count(run.err), 1u) << run.err;
  EXPECT_NE(run.err.find(history.string() + ": \"epochs\" is empty"), std::string::npos) << run.err;
  EXPECT_FALSE(fs::exists(dir));
}

TEST(CliRunChecks, CompareChecksEveryModelAgainstTheDataBeforeTrainingAny) {
  TempDir tmp;
  write_noise_data(tmp / "data");
  const fs::path out = tmp / "cmp";
  CliRun run = run_cli("compare --data-dir " + quoted(tmp / "data") + " --epochs 1 --models logistic,784-5 --out " +
                       quoted(out));
  EXPECT_EQ(run.code, 2) << run.err;
  EXPECT_EQ(line_count(run.err), 1u) << run.err;
  EXPECT_NE(run.err.find("'784-5' has 5 outputs"), std::string::npos) << run.err;
  EXPECT_EQ(run.out.find("test accuracy"), std::string::npos) << "a model was trained: " << run.out;
  EXPECT_FALSE(fs::exists(out)) << "a directory was made for a refused run";

  // Inputs too: 784-32-10 does not take 14x14 images; nothing is trained before that is known.
  write_dataset_dir(tmp / "data14", 14, 14, noise(300 * 196, 1), cycling_labels(300), noise(100 * 196, 2),
                    cycling_labels(100));
  run = run_cli("compare --data-dir " + quoted(tmp / "data14") + " --epochs 1 --models 196-10,784-32-10 --out " +
                quoted(out));
  EXPECT_EQ(run.code, 2) << run.err;
  EXPECT_NE(run.err.find("'784-32-10' takes 784 inputs"), std::string::npos) << run.err;
  EXPECT_FALSE(fs::exists(out));
}

TEST(CliRunChecks, TrainMakesNoDirectoryForAModelThatDoesNotFit) {
  TempDir tmp;
  write_noise_data(tmp / "data");
  const fs::path out = tmp / "run";
  CliRun run = run_cli("train --data-dir " + quoted(tmp / "data") + " --model 784-5 --out " + quoted(out));
  EXPECT_EQ(run.code, 2) << run.err;
  EXPECT_EQ(line_count(run.err), 1u) << run.err;
  EXPECT_NE(run.err.find("--model 784-5 has 5 outputs"), std::string::npos) << run.err;
  EXPECT_FALSE(fs::exists(out));
}

TEST(CliRunChecks, TrainRefusesSplitsThatDisagreeBeforeTraining) {
  TempDir tmp;
  // Train images 28x28, test images 14x14.
  write_noise_data(tmp / "sizes");
  write_file(tmp / "sizes" / "t10k-images-idx3-ubyte", idx_bytes(0x08, {100, 14, 14}, noise(100 * 196, 2)));
  CliRun run = run_cli("train --data-dir " + quoted(tmp / "sizes") + " --model logistic --epochs 1 --out " +
                       quoted(tmp / "run1"));
  EXPECT_EQ(run.code, 1) << run.err;
  EXPECT_EQ(line_count(run.err), 1u) << run.err;
  EXPECT_NE(run.err.find((tmp / "sizes" / "t10k-images-idx3-ubyte").string() + ": test images are 14x14"),
            std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("28x28"), std::string::npos) << run.err;
  EXPECT_EQ(run.out.find("epoch 1/1"), std::string::npos) << "trained before the check: " << run.out;
  EXPECT_FALSE(fs::exists(tmp / "run1"));

  // Test labels beyond the train split's classes (train 0..9: 10 classes; a custom set's test split with an 11).
  write_noise_data(tmp / "labels");
  std::vector<std::uint8_t> labels = cycling_labels(100);
  labels[42] = 11;
  write_file(tmp / "labels" / "t10k-labels-idx1-ubyte", idx_bytes(0x08, {100}, labels));
  run = run_cli("train --data-dir " + quoted(tmp / "labels") + " --model logistic --epochs 1 --out " +
                quoted(tmp / "run2"));
  EXPECT_EQ(run.code, 1) << run.err;
  EXPECT_EQ(line_count(run.err), 1u) << run.err;
  EXPECT_NE(run.err.find((tmp / "labels" / "t10k-labels-idx1-ubyte").string() + ": label 11 at index 42"),
            std::string::npos)
      << run.err;
  EXPECT_EQ(run.out.find("epoch 1/1"), std::string::npos) << "trained before the check: " << run.out;
  EXPECT_FALSE(fs::exists(tmp / "run2"));
}

TEST(CliRunChecks, TrainRefusesAnOutHoldingARunUnlessOverwrite) {
  TempDir tmp;
  write_noise_data(tmp / "data");
  const fs::path out = tmp / "run";
  const std::string train = "train --data-dir " + quoted(tmp / "data") + " --model logistic --out " + quoted(out);
  CliRun run = run_cli(train + " --epochs 1");
  ASSERT_EQ(run.code, 0) << run.err;
  for (const char* name : {"model.safetensors", "history.json", "history.csv", "resume.safetensors", "loss.png", "accuracy.png"})
    ASSERT_TRUE(fs::exists(out / name)) << name;
  const auto before = snapshot(out);

  // Again into the same directory: refused before the data is even loaded, the earlier run untouched.
  run = run_cli(train + " --epochs 2");
  EXPECT_EQ(run.code, 2) << run.err;
  EXPECT_EQ(line_count(run.err), 1u) << run.err;
  EXPECT_NE(run.err.find("--out " + out.string() + " already holds a run"), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("--resume " + out.string()), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("--overwrite"), std::string::npos) << run.err;
  EXPECT_EQ(run.out, "") << "started: " << run.out;
  EXPECT_EQ(snapshot(out), before);

  // Charts alone count too (and without a resume state there is nothing to --resume).
  const fs::path charts = tmp / "charts";
  fs::create_directories(charts);
  write_file(charts / "accuracy.png", {1, 2, 3});
  run = run_cli("train --data-dir " + quoted(tmp / "data") + " --model logistic --epochs 1 --out " + quoted(charts));
  EXPECT_EQ(run.code, 2) << run.err;
  EXPECT_NE(run.err.find("accuracy.png"), std::string::npos) << run.err;
  EXPECT_EQ(run.err.find("--resume"), std::string::npos) << run.err;

  // --overwrite replaces it, and first removes every file of the earlier run: interrupted before its first epoch,
  // the new run leaves none of the old charts or history beside nothing of its own.
  run = run_cli(train + " --epochs 1 --overwrite --stop-after-batches 1");
  EXPECT_EQ(run.code, 130) << run.err;
  ASSERT_TRUE(fs::is_directory(out));
  EXPECT_EQ(snapshot(out), (std::map<std::string, std::vector<std::uint8_t>>{})) << "stale files of the earlier run";
  run = run_cli(train + " --overwrite --epochs 2");
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(json_of(out / "history.json")["epochs"].size(), 2u);
  expect_png(out / "accuracy.png", 800, 560);

  // --overwrite and --resume contradict each other.
  run = run_cli("train --resume " + quoted(out) + " --overwrite");
  EXPECT_EQ(run.code, 2) << run.err;
  EXPECT_NE(run.err.find("--overwrite"), std::string::npos) << run.err;
}

// Without --out the same command run again keeps the earlier run and writes beside it: runs/<model>, then
// runs/<model>-2 (compare: runs/compare, runs/compare-2), never refused and never overwritten.
TEST(CliRunChecks, DefaultOutputDirectoriesAreNumberedInsteadOfReused) {
  TempDir tmp, cwd;
  write_noise_data(tmp / "data");
  const std::string data = " --data-dir " + quoted(tmp / "data") + " --epochs 1";
  const fs::path runs = cwd.path() / "runs";
  CliRun run = run_cli("train --model logistic" + data, 60, cwd.path().string());
  ASSERT_EQ(run.code, 0) << run.err;
  const auto first = snapshot(runs / "logistic");
  ASSERT_FALSE(first.empty());
  run = run_cli("train --model logistic" + data, 60, cwd.path().string());
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_NE(run.out.find("-> runs/logistic-2"), std::string::npos) << run.out;
  EXPECT_TRUE(fs::exists(runs / "logistic-2" / "model.safetensors"));
  EXPECT_EQ(snapshot(runs / "logistic"), first) << "the earlier run was touched";
  EXPECT_FALSE(fs::exists(runs / "logistic-3"));

  for (const char* dir : {"compare", "compare-2"}) {
    run = run_cli("compare --models logistic" + data, 60, cwd.path().string());
    ASSERT_EQ(run.code, 0) << run.err;
    EXPECT_TRUE(fs::exists(runs / dir / "summary.md")) << dir;
    EXPECT_TRUE(fs::exists(runs / dir / "logistic" / "model.safetensors")) << dir;
  }
  // --overwrite without --out replaces the default directory itself.
  run = run_cli("train --model logistic --overwrite" + data, 60, cwd.path().string());
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_NE(run.out.find("-> runs/logistic\n"), std::string::npos) << run.out;
  EXPECT_FALSE(fs::exists(runs / "logistic-3"));
}

TEST(CliRunChecks, CompareRefusesWhenAnyModelsDirectoryHoldsARun) {
  TempDir tmp;
  write_noise_data(tmp / "data");
  const fs::path out = tmp / "cmp";
  fs::create_directories(out / "hidden");
  const std::string old_history = R"({"model":"hidden","epochs":[]})";
  std::ofstream(out / "hidden" / "history.json") << old_history;
  const std::string compare = "compare --data-dir " + quoted(tmp / "data") + " --models logistic,hidden --epochs 1 --out " + quoted(out);
  CliRun run = run_cli(compare);
  EXPECT_EQ(run.code, 2) << run.err;
  EXPECT_EQ(line_count(run.err), 1u) << run.err;
  EXPECT_NE(run.err.find((out / "hidden").string() + " already holds a run's files (history.json)"), std::string::npos)
      << run.err;
  EXPECT_NE(run.err.find("--overwrite"), std::string::npos) << run.err;
  EXPECT_FALSE(fs::exists(out / "logistic")) << "logistic was trained before the refusal";
  EXPECT_EQ(text_of(out / "hidden" / "history.json"), old_history);

  run = run_cli(compare + " --overwrite");
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(json_of(out / "hidden" / "history.json")["epochs"].size(), 1u);
  EXPECT_TRUE(fs::exists(out / "summary.md"));

  // The finished compare's own files count too.
  run = run_cli("compare --data-dir " + quoted(tmp / "data") + " --models 784-10 --epochs 1 --out " + quoted(out));
  EXPECT_EQ(run.code, 2) << run.err;
  EXPECT_NE(run.err.find("summary.md"), std::string::npos) << run.err;
  EXPECT_FALSE(fs::exists(out / "784-10"));
}

// A run of 4 epochs stopped after 2 (3 batches per epoch of 270 images in batches of 128), its data directory given
// relative to the working directory tmp.
class CliResume : public ::testing::Test {
 protected:
  void SetUp() override {
    write_noise_data(tmp_ / "data");
    CliRun run = run_cli("train --data-dir data --model hidden --epochs 4 --lr 0.05 --momentum 0.5 --seed 5 "
                         "--stop-after-batches 7 --out run",
                         60, tmp_.path().string());
    ASSERT_EQ(run.code, 130) << run.err;
    ASSERT_EQ(json_of(dir() / "history.json")["epochs"].size(), 2u);
  }
  fs::path dir() const { return tmp_ / "run"; }
  CliRun resume(const std::string& flags, const std::string& cwd = "") {
    return run_cli("train --resume " + quoted(dir()) + " " + flags, 60, cwd.empty() ? tmp_.path().string() : cwd);
  }
  TempDir tmp_;
};

TEST_F(CliResume, FlagsThatWouldChangeTheRunAreRefusedNamingTheSavedValue) {
  write_noise_data(tmp_ / "other-data");
  const auto before = snapshot(dir());
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"--lr 0.5", "lr 0.05"},
      {"--batch-size 64", "batch-size 128"},
      {"--optimizer adam", "optimizer sgd"},
      {"--seed 9", "seed 5"},
      {"--val-fraction 0.2", "val-fraction 0.1"},
      {"--momentum 0.9", "momentum 0.5"},
      {"--weight-decay 0.01", "weight-decay 0"},
      {"--model hidden-relu", "model hidden"},
      {"--dataset mnist", "dataset custom"},
      {"--data-dir other-data", (tmp_ / "data").string()},
      {"--epochs 1", "already completed 2 epochs"},
  };
  for (const auto& [flags, saved] : cases) {
    CliRun run = resume(flags);
    EXPECT_EQ(run.code, 2) << flags << ": " << run.err;
    EXPECT_EQ(line_count(run.err), 1u) << flags << ": " << run.err;
    EXPECT_EQ(run.err.rfind("mnist: usage error: " + flags, 0), 0u) << "names the flag: " << run.err;
    EXPECT_NE(run.err.find(saved), std::string::npos) << flags << ": names the saved value: " << run.err;
    EXPECT_EQ(run.out, "") << flags << ": started: " << run.out;
  }
  EXPECT_EQ(snapshot(dir()), before) << "a refused resume changed the run";

  // Flags equal to the saved values are accepted; --epochs 3 (between done and the total) ends the run at 3; from
  // another working directory, where the relative --data-dir of the first run means nothing.
  CliRun run = resume("--lr 0.05 --seed 5 --model hidden --data-dir " + quoted(tmp_ / "data") + " --epochs 3",
                      (tmp_ / "other-data").string());
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(json_of(dir() / "history.json")["epochs"].size(), 3u);
}

TEST_F(CliResume, ResumesFromAnotherWorkingDirectory) {
  TempDir elsewhere;
  CliRun run = resume("--epochs 5", elsewhere.path().string());
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(json_of(dir() / "history.json")["epochs"].size(), 5u);
}

TEST_F(CliResume, BadSavedValuesAreErrorsOfTheResumeFile) {
  const std::string file = (dir() / "resume.safetensors").string();
  // Out of the flag's range.
  set_safetensors_metadata(dir() / "resume.safetensors", "batch_size", "99999999999");
  CliRun run = resume("");
  EXPECT_EQ(run.code, 1) << run.err;
  EXPECT_EQ(line_count(run.err), 1u) << run.err;
  EXPECT_EQ(run.err.rfind("mnist: error: " + file + ": saved batch_size 99999999999", 0), 0u) << run.err;
  // In range but larger than the training split.
  set_safetensors_metadata(dir() / "resume.safetensors", "batch_size", "1000");
  run = resume("");
  EXPECT_EQ(run.code, 1) << run.err;
  EXPECT_EQ(run.err.rfind("mnist: error: " + file + ": saved batch_size 1000 is larger", 0), 0u) << run.err;
  // The data directory is gone: the resume file's saved directory is named, and --data-dir may give its new place.
  set_safetensors_metadata(dir() / "resume.safetensors", "batch_size", "128");
  fs::rename(tmp_ / "data", tmp_ / "moved");
  run = resume("");
  EXPECT_EQ(run.code, 1) << run.err;
  EXPECT_EQ(run.err.rfind("mnist: error: " + file + ": the run's data directory " + (tmp_ / "data").string(), 0), 0u)
      << run.err;
  run = resume("--data-dir moved");
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(json_of(dir() / "history.json")["epochs"].size(), 4u);
}

TEST(CliPlotActivation, WritesReluFigure) {
  TempDir dir;
  const fs::path png = dir / "relu.png";
  CliRun run = run_cli("plot-activation relu -o " + quoted(png));
  ASSERT_EQ(run.code, 0) << run.err;
  expect_png(png, 800, 560);
  EXPECT_EQ(hidden_files(dir.path()), std::vector<std::string>{});
}


// Schedules and augmentation: an interrupted run resumed ends bit-identical to the uninterrupted one (the lr is a
// function of the epoch and step, the shifts of (seed, epoch, index)); both are recorded; bad flags are usage errors.
TEST(CliSchedule, ScheduledAugmentedRunsResumeBitIdentically) {
  TempDir tmp;
  write_noise_data(tmp / "data");
  for (const std::string schedule : {"step --lr-step-size 1 --lr-gamma 0.5", "cosine", "onecycle"}) {
    const std::string flags = "train --data-dir data --model hidden --epochs 3 --lr 0.05 --momentum 0.5 --seed 5 "
                              "--augment shift --lr-schedule " + schedule;
    const std::string name = schedule.substr(0, schedule.find(' '));
    CliRun whole = run_cli(flags + " --out " + name + "-whole", 60, tmp.path().string());
    ASSERT_EQ(whole.code, 0) << whole.err;
    CliRun stopped = run_cli(flags + " --stop-after-batches 4 --out " + name + "-part", 60, tmp.path().string());
    ASSERT_EQ(stopped.code, 130) << stopped.err;
    CliRun resumed = run_cli("train --resume " + name + "-part --threads 2", 60, tmp.path().string());
    ASSERT_EQ(resumed.code, 0) << resumed.err;
    EXPECT_EQ(tensor_bytes(tmp / (name + "-part") / "model.safetensors"),
              tensor_bytes(tmp / (name + "-whole") / "model.safetensors")) << name;
    const json h = json_of(tmp / (name + "-whole") / "history.json");
    EXPECT_EQ(h["settings"]["lr_schedule"], name);
    EXPECT_EQ(h["settings"]["augment"], "shift");
    const auto meta = load_checkpoint(tmp / (name + "-whole") / "model.safetensors").metadata;
    EXPECT_EQ(meta.at("lr_schedule"), name);
    EXPECT_EQ(meta.at("augment"), "shift");
    if (name == "step") EXPECT_EQ(meta.at("lr_step_size"), "1");
    if (name == "cosine") EXPECT_EQ(meta.at("lr_t_max"), "3");
    if (name == "onecycle") EXPECT_EQ(meta.at("lr_total_steps"), "9");  // 3 epochs of 3 batches
  }
  // Without augmentation the run differs (the shifts are applied).
  CliRun plain = run_cli("train --data-dir data --model hidden --epochs 3 --lr 0.05 --momentum 0.5 --seed 5 "
                         "--lr-schedule cosine --out plain", 60, tmp.path().string());
  ASSERT_EQ(plain.code, 0) << plain.err;
  EXPECT_NE(tensor_bytes(tmp / "plain" / "model.safetensors"), tensor_bytes(tmp / "cosine-whole" / "model.safetensors"));
  // --resume refuses another schedule or augmentation, and onecycle cannot be extended.
  for (const auto& [flags, saved] : std::vector<std::pair<std::string, std::string>>{
           {"--lr-schedule step", "lr-schedule cosine"}, {"--augment none", "augment shift"}}) {
    CliRun run = run_cli("train --resume cosine-whole " + flags, 60, tmp.path().string());
    EXPECT_EQ(run.code, 2) << flags << ": " << run.err;
    EXPECT_EQ(line_count(run.err), 1u) << run.err;
    EXPECT_NE(run.err.find(saved), std::string::npos) << run.err;
  }
  CliRun longer = run_cli("train --resume onecycle-whole --epochs 4", 60, tmp.path().string());
  EXPECT_EQ(longer.code, 2) << longer.err;
  EXPECT_EQ(line_count(longer.err), 1u) << longer.err;
  EXPECT_NE(longer.err.find("onecycle"), std::string::npos) << longer.err;
}

TEST(CliSchedule, BadScheduleFlagsAreOneLineUsageErrors) {
  TempDir tmp;
  write_noise_data(tmp / "data");
  for (const std::string flags : {"--lr-schedule linear", "--lr-schedule step --lr-gamma -0.1",
                                  "--lr-schedule step --lr-step-size 0", "--lr-gamma 0.5", "--augment flip",
                                  "--lr-schedule step --lr-gamma nan"}) {
    CliRun run = run_cli("train --data-dir data " + flags + " --out run", 30, tmp.path().string());
    EXPECT_EQ(run.code, 2) << flags << ": " << run.err;
    const std::string last = flags.substr(flags.rfind("--"));
    EXPECT_NE(run.err.find(last.substr(0, last.find(' '))), std::string::npos) << "names the flag: " << run.err;
    EXPECT_EQ(line_count(run.err), 1u) << flags << ": " << run.err;
    EXPECT_FALSE(fs::exists(tmp / "run")) << flags;
  }
}

}  // namespace
