// export_onnx: the graph it writes, read back with the ONNX library's own protobuf classes, holds the contract of
// include/mnist/onnx.hpp (names, types, shapes, opset, metadata, one operator per layer, the parameters bit for
// bit), and computes what the model computes (a small interpreter of the few operators used, in double); refusals
// leave nothing behind. That other runtimes agree is checked by onnx_runtimes.sh.
#include <gtest/gtest.h>
#include <onnx/checker.h>
#include <onnx/onnx_pb.h>
#include <unistd.h>

#include <cmath>
#include <cstring>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <utility>

#include "mnist/error.hpp"
#include "mnist/onnx.hpp"
#include "support/test_support.hpp"

using namespace mnist;
using namespace mnist::testing;
namespace fs = std::filesystem;

namespace {

onnx::ModelProto read_model(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  onnx::ModelProto proto;
  EXPECT_TRUE(proto.ParseFromIstream(&in)) << path;
  return proto;
}

std::map<std::string, std::string> metadata(const onnx::ModelProto& proto) {
  std::map<std::string, std::string> out;
  for (const auto& entry : proto.metadata_props()) out[entry.key()] = entry.value();
  return out;
}

// "N,1,28,28" for a value's declared shape.
std::string dims(const onnx::ValueInfoProto& info) {
  std::string out;
  for (const auto& d : info.type().tensor_type().shape().dim())
    out += (out.empty() ? "" : ",") + (d.has_dim_param() ? d.dim_param() : std::to_string(d.dim_value()));
  return out;
}

std::int64_t int_attribute(const onnx::NodeProto& node, const std::string& name) {
  for (const auto& a : node.attribute())
    if (a.name() == name) return a.i();
  ADD_FAILURE() << node.op_type() << " has no attribute " << name;
  return -1;
}

// Runs the graph on x [N, features] with the operators the MLP exporter uses, in double.
struct Interpreter {
  std::map<std::string, std::vector<double>> values;
  std::map<std::string, std::vector<std::int64_t>> shapes;  // initializers' dims

