#pragma once
// weft::semaphore: a counting semaphore for tasks.
//
//   weft::semaphore slots(8);
//   co_await slots.acquire();  ...  slots.release();
//
// Fair: release() hands its permit to the longest waiting task rather than letting a newcomer
// take it. acquire() is a cancellation point.
//
// Thread safety: every member may be called from any thread. Lifetime: must outlive its waiters.

#include <coroutine>
#include <cstddef>
#include <mutex>

#include <weft/detail/waiter.hpp>

namespace weft {

class semaphore {
 public:
  explicit semaphore(std::size_t permits) noexcept : permits_(permits) {}
  semaphore(const semaphore&) = delete;
  semaphore& operator=(const semaphore&) = delete;

  /// Returns `n` permits: each goes to a waiting task first, if any.
  void release(std::size_t n = 1) noexcept {
    detail::waiter* woken = nullptr;
    {
      std::lock_guard lock(mu_);
      while (n > 0 && !waiters_.empty()) {
        detail::waiter* w = waiters_.pop_front();
        w->result = detail::waiter::outcome::done;
        w->next = woken;
        woken = w;
        --n;
      }
      permits_ += n;
    }
    detail::resume_all(woken);
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

  class awaiter : detail::waiter {
   public:
    explicit awaiter(semaphore& s) noexcept : s_(&s) { fn = &on_cancel; }
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) {
      return detail::suspend_on(
          s_->mu_, *this, h, "semaphore",
          [&] {
            if (s_->permits_ == 0) return false;
            --s_->permits_;
            return true;
          },
          [&](detail::waiter* w) { s_->waiters_.push_back(w); }, [] {});
    }
    void await_resume() { detail::finish_wait(*this); }

   private:
    static void on_cancel(detail::cancel_hook* h) noexcept {
      auto* self = static_cast<awaiter*>(h);
      detail::cancel_waiter(self->s_->mu_, self->s_->waiters_, *self);
    }
    semaphore* s_;
  };

  /// Suspends until a permit is free and takes it.
  awaiter acquire() noexcept { return awaiter(*this); }

 private:
  mutable std::mutex mu_;
  std::size_t permits_;
  detail::waiter_queue waiters_;
};

}  // namespace weft
