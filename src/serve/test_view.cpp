#include "serve/test_view.hpp"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <vector>

namespace mnist::serve {
namespace {

std::string base64(std::span<const std::uint8_t> bytes) {
  static const char table[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
  std::string out;
  for (std::size_t i = 0; i < bytes.size(); i += 3) {
    const std::uint32_t v = std::uint32_t{bytes[i]} << 16 | (i + 1 < bytes.size() ? std::uint32_t{bytes[i + 1]} << 8 : 0) |
                            (i + 2 < bytes.size() ? bytes[i + 2] : 0);
    out += table[v >> 18 & 63];
    out += table[v >> 12 & 63];
    out += i + 1 < bytes.size() ? table[v >> 6 & 63] : '=';
    out += i + 2 < bytes.size() ? table[v & 63] : '=';
  }
  return out;
}

}  // namespace

std::string test_view_json(Predictor& predictor, const ModelInfo& model, const Dataset& test, std::size_t shown) {
  const std::size_t n = test.size(), dim = test.image_size(), classes = model.classes.size();
  std::vector<int> predicted(n);
  std::vector<float> confidence(n);
  constexpr std::size_t kChunk = 500;  // images per call: requests of other pages interleave between chunks
  std::vector<float> x;
  for (std::size_t begin = 0; begin < n; begin += kChunk) {
    const std::size_t count = std::min(kChunk, n - begin);
    x.resize(count * dim);  // [count, dim] pixels / 255
    const std::span<const std::uint8_t> images = test.images().subspan(begin * dim, count * dim);
    std::transform(images.begin(), images.end(), x.begin(), [](std::uint8_t v) { return static_cast<float>(v) / 255.0f; });
    const std::vector<float> p = predictor.predict(x, count);  // [count, classes]
    for (std::size_t i = 0; i < count; ++i) {
      const float* row = p.data() + i * classes;
      const auto best = static_cast<std::size_t>(std::max_element(row, row + classes) - row);
      predicted[begin + i] = static_cast<int>(best);
      confidence[begin + i] = row[best];
    }
  }
  std::vector<std::vector<std::size_t>> confusion(classes, std::vector<std::size_t>(classes, 0));
  std::vector<std::size_t> wrong, right;
  for (std::size_t i = 0; i < n; ++i) {
    const int label = test[i].label;
    if (label >= 0 && static_cast<std::size_t>(label) < classes) ++confusion[label][predicted[i]];
    (label == predicted[i] ? right : wrong).push_back(i);
  }
  std::stable_sort(wrong.begin(), wrong.end(), [&](std::size_t a, std::size_t b) { return confidence[a] > confidence[b]; });
  nlohmann::json samples = nlohmann::json::array();
  std::vector<std::size_t> order = wrong;
  order.insert(order.end(), right.begin(), right.end());
  for (std::size_t k = 0; k < std::min(shown, order.size()); ++k) {
    const std::size_t i = order[k];
    samples.push_back({{"index", i},
                       {"label", test[i].label},
                       {"predicted", predicted[i]},
                       {"probability", confidence[i]},
                       {"pixels", base64(test[i].image)}});
  }
  const nlohmann::json doc{{"dataset", test.name()},
                           {"rows", test.rows()},
                           {"cols", test.cols()},
                           {"total", n},
                           {"correct", right.size()},
                           {"accuracy", n == 0 ? 0.0 : static_cast<double>(right.size()) / static_cast<double>(n)},
                           {"confusion", confusion},
                           {"samples", samples}};
  return doc.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
}

}  // namespace mnist::serve
