// The filters figure of a conv net: its first Conv2d layer's kernels, and one image's feature maps after that layer
// (and after its ReLU), computed by the model itself in eval mode.
#include <fmt/format.h>

#include <string>
#include <vector>

#include "mnist/error.hpp"
#include "mnist/nn.hpp"
#include "mnist/plot.hpp"

namespace mnist {

std::size_t first_conv_layer(const Model& model) {
  const std::vector<LayerSpec>& layers = model.layers();
  for (std::size_t i = 0; i < layers.size(); ++i) {
    if (layers[i].kind == LayerSpec::Kind::Conv2d) return i;
    if (layers[i].kind == LayerSpec::Kind::Linear) break;  // a conv after a Linear cannot exist; stop looking
  }
  return layers.size();
}

namespace {

// One image per channel of a [1, C, H, W] output, titled by the channel's number.
std::vector<FloatImage> channel_images(const Tensor& t) {
  const Shape& s = t.shape();
  const std::size_t C = s[1], H = s[2], W = s[3];
  std::vector<FloatImage> out;
  for (std::size_t c = 0; c < C; ++c) {
    const float* first = t.data() + c * H * W;
    out.push_back({std::to_string(c), H, W, std::vector<float>(first, first + H * W)});
  }
  return out;
}

}  // namespace

void plot_conv_filters(const std::filesystem::path& png, Model& model, const std::string& model_name,
                       std::span<const std::uint8_t> pixels, const std::string& image_title) {
  const std::size_t conv = first_conv_layer(model);
  if (conv == model.layers().size()) throw UsageError(fmt::format("model {} has no Conv2d layer", model_name));
  if (pixels.size() != model.input_size())
    throw Error(fmt::format("{}: the image has {} pixels, the model takes {}", png.string(), pixels.size(),
                            model.input_size()));
  const LayerSpec& layer = model.layers()[conv];
  const bool relu = conv + 1 < model.layers().size() && model.layers()[conv + 1].kind == LayerSpec::Kind::ReLU;

  std::vector<float> x(pixels.size());  // [1, C, H, W], pixels / 255 as in training
  for (std::size_t i = 0; i < pixels.size(); ++i) x[i] = static_cast<float>(pixels[i]) / 255.0f;
  const std::vector<Tensor> outputs = model.layer_outputs(x, 1, conv + (relu ? 2 : 1));

  // The kernels: weight [O, C, K, K], the first parameter of the layer's "<name>.weight".
  ImagePanel filters{fmt::format("{} filters, {} x {}x{} (blue < 0 < red)", layer.name, layer.out_shape[0],
                                 layer.kernel, layer.kernel),
                     {}, true, 8};
  for (const NamedParameter& p : model.named_parameters()) {
    if (p.name != layer.name + ".weight") continue;
    const std::size_t O = p.shape[0], C = p.shape[1], K = p.shape[2] * p.shape[3];
    for (std::size_t o = 0; o < O; ++o)
      for (std::size_t c = 0; c < C; ++c) {
        const float* first = p.value.data() + (o * C + c) * K;
        filters.images.push_back({C == 1 ? std::to_string(o) : fmt::format("{}/{}", o, c), p.shape[2], p.shape[3],
                                  std::vector<float>(first, first + K)});
      }
  }
  std::vector<ImagePanel> panels{filters};
  const Shape& in = model.input_shape();
  const std::size_t channels = in.size() == 3 ? in[0] : 1;
  ImagePanel input{"input: " + image_title, {}, false, 8};
  for (std::size_t c = 0; c < channels; ++c) {
    const std::size_t hw = x.size() / channels;
    input.images.push_back({"", in.size() == 3 ? in[1] : 1, in.size() == 3 ? in[2] : x.size(),
                            std::vector<float>(x.begin() + static_cast<std::ptrdiff_t>(c * hw),
                                               x.begin() + static_cast<std::ptrdiff_t>((c + 1) * hw))});
  }
  panels.push_back(input);
  panels.push_back({fmt::format("feature maps after {} (each on its own scale)", layer.name),
                    channel_images(outputs[conv]), false, 8});
  if (relu)
    panels.push_back({fmt::format("after {}", model.layers()[conv + 1].name), channel_images(outputs[conv + 1]),
                      false, 8});
  plot_image_panels(png, fmt::format("{}: first conv layer", model_name), panels);
}

}  // namespace mnist
