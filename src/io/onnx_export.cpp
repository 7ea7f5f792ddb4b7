// ONNX export with Debian's ONNX library: the graph is built as onnx::ModelProto (the protobuf classes generated
// from onnx.proto), serialized by protobuf, and the written file is checked by onnx::checker before it replaces
// the target. Each layer kind maps to one small function that adds its operator(s) to the graph.
// The model is exported as it runs in eval mode: BatchNorm with its running statistics, Dropout the identity.
#include <fmt/format.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>

#include <cerrno>
#include <cstdint>
#include <cstring>
#include <fstream>
#include <limits>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "mnist/error.hpp"
#include "mnist/onnx.hpp"
#include "mnist/version.hpp"
#include "util/files.hpp"

namespace mnist {
namespace {

// Protobuf refuses to serialize a message over 2 GiB; the tensors are nearly all of a model's bytes, so a model
// whose parameters exceed this (less room for the graph) is refused before anything is built.
constexpr std::size_t kMaxTensorBytes = (std::size_t{1} << 31) - (std::size_t{1} << 24);

// A value flowing through the graph: its name and its shape per sample (the batch dimension N left out): [C, H, W]
// for images and feature maps, [F] for features.
struct Value {
  std::string name;
  std::vector<std::int64_t> shape;
};

std::int64_t elements(const std::vector<std::int64_t>& shape) {
  std::int64_t n = 1;
  for (std::int64_t d : shape) n *= d;
  return n;
}

std::string shape_text(const std::vector<std::int64_t>& shape) {
  std::string text = "[N";
  for (std::int64_t d : shape) text += ", " + std::to_string(d);
  return text + "]";
}

// The graph under construction and the model's tensors by state-dict name, to be added as initializers.
class GraphWriter {
 public:
  // Parameters and float buffers (BatchNorm's running statistics) lie in two flat buffers, each in state-dict
  // order; the int64 buffers (num_batches_tracked) play no part in inference.
  GraphWriter(onnx::GraphProto& graph, const Model& model) : graph_(graph) {
    std::size_t parameter_offset = 0, buffer_offset = 0;
    for (const StateEntry& entry : model.state_entries()) {
      if (entry.int64) continue;
      const std::span<const float> flat = entry.parameter ? model.parameters() : model.buffers();
      std::size_t& offset = entry.parameter ? parameter_offset : buffer_offset;
      std::size_t n = 1;
      for (std::size_t d : entry.shape) n *= d;
      if (offset + n > flat.size()) throw Error("the model's tensors are shorter than its layers need");
      tensors_[entry.name] = {entry.shape, flat.subspan(offset, n)};
      offset += n;
    }
  }

  // A node name not used before: the layer's own name when it is free ("layer1"), else name_<index>.
  std::string node_name(const std::string& name, std::size_t index) {
    std::string candidate = name.empty() ? "layer" : name;
    if (used_names_.count(candidate)) candidate += "_" + std::to_string(index);
    used_names_.insert(candidate);
    return candidate;
  }

  // Adds a node computing output from inputs; its attributes are set by the caller on the returned node.
  onnx::NodeProto& node(const std::string& op_type, const std::string& name, const std::vector<std::string>& inputs,
                        const std::string& output) {
    onnx::NodeProto& n = *graph_.add_node();
    n.set_op_type(op_type);
    n.set_name(name);
    for (const std::string& input : inputs) n.add_input(input);
    n.add_output(output);
    return n;
  }

  // Adds the model's tensor key ("layer1.weight") as an initializer of that name; returns the name.
  const std::string& initializer(const std::string& key) {
    const auto it = tensors_.find(key);
    if (it == tensors_.end()) throw Error("the model has no tensor '" + key + "'");
    const auto& [shape, data] = it->second;
    onnx::TensorProto& t = *graph_.add_initializer();
    t.set_name(key);
    t.set_data_type(onnx::TensorProto::FLOAT);
    for (std::size_t d : shape) t.add_dims(static_cast<std::int64_t>(d));
    // raw_data is little-endian float32, as the machines this builds on store floats.
    static_assert(std::numeric_limits<float>::is_iec559);
    t.set_raw_data(data.data(), data.size_bytes());
    return it->first;
  }

