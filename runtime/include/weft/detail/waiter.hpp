#pragma once
// weft::detail::waiter and waiter_queue: the one intrusive wait list under every sync primitive
// (event, semaphore, async_mutex, latch, channel).
//
// A primitive guards its state and its waiter queues with one mutex. Suspending on it
// (suspend_on) follows the runtime's cancellation protocol (runtime/README.md): arm the task's
// cancel hook, then, under the primitive's lock, re-check the condition *and* the cancel bit
// before enqueueing. A waker pops waiters under the lock, marks them, and schedules them after
// unlocking; a canceller's hook takes the lock and removes the waiter only if it is still
// queued. So each waiter is resumed exactly once, by whoever took it out of the queue, and its
// memory (in the suspended frame) stays valid until then.
//
// Nothing here allocates: the waiter lives in the awaiter, in the waiting coroutine's frame.

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <mutex>

#include <weft/detail/current.hpp>
#include <weft/sched/futex.hpp>

namespace weft::detail {

struct waiter : cancel_hook {
  enum class outcome : std::uint8_t { waiting, done, cancelled, closed };

  waiter* prev = nullptr;
  waiter* next = nullptr;
  task_record* task = nullptr;
  void* owner = nullptr;       ///< the primitive (for the cancel hook)
  void* payload = nullptr;     ///< channel: the value to send, or where to receive
  outcome result = outcome::waiting;
  bool linked = false;
};

/// The lock of a primitive whose critical sections are a few loads and stores (channel): inline,
/// one compare-exchange to lock and one exchange to unlock, where std::mutex costs two calls
/// into the C library. A contended lock spins briefly (the holder is about to let go), then
/// sleeps on a futex; the states are Drepper's (0 free, 1 locked, 2 locked and maybe waited
/// for). Meets Lockable: use it with std::lock_guard / std::unique_lock.
class short_mutex {
 public:
  void lock() noexcept {
    std::uint32_t free = 0;
    if (!state_.compare_exchange_strong(free, 1, std::memory_order_acquire, std::memory_order_relaxed)) [[unlikely]]
      lock_contended();
  }
  bool try_lock() noexcept {
    std::uint32_t free = 0;
    return state_.compare_exchange_strong(free, 1, std::memory_order_acquire, std::memory_order_relaxed);
  }
  void unlock() noexcept {
    if (state_.exchange(0, std::memory_order_release) == 2) [[unlikely]] sched::futex_wake(&state_, 1);
  }

 private:
  void lock_contended() noexcept {
    for (int spin = 0; spin < 64; ++spin) {
#if defined(__x86_64__) || defined(__i386__)
      __builtin_ia32_pause();
#endif
      std::uint32_t free = 0;
      if (state_.load(std::memory_order_relaxed) == 0 &&
          state_.compare_exchange_weak(free, 1, std::memory_order_acquire, std::memory_order_relaxed))
        return;
    }
    // Marked 2 from here on: whoever unlocks wakes one sleeper (possibly for nothing).
    while (state_.exchange(2, std::memory_order_acquire) != 0) sched::futex_wait(&state_, 2);
  }

  std::atomic<std::uint32_t> state_{0};
};

/// FIFO of waiters. Not thread-safe: the owning primitive's mutex guards it.
class waiter_queue {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  waiter* front() const noexcept { return head_; }
  std::size_t size() const noexcept { return size_; }

  void push_back(waiter* w) noexcept {
    w->next = nullptr;
    w->prev = tail_;
    if (tail_) tail_->next = w; else head_ = w;
    tail_ = w;
    w->linked = true;
    ++size_;
  }
  waiter* pop_front() noexcept {
    waiter* w = head_;
    if (w) remove(w);
    return w;
  }
  void remove(waiter* w) noexcept {
    if (w->prev) w->prev->next = w->next; else head_ = w->next;
    if (w->next) w->next->prev = w->prev; else tail_ = w->prev;
    w->prev = w->next = nullptr;
    w->linked = false;
    --size_;
  }

