# ONNX export (include/mnist/onnx.hpp), with Debian's ONNX library: libonnx-dev (the onnx.proto classes and
# onnx::checker) over libprotobuf-dev. Optional: without them (or with -DMNIST_WITH_ONNX=OFF) the library builds, and
# export_onnx says what to install. MNIST_HAVE_ONNX tells the tests and the build facts (src/version) which one was
# built.
set(MNIST_HAVE_ONNX OFF CACHE INTERNAL "ONNX export is built")
if(MNIST_WITH_ONNX)
  find_package(Protobuf QUIET GLOBAL)
  if(Protobuf_FOUND)
    find_package(ONNX CONFIG QUIET GLOBAL)
  endif()
  if(Protobuf_FOUND AND ONNX_FOUND AND TARGET onnx)
    set(MNIST_HAVE_ONNX ON CACHE INTERNAL "ONNX export is built")
    # For tests/cli/test_cli_version: the versions CMake found, to compare with what `mnist --version` says.
    set(MNIST_ONNX_VERSION "${ONNX_VERSION}" CACHE INTERNAL "ONNX version found")
    set(MNIST_PROTOBUF_VERSION "${Protobuf_VERSION}" CACHE INTERNAL "protobuf version found")
  else()
    message(STATUS "ONNX export: off (install libonnx-dev libprotobuf-dev for `mnist export`)")
  endif()
endif()
if(MNIST_HAVE_ONNX)
  target_sources(mnist PRIVATE ${CMAKE_CURRENT_LIST_DIR}/onnx_export.cpp)
  target_link_libraries(mnist PRIVATE onnx protobuf::libprotobuf)
else()
  target_sources(mnist PRIVATE ${CMAKE_CURRENT_LIST_DIR}/onnx_unavailable.cpp)
endif()
