// ONNX export in a build without Debian's ONNX library: the API exists, and says how to get the real thing.
#include "mnist/error.hpp"
#include "mnist/onnx.hpp"

namespace mnist {

bool onnx_export_supported() { return false; }

void export_onnx(const std::filesystem::path& path, const Model&, const OnnxExportOptions&) {
  throw Error(path.string() +
              ": this mnist was built without ONNX export; install Debian's libonnx-dev and libprotobuf-dev "
              "(scripts/setup.sh does) and build again");
}

}  // namespace mnist
