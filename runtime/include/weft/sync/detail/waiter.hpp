#pragma once
// weft::detail::waiter and waiter_queue: the one intrusive wait list under every sync primitive
// (event, semaphore, async_mutex, latch, channel), on the suspension protocol
// (suspension.hpp).
//
// A primitive guards its state and its queues with one short_mutex. A waiter knows that lock
// and the queue it is in, so one hook serves every primitive: cancelled, it takes itself out
// of its queue (if it is still there) and wakes its task; abandoned (its frame destroyed while
// suspended), it takes itself out and wakes nobody. A waker pops waiters under the lock, marks
// them and, after unlocking, wakes their tasks: so each waiter is resumed exactly once, by
// whoever took it out of the queue. Wakers collect the tasks to wake (records, which live as
// long as the runtime's core) under the lock and never touch a waiter after unlocking: by then
// its frame may be gone. complete() and hand_off() take the task out with take_for_wake(), and
// the waker wakes it with wake_taken() (current.hpp), so a waker on a plain thread keeps the
// record alive even if the runtime is destroyed before it wakes the task.
//
// Hand-offs. A primitive that gives a waiter something it must give back if the waiter never
// resumes (the lock of an async_mutex, a semaphore's permit) moves it to a `handed` queue
// instead of unlinking it; the resumed task takes itself off that queue. A waiter abandoned
// while handed runs the primitive's `undo` (unlock, release), so a task destroyed at shutdown
// leaves no lock held and no permit lost.
//
// Selects. A weft::select (select.hpp) waits on several primitives at once, with one waiter in
// each queue, all pointing at one `select_claim`; only one of them may complete the select. So a
// waker never takes the front waiter as it is: it calls claim_front(), which claims a select's
// waiter first (one compare-exchange, under the waker's own lock) and, when the select was
// already won elsewhere, unlinks that waiter and goes on to the next. A waiter is handed a value,
// a permit or the lock only once its select is claimed for it, so a receive that loses the race
// is never given a value: it stays in its channel. Every waker (complete_all, a channel's
// offer/take, release, unlock, orphan_all) goes through claim_front().
//
// Destruction. A primitive destroyed while tasks wait (a bug in a running program; routine
// while shutdown destroys frames in no particular order) unlinks every waiter, marks it
// orphaned and wakes its task, whose co_await throws usage_error; a waiter that is orphaned
// never touches its primitive again. A hook (a cancellation, an abandonment), a waiter handed a
// lock or a permit and resuming, or a select taking its waiter out may have looked at the waiter
// just before, on another thread: each holds a primitive_hazard meanwhile, and the destructor
// returns only once none is at work on the primitive (waiter.cpp).
//
// Nothing here allocates: the waiter lives in the awaiter, in the waiting coroutine's frame.

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <memory>
#include <mutex>
#include <string>

#include <weft/detail/suspension.hpp>
#include <weft/sched/barrier.hpp>
#include <weft/sched/futex.hpp>
#include <weft/sched/spin.hpp>

namespace weft::detail {

/// Lockers asleep on any short_mutex right now (the counter is global so that an unlock never
/// reads its mutex after letting go of it: see short_mutex::unlock).
extern std::atomic<std::uint32_t> short_mutex_sleepers;

/// The lock of a primitive whose critical sections are a few loads and stores: inline, one
/// compare-exchange to lock and a plain store to unlock, where std::mutex costs two calls into
/// the C library. A contended lock spins briefly (the holder is about to let go), then sleeps on
/// a futex; the states are Drepper's (0 free, 1 locked, 2 locked and maybe waited for). Meets
/// Lockable: use it with std::lock_guard / std::unique_lock.
///
/// Unlocking without a read-modify-write. The holder reads the word while it still owns it: 2
/// means a sleeper marked it, and the unlock exchanges as Drepper's does. Otherwise it stores 0,
/// and a locker that marked the word in between must not sleep through that store. Such a
/// locker is asymmetric-fenced against it (sched/barrier.hpp): before marking the word it
/// registers in `short_mutex_sleepers` and runs heavy_barrier(); the unlocker, after its store,
/// runs light_barrier() and reads the counter. Either the locker's exchange sees the 0 (it owns
/// the lock), or the unlocker sees it registered and wakes the word's sleepers. That wake may
/// reach a mutex already destroyed by its next owner: a futex wake on a freed address is
/// harmless (sched/futex.hpp), and the unlocker reads nothing of the mutex after its store.
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
    if (state_.load(std::memory_order_relaxed) == 1) [[likely]] {
      state_.store(0, std::memory_order_release);
      sched::light_barrier();  // pairs with heavy_barrier() in lock_contended()
      // Somebody sleeps on some short_mutex: perhaps on this one.
      if (short_mutex_sleepers.load(std::memory_order_relaxed) != 0) [[unlikely]]
        sched::futex_wake(&state_, 1);
      return;
    }
    if (state_.exchange(0, std::memory_order_release) == 2) sched::futex_wake(&state_, 1);
  }

 private:
  void lock_contended() noexcept {
    for (int spin = 0; spin < 64; ++spin) {
      sched::spin_pause();
      std::uint32_t free = 0;
      if (state_.load(std::memory_order_relaxed) == 0 &&
          state_.compare_exchange_weak(free, 1, std::memory_order_acquire, std::memory_order_relaxed))
        return;
    }
    short_mutex_sleepers.fetch_add(1, std::memory_order_relaxed);
    sched::heavy_barrier();  // pairs with light_barrier() in unlock()
    // Marked 2 from here on: whoever unlocks wakes one sleeper (possibly for nothing).
    while (state_.exchange(2, std::memory_order_acquire) != 0) sched::futex_wait(&state_, 2);
    short_mutex_sleepers.fetch_sub(1, std::memory_order_relaxed);
  }

  std::atomic<std::uint32_t> state_{0};
};

