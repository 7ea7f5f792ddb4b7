# Confusion matrix and per-class precision/recall (cli-eval's part of the train layer).
target_sources(mnist PRIVATE ${CMAKE_CURRENT_LIST_DIR}/metrics.cpp)
