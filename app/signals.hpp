// Ctrl-C and SIGTERM during training: the handler only sets a flag that the training loop polls once per batch, so
// that the current batch finishes and the last completed epoch's files stay consistent.
#pragma once
#include <atomic>

namespace mnist::cli {

/// Installs SIGINT and SIGTERM handlers that set the returned flag (a second signal restores the default action,
/// so a stuck process can still be killed). The flag lives for the whole program.
std::atomic<bool>& install_stop_signal_handlers();

}  // namespace mnist::cli
