# `cmake --install` puts the library, the public headers and the CLI in place and exports a CMake package
# (find_package(mnist) -> mnist::mnist) and a pkg-config file (mnist.pc).
# The library is shared, so its dependencies (OpenBLAS, zlib, curl, PLplot, ...) stay private to it: a consumer
# needs only the headers and libmnist.so.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set_target_properties(mnist PROPERTIES VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR})
# The public headers use C++20 (std::span, designated initializers): consumers of mnist::mnist get -std=c++20.
target_compile_features(mnist PUBLIC cxx_std_20)
set_target_properties(mnist_cli PROPERTIES INSTALL_RPATH "$ORIGIN/../${CMAKE_INSTALL_LIBDIR}")

install(TARGETS mnist EXPORT mnistTargets
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR}
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(TARGETS mnist_cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/mnist DESTINATION ${CMAKE_INSTALL_INCLUDEDIR})

install(EXPORT mnistTargets NAMESPACE mnist:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mnist)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/mnistConfig.cmake.in
  ${PROJECT_BINARY_DIR}/mnistConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mnist)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/mnistConfigVersion.cmake COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/mnistConfig.cmake ${PROJECT_BINARY_DIR}/mnistConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/mnist)

# The .pc file finds its prefix relative to itself (${pcfiledir}), so that `cmake --install --prefix DIR` (and
# DESTDIR, or moving the tree) yields a working file, not one pointing at the configure-time prefix.
file(RELATIVE_PATH MNIST_PC_UP "${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig" "${CMAKE_INSTALL_PREFIX}")
set(MNIST_PC_PREFIX "\${pcfiledir}/${MNIST_PC_UP}")
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE "${CMAKE_INSTALL_${dir}}")
    set(MNIST_PC_${dir} "${CMAKE_INSTALL_${dir}}")
  else()
    set(MNIST_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()
configure_file(${PROJECT_SOURCE_DIR}/cmake/mnist.pc.in ${PROJECT_BINARY_DIR}/mnist.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/mnist.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
