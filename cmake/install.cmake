# `cmake --install` puts the library, the public headers and the CLI in place and exports a CMake package
# (find_package(mnist) -> mnist::mnist) and a pkg-config file (mnist.pc).
# The library is shared, so its dependencies (OpenBLAS, zlib, curl, PLplot, ...) stay private to it: a consumer
# needs only the headers and libmnist.so.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set_target_properties(mnist PROPERTIES VERSION ${PROJECT_VERSION} SOVERSION ${PROJECT_VERSION_MAJOR})
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

configure_file(${PROJECT_SOURCE_DIR}/cmake/mnist.pc.in ${PROJECT_BINARY_DIR}/mnist.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/mnist.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
