# IDX reader, Dataset, built-in data sets, sources and download.
target_sources(mnist PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/byte_source.cpp
  ${CMAKE_CURRENT_LIST_DIR}/idx.cpp
  ${CMAKE_CURRENT_LIST_DIR}/pages.cpp
  ${CMAKE_CURRENT_LIST_DIR}/dataset.cpp
  ${CMAKE_CURRENT_LIST_DIR}/datasets.cpp
  ${CMAKE_CURRENT_LIST_DIR}/download.cpp)
