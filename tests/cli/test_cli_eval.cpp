// mnist evaluate and mnist predict, end to end on small real data: a model trained here on 3,000 Fashion-MNIST
// images (and one on 5,000 MNIST digits for preprocessing), saved as a checkpoint, then run through the binary and
// compared with what the library computes directly.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <cmath>
#include <cstdlib>
#include <fstream>
#include <nlohmann/json.hpp>
#include <regex>

#include "mnist/checkpoint.hpp"
#include "mnist/datasets.hpp"
#include "mnist/image.hpp"
#include "mnist/loader.hpp"
#include "mnist/metrics.hpp"
#include "mnist/safetensors.hpp"
#include "mnist/train.hpp"
#include "support/cli_runner.hpp"
#include "support/dataset_dirs.hpp"
#include "support/test_support.hpp"

using namespace mnist;
using namespace mnist::testing;
namespace fs = std::filesystem;

namespace {

// Trains spec on the train split of dir for a few epochs (deterministic: seed 0).
Model train_model(const Dataset& train, const std::string& spec, std::size_t epochs) {
  Model model = make_model(spec, 0);
  DataLoader train_loader(train, LoaderOptions{.batch_size = 128, .shuffle = true, .seed = 0});
  DataLoader val_loader(train, LoaderOptions{.batch_size = 1000});
  fit(epochs, 0.1, model, train_loader, val_loader);
  return model;
}

std::map<std::string, std::string> checkpoint_metadata(const std::string& dataset) {
  nlohmann::json classes = dataset_info(dataset).classes;
  return {{"dataset", dataset}, {"classes", classes.dump()}, {"input_shape", "[1, 28, 28]"},
          {"pixel_scaling", "x / 255"}, {"epochs", "2"}, {"lr", "0.1"}};
}

std::vector<float> pixels_of(std::span<const std::uint8_t> image) {
  std::vector<float> x(image.size());
  for (std::size_t i = 0; i < image.size(); ++i) x[i] = static_cast<float>(image[i]) / 255.0f;
  return x;
}

int model_class(Model& model, std::span<const std::uint8_t> image) {
  return model.predict(pixels_of(image), 1)[0];
}

GrayImage gray(std::span<const std::uint8_t> pixels, std::size_t rows, std::size_t cols) {
  return {cols, rows, std::vector<std::uint8_t>(pixels.begin(), pixels.end())};
}

// Fashion-MNIST test images 0..2999 as the train split and 3000..3999 as the test split of a data directory, a
// hidden-relu model trained 2 epochs on the former, and its checkpoint.
class CliEvalFashion : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!fashion_mnist_dir()) return;  // every test skips
    root_ = new TempDir();
    write_fashion_mnist_subset(data_dir());
    train_ = new Dataset(load_dataset_dir(data_dir(), Split::Train, "fashion-mnist"));
    test_ = new Dataset(load_dataset_dir(data_dir(), Split::Test, "fashion-mnist"));
    model_ = new Model(train_model(*train_, "hidden-relu", 2));
    save_checkpoint(checkpoint(), *model_, checkpoint_metadata("fashion-mnist"));
  }
  static void TearDownTestSuite() {
    delete model_;
    delete test_;
    delete train_;
    delete root_;
  }
  void SetUp() override {
    if (!root_) GTEST_SKIP() << "Fashion-MNIST is not installed (Debian package dataset-fashion-mnist)";
  }
  static fs::path data_dir() { return *root_ / "data"; }
  static fs::path checkpoint() { return *root_ / "model.safetensors"; }
  static std::string data_flags() { return "--dataset fashion-mnist --data-dir " + quoted(data_dir()); }

  static TempDir* root_;
  static Dataset* train_;
  static Dataset* test_;
  static Model* model_;
  TempDir out_;
};
TempDir* CliEvalFashion::root_ = nullptr;
Dataset* CliEvalFashion::train_ = nullptr;
Dataset* CliEvalFashion::test_ = nullptr;
Model* CliEvalFashion::model_ = nullptr;

