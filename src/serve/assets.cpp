#include "serve/assets.hpp"

namespace mnist::serve {

const Asset* find_asset(std::string_view url) {
  for (const Asset& asset : embedded_assets())
    if (asset.url == url) return &asset;
  return nullptr;
}

std::string_view chartjs_version() {
  const Asset* chart = find_asset("/chart.min.js");
  if (chart == nullptr) return "unknown";
  // Only the first lines: the licence comment, before the minified code.
  const std::string_view head = chart->body.substr(0, 200);
  constexpr std::string_view marker = "Chart.js v";
  const std::size_t at = head.find(marker);
  if (at == std::string_view::npos) return "unknown";
  const std::size_t begin = at + marker.size();
  std::size_t end = begin;
  while (end < head.size() && (head[end] == '.' || (head[end] >= '0' && head[end] <= '9'))) ++end;
  return end > begin ? head.substr(begin, end - begin) : std::string_view("unknown");
}

}  // namespace mnist::serve
