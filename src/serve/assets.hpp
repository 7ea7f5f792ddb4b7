// The page's files (HTML, JavaScript, CSS, Chart.js) compiled into the binary by embed_assets.cmake: the server
// answers only these URLs, so no file of the file system can ever be served.
#pragma once
#include <span>
#include <string_view>

namespace mnist::serve {

struct Asset {
  std::string_view url;           ///< "/", "/app.js", ...
  std::string_view content_type;  ///< "text/html; charset=utf-8", ...
  std::string_view body;          ///< the file's bytes
};

/// Every embedded file, in a fixed order.
std::span<const Asset> embedded_assets();

/// The asset whose URL is exactly url (no decoding, no normalisation: "/../x" or "/%2e%2e/x" match nothing), or null.
const Asset* find_asset(std::string_view url);

/// The version of the embedded Chart.js, read from its licence header (" * Chart.js v3.9.1" -> "3.9.1"), or
/// "unknown" when the header does not say.
std::string_view chartjs_version();

}  // namespace mnist::serve