 private:
  waiter* head_ = nullptr;
  waiter* tail_ = nullptr;
  std::size_t size_ = 0;
};

/// The suspend half of every primitive's awaiter. Called from await_suspend with the
/// primitive's lock not held. Under the lock, `ready()` tries to complete the operation at once
/// (true: done, no wait); otherwise, still under the lock, the task arms its cancel hook, checks
/// the cancel bit and its token, and the waiter is enqueued by `enqueue(w)`. Returns whether the
/// task suspended. `what` names the wait in dumps ("channel results"): it must outlive the wait.
///
/// One lock either way. The fast path (ready at once) arms nothing; it is still a cancellation
/// point (a cancelled task does not proceed) and spends one unit of the task's budget, going to
/// the back of the line when the budget is exhausted. Arming under the lock is safe: a
/// canceller that sees the hook runs it, and the hook takes this lock (cancel_waiter), so it
/// finds the waiter queued or not at all; arm() reads the cancel bit after publishing the hook,
/// so a cancellation is seen by one side or the other. Subscribing to the task's token takes
/// the token's lock inside the primitive's; the token runs its callbacks outside its own lock.
template <class Mutex, class Ready, class Enqueue, class After>
std::coroutine_handle<> suspend_on(Mutex& mu, waiter& w, std::coroutine_handle<> h, const char* what,
                                   Ready ready, Enqueue enqueue, After after) {
  task_record* me = current_task(what);
  if (me->cancelled()) {
    w.result = waiter::outcome::cancelled;
    return h;
  }
  me->resume_point = h;
  {
    std::unique_lock lock(mu);
    if (!ready()) {
      w.task = me;  // armed from here on: finish_wait() disarms
      if (me->arm(&w)) {
        w.result = waiter::outcome::cancelled;
        return h;
      }
      me->set_awaiting(await_kind::other, 0, me->rt->coarse_now(), what);
      trace_wait(me, what);
      join_state* helping = take_helping(me);  // before the unlock publishes the wait
      enqueue(&w);
      lock.unlock();
      // A waker or a canceller resumes us: nothing touches `w` or the frame after this.
      return after_suspend(helping);
    }
  }
  if (w.result == waiter::outcome::waiting) w.result = waiter::outcome::done;
  after();
  if (!consume_budget()) {
    sched::worker* wk = tls_ctx->w;
    wk->note_budget_yield();
    me->set_state(record_state::runnable, me->rt->coarse_now());
    join_state* helping = take_helping(me);
    wk->push_yield(me);
    return after_suspend(helping);
  }
  return h;
}

/// The cancel hook of a waiter queued in `queue` under `mu`: takes it out if it is still there.
template <class Mutex>
void cancel_waiter(Mutex& mu, waiter_queue& queue, waiter& w) noexcept {
  {
    std::lock_guard lock(mu);
    if (!w.linked) return;  // a waker took it first and will resume it
    queue.remove(&w);
    w.result = waiter::outcome::cancelled;
  }
  wake(w.task);
}

/// Resumes a waiter taken out of its queue (outside the primitive's lock).
inline void resume_waiter(waiter* w) noexcept { wake(w->task); }

/// Under the lock: moves every waiter of `q` to a private list (linked by `next`), marked done.
inline waiter* take_all(waiter_queue& q, waiter::outcome result = waiter::outcome::done) noexcept {
  waiter* list = nullptr;
  while (waiter* w = q.pop_front()) {
    w->result = result;
    w->next = list;
    list = w;
  }
  return list;
}

/// After unlocking: resumes every waiter of a list from take_all().
inline void resume_all(waiter* list) noexcept {
  while (list) {
    waiter* next = list->next;  // read first: a resumed waiter may be gone at once
    resume_waiter(list);
    list = next;
  }
}

/// The resume half: disarms the cancel hook; throws cancelled_error if the wait was cancelled.
inline waiter::outcome finish_wait(waiter& w) {
  if (w.task) w.task->disarm();
  if (w.result == waiter::outcome::cancelled) throw cancelled_error();
  return w.result;
}

}  // namespace weft::detail