  Interpreter(const onnx::ModelProto& proto, const std::vector<float>& x, std::size_t n, std::size_t features) {
    for (const auto& t : proto.graph().initializer()) {
      std::vector<float> data(t.raw_data().size() / sizeof(float));
      std::memcpy(data.data(), t.raw_data().data(), data.size() * sizeof(float));
      values[t.name()] = std::vector<double>(data.begin(), data.end());
      shapes[t.name()] = std::vector<std::int64_t>(t.dims().begin(), t.dims().end());
    }
    values["input"] = std::vector<double>(x.begin(), x.end());
    for (const auto& node : proto.graph().node()) {
      const std::vector<double>& in = values.at(node.input(0));
      std::vector<double> out;
      if (node.op_type() == "Flatten") {
        out = in;
      } else if (node.op_type() == "Relu") {
        for (double v : in) out.push_back(v > 0 ? v : 0);
      } else if (node.op_type() == "Gemm") {
        const std::vector<double>& w = values.at(node.input(1));
        const std::vector<double>& b = values.at(node.input(2));
        const auto rows = static_cast<std::size_t>(shapes.at(node.input(1))[0]);
        const auto cols = static_cast<std::size_t>(shapes.at(node.input(1))[1]);
        EXPECT_EQ(in.size(), n * cols);
        for (std::size_t i = 0; i < n; ++i)
          for (std::size_t o = 0; o < rows; ++o) {
            double s = b[o];
            for (std::size_t k = 0; k < cols; ++k) s += in[i * cols + k] * w[o * cols + k];
            out.push_back(s);
          }
      } else if (node.op_type() == "Softmax") {
        const std::size_t c = in.size() / n;
        for (std::size_t i = 0; i < n; ++i) {
          double m = in[i * c], sum = 0;
          for (std::size_t k = 0; k < c; ++k) m = std::max(m, in[i * c + k]);
          for (std::size_t k = 0; k < c; ++k) sum += std::exp(in[i * c + k] - m);
          for (std::size_t k = 0; k < c; ++k) out.push_back(std::exp(in[i * c + k] - m) / sum);
        }
      } else {
        ADD_FAILURE() << "unexpected operator " << node.op_type();
      }
      values[node.output(0)] = out;
    }
    (void)features;
  }
};

OnnxExportOptions fashion_options() {
  OnnxExportOptions options;
  options.dataset = "fashion-mnist";
  options.classes = {"T-shirt/top", "Trouser", "Pullover", "Dress", "Coat",
                     "Sandal",      "Shirt",   "Sneaker",  "Bag",   "Ankle boot"};
  return options;
}

std::size_t files_in(const fs::path& dir) {
  std::size_t n = 0;
  for ([[maybe_unused]] const auto& entry : fs::directory_iterator(dir)) ++n;
  return n;
}

TEST(OnnxExport, IsSupportedInThisBuild) { EXPECT_TRUE(onnx_export_supported()); }

TEST(OnnxExport, GraphHoldsTheContract) {
  TempDir dir;
  const fs::path path = dir / "model.onnx";
  const Model model = make_model("784-16-relu-12-relu-10", 3);
  export_onnx(path, model, fashion_options());
  const onnx::ModelProto proto = read_model(path);
  onnx::checker::check_model(proto);  // throws on an invalid graph

  ASSERT_EQ(proto.opset_import_size(), 1);
  EXPECT_EQ(proto.opset_import(0).domain(), "");
  EXPECT_EQ(proto.opset_import(0).version(), 13);
  const onnx::GraphProto& graph = proto.graph();
  ASSERT_EQ(graph.input_size(), 1);
  EXPECT_EQ(graph.input(0).name(), "input");
  EXPECT_EQ(graph.input(0).type().tensor_type().elem_type(), onnx::TensorProto::FLOAT);
  EXPECT_EQ(dims(graph.input(0)), "N,1,28,28");
  ASSERT_EQ(graph.output_size(), 2);
  EXPECT_EQ(graph.output(0).name(), "logits");
  EXPECT_EQ(graph.output(1).name(), "probabilities");
  EXPECT_EQ(dims(graph.output(0)), "N,10");
  EXPECT_EQ(dims(graph.output(1)), "N,10");

  std::vector<std::string> ops;
  for (const auto& node : graph.node()) ops.push_back(node.op_type());
  EXPECT_EQ(ops, (std::vector<std::string>{"Flatten", "Gemm", "Relu", "Gemm", "Relu", "Gemm", "Softmax"}));
  EXPECT_EQ(int_attribute(graph.node(0), "axis"), 1);
  EXPECT_EQ(int_attribute(graph.node(1), "transB"), 1);
  EXPECT_EQ(int_attribute(graph.node(6), "axis"), 1);
  std::set<std::string> node_names;
  for (const auto& node : graph.node()) EXPECT_TRUE(node_names.insert(node.name()).second) << node.name();

  const std::map<std::string, std::string> meta = metadata(proto);
  EXPECT_EQ(meta.at("spec"), "784-16-relu-12-relu-10");
  EXPECT_EQ(meta.at("dataset"), "fashion-mnist");
  EXPECT_EQ(nlohmann::json::parse(meta.at("classes")).get<std::vector<std::string>>(), fashion_options().classes);
  EXPECT_EQ(meta.at("input_shape"), "[1, 28, 28]");
  EXPECT_EQ(meta.at("pixel_scaling"), "x / 255");

  // Every parameter, under its state-dict name and shape, bit for bit.
  std::size_t offset = 0;
  ASSERT_EQ(graph.initializer_size(), 6);
  for (const auto& [name, shape] : model.parameter_shapes()) {
    const auto* found = &graph.initializer(0);
    for (const auto& t : graph.initializer())
      if (t.name() == name) found = &t;
    ASSERT_EQ(found->name(), name);
    EXPECT_EQ(std::vector<std::size_t>(found->dims().begin(), found->dims().end()), shape) << name;
    std::size_t n = 1;
    for (std::size_t d : shape) n *= d;
    ASSERT_EQ(found->raw_data().size(), n * sizeof(float)) << name;
    EXPECT_EQ(std::memcmp(found->raw_data().data(), model.parameters().data() + offset, n * sizeof(float)), 0)
        << name;
    offset += n;
  }
  EXPECT_EQ(offset, model.parameters().size());
}

std::vector<float> raw_floats(const onnx::TensorProto& t) {
  std::vector<float> data(t.raw_data().size() / sizeof(float));
  std::memcpy(data.data(), t.raw_data().data(), data.size() * sizeof(float));
  return data;
}

// Conv nets: one operator per layer with the layer's attributes, BatchNorm's running statistics as initializers.
TEST(OnnxExport, ConvNetLayersMapToTheirOperators) {
  TempDir dir;
  Model model = make_model("1x28x28-conv8k3s2p1-bn-relu-avgpool2-dropout0.2-conv4k3-relu-maxpool2-flatten-10", 4);
  for (std::size_t i = 0; i < model.buffers().size(); ++i) model.buffers()[i] = 0.5f + static_cast<float>(i);
  export_onnx(dir / "m.onnx", model, fashion_options());
  const onnx::ModelProto proto = read_model(dir / "m.onnx");
  onnx::checker::check_model(proto);
  const onnx::GraphProto& graph = proto.graph();
  std::vector<std::string> ops;
  for (const auto& node : graph.node()) ops.push_back(node.op_type());
  EXPECT_EQ(ops, (std::vector<std::string>{"Conv", "BatchNormalization", "Relu", "AveragePool", "Identity", "Conv",
                                           "Relu", "MaxPool", "Flatten", "Gemm", "Softmax"}));
  const auto ints = [](const onnx::NodeProto& node, const std::string& name) {
    for (const auto& a : node.attribute())
      if (a.name() == name) return std::vector<std::int64_t>(a.ints().begin(), a.ints().end());
    return std::vector<std::int64_t>{};
  };
  EXPECT_EQ(ints(graph.node(0), "kernel_shape"), (std::vector<std::int64_t>{3, 3}));
  EXPECT_EQ(ints(graph.node(0), "strides"), (std::vector<std::int64_t>{2, 2}));
  EXPECT_EQ(ints(graph.node(0), "pads"), (std::vector<std::int64_t>{1, 1, 1, 1}));
  EXPECT_EQ(ints(graph.node(3), "kernel_shape"), (std::vector<std::int64_t>{2, 2}));
  EXPECT_EQ(ints(graph.node(3), "strides"), (std::vector<std::int64_t>{2, 2}));
  EXPECT_EQ(ints(graph.node(5), "pads"), (std::vector<std::int64_t>{0, 0, 0, 0}));
  EXPECT_EQ(graph.node(1).input(3), "bn1.running_mean");
  EXPECT_EQ(graph.node(1).input(4), "bn1.running_var");
  EXPECT_FLOAT_EQ(graph.node(1).attribute(0).f(), 1e-5f);
  std::map<std::string, std::vector<float>> initializers;
  for (const auto& t : graph.initializer()) initializers[t.name()] = raw_floats(t);
  EXPECT_EQ(initializers.count("bn1.num_batches_tracked"), 0u);  // not needed to run the model
  const std::span<const float> buffers = std::as_const(model).buffers();
  ASSERT_EQ(buffers.size(), 16u);  // running_mean [8], running_var [8]
  EXPECT_EQ(initializers.at("bn1.running_mean"), std::vector<float>(buffers.begin(), buffers.begin() + 8));
  EXPECT_EQ(initializers.at("bn1.running_var"), std::vector<float>(buffers.begin() + 8, buffers.end()));
  EXPECT_EQ(dims(graph.input(0)), "N,1,28,28");
  EXPECT_EQ(dims(graph.output(1)), "N,10");
}

TEST(OnnxExport, ComputesWhatTheModelComputes) {
  TempDir dir;
  for (const std::string spec : {"logistic", "hidden", "hidden-relu", "784-24-relu-16-10"}) {
    Model model = make_model(spec, 7);
    export_onnx(dir / "m.onnx", model, fashion_options());
    const std::size_t n = 5;
    std::vector<float> x(n * 784);
    for (std::size_t i = 0; i < x.size(); ++i) x[i] = static_cast<float>((i * 7919) % 256) / 255.0f;
    const Tensor probs = model.predict_proba(x, n);
    const std::span<const float> logits = model.forward(x, n);
    const Interpreter run(read_model(dir / "m.onnx"), x, n, 784);
    ASSERT_EQ(run.values.at("logits").size(), n * 10) << spec;
    for (std::size_t k = 0; k < n * 10; ++k) {
      EXPECT_NEAR(run.values.at("logits")[k], logits[k], 1e-4) << spec << " logit " << k;
      EXPECT_NEAR(run.values.at("probabilities")[k], probs.data()[k], 1e-6) << spec << " probability " << k;
    }
  }
}

TEST(OnnxExport, ImageSizeComesFromTheOptions) {
  TempDir dir;
  OnnxExportOptions options;
  options.height = 16;
  options.width = 8;
  export_onnx(dir / "m.onnx", make_model("128-10", 0), options);
  const onnx::ModelProto proto = read_model(dir / "m.onnx");
  EXPECT_EQ(dims(proto.graph().input(0)), "N,1,16,8");
  EXPECT_EQ(metadata(proto).at("input_shape"), "[1, 16, 8]");
  EXPECT_EQ(metadata(proto).at("classes"), "[]");
}

// Every refusal: an Error with one line naming the problem, no file at the target, no temporary file beside it,
// and a file already there left as it was.
void expect_refused(const Model& model, const OnnxExportOptions& options, const std::string& expected) {
  TempDir dir;
  const fs::path path = dir / "model.onnx";
  write_file(path, {'o', 'l', 'd'});
  try {
    export_onnx(path, model, options);
    ADD_FAILURE() << "no error; expected one naming " << expected;
  } catch (const Error& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find(expected), std::string::npos) << what;
    EXPECT_EQ(what.find('\n'), std::string::npos) << what;
  }
  EXPECT_EQ(read_file(path), (std::vector<std::uint8_t>{'o', 'l', 'd'}));
  EXPECT_EQ(files_in(dir.path()), 1u);
}

