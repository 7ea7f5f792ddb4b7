// mnist export end to end: what it prints and writes, its default output name, and bad input (a file that is no
// model checkpoint, unusable outputs, a model the engine does not know): one line, exit 2 or 1, nothing written.
#include <gtest/gtest.h>

#include <fstream>

#include "mnist/checkpoint.hpp"
#include "mnist/safetensors.hpp"
#include "support/cli_runner.hpp"
#include "support/test_support.hpp"

using namespace mnist;
using namespace mnist::testing;
namespace fs = std::filesystem;

namespace {

class CliExport : public ::testing::Test {
 protected:
  void SetUp() override {
    Model model = make_model("hidden-relu", 1);
    save_checkpoint(dir_ / "model.safetensors", model,
                    {{"dataset", "fashion-mnist"}, {"input_shape", "[1, 28, 28]"}, {"classes", classes_json()}});
  }
  static std::string classes_json() {
    return R"(["T-shirt/top","Trouser","Pullover","Dress","Coat","Sandal","Shirt","Sneaker","Bag","Ankle boot"])";
  }
  fs::path checkpoint() const { return dir_ / "model.safetensors"; }
  std::vector<std::string> files() const {
    std::vector<std::string> names;
    for (const auto& entry : fs::directory_iterator(dir_.path())) names.push_back(entry.path().filename().string());
    std::sort(names.begin(), names.end());
    return names;
  }
  TempDir dir_;
};

TEST_F(CliExport, WritesTheGraphAndSaysWhatItIs) {
  const fs::path out = dir_ / "exported.onnx";
  const CliRun run = run_cli("export " + quoted(checkpoint()) + " -o " + quoted(out));
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_EQ(run.err, "");
  EXPECT_NE(run.out.find("wrote " + out.string() + " (hidden-relu, 25450 parameters, ONNX opset 13)"),
            std::string::npos)
      << run.out;
  EXPECT_NE(run.out.find("input          float32 [N, 1, 28, 28]  pixels / 255"), std::string::npos) << run.out;
  EXPECT_NE(run.out.find("probabilities  float32 [N, 10]"), std::string::npos) << run.out;
  // An ONNX file: a protobuf whose first field is ir_version (tag 0x08), holding the class names.
  const std::vector<std::uint8_t> bytes = read_file(out);
  ASSERT_GT(bytes.size(), 25450u * 4);
  EXPECT_EQ(bytes[0], 0x08);
  const std::string text(bytes.begin(), bytes.end());
  EXPECT_NE(text.find("Ankle boot"), std::string::npos);
  EXPECT_EQ(files(), (std::vector<std::string>{"exported.onnx", "model.safetensors"}));
}

TEST_F(CliExport, DefaultOutputIsTheModelsNameWithOnnx) {
  const CliRun run = run_cli("export " + quoted(checkpoint()));
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(fs::exists(dir_ / "model.onnx"));
  // Again: the file is replaced whole.
  const CliRun again = run_cli("export " + quoted(checkpoint()));
  ASSERT_EQ(again.code, 0) << again.err;
  EXPECT_EQ(files(), (std::vector<std::string>{"model.onnx", "model.safetensors"}));
}

TEST_F(CliExport, PyTorchParametersWithModel) {
  Model model = make_model("hidden", 2);
  SafetensorsWriter bare;
  for (const NamedParameter& p : model.named_parameters()) bare.add(p.name, p.shape, std::span<const float>(p.value));
  bare.save(dir_ / "torch.safetensors");
  CliRun run = run_cli("export " + quoted(dir_ / "torch.safetensors"));
  EXPECT_EQ(run.code, 1);
  EXPECT_NE(run.err.find("--model"), std::string::npos) << run.err;
  run = run_cli("export " + quoted(dir_ / "torch.safetensors") + " --model hidden -o " + quoted(dir_ / "t.onnx"));
  ASSERT_EQ(run.code, 0) << run.err;
  EXPECT_TRUE(fs::exists(dir_ / "t.onnx"));
}

struct BadCase {
  std::string args;     // {CK} the checkpoint, {DIR} the test's directory
  int code;             // expected exit code
  std::string culprit;  // in the one-line message
};

TEST_F(CliExport, BadInputIsOneLineAndWritesNothing) {
  const std::string junk = "not a checkpoint\n";
  write_file(dir_ / "notes.safetensors", std::vector<std::uint8_t>(junk.begin(), junk.end()));
  fs::create_directories(dir_ / "sub");
  Model model = make_model("hidden-relu", 1);
  save_checkpoint(dir_ / "unknown.safetensors", model, {{"dataset", "mnist"}});
  {
    // The same tensors, but a model spec the engine does not know.
    std::vector<std::uint8_t> bytes = read_file(dir_ / "unknown.safetensors");
    std::string text(bytes.begin(), bytes.end());
    const std::size_t at = text.find("\"hidden-relu\"");
    ASSERT_NE(at, std::string::npos);
    text.replace(at, 13, "\"resnet-1234\"");
    write_file(dir_ / "unknown.safetensors", std::vector<std::uint8_t>(text.begin(), text.end()));
  }
  const std::vector<BadCase> cases = {
      {"export", 2, "MODEL"},
      {"export {CK} -o ''", 2, "-o"},
      {"export {CK} --model ''", 2, "--model"},
      {"export {CK} --model logistic", 2, "--model"},
      {"export {CK} --bogus", 2, "--bogus"},
      {"export {DIR}/missing.safetensors", 1, "{DIR}/missing.safetensors"},
      {"export {DIR}/notes.safetensors", 1, "{DIR}/notes.safetensors"},
      {"export {DIR}/unknown.safetensors", 1, "{DIR}/unknown.safetensors"},
      {"export {DIR}/sub", 1, "{DIR}/sub"},
      {"export {CK} -o {DIR}/sub", 1, "{DIR}/sub"},
      {"export {CK} -o {DIR}/nowhere/m.onnx", 1, "{DIR}/nowhere"},
      {"export {CK} -o {DIR}/notes.safetensors/m.onnx", 1, "{DIR}/notes.safetensors"},
      {"export {CK} -o {CK}", 1, "which this command reads"},
      {"export {CK} -o /dev/null", 1, "/dev/null"},
      {"export {CK} -o /proc/m.onnx", 1, "/proc/m.onnx"},
  };
  const std::vector<std::string> before = files();
  for (const BadCase& c : cases) {
    const auto fill = [&](std::string s) {
      for (std::size_t at; (at = s.find("{CK}")) != std::string::npos;) s.replace(at, 4, quoted(checkpoint()));
      for (std::size_t at; (at = s.find("{DIR}")) != std::string::npos;) s.replace(at, 5, dir_.path().string());
      return s;
    };
    const CliRun run = run_cli(fill(c.args));
    EXPECT_EQ(run.code, c.code) << c.args << "\n" << run.err;
    EXPECT_EQ(line_count(run.err), 1u) << c.args << "\n" << run.err;
    std::string culprit = c.culprit;
    for (std::size_t at; (at = culprit.find("{DIR}")) != std::string::npos;)
      culprit.replace(at, 5, dir_.path().string());
    EXPECT_NE(run.err.find(culprit), std::string::npos) << c.args << "\n" << run.err;
    EXPECT_EQ(run.out, "") << c.args;
    EXPECT_EQ(files(), before) << c.args;
    EXPECT_TRUE(fs::is_empty(dir_ / "sub")) << c.args;
  }
}

}  // namespace
