# random_split and DataLoader.
target_sources(mnist PRIVATE ${CMAKE_CURRENT_LIST_DIR}/loader.cpp)
target_sources(mnist PRIVATE ${CMAKE_CURRENT_LIST_DIR}/split_overloads.cpp)