TEST_F(CliEvalFashion, EvaluateMatchesTheLibrary) {
  const fs::path heatmap = out_ / "confusion.png", json_path = out_ / "eval.json";
  CliRun run = run_cli("evaluate " + quoted(checkpoint()) + " " + data_flags() + " -o " + quoted(heatmap) +
                       " --json " + quoted(json_path));
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.err, "");

  DataLoader loader(*test_, LoaderOptions{.batch_size = 100});
  const EvalResult expected = evaluate(*model_, loader);
  ASSERT_EQ(expected.total, 1000u);
  std::smatch m;
  ASSERT_TRUE(std::regex_search(run.out, m, std::regex(R"(Accuracy: (\d\.\d{4}) \((\d+) of (\d+) correct\))")))
      << run.out;
  EXPECT_EQ(std::stoul(m[2].str()), expected.correct);
  EXPECT_EQ(std::stoul(m[3].str()), 1000u);
  EXPECT_NEAR(std::stod(m[1].str()), expected.accuracy, 0.00005);
  EXPECT_GT(expected.accuracy, 0.5);  // a trained model, not chance
  for (const char* text : {"Per class:", "T-shirt/top", "Ankle boot", "macro average", "Confusion matrix",
                           "hidden-relu", "trained on fashion-mnist"})
    EXPECT_NE(run.out.find(text), std::string::npos) << text << "\n" << run.out;

  // The JSON holds the same numbers; the matrix covers every test image once and matches the library's.
  std::ifstream in(json_path);
  const nlohmann::json j = nlohmann::json::parse(in);
  EXPECT_EQ(j["correct"].get<std::size_t>(), expected.correct);
  EXPECT_EQ(j["total"].get<std::size_t>(), 1000u);
  const ConfusionMatrix matrix(expected.labels, expected.predictions, 10);
  std::size_t sum = 0;
  for (std::size_t t = 0; t < 10; ++t)
    for (std::size_t p = 0; p < 10; ++p) {
      EXPECT_EQ(j["confusion_matrix"][t][p].get<std::size_t>(), matrix.count(t, p));
      sum += j["confusion_matrix"][t][p].get<std::size_t>();
    }
  EXPECT_EQ(sum, 1000u);
  for (std::size_t c = 0; c < 10; ++c) {
    EXPECT_EQ(j["per_class"][c]["class"], dataset_info("fashion-mnist").classes[c]);
    EXPECT_DOUBLE_EQ(j["per_class"][c]["precision"].get<double>(), matrix.precision(c));
    EXPECT_DOUBLE_EQ(j["per_class"][c]["recall"].get<double>(), matrix.recall(c));
    EXPECT_EQ(j["per_class"][c]["support"].get<std::size_t>(), matrix.support(c));
  }
  // The confusion table's row for class 0 lists row 0 of the matrix.
  std::string row0 = "0 T-shirt/top";
  for (std::size_t p = 0; p < 10; ++p) row0 += "\\s+" + std::to_string(matrix.count(0, p));
  EXPECT_TRUE(std::regex_search(run.out, std::regex(row0))) << run.out;

  const GrayImage png = read_image(heatmap);
  EXPECT_GE(png.width, 400u);
  EXPECT_GE(png.height, 400u);
}