class waiter_queue;

/// Held by whoever looks at a waiter's `orphaned` and `released` flags (with seq_cst loads, after
/// constructing it) and then, finding the waiter still in its primitive's lists, takes the
/// primitive's lock: the hook, finish() of a waiter handed a lock or a permit, a select's unlink.
/// While it lives, that primitive's destructor (orphan_all) waits, so the primitive is not freed
/// between the look and the last touch. A store and a clear on the thread's own slot (waiter.cpp).
class primitive_hazard {
 public:
  explicit primitive_hazard(const short_mutex* mu) noexcept;
  primitive_hazard(const primitive_hazard&) = delete;
  primitive_hazard& operator=(const primitive_hazard&) = delete;
  ~primitive_hazard();

 private:
  std::atomic<const short_mutex*>* slot_;
};

/// What the wait lists see of a weft::select (combinators/detail/select_core.hpp): one word.
/// `waiting` is the only state a waker may claim; a select that is still registering holds the
/// lock of every primitive it waits on, so no waker finds its waiters before it is `waiting`.
struct select_claim {
  static constexpr std::uint32_t registering = 0, waiting = 1, cancelled = 2, first_branch = 3;
  std::atomic<std::uint32_t> state{registering};

  /// Any thread, under the lock of the primitive whose queue holds the select's waiter for
  /// `branch`: true if this call won the select for that branch (the caller must then complete
  /// the waiter), false if it was won already (or cancelled).
  bool claim(std::uint32_t branch) noexcept {
    std::uint32_t expected = waiting;
    // acq_rel: acquire pairs with the select's release of `waiting` (its waiters' fields are
    // published); release orders the claim before the hand-off that follows under our lock.
    return state.compare_exchange_strong(expected, first_branch + branch, std::memory_order_acq_rel,
                                         std::memory_order_relaxed);
  }
};

/// Tasks to wake once the primitive's lock is let go, linked through their records' wake_next
/// (task_record.hpp: a link that only wake lists write, so it survives shutdown freeing a
/// record in the list; take_for_wake keeps its memory).
class wake_list {
 public:
  void add(task_record* r) noexcept {
    r->wake_next = head_;
    head_ = r;
  }
  /// Wakes every task added (call after unlocking).
  void wake_all() noexcept {
    while (task_record* r = head_) {
      head_ = r->wake_next;  // read first: the task may run at once
      wake_taken(r);
    }
  }

 private:
  task_record* head_ = nullptr;
};

struct waiter : suspension {
  enum class outcome : std::uint8_t { waiting, done, cancelled, closed, destroyed };
  using undo_fn = void (*)(waiter&) noexcept;

  /// `mu` guards `queue`; `undo` (may be null) gives back what a hand-off gave (see above);
  /// `owner` is the primitive, for `undo`.
  waiter(short_mutex& mu, waiter_queue& queue, void* owner, undo_fn undo = nullptr) noexcept
      : suspension(&hook), mu(&mu), queue(&queue), owner(owner), undo(undo) {}

