// The training's live events for GET /api/events (Server-Sent Events): a log that the training thread appends to and
// that every open stream reads from its own position, so that a page opened late first receives the whole history.
#pragma once
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <mutex>
#include <string>
#include <vector>

namespace mnist::serve {

class EventLog {
 public:
  /// Appends one event ("event: NAME\ndata: JSON\n\n") and wakes the streams.
  void append(const std::string& name, const std::string& json);
  /// The events from `from` on, waiting up to `wait` for one when there is none; empty when closed or timed out.
  /// *next is set to the position after what was returned.
  std::string read(std::size_t from, std::size_t* next, std::chrono::milliseconds wait);
  /// Ends every stream (the server stops).
  void close();
  bool closed() const;
  std::size_t size() const;

 private:
  mutable std::mutex mutex_;
  std::condition_variable appended_;
  std::vector<std::string> events_;
  bool closed_ = false;
};

}  // namespace mnist::serve
