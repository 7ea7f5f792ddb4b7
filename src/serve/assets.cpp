#include "serve/assets.hpp"

namespace mnist::serve {

const Asset* find_asset(std::string_view url) {
  for (const Asset& asset : embedded_assets())
    if (asset.url == url) return &asset;
  return nullptr;
}

}  // namespace mnist::serve