  /// The suspend half of every primitive's awaiter (call from await_suspend, lock not held).
  /// Under the lock, `ready()` tries to complete the operation at once (true: done, no wait);
  /// otherwise, still under the lock, the hook is armed and the cancel bit checked, and the
  /// waiter is enqueued by `enqueue(this)`. `after()` runs after unlocking when the operation
  /// completed at once (to wake the task it handed a value to, say). `what` names the wait in
  /// dumps ("channel results"): it must outlive the wait.
  ///
  /// One lock either way. The fast path (ready at once) arms nothing; it is still a
  /// cancellation point (a cancelled task does not proceed) and spends one unit of the task's
  /// budget, going to the back of the line when the budget is exhausted. Arming under the lock
  /// is safe: a canceller that sees the hook runs it, and the hook takes this lock, so it finds
  /// the waiter queued or not at all. Subscribing to the task's token takes the token's lock
  /// inside the primitive's; the token runs its callbacks outside its own lock.
  template <class Ready, class Enqueue, class After>
  std::coroutine_handle<> suspend(std::coroutine_handle<> h, const char* what, Ready ready, Enqueue enqueue,
                                  After after) {
    return suspend(h, what, [] { return false; }, ready, enqueue, after);
  }
  /// suspend() with a lock-free first try: `fast()` (lock not held) completes the operation
  /// without the lock if it can (true), and otherwise leaves everything as it was. It is tried
  /// after the cancellation check and, when it succeeds, counts as ready at once.
  template <class Fast, class Ready, class Enqueue, class After>
  std::coroutine_handle<> suspend(std::coroutine_handle<> h, const char* what, Fast fast, Ready ready, Enqueue enqueue,
                                  After after) {
    if (!enter(h, what)) {
      result = outcome::cancelled;
      return h;
    }
    if (fast()) return done_at_once(h, after);
    return suspend_locked(h, what, ready, enqueue, after);
  }

  /// The lock-free first try of suspend(), from await_ready: an operation that completes at once
  /// then goes on in the awaiting coroutine's own resume function, instead of leaving it through
  /// await_suspend and entering it again at `h` (a symmetric transfer to itself, which pays the
  /// function's whole prologue and epilogue). True: done (result `done`; `fast` must need no
  /// after()). False: await_suspend follows, with suspend_after_ready(), which goes straight to
  /// the lock (so the caller may skip ready_now() when a cheap look says `fast` would fail). A
  /// cancelled task is left to that (it checks again), as is the yield of a task whose budget
  /// this operation spent.
  template <class Fast>
  [[gnu::always_inline]] bool ready_now(const char* what, Fast fast) {
    task_ = current_task(what);
    if (task_->cancelled() || !fast()) return false;
    result = outcome::done;
    if (consume_budget()) [[likely]]
      return true;
    yield_due_ = true;
    return false;
  }
  /// await_suspend after await_ready said false: suspend() without its lock-free try (await_ready
  /// made it, or judged it would fail), unless the operation is done and only the yield is left.
  template <class Ready, class Enqueue, class After>
  std::coroutine_handle<> suspend_after_ready(std::coroutine_handle<> h, const char* what, Ready ready, Enqueue enqueue,
                                              After after) {
    if (yield_due_) [[unlikely]]
      return yield_now(h);
    return suspend(h, what, ready, enqueue, after);
  }

  /// suspend() past its lock-free try: under the lock, completes the operation at once or queues.
  template <class Ready, class Enqueue, class After>
  [[gnu::always_inline]] std::coroutine_handle<> suspend_locked(std::coroutine_handle<> h, const char* what,
                                                                Ready ready, Enqueue enqueue, After after) {
    {
      std::unique_lock lock(*mu);
      if (!ready()) {
        if (!arm()) {
          result = outcome::cancelled;
          return h;
        }
        join_state* helping = publish(await_kind::other, 0, what);
        enqueue(this);
        lock.unlock();
        return suspended(helping);  // a waker or a canceller resumes us: touch nothing after this
      }
    }
    return done_at_once(h, after);
  }
  /// The operation completed without a wait: the task goes on at `h`, or yields when that spent
  /// its budget.
  template <class After>
  [[gnu::always_inline]] std::coroutine_handle<> done_at_once(std::coroutine_handle<> h, After after) {
    if (result == outcome::waiting) result = outcome::done;
    after();
    if (!consume_budget()) return yield_now(h);
    return h;
  }
  /// Requeues the running task, to continue at `h`, behind the worker's other work.
  [[gnu::noinline]] std::coroutine_handle<> yield_now(std::coroutine_handle<> h) noexcept {
    sched::worker* wk = tls_ctx->w;
    wk->note_budget_yield();
    task_->resume_point = h;  // (set by enter() already, unless the operation completed in ready_now())
    task_->set_state(record_state::runnable, task_->rt->coarse_now());
    join_state* helping = take_helping(task_);
    wk->requeue_current(task_);
    return after_suspend(helping);
  }

