#include "mnist/checkpoint.hpp"

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <string>

#include "mnist/error.hpp"
#include "mnist/safetensors.hpp"

namespace mnist {
namespace {

using json = nlohmann::json;

// Resume-state keys: prefixed so that they never collide with the caller's run settings.
constexpr const char* kResumeFormat = "mnist-resume/1";
constexpr const char* kStepsTensor = "optimizer.steps";

// "layer12" -> 12; 0 when name is not "layer<digits>".
std::size_t layer_number(const std::string& module) {
  if (module.size() <= 5 || module.compare(0, 5, "layer") != 0) return 0;
  if (module.find_first_not_of("0123456789", 5) != std::string::npos || module.size() > 12) return 0;
  return std::stoul(module.substr(5));
}

// The architecture of a file without "model" metadata, from its tensor names and shapes.
std::string infer_spec(const SafetensorsFile& file) {
  const std::string& src = file.source();
  if (file.contains("linear.weight")) return "logistic";
  std::map<std::size_t, Shape> weights;  // layer number -> weight shape [out, in]
  for (const TensorEntry& t : file.tensors()) {
    const std::size_t dot = t.name.find('.');
    if (dot == std::string::npos) continue;
    const std::size_t k = layer_number(t.name.substr(0, dot));
    if (k > 0 && t.name.substr(dot + 1) == "weight") weights[k] = t.shape;
  }
  if (weights.empty())
    throw Error(src + ": no \"model\" metadata and no tensors named linear.* or layer1.* - cannot tell the "
                      "architecture; give the model spec (--model SPEC)");
  std::string widths;
  std::size_t expect = 1;
  for (const auto& [k, shape] : weights) {
    if (k != expect || shape.size() != 2)
      throw Error(src + ": tensor 'layer" + std::to_string(k) + ".weight' does not continue layer1..layer" +
                  std::to_string(expect - 1) + " as a 2-D weight; give the model spec (--model SPEC)");
    if (shape[0] == 0 || shape[1] == 0)
      throw Error(src + ": tensor 'layer" + std::to_string(k) + ".weight' has shape " + shape_string(shape) +
                  ": a layer of width 0 makes no model");
    if (k == 1) widths = std::to_string(shape[1]);
    widths += "-" + std::to_string(shape[0]);
    ++expect;
  }
  if (weights.size() == 1) return widths;  // one Linear layer: no place for a ReLU, the spec is certain
  throw Error(src + ": no \"model\" metadata; its tensors layer1..layer" + std::to_string(weights.size()) +
              " have the shapes of " + widths +
              ", but a ReLU leaves no tensor, so hidden and hidden-relu (any MLP with or without ReLUs) cannot be "
              "told apart: give the model spec (--model hidden-relu, --model " + widths + ", ...)");
}

// text on one line of at most max characters: control characters become '?'.
std::string printable(std::string text, std::size_t max) {
  if (text.size() > max) text = text.substr(0, max) + "...";
  for (char& c : text)
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7f) c = '?';
  return text;
}

// The spec parsed into layers; a bad spec is an Error naming where it came from (source, e.g. the file's metadata):
// the file is at fault, not the caller. The spec's message quotes it, and a file can hold any string.
std::vector<LayerSpec> layers_from(const std::string& spec, const std::string& source) {
  try {
    return parse_model_spec(spec);
  } catch (const UsageError& e) {
    throw Error(source + " is not a valid model spec: " + printable(e.what(), 600));
  }
}

// The architecture of the checkpoint whose header is given (see load_checkpoint), checked against its tensors
// (names, F32, shapes and so byte sizes) without building it: make_model allocates what the spec says.
std::string checked_spec(const SafetensorsFile& header, const std::string& model_spec_if_missing) {
  const std::string& src = header.source();
  const auto recorded = header.metadata().find("model");
  std::string spec;
  std::vector<LayerSpec> layers;
  if (recorded != header.metadata().end()) {
    spec = recorded->second;
    layers = layers_from(spec, src + ": metadata \"model\"");
  } else if (!model_spec_if_missing.empty()) {
    spec = model_spec_if_missing;
    layers = parse_model_spec(spec);  // UsageError: the caller's spec
  } else {
    spec = infer_spec(header);
    layers = layers_from(spec, src + ": no \"model\" metadata, and the architecture its tensors' shapes give");
  }
  check_state_dict(header, state_entries(layers), spec);
  return spec;
}

std::vector<std::string> parse_classes(const std::string& text, const std::string& src) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (!j.is_array() || j.empty())
    throw Error(src + ": metadata \"classes\" is not a non-empty JSON array of strings: " + text.substr(0, 80));
  std::vector<std::string> out;
  for (const json& c : j) {
    if (!c.is_string())
      throw Error(src + ": metadata \"classes\" is not a JSON array of strings: " + text.substr(0, 80));
    out.push_back(c.get<std::string>());
  }
  return out;
}

