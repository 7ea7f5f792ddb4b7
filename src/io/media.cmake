# Images (PNG/JPEG decode, MNIST-style preprocessing) and plots (PLplot, cairo).
target_sources(mnist PRIVATE
  ${CMAKE_CURRENT_LIST_DIR}/image.cpp
  ${CMAKE_CURRENT_LIST_DIR}/image_preprocess.cpp
  ${CMAKE_CURRENT_LIST_DIR}/png_codec.cpp
  ${CMAKE_CURRENT_LIST_DIR}/jpeg_codec.cpp
  ${CMAKE_CURRENT_LIST_DIR}/plot_figure.cpp
  ${CMAKE_CURRENT_LIST_DIR}/plot_lines.cpp
  ${CMAKE_CURRENT_LIST_DIR}/plot_image.cpp
  ${CMAKE_CURRENT_LIST_DIR}/plot_heatmap.cpp
  ${CMAKE_CURRENT_LIST_DIR}/plot_panels.cpp
  ${CMAKE_CURRENT_LIST_DIR}/plot_filters.cpp)
