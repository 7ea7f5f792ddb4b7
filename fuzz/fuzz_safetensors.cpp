// libFuzzer target: SafetensorsFile::parse on any bytes, then everything a reader of a parsed file may do: read
// every tensor as float and as int64, and load the file into the model its "model" metadata names (small models
// only). Only mnist::Error may come out; a file that parses must describe tensors that lie inside it.
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "mnist/error.hpp"
#include "mnist/nn.hpp"
#include "mnist/safetensors.hpp"

namespace {
std::size_t parameter_count(const std::vector<mnist::LayerSpec>& layers) {
  std::size_t n = 0;
  for (const mnist::LayerSpec& l : layers)
    if (l.kind == mnist::LayerSpec::Kind::Linear) n += l.in * l.out + l.out;
  return n;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::vector<std::uint8_t> bytes(data, data + size);
  try {
    const mnist::SafetensorsFile file = mnist::SafetensorsFile::parse(std::move(bytes), "fuzz.safetensors");
    for (const mnist::TensorEntry& t : file.tensors()) {
      if (t.begin > t.end || t.end > size) std::abort();
      if (file.raw(t.name).size() != mnist::numel(t.shape) * mnist::dtype_size(t.dtype)) std::abort();
      const mnist::Tensor values = file.to_tensor(t.name);
      if (values.numel() != mnist::numel(t.shape)) std::abort();
      try {
        (void)file.to_int64(t.name);
      } catch (const mnist::Error&) {
      }
    }
    if (file.metadata().count("model")) {
      const std::string& spec = file.metadata("model");
      if (parameter_count(mnist::parse_model_spec(spec)) <= 100000) {
        mnist::Model model = mnist::make_model(spec, 0);
        mnist::load_state_dict(file, model);
      }
    }
  } catch (const mnist::Error&) {
  }
  return 0;
}