// Checks "input_shape" ("[1, 28, 28]") against the model's input width, so a mislabelled file is caught here.
void check_input_shape(const std::string& text, const Model& model, const std::string& src) {
  json j = json::parse(text, nullptr, false);
  std::size_t n = 1;
  bool ok = j.is_array() && !j.empty();
  if (ok)
    for (const json& d : j) {
      if (!d.is_number_unsigned() || d.get<std::uint64_t>() == 0 || d.get<std::uint64_t>() > 1'000'000) {
        ok = false;
        break;
      }
      n *= d.get<std::size_t>();
      if (n > 1'000'000'000) ok = false;
    }
  if (!ok) throw Error(src + ": metadata \"input_shape\" is not a shape like [1, 28, 28]: " + text.substr(0, 80));
  if (n != model.input_size())
    throw Error(src + ": metadata \"input_shape\" " + text + " has " + std::to_string(n) + " pixels but model " +
                model.spec() + " takes " + std::to_string(model.input_size()));
}

json stats_to_json(const EpochStats& s) {
  return {{"epoch", s.epoch},         {"train_loss", s.train_loss}, {"val_loss", s.val_loss},
          {"val_accuracy", s.val_accuracy}, {"val_correct", s.val_correct}, {"val_total", s.val_total},
          {"seconds", s.seconds}};
}

double number_or_nan(const json& j, const char* key) {
  const auto it = j.find(key);
  return it != j.end() && it->is_number() ? it->get<double>() : std::numeric_limits<double>::quiet_NaN();
}

EpochStats stats_from_json(const json& j, const std::string& src) {
  if (!j.is_object() || !j.contains("epoch") || !j["epoch"].is_number_unsigned() ||
      !j.contains("val_correct") || !j["val_correct"].is_number_unsigned() || !j.contains("val_total") ||
      !j["val_total"].is_number_unsigned())
    throw Error(src + ": metadata \"resume.history\" has a malformed epoch record");
  EpochStats s;
  s.epoch = j["epoch"].get<std::size_t>();
  s.train_loss = number_or_nan(j, "train_loss");
  s.val_loss = number_or_nan(j, "val_loss");
  s.val_accuracy = number_or_nan(j, "val_accuracy");
  s.val_correct = j["val_correct"].get<std::size_t>();
  s.val_total = j["val_total"].get<std::size_t>();
  s.seconds = number_or_nan(j, "seconds");
  return s;
}

std::size_t parse_count(const std::string& text, const std::string& what, const std::string& src) {
  if (text.empty() || text.size() > 18 || text.find_first_not_of("0123456789") != std::string::npos)
    throw Error(src + ": metadata \"" + what + "\" is not a whole number: " + text.substr(0, 40));
  return std::stoull(text);
}

}  // namespace

void save_checkpoint(const std::filesystem::path& path, Model& model,
                     const std::map<std::string, std::string>& metadata) {
  std::map<std::string, std::string> meta = metadata;
  meta["format"] = kCheckpointFormat;
  if (!model.spec().empty()) meta["model"] = model.spec();
  save_state_dict(path, model, meta);  // SafetensorsWriter::save writes atomically
}

Checkpoint load_checkpoint(const std::filesystem::path& path, const std::string& model_spec_if_missing) {
  // The spec is checked against the header's tensors before the tensors' bytes are read and before make_model
  // allocates what it says.
  std::string spec;
  const SafetensorsFile file = SafetensorsFile::read(
      path, [&](const SafetensorsFile& header) { spec = checked_spec(header, model_spec_if_missing); });
  const std::string& src = file.source();
  Checkpoint ck;
  ck.metadata = file.metadata();
  const auto meta = [&](const char* key) -> const std::string* {
    const auto it = ck.metadata.find(key);
    return it == ck.metadata.end() ? nullptr : &it->second;
  };
  ck.model = make_model(spec);
  load_state_dict(file, ck.model);
  if (const std::string* shape = meta("input_shape")) check_input_shape(*shape, ck.model, src);
  if (const std::string* classes = meta("classes")) {
    ck.classes = parse_classes(*classes, src);
    if (ck.classes.size() != ck.model.num_classes())
      throw Error(src + ": metadata \"classes\" names " + std::to_string(ck.classes.size()) +
                  " classes but the model has " + std::to_string(ck.model.num_classes()) + " outputs");
  } else {
    for (std::size_t c = 0; c < ck.model.num_classes(); ++c) ck.classes.push_back(std::to_string(c));
  }
  if (const std::string* dataset = meta("dataset")) ck.dataset = *dataset;
  return ck;
}

