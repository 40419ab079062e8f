#include <weft/detail/cancel_state.hpp>

namespace weft::detail {

bool cancel_state::add(cancel_callback* cb) {
  std::lock_guard lock(mu_);
  if (requested_.load(std::memory_order_relaxed)) return false;
  cb->prev = nullptr;
  cb->next = head_;
  if (head_) head_->prev = cb;
  head_ = cb;
  cb->linked = true;
  return true;
}

void cancel_state::remove(cancel_callback* cb) {
  std::unique_lock lock(mu_);
  if (cb->linked) {
    if (cb->prev)
      cb->prev->next = cb->next;
    else
      head_ = cb->next;
    if (cb->next) cb->next->prev = cb->prev;
    cb->linked = false;
    return;
  }
  if (running_ == cb && running_on_ != std::this_thread::get_id()) done_cv_.wait(lock, [&] { return running_ != cb; });
}

bool cancel_state::request() {
  std::unique_lock lock(mu_);
  if (requested_.load(std::memory_order_relaxed)) return false;
  // release: pairs with requested()'s acquire; whatever the canceller wrote before is visible
  // to a task that sees the flag.
  requested_.store(true, std::memory_order_release);
  while (cancel_callback* cb = head_) {
    head_ = cb->next;
    if (head_) head_->prev = nullptr;
    cb->linked = false;
    running_ = cb;
    running_on_ = std::this_thread::get_id();
    lock.unlock();
    cb->fn(cb);
    lock.lock();
    running_ = nullptr;
    done_cv_.notify_all();
  }
  return true;
}

}  // namespace weft::detail
