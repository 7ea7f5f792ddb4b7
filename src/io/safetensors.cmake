# safetensors reading and writing (engine work).
target_sources(mnist PRIVATE ${CMAKE_CURRENT_LIST_DIR}/safetensors.cpp)
