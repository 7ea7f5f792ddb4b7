# Checkpoints (model + metadata) and resume states (optimizer, epochs, history), over safetensors (CLI work).
target_sources(mnist PRIVATE ${CMAKE_CURRENT_LIST_DIR}/checkpoint.cpp)
