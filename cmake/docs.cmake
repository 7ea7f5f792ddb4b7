# `cmake --build BUILD --target docs`: API documentation of the public headers (include/mnist) with Debian's
# doxygen, into BUILD/docs/html. Every warning (an undocumented public name, a \param that names no parameter, ...)
# is an error, so the target only succeeds while the whole public surface is documented.
find_package(Doxygen QUIET)
if(DOXYGEN_FOUND)
  set(DOXYGEN_PROJECT_NAME "mnist")
  set(DOXYGEN_PROJECT_BRIEF "MNIST-format image classifiers in C++")
  set(DOXYGEN_OUTPUT_DIRECTORY ${PROJECT_BINARY_DIR}/docs)
  set(DOXYGEN_GENERATE_HTML YES)
  set(DOXYGEN_GENERATE_LATEX NO)
  set(DOXYGEN_EXTRACT_ALL NO)
  set(DOXYGEN_EXTRACT_PRIVATE NO)
  set(DOXYGEN_WARN_IF_UNDOCUMENTED YES)
  set(DOXYGEN_WARN_IF_DOC_ERROR YES)
  set(DOXYGEN_WARN_AS_ERROR FAIL_ON_WARNINGS)  # report every warning, then fail
  set(DOXYGEN_WARN_LOGFILE ${PROJECT_BINARY_DIR}/docs/warnings.log)
  set(DOXYGEN_QUIET YES)
  set(DOXYGEN_FULL_PATH_NAMES YES)
  set(DOXYGEN_STRIP_FROM_PATH ${PROJECT_SOURCE_DIR}/include)
  set(DOXYGEN_STRIP_FROM_INC_PATH ${PROJECT_SOURCE_DIR}/include)
  set(DOXYGEN_JAVADOC_AUTOBRIEF YES)
  set(DOXYGEN_SORT_MEMBER_DOCS NO)  # keep the headers' order
  set(DOXYGEN_HAVE_DOT NO)
  set(DOXYGEN_EXAMPLE_PATH ${PROJECT_SOURCE_DIR}/examples)
  doxygen_add_docs(docs ${PROJECT_SOURCE_DIR}/include/mnist
    WORKING_DIRECTORY ${PROJECT_SOURCE_DIR}
    COMMENT "Doxygen: API documentation of include/mnist into ${PROJECT_BINARY_DIR}/docs/html")
else()
  add_custom_target(docs
    COMMAND ${CMAKE_COMMAND} -E echo "docs: doxygen not found (install Debian's doxygen: scripts/setup.sh)"
    COMMAND ${CMAKE_COMMAND} -E false)
endif()
