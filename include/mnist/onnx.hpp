// Exporting a trained model to ONNX, the format deployment runtimes read (onnxruntime in C++, Python, the browser
// and phones; OpenCV's dnn module), so that a model trained here runs where mnist does not.
//
// The graph's contract:
//   input   "input"          float32 [N, 1, H, W]  pixels / 255, white on black as in training; N is dynamic
//   output  "logits"         float32 [N, classes]  what Model::forward computes
//   output  "probabilities"  float32 [N, classes]  Softmax over axis 1 (what Model::predict_proba computes)
//   opset 13 of the default domain; metadata_props "spec" (the model spec), "dataset", "classes" (the class names
//   as a JSON array), "input_shape" ("[1, H, W]") and "pixel_scaling" ("x / 255").
// Each layer becomes the ONNX operator that computes it, in eval mode: Linear -> Gemm (transB = 1, the weight kept
// [out, in]), ReLU -> Relu, Conv2d -> Conv, MaxPool2d -> MaxPool, AvgPool2d -> AveragePool, BatchNorm2d ->
// BatchNormalization (the running statistics, eps 1e-5), Dropout -> Identity, Flatten -> Flatten (axis 1); an MLP's
// first Linear layer gets the image flattened. Parameters and buffers are initializers under their state-dict names.
#pragma once
#include <cstddef>
#include <filesystem>
#include <string>
#include <vector>

#include "mnist/nn.hpp"

namespace mnist {

/// The opset of the default ONNX domain that exported graphs import.
inline constexpr int kOnnxOpset = 13;

/// What the exported file records beside the graph.
struct OnnxExportOptions {
  std::size_t height = 28;           ///< the input images' height H (the graph's input is [N, 1, H, W])
  std::size_t width = 28;            ///< their width W
  std::string dataset;               ///< metadata "dataset" (may be empty)
  std::vector<std::string> classes;  ///< metadata "classes"; empty, or one name per output
};

/// Whether this build can export: it was built with Debian's ONNX library (libonnx-dev, libprotobuf-dev).
bool onnx_export_supported();

/// Writes model as an ONNX file at path (see the contract at the top of this header), atomically: the graph goes
/// to a temporary file beside path, onnx::checker checks that file as written, and only then is it renamed over
/// path. Throws Error (and leaves nothing behind) when this build has no ONNX support (saying how to get it), when
/// the model is empty or its input size is not height * width, when classes has the wrong count, when a layer is
/// of a kind the exporter does not know (naming the layer), when path cannot be written, and when the checker
/// refuses the file (its message).
void export_onnx(const std::filesystem::path& path, const Model& model, const OnnxExportOptions& options);

}  // namespace mnist