TEST_F(CliEvalFashion, EvaluateTrainSplit) {
  CliRun run = run_cli("evaluate " + quoted(checkpoint()) + " --split train " + data_flags());
  ASSERT_EQ(run.code, 0) << run.err;
  DataLoader loader(*train_, LoaderOptions{.batch_size = 1000});
  const EvalResult expected = evaluate(*model_, loader);
  EXPECT_NE(run.out.find("(" + std::to_string(expected.correct) + " of 3000 correct)"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("train split, 3000 images"), std::string::npos) << run.out;
}

TEST_F(CliEvalFashion, EvaluateDefaultsToTheCheckpointsDataSet) {
  // No --dataset: the checkpoint says fashion-mnist, found in Debian's directory (the cwd has no data/).
  TempDir cwd;
  CliRun run = run_cli("evaluate " + quoted(checkpoint()), 60, cwd.path().string());
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_NE(run.out.find("fashion-mnist, test split, 10000 images"), std::string::npos) << run.out;
}

TEST_F(CliEvalFashion, PredictIndexGivesTheModelsClass) {
  const fs::path figure = out_ / "grid.png";
  CliRun run = run_cli("predict " + quoted(checkpoint()) + " --index 0 5 17 " + data_flags() + " -o " +
                       quoted(figure));
  ASSERT_EQ(run.code, 0) << run.err;
  const std::vector<int> got = predicted_classes(run.out);
  ASSERT_EQ(got.size(), 3u) << run.out;
  const std::size_t indices[] = {0, 5, 17};
  for (std::size_t i = 0; i < 3; ++i) {
    const int expected = model_class(*model_, (*test_)[indices[i]].image);
    EXPECT_EQ(got[i], expected) << "index " << indices[i];
    EXPECT_NE(run.out.find(dataset_info("fashion-mnist").classes[static_cast<std::size_t>(expected)]),
              std::string::npos);
  }
  EXPECT_NE(run.out.find("#5 (test split), label " + std::to_string((*test_)[5].label)), std::string::npos)
      << run.out;
  // The probabilities print as PyTorch prints a [1, 10] tensor, and sum to 1.
  std::smatch m;
  ASSERT_TRUE(std::regex_search(run.out, m, std::regex(R"(tensor\(\[\[([^\]]*)\]\]\))"))) << run.out;
  std::string numbers = m[1].str();
  double sum = 0;
  std::size_t count = 0;
  const std::regex number(R"([0-9.e+-]+)");
  for (auto it = std::sregex_iterator(numbers.begin(), numbers.end(), number);
       it != std::sregex_iterator(); ++it, ++count)
    sum += std::stod(it->str());
  EXPECT_EQ(count, 10u) << numbers;
  EXPECT_NEAR(sum, 1.0, 1e-3) << numbers;
  const GrayImage png = read_image(figure);
  EXPECT_GT(png.width, 100u);
}

// --json: one object per input, probabilities that read back as exactly the floats the library computes.
TEST_F(CliEvalFashion, PredictJsonHoldsTheLibrarysProbabilities) {
  const fs::path json_path = out_ / "predictions.json";
  std::string index_args;
  const std::size_t n = 50;
  for (std::size_t i = 0; i < n; ++i) index_args += " " + std::to_string(i * 7);
  CliRun run = run_cli("predict " + quoted(checkpoint()) + " --index" + index_args + " " + data_flags() +
                       " --json " + quoted(json_path));
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_NE(run.out.find("Predicted: "), std::string::npos) << run.out;  // the text report is still printed
  EXPECT_NE(run.out.find("wrote " + json_path.string()), std::string::npos) << run.out;

  std::ifstream in(json_path);
  const nlohmann::json j = nlohmann::json::parse(in);
  ASSERT_TRUE(j.is_array());
  ASSERT_EQ(j.size(), n);
  std::vector<float> x;
  for (std::size_t i = 0; i < n; ++i) {
    const std::vector<float> p = pixels_of((*test_)[i * 7].image);
    x.insert(x.end(), p.begin(), p.end());
  }
  const Tensor expected = model_->predict_proba(x, n);
  std::size_t differing = 0;
  for (std::size_t i = 0; i < n; ++i) {
    const nlohmann::json& item = j[i];
    EXPECT_EQ(item["source"], "#" + std::to_string(i * 7) + " (test split)");
    EXPECT_EQ(item["split"], "test");
    EXPECT_EQ(item["index"].get<std::size_t>(), i * 7);
    EXPECT_EQ(item["label"].get<int>(), (*test_)[i * 7].label);
    const int predicted = item["predicted"].get<int>();
    EXPECT_EQ(predicted, model_class(*model_, (*test_)[i * 7].image));
    EXPECT_EQ(item["class"], dataset_info("fashion-mnist").classes[static_cast<std::size_t>(predicted)]);
    ASSERT_EQ(item["probabilities"].size(), 10u);
    for (std::size_t c = 0; c < 10; ++c) {
      // Parsed as a double, then narrowed: the shortest round-trip text gives back the very float.
      const auto got = static_cast<float>(item["probabilities"][c].get<double>());
      differing += got != expected.data()[i * 10 + c];
    }
  }
  EXPECT_EQ(differing, 0u) << "probabilities that do not read back as the library's floats";
}

// --json -: standard output holds the JSON alone; with image files the source is the path.
TEST_F(CliEvalFashion, PredictJsonToStandardOutputIsTheJsonAlone) {
  std::string args;
  std::vector<int> expected;
  for (std::size_t i = 0; i < 3; ++i) {
    const fs::path png = out_ / ("item \"" + std::to_string(i) + "\".png");  // a quote to escape
    write_png(png, gray((*test_)[i].image, 28, 28));
    args += " " + quoted(png);
    expected.push_back(model_class(*model_, (*test_)[i].image));
  }
  CliRun run = run_cli("predict " + quoted(checkpoint()) + args + " --no-preprocess --json -");
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.err, "");
  const nlohmann::json j = nlohmann::json::parse(run.out);  // throws (fails the test) on anything but JSON
  ASSERT_EQ(j.size(), 3u);
  for (std::size_t i = 0; i < 3; ++i) {
    EXPECT_EQ(j[i]["source"], (out_ / ("item \"" + std::to_string(i) + "\".png")).string());
    EXPECT_EQ(j[i]["predicted"].get<int>(), expected[i]);
    EXPECT_FALSE(j[i].contains("index"));
    double sum = 0;
    for (const auto& p : j[i]["probabilities"]) sum += p.get<double>();
    EXPECT_NEAR(sum, 1.0, 1e-5);
  }
}