  /// The resume half: disarms; takes the waiter off a hand-off queue; throws cancelled_error if
  /// the wait was cancelled and usage_error if the primitive was destroyed. `what` names the
  /// primitive for that message.
  outcome finish(const char* what) {
    leave_quietly();
    if (result == outcome::cancelled) throw cancelled_error();
    if (result == outcome::destroyed) throw_destroyed(what);
    if (linked) {  // handed: off the hand-off queue, unless the primitive is gone
      primitive_hazard hazard(mu);
      // seq_cst: see primitive_hazard. Pairs with orphan_all's release.
      if (!orphaned.load(std::memory_order_seq_cst)) {
        std::lock_guard lock(*mu);
        take_off_queue();
      }
    }
    return result;
  }

  /// Under the lock: completes this (queued) waiter with `r`; the caller wakes the task it
  /// returns with wake_taken() (or a wake_list) after unlocking.
  task_record* complete(outcome r) noexcept;
  /// Under the lock: completes this (queued) waiter by a hand-off: it moves to `handed`. The
  /// caller wakes the task as for complete().
  task_record* hand_off(waiter_queue& handed) noexcept;

  task_record* task() const noexcept { return task_; }
  /// A weft::select's waiter: it belongs to select `s` as branch `b` of task `t` (it is never
  /// armed or published itself: the select is the task's one suspension).
  void join_select(select_claim& s, std::uint32_t b, task_record* t) noexcept {
    select = &s;
    branch = b;
    task_ = t;
  }

  waiter* prev = nullptr;
  waiter* next = nullptr;
  short_mutex* mu;
  waiter_queue* queue;  ///< the queue it is linked in (its wait queue, or a hand-off queue)
  void* owner;
  undo_fn undo;
  void* payload = nullptr;         ///< channel: the value to send, or where to receive
  std::int64_t blocked_since = 0;  ///< a named channel's: when it queued (its waker reports the wait)
  select_claim* select = nullptr;  ///< a weft::select's waiter: claim it before completing it
  std::uint32_t branch = 0;        ///< which of the select's branches this waiter is
  outcome result = outcome::waiting;
  bool linked = false;
  bool yield_due_ = false;            ///< done in ready_now(), which spent the task's budget: await_suspend yields
  std::atomic<bool> orphaned{false};  ///< the primitive is gone: never touch it again
  /// Taken off the primitive's queues for good (by a waker, a canceller or a hook; set with
  /// release under the lock, by waiter_queue::remove): from then on the primitive may be
  /// destroyed before the task resumes (its waiter is in no list of it), so a later hook call
  /// (shutdown's cancellation of a task woken but not yet run) must not take its lock. Not set
  /// between arming and enqueueing, where the hook must take the lock to find the waiter.
  std::atomic<bool> released{false};

 private:
  friend void orphan_all(short_mutex& mu, waiter_queue& waiting, waiter_queue* handed) noexcept;
  void take_off_queue() noexcept;
  [[noreturn]] static void throw_destroyed(const char* what);
  static void hook(cancel_hook* h, hook_op op) noexcept;
};

/// FIFO of waiters. Not thread-safe: the owning primitive's lock guards it.
class waiter_queue {
 public:
  bool empty() const noexcept { return head_ == nullptr; }
  waiter* front() const noexcept { return head_; }
  std::size_t size() const noexcept { return size_; }

  void push_back(waiter* w) noexcept {
    w->next = nullptr;
    w->prev = tail_;
    if (tail_)
      tail_->next = w;
    else
      head_ = w;
    tail_ = w;
    w->queue = this;
    w->linked = true;
    w->released.store(false, std::memory_order_relaxed);
    ++size_;
  }
  waiter* pop_front() noexcept {
    waiter* w = head_;
    if (w) remove(w);
    return w;
  }
  /// The first waiter a waker may complete, or null. A select's waiter is claimed for its
  /// branch first; one whose select was won elsewhere is unlinked and skipped (see above). The
  /// caller must complete (or hand off to) the waiter it gets.
  waiter* claim_front() noexcept;
  /// Under the lock: off this queue for good (see waiter::released).
  void remove(waiter* w) noexcept {
    unlink(w);
    w->released.store(true, std::memory_order_release);
  }
  /// Under the lock: off this queue, to be pushed onto another (a hand-off) at once.
  void unlink(waiter* w) noexcept {
    if (w->prev)
      w->prev->next = w->next;
    else
      head_ = w->next;
    if (w->next)
      w->next->prev = w->prev;
    else
      tail_ = w->prev;
    w->prev = w->next = nullptr;
    w->linked = false;
    --size_;
  }

