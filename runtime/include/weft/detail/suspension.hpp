#pragma once
// weft::detail::suspension: the one protocol by which a task waits for something.
//
// Every weft awaitable that can suspend derives from `suspension` (the timer wheel's sleeps, a
// join word, the waiter lists of the sync primitives and channels, a group's children, an Asio
// operation). Each supplies one hook function that knows how to take its waiter back out of its
// resource; the base does the rest, the same way everywhere:
//
//   1. enter()      the running task; a task already cancelled does not wait
//   2. arm()        publishes the hook in the task's record, then checks the cancel bit: from
//                   here a canceller that sets the bit runs hook(cancel), which takes the waiter
//                   out of the resource (under the resource's lock) and wakes the task; one of
//                   the two sides always sees the other (task_record.hpp)
//   3. publish()    under the resource's lock, after arm() said "not cancelled": marks the wait
//                   in the record (dumps, traces) and hands back a help-first join
//                   (current.hpp); then the waiter is linked into the resource, the lock is let
//                   go, and suspended() says what the thread runs next. From the moment the
//                   waiter is reachable, nothing touches the awaiter: a waker or a canceller
//                   resumes the task. If the resource turns out ready after all, not_suspended()
//                   undoes publish() and the task goes on.
//   4. leave()      await_resume: disarms (waiting for a canceller still inside the hook), then
//                   throws cancelled_error if the wait ended by cancellation
//
// and a fifth, what makes destruction safe at every await point: a frame destroyed while
// suspended (shutdown ending a task that ignored its cancellation) destroys its awaiter, whose
// destructor disarms and runs hook(abandon): the waiter is unlinked from its resource, under
// the resource's lock, and nobody is woken. No resource is left pointing into a freed frame,
// whatever order frames and resources are destroyed in (a resource destroyed first unlinks its
// waiters itself; sync/*: orphan_all()).
//
// Cost: the protocol adds two plain stores (the pending flag, set and cleared) and a test in the
// destructor to a wait; a wait that never suspends touches none of it.
//
// Thread safety: the awaiter belongs to the task awaiting it. The hook runs on the canceller's
// thread while the task's record holds `cancel_busy`, so the awaiter is alive during it.

#include <coroutine>
#include <cstdint>

#include <weft/detail/current.hpp>

namespace weft::detail {

class suspension : public cancel_hook {
 public:
  using hook_fn = void (*)(cancel_hook*, hook_op) noexcept;

  suspension(const suspension&) = delete;
  suspension& operator=(const suspension&) = delete;

 protected:
  explicit suspension(hook_fn hook) noexcept { fn = hook; }
  /// Awaiters that are returned by value (Asio's async_result) move before they are awaited.
  suspension(suspension&& o) noexcept { fn = o.fn; }
  ~suspension() {
    if (pending_) [[unlikely]]
      abandon();
  }

  /// 1. The running task, resuming at `h` (usage_error off the runtime). False if it is
  /// cancelled already: it must not wait, and leave() throws. A wait that is no cancellation
  /// point (`cancellable` false; it must not arm() either) goes on regardless.
  bool enter(std::coroutine_handle<> h, const char* what, bool cancellable = true) {
    task_ = current_task(what);
    if (cancellable && task_->cancelled()) {
      cancelled_ = true;
      return false;
    }
    task_->resume_point = h;
    return true;
  }

  /// 2. Arms the hook (with `with_token`, the task's token reaches it too). False if
  /// cancellation was requested meanwhile: do not register; leave() throws.
  bool arm(bool with_token = true) noexcept {
    armed_ = true;
    if (task_->arm(this, with_token)) {
      cancelled_ = true;
      return false;
    }
    return true;
  }

  /// 3. The wait is about to become visible (the caller holds the resource's lock, or links
  /// the waiter with one atomic step next). Returns the join this task was helping with:
  /// pass it to suspended() or not_suspended().
  join_state* publish(await_kind kind, std::uint64_t arg, const char* what) noexcept {
    task_->set_awaiting(kind, arg, task_->rt->coarse_now(), what);
    if (task_->rt->tracer.load(std::memory_order_relaxed)) [[unlikely]]
      trace_wait(task_, what);
    pending_ = true;
    return take_helping(task_);
  }
  /// The waiter is linked: what the thread runs next. Touch nothing of `this` after the call.
  static std::coroutine_handle<> suspended(join_state* helping) noexcept { return after_suspend(helping); }
  /// The resource was ready after all: undoes publish(); the task goes on at `h`.
  std::coroutine_handle<> not_suspended(join_state* helping, std::coroutine_handle<> h) noexcept {
    pending_ = false;
    task_->trace_since = 0;  // no wait to trace: its next dispatch (a requeue) is not the end of one
    restore_helping(task_, helping);
    task_->set_running();
    return h;
  }

  /// 4. await_resume: disarms; throws cancelled_error if the wait was cancelled.
  [[gnu::always_inline]] void leave() {
    pending_ = false;
    if (armed_) task_->disarm();
    if (cancelled_) throw cancelled_error();
  }
  /// leave() without the throw, for awaiters that report cancellation otherwise.
  void leave_quietly() noexcept {
    pending_ = false;
    if (armed_) task_->disarm();
  }

  /// The hook's side: the wait ends by cancellation (set before waking the task).
  void mark_cancelled() noexcept { cancelled_ = true; }
  bool was_cancelled() const noexcept { return cancelled_; }
  /// Whether the awaiter was published and not yet resumed (its frame is suspended here).
  bool pending() const noexcept { return pending_; }

  task_record* task_ = nullptr;

 private:
  void abandon() noexcept {
    pending_ = false;
    if (armed_) task_->disarm();  // a canceller inside the hook finishes first
    fn(this, hook_op::abandon);
  }

  bool armed_ = false;
  bool cancelled_ = false;
  bool pending_ = false;
};

}  // namespace weft::detail