// --json - to a standard output that cannot take it (a full disk) is an error, not a silent truncation.
TEST_F(CliEvalFashion, PredictJsonToAFullStandardOutputFails) {
  const char* cli = std::getenv("MNIST_CLI");
  ASSERT_NE(cli, nullptr);
  const fs::path err = out_ / "err.txt";
  const std::string command = quoted(cli) + " predict " + quoted(checkpoint()) + " --index 0 " + data_flags() +
                              " --json - >/dev/full 2>" + quoted(err);
  const int status = std::system(command.c_str());
  ASSERT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 1);
  std::ifstream in(err);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "mnist: error: --json -: cannot write to the standard output\n");
}

// A refused --json leaves no file behind, and an existing one is replaced whole or not at all.
TEST_F(CliEvalFashion, PredictJsonNeverHalfWritten) {
  const fs::path json_path = out_ / "p.json";
  {
    std::ofstream(json_path) << "previous";
  }
  // The input fails after the output was checked: the old file is untouched, no temporary file is left.
  CliRun run = run_cli("predict " + quoted(checkpoint()) + " --index 0 5000 " + data_flags() + " --json " +
                       quoted(json_path));
  EXPECT_EQ(run.code, 2) << run.err;
  std::ifstream in(json_path);
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_EQ(text, "previous");
  std::size_t files = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(out_.path())) ++files;
  EXPECT_EQ(files, 1u);
}

TEST_F(CliEvalFashion, PredictPngAsIsGivesTheImagesPrediction) {
  std::string args;
  std::vector<int> expected;
  for (std::size_t i = 0; i < 5; ++i) {
    const fs::path png = out_ / ("item" + std::to_string(i) + ".png");
    write_png(png, gray((*test_)[i].image, 28, 28));
    args += " " + quoted(png);
    expected.push_back(model_class(*model_, (*test_)[i].image));
  }
  const fs::path figure = out_ / "items.png";
  CliRun run = run_cli("predict " + quoted(checkpoint()) + args + " --no-preprocess -o " + quoted(figure));
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(predicted_classes(run.out), expected) << run.out;
  EXPECT_TRUE(fs::exists(figure));
}

TEST_F(CliEvalFashion, PlainPyTorchParametersNeedModel) {
  // What torch's save_file(model.state_dict()) writes: the tensors, no metadata.
  const fs::path bare = out_ / "torch.safetensors";
  SafetensorsWriter writer;
  for (const NamedParameter& p : model_->named_parameters()) writer.add(p.name, p.shape, std::span<const float>(p.value));
  writer.save(bare);

  CliRun without = run_cli("predict " + quoted(bare) + " --index 3 " + data_flags());
  EXPECT_EQ(without.code, 1) << without.err;
  EXPECT_EQ(line_count(without.err), 1u) << without.err;
  EXPECT_NE(without.err.find(bare.string()), std::string::npos) << without.err;
  EXPECT_NE(without.err.find("--model"), std::string::npos) << without.err;

  CliRun with = run_cli("predict " + quoted(bare) + " --model hidden-relu --index 3 " + data_flags());
  ASSERT_EQ(with.code, 0) << with.err;
  EXPECT_EQ(predicted_classes(with.out), std::vector<int>{model_class(*model_, (*test_)[3].image)});
  // The class names come from --dataset when the file has none.
  EXPECT_NE(with.out.find("label " + std::to_string((*test_)[3].label) + " "), std::string::npos) << with.out;

  CliRun evaluated = run_cli("evaluate " + quoted(bare) + " --model hidden-relu " + data_flags());
  ASSERT_EQ(evaluated.code, 0) << evaluated.err;
  DataLoader loader(*test_, LoaderOptions{.batch_size = 1000});
  EXPECT_NE(evaluated.out.find("(" + std::to_string(evaluate(*model_, loader).correct) + " of 1000 correct)"),
            std::string::npos)
      << evaluated.out;

  CliRun wrong = run_cli("predict " + quoted(bare) + " --model logistic --index 3 " + data_flags());
  EXPECT_EQ(wrong.code, 1) << wrong.err;
  EXPECT_NE(wrong.err.find(bare.string()), std::string::npos) << wrong.err;
  EXPECT_TRUE(wrong.err.find("'layer1.weight'") != std::string::npos ||
              wrong.err.find("'linear.weight'") != std::string::npos)
      << wrong.err;  // names the tensor that does not fit

  CliRun bad_spec = run_cli("predict " + quoted(bare) + " --model 784-relu --index 3 " + data_flags());
  EXPECT_EQ(bad_spec.code, 2) << bad_spec.err;

  CliRun contradicting = run_cli("predict " + quoted(checkpoint()) + " --model hidden --index 3 " + data_flags());
  EXPECT_EQ(contradicting.code, 2) << contradicting.err;
  EXPECT_NE(contradicting.err.find("--model"), std::string::npos) << contradicting.err;
}

