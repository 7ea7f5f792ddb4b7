// Every command with a conv net, end to end on a tiny data set (400 synthetic 28x28 images whose class is where a
// bright bar sits) and a tiny net with every conv-side layer kind: train, evaluate --json, predict, plot, compare,
// show-filters, and resume (2 epochs equal 1 epoch + --resume 1 more, bit for bit, BatchNorm buffers and Dropout's
// masks included); checkpoints hold BatchNorm's buffers as PyTorch names and types them.
#include <gtest/gtest.h>

#include <algorithm>
#include <nlohmann/json.hpp>

#include "mnist/image.hpp"
#include "mnist/safetensors.hpp"
#include "support/cli_runner.hpp"
#include "support/dataset_dirs.hpp"
#include "support/test_support.hpp"

using namespace mnist;
using namespace mnist::testing;
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

const std::string kSpec = "1x28x28-conv4k3p1-bn-relu-maxpool2-dropout0.25-flatten-10";

// n images: class c has a bright horizontal bar at rows 2c+3..2c+5, plus a little deterministic noise.
void make_images(std::size_t n, std::size_t salt, std::vector<std::uint8_t>& images, std::vector<std::uint8_t>& labels) {
  images.assign(n * 784, 0);
  labels.resize(n);
  for (std::size_t i = 0; i < n; ++i) {
    const std::size_t c = (i * 7 + salt) % 10;
    labels[i] = static_cast<std::uint8_t>(c);
    for (std::size_t p = 0; p < 784; ++p) images[i * 784 + p] = static_cast<std::uint8_t>((i * 31 + p * 17 + salt) % 40);
    for (std::size_t r = 2 * c + 3; r < 2 * c + 6; ++r)
      for (std::size_t col = 4; col < 24; ++col) images[i * 784 + r * 28 + col] = 230;
  }
}

class CliConv : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new TempDir();
    std::vector<std::uint8_t> train, train_labels, test, test_labels;
    make_images(400, 0, train, train_labels);
    make_images(100, 3, test, test_labels);
    write_dataset_dir(dir_->path() / "data", 28, 28, train, train_labels, test, test_labels);
  }
  static void TearDownTestSuite() {
    delete dir_;
    dir_ = nullptr;
  }
  static fs::path root() { return dir_->path(); }
  static std::string data() { return "--data-dir " + quoted(root() / "data"); }
  static std::string train_flags() {
    return "--model " + kSpec + " " + data() + " --batch-size 32 --lr 0.05 --momentum 0.9 --seed 3 --threads 2";
  }
  static TempDir* dir_;
};
TempDir* CliConv::dir_ = nullptr;

std::map<std::string, std::vector<std::uint8_t>> tensor_bytes(const fs::path& path) {
  SafetensorsFile file = SafetensorsFile::read(path);
  std::map<std::string, std::vector<std::uint8_t>> tensors;
  for (const TensorEntry& e : file.tensors()) {
    auto raw = file.raw(e.name);
    tensors[e.name].assign(raw.begin(), raw.end());
  }
  return tensors;
}

