// mnist export: a trained model as an ONNX file, for the runtimes people deploy with (onnxruntime, OpenCV's dnn).
// The graph's contract is in include/mnist/onnx.hpp; the CLI reads the checkpoint, chooses the output name and
// reports what it wrote.
#include <fmt/format.h>

#include <filesystem>
#include <memory>
#include <string>

#include "commands.hpp"
#include "mnist/checkpoint.hpp"
#include "mnist/error.hpp"
#include "mnist/onnx.hpp"
#include "model_data.hpp"
#include "output_path.hpp"

namespace mnist::cli {
namespace {

struct ExportOptions {
  std::string model_path;  // MODEL
  std::string model_spec;  // --model, for a checkpoint without metadata
  std::string output;      // -o; default: MODEL with the extension .onnx
  bool model_spec_given = false, output_given = false;
};

void run_export(const ExportOptions& options) {
  if (!onnx_export_supported())
    throw Error("this mnist was built without ONNX export; install Debian's libonnx-dev and libprotobuf-dev "
                "(scripts/setup.sh does) and build again");
  if (options.model_spec_given && options.model_spec.empty()) throw UsageError("--model: the spec is empty");
  const std::string output = options.output_given
                                 ? options.output
                                 : std::filesystem::path(options.model_path).replace_extension(".onnx").string();
  check_output_path("-o", output);
  check_not_input("-o", output, options.model_path);

  const Checkpoint checkpoint = load_model_file(options.model_path, options.model_spec);
  const ImageShape shape = model_image_shape(checkpoint, options.model_path);
  OnnxExportOptions onnx;
  onnx.height = shape.rows;
  onnx.width = shape.cols;
  onnx.dataset = checkpoint.dataset;
  onnx.classes = checkpoint.classes;
  try {
    export_onnx(output, checkpoint.model, onnx);
  } catch (const Error& e) {
    // The library names the output file; a fault of the model itself is the checkpoint's: name that too.
    const std::string what = e.what();
    throw Error(what.rfind(output, 0) == 0 ? what : options.model_path + ": " + what);
  }
  const std::size_t classes = checkpoint.model.num_classes();
  fmt::print("wrote {} ({}, {} parameters, ONNX opset {})\n", output, checkpoint.model.spec(),
             checkpoint.model.parameters().size(), kOnnxOpset);
  fmt::print("  input          float32 [N, 1, {}, {}]  pixels / 255\n", shape.rows, shape.cols);
  fmt::print("  logits         float32 [N, {}]\n", classes);
  fmt::print("  probabilities  float32 [N, {}]  softmax of the logits\n", classes);
}

}  // namespace

void register_export(CLI::App& app) {
  auto options = std::make_shared<ExportOptions>();
  CLI::App* command = app.add_subcommand(
      "export", "Export a trained model as an ONNX file (for onnxruntime, OpenCV's dnn and other ONNX runtimes)");
  command->add_option("MODEL", options->model_path,
                      "Checkpoint (.safetensors) written by mnist train, or PyTorch parameters with --model")
      ->required()
      ->type_name("MODEL.safetensors");
  CLI::Option* model = command->add_option(
      "--model", options->model_spec,
      "Architecture of a checkpoint without metadata (a preset or a spec (MLP or conv) such as 784-32-relu-10 or "
      "1x28x28-conv8k5-relu-maxpool2-flatten-10)");
  model->type_name("SPEC");
  CLI::Option* output =
      command->add_option("-o,--output", options->output, "The ONNX file to write (default: MODEL with .onnx)")
          ->type_name("FILE.onnx");
  command->callback([options, model, output] {
    options->model_spec_given = model->count() > 0;
    options->output_given = output->count() > 0;
    run_export(*options);
  });
}

}  // namespace mnist::cli
