// What this copy of the library is: its version, how it was built (build type, compiler, optional features) and
// the libraries it runs with, for `mnist --version` and for bug reports.
#pragma once
#include <string>
#include <vector>

namespace mnist {

/// One fact about the build: a name and its value ("MPI", "off"; "zlib", "1.2.13").
struct BuildFact {
  std::string name;   ///< what it is about ("OpenBLAS", "MPI")
  std::string value;  ///< its version or state
};

/// How this copy of the library was built and what it runs with.
struct BuildInfo {
  std::string version;              ///< the project's version, "0.1.0" (CMake's project VERSION)
  std::string build_type;           ///< CMake's build type, "Release"
  std::string compiler;             ///< compiler and its version, "GNU 12.2.0"
  std::string sanitizers;           ///< "off", or the sanitizers compiled in ("address,undefined")
  std::string cpu_path;             ///< the kernels' path on this CPU: "AVX2+FMA" or "scalar"
  std::vector<BuildFact> options;   ///< optional features and whether they are built: MPI, server, ONNX ("on"/"off")
  std::vector<BuildFact> libraries; ///< each library with its version (the one loaded, where the library says)
};

/// The library's version, "0.1.0".
std::string version();

/// Everything above, gathered once per call (cheap: no file or network access).
BuildInfo build_info();

}  // namespace mnist
