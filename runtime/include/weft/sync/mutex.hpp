#pragma once
// weft::async_mutex: mutual exclusion that suspends the task, not the thread.
//
//   auto guard = co_await m.lock();   // unlocked when `guard` dies
//
// Fair: unlock() hands the lock straight to the longest waiting task. lock() is a cancellation
// point. Not recursive: a task that locks twice waits for itself forever.
//
// Thread safety: every member may be called from any thread. Lifetime: must outlive its waiters
// and guards.

#include <coroutine>
#include <mutex>
#include <utility>

#include <weft/detail/waiter.hpp>

namespace weft {

class async_mutex {
 public:
  async_mutex() noexcept = default;
  async_mutex(const async_mutex&) = delete;
  async_mutex& operator=(const async_mutex&) = delete;

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
    detail::waiter* next;
    {
      std::lock_guard lock(mu_);
      next = waiters_.pop_front();
      if (next)
        next->result = detail::waiter::outcome::done;  // ownership passes on; locked_ stays true
      else
        locked_ = false;
    }
    if (next) detail::resume_waiter(next);
  }
  bool is_locked() const noexcept {
    std::lock_guard lock(mu_);
    return locked_;
  }

  class awaiter : detail::waiter {
   public:
    explicit awaiter(async_mutex& m) noexcept : m_(&m) { fn = &on_cancel; }
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) {
      return detail::suspend_on(
          m_->mu_, *this, h, "mutex",
          [&] {
            if (m_->locked_) return false;
            m_->locked_ = true;
            return true;
          },
          [&](detail::waiter* w) { m_->waiters_.push_back(w); }, [] {});
    }
    guard await_resume() {
      detail::finish_wait(*this);
      return guard(m_);
    }

   private:
    static void on_cancel(detail::cancel_hook* h) noexcept {
      auto* self = static_cast<awaiter*>(h);
      detail::cancel_waiter(self->m_->mu_, self->m_->waiters_, *self);
    }
    async_mutex* m_;
  };

  /// Suspends until the lock is free and takes it; yields the guard.
  awaiter lock() noexcept { return awaiter(*this); }

 private:
  mutable std::mutex mu_;
  bool locked_ = false;
  detail::waiter_queue waiters_;
};

}  // namespace weft
