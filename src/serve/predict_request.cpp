#include "serve/predict_request.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <nlohmann/json.hpp>

#include "mnist/error.hpp"
#include "mnist/image.hpp"

namespace mnist::serve {
namespace {

std::string media_type(std::string_view content_type) {
  std::string type(content_type.substr(0, content_type.find(';')));
  while (!type.empty() && type.back() == ' ') type.pop_back();
  std::transform(type.begin(), type.end(), type.begin(), [](unsigned char c) { return std::tolower(c); });
  return type;
}

std::size_t be16(std::string_view b, std::size_t at) {
  return static_cast<std::size_t>(static_cast<unsigned char>(b[at])) << 8 | static_cast<unsigned char>(b[at + 1]);
}

std::vector<std::uint8_t> image_pixels(std::string_view body, const ModelInfo& model) {
  if (model.rows != 28 || model.cols != 28 || model.channels != 1)
    throw BadRequest(400, fmt::format("the model takes {}x{} images; images are preprocessed into 28x28 ones, so send "
                                      "{{\"pixels\": [...]}} as application/json instead",
                                      model.rows, model.cols));
  const auto [width, height] = image_header_size(body);
  if (width > kMaxUploadSide || height > kMaxUploadSide)
    throw BadRequest(400, fmt::format("the image is {}x{}; at most {}x{} is accepted", width, height, kMaxUploadSide,
                                      kMaxUploadSide));
  try {
    const std::span<const std::uint8_t> bytes(reinterpret_cast<const std::uint8_t*>(body.data()), body.size());
    return preprocess_digit(decode_image(bytes, "the request body")).pixels;
  } catch (const Error& e) {
    throw BadRequest(400, e.what());
  }
}

std::vector<std::uint8_t> json_pixels(std::string_view body, const ModelInfo& model) {
  const nlohmann::json doc = nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) throw BadRequest(400, "the body is not valid JSON");
  const std::size_t want = model.input_size();
  if (!doc.is_object() || !doc.contains("pixels") || !doc["pixels"].is_array())
    throw BadRequest(400, fmt::format("expected {{\"pixels\": [{} integers 0..255]}}", want));
  const nlohmann::json& pixels = doc["pixels"];
  if (pixels.size() != want)
    throw BadRequest(400, fmt::format("\"pixels\" has {} values; the model takes {} ({}x{}, row-major)", pixels.size(),
                                      want, model.rows, model.cols));
  std::vector<std::uint8_t> out(want);
  for (std::size_t i = 0; i < want; ++i) {
    const nlohmann::json& v = pixels[i];
    if (!v.is_number_integer() || v.get<long long>() < 0 || v.get<long long>() > 255)
      throw BadRequest(400, fmt::format("\"pixels\"[{}] is {}; each value must be an integer 0..255", i,
                                        v.dump().substr(0, 40)));
    out[i] = static_cast<std::uint8_t>(v.get<long long>());
  }
  return out;
}

}  // namespace

std::pair<std::size_t, std::size_t> image_header_size(std::string_view b) {
  if (b.size() >= 24 && b.substr(0, 8) == "\x89PNG\r\n\x1a\n" && b.substr(12, 4) == "IHDR") {
    const auto be32 = [&](std::size_t at) { return be16(b, at) << 16 | be16(b, at + 2); };
    return {be32(16), be32(20)};
  }
  if (b.size() >= 4 && static_cast<unsigned char>(b[0]) == 0xFF && static_cast<unsigned char>(b[1]) == 0xD8) {
    // Segments from the start: FF marker, 2-byte length; SOF0..SOF15 (but DHT C4, JPG C8, DAC CC) hold the size.
    std::size_t at = 2;
    while (at + 4 <= b.size()) {
      if (static_cast<unsigned char>(b[at]) != 0xFF) break;
      const unsigned marker = static_cast<unsigned char>(b[at + 1]);
      if (marker == 0xFF) { ++at; continue; }  // fill byte
      const std::size_t length = be16(b, at + 2);
      if (marker >= 0xC0 && marker <= 0xCF && marker != 0xC4 && marker != 0xC8 && marker != 0xCC) {
        if (at + 9 > b.size()) break;
        return {be16(b, at + 7), be16(b, at + 5)};
      }
      if (length < 2) break;
      at += 2 + length;
    }
  }
  return {0, 0};
}

std::vector<std::uint8_t> request_pixels(std::string_view content_type, std::string_view body, const ModelInfo& model) {
  const std::string type = media_type(content_type);
  if (type == "image/png" || type == "image/jpeg") return image_pixels(body, model);
  if (type == "application/json") return json_pixels(body, model);
  throw BadRequest(415, fmt::format("Content-Type '{}' is not accepted: send image/png, image/jpeg or application/json",
                                    type.substr(0, 60)));
}

std::string prediction_json(std::span<const float> p, std::span<const std::uint8_t> pixels, const ModelInfo& model) {
  const auto best = static_cast<std::size_t>(std::max_element(p.begin(), p.end()) - p.begin());
  const std::string name = best < model.classes.size() ? model.classes[best] : std::to_string(best);
  // fmt's "{}" of a float is the shortest text that reads back to the same float: full precision, no noise digits.
  return fmt::format(R"({{"label": {}, "class": {}, "probabilities": [{}], "pixels": [{}]}})", best,
                     nlohmann::json(name).dump(), fmt::join(p, ", "), fmt::join(pixels, ","));
}

std::string error_json(std::string_view message) {
  return nlohmann::json{{"error", message}}.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

std::string model_json(const ModelInfo& m, bool training) {
  nlohmann::json doc{{"spec", m.spec},
                     {"dataset", m.dataset},
                     {"classes", m.classes},
                     {"input", {m.channels, m.rows, m.cols}},
                     {"parameters", m.parameters},
                     {"training", training}};
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace mnist::serve