TEST(OnnxExport, RefusesALayerKindItDoesNotKnow) {
  std::vector<LayerSpec> layers = parse_model_spec("784-10-10");
  layers.insert(layers.begin() + 1, layers[1]);  // a layer between the two Linear ones, 10 -> 10 ...
  layers[1].kind = static_cast<LayerSpec::Kind>(99);  // ... of no kind the exporter knows
  layers[1].name = "mystery";
  layers[1].in_shape = layers[1].out_shape = {10};
  const Model model(layers, 0, "custom");
  expect_refused(model, {}, "layer 1 ('mystery') is of a kind the ONNX exporter does not know");
}

TEST(OnnxExport, RefusesAModelThatDoesNotFitTheImages) {
  expect_refused(make_model("784-10", 0), OnnxExportOptions{.height = 32, .width = 32}, "not 32x32 images");
  expect_refused(make_model("784-10", 0), OnnxExportOptions{.height = 0, .width = 784}, "not 0x784 images");
  expect_refused(Model(), {}, "no layers");
  OnnxExportOptions three_names;
  three_names.classes = {"a", "b", "c"};
  expect_refused(make_model("784-10", 0), three_names, "3 class names for a model of 10 outputs");
}

TEST(OnnxExport, UnwritableTargetsLeaveNothingBehind) {
  TempDir dir;
  const Model model = make_model("logistic", 0);
  EXPECT_THROW(export_onnx(dir / "missing" / "m.onnx", model, {}), Error);
  EXPECT_FALSE(fs::exists(dir / "missing"));
  fs::create_directories(dir / "sub");
  EXPECT_THROW(export_onnx(dir / "sub", model, {}), Error);
  EXPECT_EQ(files_in(dir / "sub"), 0u);
  fs::create_directories(dir / "readonly");
  fs::permissions(dir / "readonly", fs::perms::owner_read | fs::perms::owner_exec);
  if (::access((dir / "readonly").c_str(), W_OK) != 0) {  // (root writes anywhere: then there is nothing to check)
    EXPECT_THROW(export_onnx(dir / "readonly" / "m.onnx", model, {}), Error);
    EXPECT_EQ(files_in(dir / "readonly"), 0u);
  }
}

}  // namespace