TEST_F(CliEvalFashion, DataOfAnotherShapeIsRefusedNamingTheModel) {
  const std::size_t n = 20;
  std::vector<std::uint8_t> images(n * 32 * 32, 7), labels(n, 1);
  const fs::path other = out_ / "custom32";
  write_dataset_dir(other, 32, 32, images, labels, images, labels);
  for (const std::string command : {"evaluate", "predict"}) {
    CliRun run = run_cli(command + " " + quoted(checkpoint()) + (command == "predict" ? " --index 0" : "") +
                         " --data-dir " + quoted(other));
    EXPECT_EQ(run.code, 1) << command << ": " << run.err;
    EXPECT_EQ(line_count(run.err), 1u) << run.err;
    EXPECT_NE(run.err.find(checkpoint().string()), std::string::npos) << run.err;
    EXPECT_NE(run.err.find("32x32"), std::string::npos) << run.err;
  }
  // --no-preprocess feeds the image as it is, so it must be 28x28.
  const fs::path big = out_ / "big.png";
  write_png(big, GrayImage{30, 30, std::vector<std::uint8_t>(900, 0)});
  CliRun run = run_cli("predict " + quoted(checkpoint()) + " --no-preprocess " + quoted(big));
  EXPECT_EQ(run.code, 1) << run.err;
  EXPECT_NE(run.err.find(big.string()), std::string::npos) << run.err;
  EXPECT_NE(run.err.find("30x30"), std::string::npos) << run.err;
}

// Outputs named through symbolic links are written through them: the file the link names gets the new contents and
// the link stays a link (renaming the new file over the link used to replace it with a file). A link to nothing is
// refused, and outputs that name the model leave it as it was.
TEST_F(CliEvalFashion, OutputsGoThroughSymbolicLinksAndNeverOverInputs) {
  fs::create_directories(out_ / "real");
  const fs::path real = out_ / "real" / "confusion.png", link = out_ / "link.png";
  write_file(real, {1, 2, 3});
  fs::create_symlink(real, link);
  CliRun run = run_cli("evaluate " + quoted(checkpoint()) + " " + data_flags() + " -o " + quoted(link));
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(fs::is_symlink(link));
  const std::vector<std::uint8_t> png = read_file(real);
  ASSERT_GT(png.size(), 8u);
  EXPECT_EQ(png[1], 'P');
  EXPECT_EQ(png[2], 'N');
  EXPECT_EQ(png[3], 'G');

  const fs::path dangling = out_ / "dangling.json";
  fs::create_symlink(out_ / "nowhere" / "eval.json", dangling);
  run = run_cli("evaluate " + quoted(checkpoint()) + " " + data_flags() + " --json " + quoted(dangling));
  EXPECT_EQ(run.code, 1) << run.err;
  EXPECT_EQ(line_count(run.err), 1u) << run.err;
  EXPECT_NE(run.err.find(dangling.string()), std::string::npos) << run.err;

  const std::vector<std::uint8_t> before = read_file(checkpoint());
  const fs::path model_link = out_ / "model-link.safetensors";
  fs::create_symlink(checkpoint(), model_link);
  for (const std::string flag : {"-o", "--json"}) {
    run = run_cli("evaluate " + quoted(checkpoint()) + " " + data_flags() + " " + flag + " " + quoted(model_link));
    EXPECT_EQ(run.code, 1) << flag << ": " << run.err;
    EXPECT_NE(run.err.find("which this command reads"), std::string::npos) << run.err;
  }
  EXPECT_EQ(read_file(checkpoint()), before);
  EXPECT_TRUE(fs::is_symlink(model_link));
}

