#include "progress.hpp"

#include <fmt/format.h>
#include <unistd.h>

#include <cstdio>
#include <string>

namespace mnist::cli {

Progress::Progress(std::size_t total_epochs, std::size_t batch_size)
    : total_epochs_(total_epochs), batch_size_(batch_size), tty_(isatty(STDERR_FILENO) == 1) {}

void Progress::on_batch(const BatchEvent& ev) {
  const Clock::time_point now = Clock::now();
  if (ev.epoch != current_epoch_) {
    current_epoch_ = ev.epoch;
    loss_sum_ = 0.0;
    epoch_start_ = now;
    last_draw_ = {};
  }
  loss_sum_ += ev.loss;
  if (!tty_) return;
  const bool last = ev.batch + 1 == ev.num_batches;
  if (!last && now - last_draw_ < std::chrono::milliseconds(100)) return;
  last_draw_ = now;
  const std::size_t done = ev.batch + 1;
  const double elapsed = std::chrono::duration<double>(now - epoch_start_).count();
  const double rate = elapsed > 0 ? static_cast<double>(done * batch_size_) / elapsed : 0.0;
  const double eta = done > 0 ? elapsed / static_cast<double>(done) * static_cast<double>(ev.num_batches - done) : 0.0;
  constexpr std::size_t kWidth = 24;
  const std::size_t filled = ev.num_batches ? done * kWidth / ev.num_batches : kWidth;
  std::string bar(filled, '=');
  if (filled < kWidth) bar += '>' + std::string(kWidth - filled - 1, ' ');
  fmt::print(stderr, "\repoch {}/{} [{}] {}/{}  loss {:.4f}  {:.0f} samples/s  ETA {:.1f}s\x1b[K", ev.epoch + 1,
             total_epochs_, bar, done, ev.num_batches, loss_sum_ / static_cast<double>(done), rate, eta);
  std::fflush(stderr);
  drawn_ = true;
}

void Progress::on_epoch(const EpochStats& s) {
  clear();
  fmt::print("epoch {}/{}  loss {:.4f}  val_acc {:.4f}  {:.1f}s\n", s.epoch + 1, total_epochs_, s.train_loss,
             s.val_accuracy, s.seconds);
  std::fflush(stdout);
}

void Progress::clear() {
  if (!drawn_) return;
  fmt::print(stderr, "\r\x1b[K");
  std::fflush(stderr);
  drawn_ = false;
}

}  // namespace mnist::cli
