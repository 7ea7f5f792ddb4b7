// mnist::build_info: the version, the build's options and every library's version. Where a library can say which
// version is loaded (OpenBLAS, zlib, libcurl, OpenSSL, libpng, PLplot) that one is reported, since a shared
// library may be newer than the headers the build saw; header-only libraries report the version compiled in.
// The optional ones (Open MPI, ONNX and protobuf) are listed only when built in.
#include <cblas.h>
#include <curl/curl.h>
#include <fmt/format.h>
#include <openssl/crypto.h>
#include <plplot/plplot.h>
#include <png.h>
#include <zlib.h>

#include <algorithm>
#include <cstdio>
// jpeglib.h needs FILE and size_t declared first.
#include <jpeglib.h>

#include <nlohmann/json.hpp>

#include "kernels/cpu.hpp"
#include "mnist/version.hpp"
#include "mnist_build_config.hpp"

#if MNIST_WITH_MPI
// The C API only, as in src/dist/mpi_world.cpp (Open MPI's mpi.h otherwise pulls in its C++ bindings).
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif
#if MNIST_WITH_ONNX
#include <google/protobuf/stubs/common.h>
#include <onnx/common/version.h>
#endif

#define MNIST_STRINGIFY_(x) #x
#define MNIST_STRINGIFY(x) MNIST_STRINGIFY_(x)

namespace mnist {
namespace {

std::string on_off(bool on) { return on ? "on" : "off"; }

// "OpenBLAS 0.3.21 DYNAMIC_ARCH NO_AFFINITY Haswell MAX_THREADS=64" -> "0.3.21 DYNAMIC_ARCH ..." (the name is
// already in the row), plus the core OpenBLAS chose for this CPU when the configuration does not say.
std::string openblas_version() {
  std::string config = openblas_get_config();
  if (config.rfind("OpenBLAS ", 0) == 0) config.erase(0, 9);
  const std::string core = openblas_get_corename();
  if (!core.empty() && config.find(core) == std::string::npos) config += " (core " + core + ")";
  return config;
}

std::string curl_version() {
  const curl_version_info_data* info = curl_version_info(CURLVERSION_NOW);
  std::string v = info->version ? info->version : "unknown";
  if (info->ssl_version) v += std::string(" (") + info->ssl_version + ")";
  return v;
}

std::string jpeg_version() {
#ifdef LIBJPEG_TURBO_VERSION
  return "libjpeg-turbo " MNIST_STRINGIFY(LIBJPEG_TURBO_VERSION) ", API " MNIST_STRINGIFY(JPEG_LIB_VERSION);
#else
  return "API " MNIST_STRINGIFY(JPEG_LIB_VERSION);
#endif
}

std::string plplot_version() {
  char text[80] = {};  // PLplot's documented buffer size for plgver
  plgver(text);
  return text;
}

// libpng says 10639 for 1.6.39.
std::string png_version() {
  const unsigned v = png_access_version_number();
  return fmt::format("{}.{}.{}", v / 10000, v / 100 % 100, v % 100);
}

std::string fmt_version() {
  return fmt::format("{}.{}.{}", FMT_VERSION / 10000, FMT_VERSION / 100 % 100, FMT_VERSION % 100);
}

#if MNIST_WITH_MPI
// The MPI library loaded, as it names itself ("Open MPI v4.1.4, package: Debian OpenMPI, ident: 4.1.4, repo rev:
// ..., May 26, 2022" -> "Open MPI v4.1.4"). MPI_Get_library_version may be called before MPI_Init.
std::string mpi_library_version() {
  char text[MPI_MAX_LIBRARY_VERSION_STRING] = {};
  int length = 0;
  if (MPI_Get_library_version(text, &length) != MPI_SUCCESS) return "unknown";
  std::string v(text, static_cast<std::size_t>(std::max(length, 0)));
  v = v.substr(0, v.find_first_of(",\n"));
  while (!v.empty() && (v.back() == ' ' || v.back() == '\0')) v.pop_back();
  return v.empty() ? "unknown" : v;
}
#endif

}  // namespace

std::string version() { return MNIST_VERSION_STRING; }

BuildInfo build_info() {
  BuildInfo info;
  info.version = MNIST_VERSION_STRING;
  info.build_type = MNIST_BUILD_TYPE;
  info.compiler = MNIST_COMPILER;
  info.sanitizers = MNIST_SANITIZERS;
  info.cpu_path = kernels::kHaveAvx2 ? "AVX2+FMA" : "scalar";
  info.options = {{"MPI", on_off(MNIST_WITH_MPI)}, {"server", on_off(MNIST_WITH_SERVER)},
                  {"ONNX", on_off(MNIST_WITH_ONNX)}};
  info.libraries = {
      {"OpenBLAS", openblas_version()},
      {"zlib", zlibVersion()},
      {"libcurl", curl_version()},
      {"OpenSSL", OpenSSL_version(OPENSSL_VERSION_STRING)},
      {"libpng", png_version()},
      {"libjpeg", jpeg_version()},
      {"PLplot", plplot_version()},
      {"fmt", fmt_version()},
      {"nlohmann json", fmt::format("{}.{}.{}", NLOHMANN_JSON_VERSION_MAJOR, NLOHMANN_JSON_VERSION_MINOR,
                                    NLOHMANN_JSON_VERSION_PATCH)},
  };
#if MNIST_WITH_MPI
  info.libraries.push_back({"MPI", mpi_library_version()});
#endif
#if MNIST_WITH_ONNX
  info.libraries.push_back({"ONNX", ONNX_NAMESPACE::LAST_RELEASE_VERSION});
  info.libraries.push_back({"protobuf", google::protobuf::internal::VersionString(GOOGLE_PROTOBUF_VERSION)});
#endif
  return info;
}

}  // namespace mnist
