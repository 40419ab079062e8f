#pragma once
// weft::semaphore: a counting semaphore for tasks.
//
//   weft::semaphore slots(8);
//   co_await slots.acquire();  ...  slots.release();
//
// Fair: release() hands its permit to the longest waiting task rather than letting a newcomer
// take it. At most max() permits (PTRDIFF_MAX, as std::counting_semaphore's): a count above it
// is a negative one converted to std::size_t, and the constructor, or a release() that would
// take the count past it, throws std::invalid_argument. acquire() is a cancellation point. A
// permit handed to a task that is destroyed before it resumes (shutdown) comes back to the
// semaphore, so until the task resumes it still counts towards max().
//
// Thread safety: every member may be called from any thread. Lifetime: should outlive its
// waiters (one destroyed under them wakes them with usage_error); may outlive its runtime.

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <stdexcept>
#include <string>

#include <weft/sync/detail/waiter.hpp>

namespace weft {

class semaphore {
 public:
  /// Throws std::invalid_argument if `permits` is above max().
  explicit semaphore(std::size_t permits) : permits_(checked(permits)) {}
  semaphore(const semaphore&) = delete;
  semaphore& operator=(const semaphore&) = delete;
  ~semaphore() { detail::orphan_all(mu_, waiters_, &handed_); }

  /// Returns `n` permits: each goes to a waiting task first, if any. Throws
  /// std::invalid_argument, changing nothing, if that would take the count (the free permits
  /// and those handed to tasks that have not resumed yet) past max().
  void release(std::size_t n = 1) {
    detail::wake_list woken;
    {
      std::lock_guard lock(mu_);
      // (The count may be a permit or two past max(): see give_back_permit().)
      const std::size_t count = permits_ + handed_.size();
      if (count > max() || n > max() - count)
        throw std::invalid_argument("weft::semaphore::release: " + std::to_string(n) + " permits on a count of " +
                                    std::to_string(count) +
                                    " would take it past the most, PTRDIFF_MAX (a negative count converted?)");
      add_locked(n, woken);
    }
    woken.wake_all();
  }
  /// Takes a permit if one is free, without waiting.
  bool try_acquire() noexcept {
    std::lock_guard lock(mu_);
    if (permits_ == 0) return false;
    --permits_;
    return true;
  }
  std::size_t available() const noexcept {
    std::lock_guard lock(mu_);
    return permits_;
  }
  std::size_t waiting() const noexcept {
    std::lock_guard lock(mu_);
    return waiters_.size();
  }

  /// Suspends until a permit is free and takes it.
  auto acquire() noexcept { return detail::wait_awaiter<wait_op>(*this); }

  /// The most permits a semaphore may start with.
  static constexpr std::size_t max() noexcept { return PTRDIFF_MAX; }

 private:
  static std::size_t checked(std::size_t permits) {
    if (permits > max())
      throw std::invalid_argument(
          "weft::semaphore: " + std::to_string(permits) +
          " permits is above the most, PTRDIFF_MAX (a negative count converted to std::size_t?)");
    return permits;
  }

  // Under the lock: `n` permits, to the waiting tasks first.
  void add_locked(std::size_t n, detail::wake_list& woken) noexcept {
    for (; n > 0; --n) {
      detail::waiter* w = waiters_.claim_front();  // (a weft::select's waiter: claimed first)
      if (!w) break;
      woken.add(w->hand_off(handed_));
    }
    permits_ += n;
  }
  // The permit of a task destroyed before it resumed with it. Never refused: the permit was
  // counted while in flight. (The abandonment hook takes the waiter off handed_ before it calls
  // this, so a release() in between may fill the count to max(): the permits coming back then
  // take it a few past, which release() checks without wrapping.)
  void give_back_permit() noexcept {
    detail::wake_list woken;
    {
      std::lock_guard lock(mu_);
      add_locked(1, woken);
    }
    woken.wake_all();
  }

  struct wait_op {
    using primitive = semaphore;
    static constexpr const char* what = "semaphore";
    static constexpr const char* name = "weft::semaphore";
    static void return_permit(detail::waiter& w) noexcept { static_cast<semaphore*>(w.owner)->give_back_permit(); }
    static constexpr detail::waiter::undo_fn give_back = &return_permit;
    static detail::short_mutex& lock(semaphore& s) noexcept { return s.mu_; }
    static detail::waiter_queue& queue(semaphore& s) noexcept { return s.waiters_; }
    static bool ready(semaphore& s) noexcept {
      if (s.permits_ == 0) return false;
      --s.permits_;
      return true;
    }
    static void result(semaphore&) noexcept {}
  };

  mutable detail::short_mutex mu_;
  std::size_t permits_;
  detail::waiter_queue waiters_;
  detail::waiter_queue handed_;  // given a permit, not yet resumed
};

}  // namespace weft
