// The out-of-line half of the sync primitives' wait list (sync/detail/waiter.hpp): the one hook,
// the destruction of a primitive with waiters, and its error.

#include <weft/sync/detail/waiter.hpp>

namespace weft::detail {

constinit std::atomic<std::uint32_t> short_mutex_sleepers{0};

void waiter::hook(cancel_hook* h, hook_op op) noexcept {
  auto& w = *static_cast<waiter*>(h);
  // acquire: pairs with orphan_all's release (an orphaned waiter's primitive is gone) and with
  // waiter_queue::remove's (a released waiter's primitive may be gone: nothing left to undo).
  if (w.orphaned.load(std::memory_order_acquire) || w.released.load(std::memory_order_acquire)) return;
  task_record* to_wake = nullptr;
  bool give_back = false;
  {
    std::lock_guard lock(*w.mu);
    if (!w.linked) return;  // a waker took it out first and resumes it
    if (w.result == outcome::waiting) {
      w.queue->remove(&w);
      w.result = outcome::cancelled;
      if (wakes(op)) to_wake = w.task_;
    } else if (op == hook_op::abandon) {
      // Handed the lock or a permit and destroyed before it resumed: give it back.
      w.queue->remove(&w);
      give_back = w.undo != nullptr;
    }
    // (cancel of a handed waiter: its waker resumes it; its next await sees the cancellation)
  }
  if (to_wake) wake(to_wake);
  if (give_back) w.undo(w);
}

void orphan_all(short_mutex& mu, waiter_queue& waiting, waiter_queue* handed) noexcept {
  wake_list wake;
  {
    std::lock_guard lock(mu);
    while (waiter* w = waiting.front()) {
      if (!w->select || w->select->claim(w->branch))
        wake.add(w->complete(waiter::outcome::destroyed));
      else
        waiting.remove(w);  // its select took another branch: only unlinked
      // release: a hook that sees the flag sees the waiter unlinked, and leaves it alone.
      w->orphaned.store(true, std::memory_order_release);
    }
    if (handed)
      for (waiter* w = handed->front(); w; w = w->next) w->orphaned.store(true, std::memory_order_release);
  }
  wake.wake_all();
}

void waiter::throw_destroyed(const char* what) {
  throw usage_error(std::string(what) +
                    " was destroyed while a task waited on it: a primitive must outlive the tasks waiting on it");
}

}  // namespace weft::detail