 private:
  onnx::GraphProto& graph_;
  std::map<std::string, std::pair<Shape, std::span<const float>>> tensors_;
  std::set<std::string> used_names_;
};

void set_int(onnx::NodeProto& node, const std::string& name, std::int64_t value) {
  onnx::AttributeProto& a = *node.add_attribute();
  a.set_name(name);
  a.set_type(onnx::AttributeProto::INT);
  a.set_i(value);
}

void set_ints(onnx::NodeProto& node, const std::string& name, const std::vector<std::int64_t>& values) {
  onnx::AttributeProto& a = *node.add_attribute();
  a.set_name(name);
  a.set_type(onnx::AttributeProto::INTS);
  for (std::int64_t v : values) a.add_ints(v);
}

void set_float(onnx::NodeProto& node, const std::string& name, float value) {
  onnx::AttributeProto& a = *node.add_attribute();
  a.set_name(name);
  a.set_type(onnx::AttributeProto::FLOAT);
  a.set_f(value);
}

std::vector<std::int64_t> dims_of(const Shape& shape) { return {shape.begin(), shape.end()}; }

// --- One function per layer kind: the nodes computing layer from in, the result named out. ---

// [N, C, H, W] -> [N, C*H*W], as torch.nn.Flatten does.
Value flatten(GraphWriter& g, const std::string& name, const Value& in, const std::string& out) {
  set_int(g.node("Flatten", name, {in.name}, out), "axis", 1);
  return {out, {elements(in.shape)}};
}

// y = x W^T + b: Gemm with transB = 1 keeps PyTorch's [out, in] weight as it is.
Value linear(GraphWriter& g, const LayerSpec& layer, const std::string& name, const Value& in,
             const std::string& out) {
  if (in.shape.size() != 1 || in.shape[0] != static_cast<std::int64_t>(layer.in))
    throw Error(fmt::format("layer '{}' (Linear) takes {} features, but receives {}", layer.name, layer.in,
                            shape_text(in.shape)));
  onnx::NodeProto& node =
      g.node("Gemm", name, {in.name, g.initializer(layer.name + ".weight"), g.initializer(layer.name + ".bias")}, out);
  set_int(node, "transB", 1);
  return {out, {static_cast<std::int64_t>(layer.out)}};
}

Value relu(GraphWriter& g, const std::string& name, const Value& in, const std::string& out) {
  g.node("Relu", name, {in.name}, out);
  return {out, in.shape};
}

// torch.nn.Conv2d (groups 1, dilation 1, zero padding on every side): Conv with the weight [O, C, K, K] and the
// bias [O] as they are.
Value conv2d(GraphWriter& g, const LayerSpec& layer, const std::string& name, const Value& in,
             const std::string& out) {
  onnx::NodeProto& node =
      g.node("Conv", name, {in.name, g.initializer(layer.name + ".weight"), g.initializer(layer.name + ".bias")}, out);
  const auto k = static_cast<std::int64_t>(layer.kernel), s = static_cast<std::int64_t>(layer.stride),
             p = static_cast<std::int64_t>(layer.padding);
  set_ints(node, "kernel_shape", {k, k});
  set_ints(node, "strides", {s, s});
  set_ints(node, "pads", {p, p, p, p});  // begin H, begin W, end H, end W
  return {out, dims_of(layer.out_shape)};
}

// MaxPool2d / AvgPool2d (no padding, floor of the window count as PyTorch's default): MaxPool / AveragePool.
Value pool2d(GraphWriter& g, const std::string& op_type, const LayerSpec& layer, const std::string& name,
             const Value& in, const std::string& out) {
  onnx::NodeProto& node = g.node(op_type, name, {in.name}, out);
  const auto k = static_cast<std::int64_t>(layer.kernel), s = static_cast<std::int64_t>(layer.stride);
  set_ints(node, "kernel_shape", {k, k});
  set_ints(node, "strides", {s, s});
  return {out, dims_of(layer.out_shape)};
}

// BatchNorm2d in eval mode: BatchNormalization in its inference form, normalising with the running statistics
// (eps 1e-5, as the layer and PyTorch use).
Value batchnorm2d(GraphWriter& g, const LayerSpec& layer, const std::string& name, const Value& in,
                  const std::string& out) {
  const std::string& key = layer.name;
  onnx::NodeProto& node = g.node("BatchNormalization", name,
                                 {in.name, g.initializer(key + ".weight"), g.initializer(key + ".bias"),
                                  g.initializer(key + ".running_mean"), g.initializer(key + ".running_var")},
                                 out);
  set_float(node, "epsilon", 1e-5f);
  return {out, in.shape};
}

// Dropout is the identity at inference (evaluate and predict run the model in eval mode).
Value identity(GraphWriter& g, const std::string& name, const Value& in, const std::string& out) {
  g.node("Identity", name, {in.name}, out);
  return {out, in.shape};
}

// The kinds this exporter writes; the switch has no default, so that the compiler names a kind added to LayerSpec
// and not handled here (-Wswitch), and a value outside the enum is refused naming the layer.
Value export_layer(GraphWriter& g, const LayerSpec& layer, std::size_t index, const std::string& name,
                   const Value& in, const std::string& out) {
  using K = LayerSpec::Kind;
  if (layer.kind == K::Linear && in.shape.size() > 1) {  // an MLP's first layer: the image flattened first
    const Value flat = flatten(g, name + "_flatten", in, name + "_flat");
    return linear(g, layer, name, flat, out);
  }
  // Every other layer receives what its spec says (a mismatch would be a graph the runtimes refuse).
  if (!layer.in_shape.empty() && in.shape != dims_of(layer.in_shape))
    throw Error(fmt::format("layer {} ('{}') takes {}, but receives {}", index, layer.name,
                            shape_text(dims_of(layer.in_shape)), shape_text(in.shape)));
  switch (layer.kind) {
    case K::Linear: return linear(g, layer, name, in, out);
    case K::ReLU: return relu(g, name, in, out);
    case K::Conv2d: return conv2d(g, layer, name, in, out);
    case K::MaxPool2d: return pool2d(g, "MaxPool", layer, name, in, out);
    case K::AvgPool2d: return pool2d(g, "AveragePool", layer, name, in, out);
    case K::BatchNorm2d: return batchnorm2d(g, layer, name, in, out);
    case K::Dropout: return identity(g, name, in, out);
    case K::Flatten: return flatten(g, name, in, out);
  }
  throw Error(fmt::format("layer {} ('{}') is of a kind the ONNX exporter does not know (kind {})", index,
                          layer.name, static_cast<int>(layer.kind)));
}

void add_float_tensor(onnx::ValueInfoProto& info, const std::string& name, const std::vector<std::int64_t>& shape) {
  info.set_name(name);
  onnx::TypeProto_Tensor& tensor = *info.mutable_type()->mutable_tensor_type();
  tensor.set_elem_type(onnx::TensorProto::FLOAT);
  onnx::TensorShapeProto& dims = *tensor.mutable_shape();
  dims.add_dim()->set_dim_param("N");  // the batch: any size
  for (std::int64_t d : shape) dims.add_dim()->set_dim_value(d);
}

void add_metadata(onnx::ModelProto& proto, const std::string& key, const std::string& value) {
  onnx::StringStringEntryProto& entry = *proto.add_metadata_props();
  entry.set_key(key);
  entry.set_value(value);
}

onnx::ModelProto build_model(const Model& model, const OnnxExportOptions& options) {
  if (model.layers().empty()) throw Error("the model has no layers");
  // The model takes [1, H, W] images (a conv net) or H·W features (an MLP, fed the image flattened).
  const std::size_t pixels = options.height * options.width;
  const Shape input = model.input_shape();
  if (options.height == 0 || options.width == 0 || model.input_size() != pixels ||
      (input.size() == 3 && input != Shape{1, options.height, options.width}))
    throw Error(fmt::format("the model takes {} inputs, not {}x{} images", model.input_size(), options.height,
                            options.width));
  if (!options.classes.empty() && options.classes.size() != model.num_classes())
    throw Error(fmt::format("{} class names for a model of {} outputs", options.classes.size(),
                            model.num_classes()));
  if (model.parameters().size() > kMaxTensorBytes / sizeof(float))
    throw Error(fmt::format("the model's {} parameters exceed what one ONNX file holds (2 GiB)",
                            model.parameters().size()));

  onnx::ModelProto proto;
  proto.set_ir_version(onnx::IR_VERSION);
  proto.set_producer_name("mnist");
  proto.set_producer_version(version());
  proto.set_doc_string("An image classifier trained with mnist. input: [N, 1, H, W] float32, pixels / 255; "
                       "outputs: logits and probabilities (softmax) [N, classes].");
  onnx::OperatorSetIdProto& opset = *proto.add_opset_import();
  opset.set_domain("");
  opset.set_version(kOnnxOpset);
  add_metadata(proto, "spec", model.spec());
  add_metadata(proto, "dataset", options.dataset);
  add_metadata(proto, "classes", nlohmann::json(options.classes).dump());
  add_metadata(proto, "input_shape", fmt::format("[1, {}, {}]", options.height, options.width));
  add_metadata(proto, "pixel_scaling", "x / 255");

  onnx::GraphProto& graph = *proto.mutable_graph();
  graph.set_name(model.spec().empty() ? "mnist" : model.spec());
  GraphWriter g(graph, model);
  const std::vector<std::int64_t> image = {1, static_cast<std::int64_t>(options.height),
                                           static_cast<std::int64_t>(options.width)};
  add_float_tensor(*graph.add_input(), "input", image);
  Value value{"input", image};
  const std::vector<LayerSpec>& layers = model.layers();
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const std::string name = g.node_name(layers[i].name, i);
    value = export_layer(g, layers[i], i, name, value, i + 1 == layers.size() ? "logits" : name + "_out");
  }
  if (value.shape != std::vector<std::int64_t>{static_cast<std::int64_t>(model.num_classes())})
    throw Error(fmt::format("the model's last layer gives {}, not [N, {}]", shape_text(value.shape),
                            model.num_classes()));
  set_int(g.node("Softmax", "softmax", {"logits"}, "probabilities"), "axis", 1);
  add_float_tensor(*graph.add_output(), "logits", value.shape);
  add_float_tensor(*graph.add_output(), "probabilities", value.shape);
  return proto;
}

std::string one_line(std::string text) {
  for (char& c : text)
    if (c == '\n' || c == '\r') c = ' ';
  while (!text.empty() && text.back() == ' ') text.pop_back();
  return text;
}

}  // namespace

bool onnx_export_supported() { return true; }

void export_onnx(const std::filesystem::path& path, const Model& model, const OnnxExportOptions& options) {
  GOOGLE_PROTOBUF_VERIFY_VERSION;
  const onnx::ModelProto proto = build_model(model, options);
  util::replace_file_atomically(path, [&](const std::filesystem::path& temp) {
    {
      std::ofstream out(temp, std::ios::binary | std::ios::trunc);
      if (!out || !proto.SerializeToOstream(&out) || !out.flush())
        throw Error(path.string() + ": cannot write the ONNX file: " + std::strerror(errno));
    }
    try {
      onnx::checker::check_model(temp.string());  // the file as written, read back
    } catch (const std::exception& e) {
      throw Error(path.string() + ": the ONNX checker refuses the exported graph: " + one_line(e.what()));
    }
  });
}

}  // namespace mnist
