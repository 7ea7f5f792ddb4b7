#include "serve/event_log.hpp"

namespace mnist::serve {

void EventLog::append(const std::string& name, const std::string& json) {
  {
    std::lock_guard lock(mutex_);
    events_.push_back("event: " + name + "\ndata: " + json + "\n\n");
  }
  appended_.notify_all();
}

std::string EventLog::read(std::size_t from, std::size_t* next, std::chrono::milliseconds wait) {
  std::unique_lock lock(mutex_);
  appended_.wait_for(lock, wait, [&] { return closed_ || events_.size() > from; });
  std::string out;
  for (std::size_t i = from; i < events_.size(); ++i) out += events_[i];
  *next = std::max(from, events_.size());
  return closed_ ? std::string() : out;
}

void EventLog::close() {
  {
    std::lock_guard lock(mutex_);
    closed_ = true;
  }
  appended_.notify_all();
}

bool EventLog::closed() const {
  std::lock_guard lock(mutex_);
  return closed_;
}

std::size_t EventLog::size() const {
  std::lock_guard lock(mutex_);
  return events_.size();
}

}  // namespace mnist::serve