 private:
  waiter* head_ = nullptr;
  waiter* tail_ = nullptr;
  std::size_t size_ = 0;
};

inline waiter* waiter_queue::claim_front() noexcept {
  while (waiter* w = head_) {
    if (!w->select || w->select->claim(w->branch)) return w;
    remove(w);  // its select took another branch: it gets nothing (its task unlinks nothing)
  }
  return nullptr;
}

inline task_record* waiter::complete(outcome r) noexcept {
  // Written and read before the release: a hook that sees `released` (another thread ending the
  // task, say shutdown destroying its frame) may let the waiter go at once.
  result = r;
  task_record* t = take_for_wake(task_);
  queue->remove(this);
  return t;
}

inline task_record* waiter::hand_off(waiter_queue& handed) noexcept {
  queue->unlink(this);  // (not released: it stays in a list of the primitive)
  result = outcome::done;
  handed.push_back(this);
  return take_for_wake(task_);
}

inline void waiter::take_off_queue() noexcept {
  if (linked) queue->remove(this);
}

/// Under the lock: completes every waiter of `q` with `r` and adds its task to `wake`.
inline void complete_all(waiter_queue& q, waiter::outcome r, wake_list& wake) noexcept {
  while (waiter* w = q.claim_front()) wake.add(w->complete(r));
}

/// Under the lock of `q`'s primitive: what orphan_all does, for the waiters of `q` whose `owner`
/// is `owner` only (a broadcast or watch receiver destroyed while its state lives on): each is
/// unlinked, orphaned and, unless it is a select's that went another way, woken with usage_error.
inline void orphan_owned_by(waiter_queue& q, const void* owner, wake_list& wake) noexcept {
  for (waiter* w = q.front(); w;) {
    waiter* next = w->next;
    if (w->owner == owner) {
      if (!w->select || w->select->claim(w->branch))
        wake.add(w->complete(waiter::outcome::destroyed));
      else
        q.remove(w);
      // release: a hook that sees the flag sees the waiter unlinked, and leaves it alone.
      w->orphaned.store(true, std::memory_order_release);
    }
    w = next;
  }
}

/// A primitive's destructor: every waiter still queued is unlinked, orphaned and woken (its
/// co_await throws usage_error); every waiter in `handed` (given the lock or a permit, not yet
/// resumed) is orphaned, so it never touches the primitive again.
void orphan_all(short_mutex& mu, waiter_queue& waiting, waiter_queue* handed = nullptr) noexcept;

/// For an awaiter on a primitive whose state is shared (broadcast, watch): keeps that state, and
/// so the lock its waiter unlinks itself under, alive as long as the awaiter. Derive from it
/// *before* `waiter`: bases are destroyed in reverse order, so the waiter unlinks itself first.
template <class State>
struct state_ref {
  std::shared_ptr<State> state;
};

/// The one awaiter of the primitives whose wait hands over no value (event, latch, semaphore,
/// async_mutex). `Op`, a nested struct of the primitive, describes its wait:
///
///   using primitive = event;
///   static constexpr const char* what = "event";           // the wait, in dumps and traces
///   static constexpr const char* name = "weft::event";     // the primitive, in errors
///   static constexpr waiter::undo_fn give_back = nullptr;  // returns a hand-off (or null)
///   static short_mutex& lock(event&);  static waiter_queue& queue(event&);
///   static bool ready(event&);         // under the lock: done at once? (takes what it waits for)
///   static R result(event&);           // what co_await yields
template <class Op>
class wait_awaiter : waiter {
 public:
  using primitive = typename Op::primitive;
  explicit wait_awaiter(primitive& p) noexcept : waiter(Op::lock(p), Op::queue(p), &p, Op::give_back), p_(&p) {}

  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) {
    return suspend(h, Op::what, [&] { return Op::ready(*p_); }, [&](waiter* w) { Op::queue(*p_).push_back(w); }, [] {});
  }
  decltype(auto) await_resume() {
    finish(Op::name);
    return Op::result(*p_);
  }
  /// The primitive waited on (weft::select waits on it itself).
  primitive& target() const noexcept { return *p_; }

 private:
  primitive* p_;
};

}  // namespace weft::detail