void check_checkpoint_holds(const std::filesystem::path& path, const std::string& spec,
                            const std::string& spec_source) {
  const std::vector<LayerSpec> layers = layers_from(spec, spec_source);
  check_state_dict(SafetensorsFile::read_header(path), state_entries(layers), spec);
}

void save_resume_state(const std::filesystem::path& path, Optimizer& optimizer, const ResumeState& state) {
  SafetensorsWriter w;
  const std::vector<std::int64_t> steps{static_cast<std::int64_t>(optimizer.steps())};
  w.add(kStepsTensor, Shape{1}, std::span<const std::int64_t>(steps));
  // Buffers not yet allocated (plain SGD keeps none) are left out and stay empty on load.
  for (const OptimizerState& s : optimizer.state())
    if (!s.values->empty()) w.add("optimizer." + s.name, Shape{s.values->size()}, std::span<const float>(*s.values));
  for (const auto& [k, v] : state.metadata) w.set_metadata(k, v);
  json history = json::array();
  for (const EpochStats& e : state.history) history.push_back(stats_to_json(e));
  w.set_metadata("resume.format", kResumeFormat);
  w.set_metadata("resume.optimizer", optimizer.name());
  w.set_metadata("resume.epochs_completed", std::to_string(state.epochs_completed));
  w.set_metadata("resume.history", history.dump());
  w.save(path);
}

ResumeState load_resume_state(const std::filesystem::path& path, const Model& model, Optimizer& optimizer) {
  const SafetensorsFile file = SafetensorsFile::read(path);
  const std::string& src = file.source();
  if (!file.metadata().count("resume.format") || file.metadata("resume.format") != kResumeFormat)
    throw Error(src + ": not a resume state (metadata \"resume.format\" is not " + kResumeFormat + ")");
  if (file.metadata("resume.optimizer") != optimizer.name())
    throw Error(src + ": the resume state is of optimizer " + file.metadata("resume.optimizer") + ", not " +
                optimizer.name());
  ResumeState r;
  r.metadata = file.metadata();
  r.epochs_completed = parse_count(file.metadata("resume.epochs_completed"), "resume.epochs_completed", src);
  const json history = json::parse(file.metadata("resume.history"), nullptr, false);
  if (!history.is_array()) throw Error(src + ": metadata \"resume.history\" is not a JSON array");
  for (const json& e : history) r.history.push_back(stats_from_json(e, src));
  if (r.history.size() != r.epochs_completed)
    throw Error(src + ": \"resume.history\" holds " + std::to_string(r.history.size()) + " epochs, not " +
                std::to_string(r.epochs_completed));

  const std::vector<std::int64_t> steps = file.to_int64(kStepsTensor);  // Error naming the file when absent
  if (steps.size() != 1 || steps[0] < 0) throw Error(src + ": tensor '" + std::string(kStepsTensor) + "' is not one count");
  const std::size_t n = model.parameters().size();
  std::set<std::string> known{kStepsTensor};
  for (const OptimizerState& s : optimizer.state()) {
    const std::string name = "optimizer." + s.name;
    known.insert(name);
    if (!file.contains(name)) continue;
    const TensorEntry& t = file.at(name);
    if (t.dtype != DType::F32 || t.shape != Shape{n})
      throw Error(src + ": tensor '" + name + "' is " + to_string(t.dtype) + " " + shape_string(t.shape) +
                  ", the model needs F32 [" + std::to_string(n) + "]");
  }
  for (const TensorEntry& t : file.tensors())
    if (!known.count(t.name)) throw Error(src + ": tensor '" + t.name + "' is not part of a " + optimizer.name() + " state");
  // Checked everything: now restore.
  for (const OptimizerState& s : optimizer.state()) {
    const std::string name = "optimizer." + s.name;
    if (!file.contains(name)) {
      s.values->clear();
      continue;
    }
    const Tensor t = file.to_tensor(name);
    s.values->assign(t.span().begin(), t.span().end());
  }
  optimizer.set_steps(static_cast<std::uint64_t>(steps[0]));
  return r;
}

}  // namespace mnist