TEST_F(CliConv, TrainEvaluatePredictPlotShowFilters) {
  const fs::path run = root() / "run";
  CliRun r = run_cli("train " + train_flags() + " --epochs 2 --out " + quoted(run), 120);
  ASSERT_EQ(r.code, 0) << r.err;
  ASSERT_TRUE(fs::exists(run / "model.safetensors"));

  // The checkpoint holds BatchNorm's buffers, num_batches_tracked as I64 (PyTorch's dtype), 2 epochs of batches.
  SafetensorsFile file = SafetensorsFile::read(run / "model.safetensors");
  EXPECT_EQ(file.at("bn1.running_mean").dtype, DType::F32);
  EXPECT_EQ(file.at("bn1.running_mean").shape, Shape{4});
  EXPECT_EQ(file.at("bn1.running_var").shape, Shape{4});
  EXPECT_EQ(file.at("bn1.num_batches_tracked").dtype, DType::I64);
  EXPECT_EQ(file.at("bn1.num_batches_tracked").shape, Shape{});
  EXPECT_EQ(file.at("conv1.weight").shape, (Shape{4, 1, 3, 3}));
  EXPECT_EQ(file.at("fc1.weight").shape, (Shape{10, 4 * 14 * 14}));

  // evaluate --json reports accuracy; the bars are easy, so the net has learned something.
  r = run_cli("evaluate " + quoted(run / "model.safetensors") + " " + data() + " --json " + quoted(root() / "eval.json"));
  ASSERT_EQ(r.code, 0) << r.err;
  const auto bytes = read_file(root() / "eval.json");
  const json j = json::parse(std::string(bytes.begin(), bytes.end()));
  EXPECT_GT(j["accuracy"].get<double>(), 0.3);
  EXPECT_EQ(j["total"].get<std::size_t>(), 100u);

  // predict an image of class 4.
  GrayImage bar{28, 28, std::vector<std::uint8_t>(784, 0)};
  for (std::size_t row = 11; row < 14; ++row)
    for (std::size_t col = 4; col < 24; ++col) bar.pixels[row * 28 + col] = 230;
  write_png(root() / "bar.png", bar);
  r = run_cli("predict " + quoted(run / "model.safetensors") + " " + quoted(root() / "bar.png"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_FALSE(r.out.empty());

  // plot redraws the run's charts.
  r = run_cli("plot " + quoted(run / "history.json") + " -o " + quoted(root() / "charts"));
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(root() / "charts" / "loss.png"));

  // show-filters: a PNG of sensible size (4 filters, the input, 4 + 4 maps: one row each), not blank.
  r = run_cli("show-filters " + quoted(run / "model.safetensors") + " " + data() + " --index 7 -o " +
              quoted(root() / "filters.png"));
  ASSERT_EQ(r.code, 0) << r.err;
  GrayImage png = read_image(root() / "filters.png");
  EXPECT_GE(png.width, 300u);
  EXPECT_LE(png.width, 2000u);
  EXPECT_GE(png.height, 300u);
  EXPECT_LE(png.height, 2000u);
  const auto [lo, hi] = std::minmax_element(png.pixels.begin(), png.pixels.end());
  EXPECT_LT(*lo, 64);
  EXPECT_GT(*hi, 192);
}

TEST_F(CliConv, ShowFiltersRefusalsWriteNothing) {
  const fs::path run = root() / "mlp";
  ASSERT_EQ(run_cli("train --model logistic " + data() + " --epochs 1 --out " + quoted(run), 60).code, 0);
  const fs::path out = root() / "refused.png";
  CliRun r = run_cli("show-filters " + quoted(run / "model.safetensors") + " " + data() + " -o " + quoted(out));
  EXPECT_EQ(r.code, 2);
  EXPECT_NE(r.err.find("has no Conv2d layer"), std::string::npos) << r.err;
  EXPECT_EQ(line_count(r.err), 1u);
  EXPECT_FALSE(fs::exists(out));
}

TEST_F(CliConv, ResumeIsBitIdentical) {
  const fs::path whole = root() / "whole", split = root() / "split";
  ASSERT_EQ(run_cli("train " + train_flags() + " --epochs 2 --out " + quoted(whole), 120).code, 0);
  CliRun r = run_cli("train " + train_flags() + " --epochs 1 --out " + quoted(split), 120);
  ASSERT_EQ(r.code, 0) << r.err;
  r = run_cli("train --resume " + quoted(split) + " --epochs 2", 120);
  ASSERT_EQ(r.code, 0) << r.err;
  const auto a = tensor_bytes(whole / "model.safetensors"), b = tensor_bytes(split / "model.safetensors");
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, bytes] : a) EXPECT_TRUE(b.at(name) == bytes) << name << " differs after resume";
  EXPECT_TRUE(a.count("bn1.num_batches_tracked"));
}

TEST_F(CliConv, CompareMixesMlpsAndConvNets) {
  const fs::path out = root() / "cmp";
  CliRun r = run_cli("compare --models logistic," + kSpec + " " + data() +
                         " --epochs 1 --batch-size 32 --threads 2 --out " + quoted(out),
                     120);
  ASSERT_EQ(r.code, 0) << r.err;
  EXPECT_TRUE(fs::exists(out / "logistic" / "model.safetensors"));
  EXPECT_TRUE(fs::exists(out / kSpec / "model.safetensors"));
  EXPECT_NE(r.out.find(kSpec), std::string::npos) << r.out;
}

}  // namespace
