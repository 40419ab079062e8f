#pragma once
// weft::async_mutex: mutual exclusion that suspends the task, not the thread.
//
//   auto guard = co_await m.lock();   // unlocked when `guard` dies
//
// Fair: unlock() hands the lock straight to the longest waiting task. lock() is a cancellation
// point. Not recursive: a task that locks twice waits for itself forever. A lock handed to a
// task that is destroyed before it resumes (shutdown) is unlocked again.
//
// Thread safety: every member may be called from any thread. Lifetime: should outlive its
// waiters and guards (one destroyed under waiting tasks wakes them with usage_error); may
// outlive its runtime.

#include <coroutine>
#include <mutex>
#include <utility>

#include <weft/sync/detail/waiter.hpp>

namespace weft {

class async_mutex {
 public:
  async_mutex() noexcept = default;
  async_mutex(const async_mutex&) = delete;
  async_mutex& operator=(const async_mutex&) = delete;
  ~async_mutex() { detail::orphan_all(mu_, waiters_, &handed_); }

  /// Owns the lock; unlocks when destroyed or on unlock().
  class [[nodiscard]] guard {
   public:
    guard() noexcept = default;
    explicit guard(async_mutex* m) noexcept : m_(m) {}
    guard(guard&& o) noexcept : m_(std::exchange(o.m_, nullptr)) {}
    guard& operator=(guard&& o) noexcept {
      if (this != &o) {
        unlock();
        m_ = std::exchange(o.m_, nullptr);
      }
      return *this;
    }
    ~guard() { unlock(); }
    void unlock() noexcept {
      if (m_) std::exchange(m_, nullptr)->unlock();
    }
    bool owns_lock() const noexcept { return m_ != nullptr; }

   private:
    async_mutex* m_ = nullptr;
  };

  /// Takes the lock if it is free, without waiting.
  bool try_lock() noexcept {
    std::lock_guard lock(mu_);
    if (locked_) return false;
    locked_ = true;
    return true;
  }
  /// Releases the lock; a waiting task gets it.
  void unlock() noexcept {
    detail::task_record* next = nullptr;
    {
      std::lock_guard lock(mu_);
      if (detail::waiter* w = waiters_.claim_front())  // (a weft::select's waiter: claimed first)
        next = w->hand_off(handed_);                   // ownership passes on; locked_ stays true
      else
        locked_ = false;
    }
    if (next) detail::wake_taken(next);
  }
  bool is_locked() const noexcept {
    std::lock_guard lock(mu_);
    return locked_;
  }

  /// Suspends until the lock is free and takes it; yields the guard.
  auto lock() noexcept { return detail::wait_awaiter<wait_op>(*this); }

 private:
  struct wait_op {
    using primitive = async_mutex;
    static constexpr const char* what = "mutex";
    static constexpr const char* name = "weft::async_mutex";
    static void unlock_again(detail::waiter& w) noexcept { static_cast<async_mutex*>(w.owner)->unlock(); }
    static constexpr detail::waiter::undo_fn give_back = &unlock_again;
    static detail::short_mutex& lock(async_mutex& m) noexcept { return m.mu_; }
    static detail::waiter_queue& queue(async_mutex& m) noexcept { return m.waiters_; }
    static bool ready(async_mutex& m) noexcept {
      if (m.locked_) return false;
      m.locked_ = true;
      return true;
    }
    static guard result(async_mutex& m) noexcept { return guard(&m); }
  };

  mutable detail::short_mutex mu_;
  bool locked_ = false;
  detail::waiter_queue waiters_;
  detail::waiter_queue handed_;  // given the lock, not yet resumed
};

}  // namespace weft
