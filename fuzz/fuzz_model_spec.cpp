// libFuzzer target: parse_model_spec on any string (MLP and conv specs). A spec either throws UsageError or gives a
// chain of layers whose sizes connect (each layer's input is the previous layer's output); small models are also built and run.
#include <cstdint>
#include <cstdlib>
#include <string>
#include <vector>

#include "mnist/error.hpp"
#include "mnist/nn.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::string spec(reinterpret_cast<const char*>(data), size);
  std::vector<mnist::LayerSpec> layers;
  try {
    layers = mnist::parse_model_spec(spec);
  } catch (const mnist::UsageError&) {
    return 0;
  }
  if (layers.empty()) std::abort();
  std::size_t params = 0;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    const mnist::LayerSpec& l = layers[i];
    if (l.in == 0 || l.out == 0) std::abort();
    if (i > 0 && l.in != layers[i - 1].out) std::abort();
    if (l.kind == mnist::LayerSpec::Kind::ReLU && l.in != l.out) std::abort();
    if (l.kind == mnist::LayerSpec::Kind::Linear) params += l.in * l.out + l.out;
    if (l.kind != mnist::LayerSpec::Kind::Linear && l.kind != mnist::LayerSpec::Kind::Flatten &&
        l.in_shape.size() == 3 && l.out_shape.size() != 3)
      std::abort();  // an image layer keeps [C, H, W]
    params += l.in + l.out;  // what a forward of one sample touches: keep the built models small
  }
  if (layers.back().kind != mnist::LayerSpec::Kind::Linear) std::abort();  // the loss takes logits
  // Building a model allocates its parameters: only for specs that are cheap to build (a separate test covers
  // absurd sizes).
  if (params <= 200000) {
    mnist::Model model = mnist::make_model(spec, 1);
    std::vector<float> x(2 * model.input_size(), 0.5f);
    const std::vector<std::int32_t> classes = model.predict(x, 2);
    for (std::int32_t c : classes)
      if (c < 0 || static_cast<std::size_t>(c) >= model.num_classes()) std::abort();
  }
  return 0;
}
