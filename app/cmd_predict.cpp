// mnist predict: what a trained model says about images: for each input the class probabilities (printed as the
// tutorial's PyTorch prints them), the predicted class and its name, (-o) a figure of the input(s) titled with
// the prediction, and (--json) all of it for scripts, probabilities at full float precision. Inputs are PNG/JPEG
// files, made MNIST-like unless --no-preprocess, or images of a split (--index).
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <span>
#include <string>
#include <vector>

#include "commands.hpp"
#include "common_options.hpp"
#include "mnist/checkpoint.hpp"
#include "mnist/datasets.hpp"
#include "mnist/error.hpp"
#include "mnist/image.hpp"
#include "mnist/plot.hpp"
#include "model_data.hpp"
#include "output_path.hpp"
#include "tensor_format.hpp"
#include "util/files.hpp"

namespace mnist::cli {
namespace {

constexpr std::size_t kMaxFigureImages = 400;  // plot_image_grid's limit

struct PredictOptions : CheckpointOptions {  // MODEL, --model, the data options
  std::vector<std::string> images;
  std::vector<std::size_t> indices;
  std::string split = "test";
  std::string output;
  std::string json;  // --json FILE, "-" for stdout
  bool no_preprocess = false;
  bool output_given = false, json_given = false;  // given, even if empty
  bool json_to_stdout() const { return json_given && json == "-"; }
};

// One input, ready for the model: pixels [rows * cols], and how to name it.
struct Input {
  std::string name;         // "digit.png" or "#12 (test split)"
  std::vector<std::uint8_t> pixels;
  int label = -1;           // the true label, for --index
  std::size_t index = 0;    // the image's index in the split, for --index
};

std::vector<Input> read_image_inputs(const PredictOptions& options, const ImageShape& shape) {
  if (!options.no_preprocess && (shape.rows != 28 || shape.cols != 28))
    throw Error(fmt::format("{}: the model takes {}x{} images, but preprocessing makes 28x28 ones; pass "
                            "--no-preprocess with {}x{} images",
                            options.model_path, shape.rows, shape.cols, shape.rows, shape.cols));
  std::vector<Input> inputs;
  for (const std::string& path : options.images) {
    GrayImage image = read_image(path);
    if (options.no_preprocess) {
      if (image.height != shape.rows || image.width != shape.cols)
        throw Error(fmt::format("{}: the image is {}x{} (width x height); --no-preprocess needs {}x{}, or drop "
                                "--no-preprocess to fit the digit into 28x28",
                                path, image.width, image.height, shape.cols, shape.rows));
    } else {
      try {
        image = preprocess_digit(image);
      } catch (const Error& e) {
        const std::string what = e.what();
        throw Error(what.rfind(path, 0) == 0 ? what : path + ": " + what);
      }
    }
    inputs.push_back({path, std::move(image.pixels), -1, 0});
  }
  return inputs;
}

std::vector<Input> read_dataset_inputs(const PredictOptions& options, const Checkpoint& checkpoint,
                                       ImageShape& shape) {
  const Dataset data =
      load_dataset(data_options_for(checkpoint, options), options.split == "train" ? Split::Train : Split::Test);
  for (std::size_t index : options.indices)
    if (index >= data.size())
      throw UsageError(fmt::format("--index {} is out of range: the {} split has {} images (0 to {})", index,
                                   options.split, data.size(), data.size() == 0 ? 0 : data.size() - 1));
  check_model_fits(checkpoint, options.model_path, data);
  shape = {data.rows(), data.cols()};
  std::vector<Input> inputs;
  for (std::size_t index : options.indices) {
    Sample sample = data[index];
    inputs.push_back({fmt::format("#{} ({} split)", index, options.split),
                      std::vector<std::uint8_t>(sample.image.begin(), sample.image.end()), sample.label, index});
  }
  return inputs;
}

// A float as the shortest text that reads back as the same float (fmt's shortest round-trip form, e.g. 0.12345679
// or 1.2e-08): a double's 17 digits would claim a precision the model does not have. JSON has no NaN or infinity:
// those (a model with non-finite weights) are null.
std::string json_float(float value) { return std::isfinite(value) ? fmt::format("{}", value) : "null"; }

// The JSON array: one object per input, in order. Written by hand around fmt's float form (nlohmann would print the
// double nearest each float with 17 digits); strings go through nlohmann for their escaping.
std::string predictions_json(const std::vector<Input>& inputs, const Tensor& probs, std::size_t classes,
                             const std::vector<std::string>& class_names, const std::string& split) {
  std::string text = "[";
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    std::span<const float> row(probs.data() + i * classes, classes);
    const auto best = static_cast<std::size_t>(std::max_element(row.begin(), row.end()) - row.begin());
    text += i == 0 ? "\n" : ",\n";
    text += "  {\"source\": " + nlohmann::json(inputs[i].name).dump();
    if (inputs[i].label >= 0)
      text += fmt::format(", \"split\": {}, \"index\": {}, \"label\": {}", nlohmann::json(split).dump(),
                          inputs[i].index, inputs[i].label);
    text += fmt::format(", \"predicted\": {}, \"class\": {}, \"probabilities\": [", best,
                        nlohmann::json(class_name(class_names, best)).dump());
    for (std::size_t c = 0; c < classes; ++c) text += (c ? ", " : "") + json_float(row[c]);
    text += "]}";
  }
  text += inputs.empty() ? "]\n" : "\n]\n";
  return text;
}

void write_json(const std::string& path, const std::string& text) {
  if (path == "-") {
    if (std::fwrite(text.data(), 1, text.size(), stdout) != text.size() || std::fflush(stdout) != 0)
      throw Error("--json -: cannot write to the standard output");
    return;
  }
  util::write_file_atomically(path, std::span(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
}

void run_predict(const PredictOptions& options) {
  if (options.images.empty() == options.indices.empty())
    throw UsageError(options.images.empty() ? "give IMAGE files or --index N (images of the --split)"
                                            : "give either IMAGE files or --index N, not both");
  const std::size_t count = options.images.size() + options.indices.size();
  if (options.model_spec_given() && options.model_spec.empty()) throw UsageError("--model: the spec is empty");
  if (options.output_given) {
    if (count > kMaxFigureImages)
      throw UsageError(fmt::format("-o draws at most {} images in one figure, {} given", kMaxFigureImages, count));
    check_output_path("-o", options.output);
    check_not_input("-o", options.output, options.model_path);
    for (const std::string& image : options.images) check_not_input("-o", options.output, image);
  }
  if (options.json_given && !options.json_to_stdout()) {
    check_output_path("--json", options.json);
    check_not_input("--json", options.json, options.model_path);
    for (const std::string& image : options.images) check_not_input("--json", options.json, image);
    if (options.output_given) check_distinct_outputs("-o", options.output, "--json", options.json);
  }

  Checkpoint checkpoint = load_model_file(options.model_path, options.model_spec);
  ImageShape shape{};
  std::vector<Input> inputs;
  if (options.indices.empty()) {
    shape = model_image_shape(checkpoint, options.model_path);
    inputs = read_image_inputs(options, shape);
  } else {
    inputs = read_dataset_inputs(options, checkpoint, shape);
  }

  // Every input is read before anything is printed: a bad file among many is reported before any output.
  const std::size_t dim = shape.rows * shape.cols;
  std::vector<float> x(inputs.size() * dim);  // [inputs, rows * cols] pixels / 255, as in training
  for (std::size_t i = 0; i < inputs.size(); ++i)
    std::transform(inputs[i].pixels.begin(), inputs[i].pixels.end(), x.begin() + static_cast<std::ptrdiff_t>(i * dim),
                   [](std::uint8_t v) { return static_cast<float>(v) / 255.0f; });
  const Tensor probs = checkpoint.model.predict_proba(x, inputs.size());  // [inputs, classes]
  const std::size_t classes = checkpoint.model.num_classes();
  // A bare PyTorch file names no classes: --dataset (a built-in one) can.
  if (!checkpoint.metadata.contains("classes") && options.dataset_given() && options.common.data.dataset != "custom" &&
      dataset_info(options.common.data.dataset).classes.size() == classes)
    checkpoint.classes = dataset_info(options.common.data.dataset).classes;

  // With --json -, standard output holds the JSON alone (the text report would make it unreadable to a parser).
  const bool report = !options.json_to_stdout();
  std::vector<std::string> titles;
  for (std::size_t i = 0; i < inputs.size(); ++i) {
    std::span<const float> row(probs.data() + i * classes, classes);
    const auto best = static_cast<std::size_t>(std::max_element(row.begin(), row.end()) - row.begin());
    titles.push_back("Predicted: " + class_name(checkpoint.classes, best));
    if (!report) continue;
    if (i > 0) fmt::print("\n");
    if (inputs[i].label >= 0)
      fmt::print("{}, label {}\n", inputs[i].name,
                 class_label(checkpoint.classes, static_cast<std::size_t>(inputs[i].label)));
    else
      fmt::print("{}\n", inputs[i].name);
    fmt::print("{}\n", torch_style_row(row));
    fmt::print("Predicted: {} (probability {:.4f})\n", class_label(checkpoint.classes, best), row[best]);
  }

  if (options.output_given) {
    if (inputs.size() == 1) {
      plot_image(options.output, inputs[0].pixels, shape.rows, shape.cols, titles[0]);
    } else {
      std::vector<std::span<const std::uint8_t>> images;
      for (const Input& input : inputs) images.emplace_back(input.pixels);
      plot_image_grid(options.output, images, shape.rows, shape.cols, titles);
    }
    if (report) fmt::print("wrote {}\n", options.output);
  }
  if (options.json_given) {
    write_json(options.json, predictions_json(inputs, probs, classes, checkpoint.classes, options.split));
    if (report) fmt::print("wrote {}\n", options.json);
  }
}

}  // namespace

void register_predict(CLI::App& app) {
  auto options = std::make_shared<PredictOptions>();
  CLI::App* command = app.add_subcommand(
      "predict", "Predict the class of images (PNG/JPEG files, or --index N of a split) with a trained model");
  add_checkpoint_options(*command, *options);  // MODEL first: the positional arguments are MODEL IMAGE...
  command->add_option("IMAGE", options->images,
                      "PNG or JPEG images of one digit/item each, any size (made MNIST-like unless --no-preprocess)")
      ->type_name("IMAGE");
  const CLI::Validator whole_number = whole_number_validator("an image index");
  command->add_option("--index", options->indices, "Predict image(s) N of the split instead of files (one or more)")
      ->type_name("N")
      ->check(whole_number);
  command->add_option("--split", options->split, "Which split --index reads: test or train")
      ->check(CLI::IsMember({"train", "test"}))
      ->type_name("SPLIT")
      ->capture_default_str();
  command->add_option("-o,--output", options->output,
                      "Write a PNG figure of the (preprocessed) input(s) titled with the prediction (a grid for several)")
      ->type_name("FILE.png");
  command->add_option("--json", options->json,
                      "Write the predictions as a JSON array (source, predicted, class, probabilities at full float "
                      "precision); - for the standard output, which then holds the JSON alone")
      ->type_name("FILE");
  command->add_flag("--no-preprocess", options->no_preprocess,
                    "Feed IMAGE as it is (it must have the model's size, 28x28; white digit on black)");
  CLI::Option* output = command->get_option("--output");
  CLI::Option* json = command->get_option("--json");
  command->callback([options, output, json] {
    options->output_given = output->count() > 0;
    options->json_given = json->count() > 0;
    run_predict(*options);
  });
}

}  // namespace mnist::cli