// Without --dataset or --data-dir, evaluate and predict read the data set the checkpoint records
// (EvaluateDefaultsToTheCheckpointsDataSet): their help says so instead of showing mnist as the default.
TEST(CliEvalHelp, DatasetDefaultIsTheCheckpoints) {
  for (const std::string command : {"evaluate", "predict"}) {
    CliRun run = run_cli(command + " --help");
    ASSERT_EQ(run.code, 0) << command << ": " << run.err;
    const std::size_t start = run.out.find("  --dataset ");
    ASSERT_NE(start, std::string::npos) << run.out;
    const std::string flag_line = run.out.substr(start, run.out.find('\n', start) - start);
    EXPECT_EQ(flag_line.find("=mnist"), std::string::npos) << command << ": " << flag_line;
    EXPECT_NE(run.out.find("default: the data set recorded in the checkpoint (mnist if it records none)"),
              std::string::npos)
        << command << ": " << run.out;
  }
}

// Preprocessing makes a picture MNIST-like; given an MNIST digit it should mostly keep the model's prediction,
// also when the digit is drawn dark on light and larger, as a scan would be.
TEST(CliEvalMnist, PreprocessedDigitsKeepTheirPrediction) {
  auto dir = mnist_test_dir();
  if (!dir) GTEST_SKIP() << "../shared/data/mnist is absent";
  Dataset digits = load_dataset_dir(*dir, Split::Test, "mnist");
  std::vector<std::uint8_t> images, labels;
  slice(digits, 0, 5000, images, labels);
  TempDir root;
  write_dataset_dir(root / "data", 28, 28, images, labels, images, labels);
  Model model = train_model(load_dataset_dir(root / "data", Split::Train, "mnist"), "hidden-relu", 3);
  save_checkpoint(root / "digits.safetensors", model, checkpoint_metadata("mnist"));

  const std::size_t count = 20, first = 9000;
  std::string plain_args, scan_args;
  std::vector<int> expected;
  for (std::size_t i = first; i < first + count; ++i) {
    const std::span<const std::uint8_t> image = digits[i].image;
    expected.push_back(model_class(model, image));
    const fs::path plain = root / ("digit" + std::to_string(i) + ".png");
    write_png(plain, gray(image, 28, 28));
    plain_args += " " + quoted(plain);
    // 3x larger, inverted, off centre on a 100x90 light page.
    GrayImage scan{100, 90, std::vector<std::uint8_t>(100 * 90, 235)};
    for (std::size_t r = 0; r < 84; ++r)
      for (std::size_t c = 0; c < 84; ++c)
        scan.pixels[(r + 3) * 100 + c + 10] = static_cast<std::uint8_t>(235 - image[(r / 3) * 28 + c / 3] * 200 / 255);
    const fs::path scanned = root / ("scan" + std::to_string(i) + ".png");
    write_png(scanned, scan);
    scan_args += " " + quoted(scanned);
  }
  const fs::path ckpt = root / "digits.safetensors";
  for (const std::string& args : {plain_args, scan_args}) {
    CliRun run = run_cli("predict " + quoted(ckpt) + args);
    ASSERT_EQ(run.code, 0) << run.err;
    const std::vector<int> got = predicted_classes(run.out);
    ASSERT_EQ(got.size(), count);
    std::size_t same = 0;
    for (std::size_t i = 0; i < count; ++i) same += got[i] == expected[i];
    EXPECT_GE(same, count * 8 / 10) << run.out;
  }
  // As they are, the plain PNGs give exactly the model's predictions.
  CliRun as_is = run_cli("predict " + quoted(ckpt) + " --no-preprocess" + plain_args);
  ASSERT_EQ(as_is.code, 0) << as_is.err;
  EXPECT_EQ(predicted_classes(as_is.out), expected);
}

}  // namespace
