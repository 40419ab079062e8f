#pragma once
// weft::detail::select_awaiter: one task waiting on several things at once (weft::select).
//
// The algorithm is Go's select, on weft's wait lists (sync/detail/waiter.hpp):
//
//   1. Lock every primitive the select waits on (channels, events, ...), in address order, each
//      once. Under those locks, look at the branches in index order: the first one ready
//      completes at once (takes its value) and the select does not suspend. Nobody can complete
//      the select meanwhile: none of its waiters is queued anywhere yet.
//   2. None ready: arm the task's cancel hook, queue one waiter per primitive branch (all
//      pointing at this select's `select_claim` word), arm one timer for the earliest sleep,
//      switch the word from `registering` to `waiting`, unlock, suspend.
//   3. Whoever completes the select first claims the word (waiting -> "branch i won", one CAS):
//      a waker, under its own primitive's lock, before it hands over anything (claim_front); the
//      timer; the cancel hook (waiting -> cancelled). The others find it claimed: a waker then
//      drops the stale waiter and serves the next one, so a value is only ever handed to the
//      branch that won -- a receive that lost leaves its value in its channel.
//   4. Resumed, the select takes its other waiters out of their queues (each under its lock)
//      and cancels its timer, then yields the winner's value.
//
// The timer and the cancel hook take no lock, so they may come while the select still
// registers (step 2, all locks held): they then only mark the word (`timer_fired`,
// `cancel_requested`), and the registration, finding the word marked instead of `registering`,
// undoes itself and does not suspend. A timer taken out of the wheel by a firing worker may
// still touch the select after cancel_timer() failed: `timer_done_` says when it is through
// (it is set before the timer wakes the task, and waited for before the awaiter may die).
//
// Destroyed while suspended (shutdown), the awaiter takes its waiters out as in step 4 and gives
// back a hand-off a winning semaphore or mutex branch was given; a value handed to a winning
// receive is destroyed with it, as for a plain recv.
//
// Thread safety: the awaiter belongs to the task awaiting it; claim(), the timer and the hook
// touch only the word (and, once they won it, the task's record).

#include <algorithm>
#include <array>
#include <atomic>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include <weft/combinators/detail/group.hpp>
#include <weft/combinators/detail/select_nodes.hpp>
#include <weft/detail/suspension.hpp>
#include <weft/sched/spin.hpp>
#include <weft/sched/timer_wheel.hpp>
#include <weft/spawn.hpp>

namespace weft {

/// What weft::select yields: the index of the branch that completed (0-based, in argument
/// order) and its value, as the alternative of that index (std::monostate for a branch whose
/// await yields nothing). Structured bindings work: `auto [index, value] = co_await select(...)`.
template <class... V>
struct select_result {
  std::size_t index;
  std::variant<V...> value;
};

namespace detail {

template <class N>
inline constexpr bool is_fallback_node = false;
template <class A>
inline constexpr bool is_fallback_node<fallback_node<A>> = true;

template <class... Node>
class select_awaiter : suspension, sched::timer_entry {
 public:
  using result_type = select_result<typename Node::value_type...>;

  template <class... Spec>
  explicit select_awaiter(Spec&&... specs) : suspension(&hook), nodes_(std::forward<Spec>(specs)...) {}
  select_awaiter(const select_awaiter&) = delete;
  select_awaiter& operator=(const select_awaiter&) = delete;
  ~select_awaiter() {
    if (pending()) {  // destroyed while it waits (shutdown): out of every queue, nobody woken
      leave_quietly();
      unregister(true);
    }
  }

  /// Spawns the child task of each fallback branch under `g` (before the select is awaited).
  void spawn_children(const std::shared_ptr<group_core>& g) {
    each([&](auto& node, auto) {
      if constexpr (is_fallback_node<std::remove_cvref_t<decltype(node)>>) {
        g->child_starting();
        try {
          weft::spawn(select_child(std::move(*node.awaitable), &node, g),
                      {.name = "select branch", .token = g->token()})
              .detach();
        } catch (...) {
          g->child_finished();
          throw;
        }
      }
    });
  }

  bool await_ready() const noexcept { return false; }

  std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) {
    if (!enter(h, "weft::select")) {
      claim_.state.store(select_claim::cancelled, std::memory_order_relaxed);
      return h;
    }
    lock_set locks;  // on this thread's stack: still usable once *this may be gone
    each([&](auto& node, auto) {
      if constexpr (std::remove_cvref_t<decltype(node)>::waits_on_lock) locks.add(node.lock());
    });
    locks.lock_all();

    // 1. The first branch ready now wins at once.
    const std::int64_t now = has_sleep ? task_->rt->sched.now() : 0;
    std::uint32_t winner = none;
    each([&](auto& node, auto i) {
      if (winner == none && node.try_now(now)) winner = i;
    });
    if (winner != none) {
      claim_.state.store(select_claim::first_branch + winner, std::memory_order_relaxed);
      locks.unlock_all();
      each([&](auto& node, auto i) {
        if (i == winner) node.after();
      });
      return go_on(h);
    }

    // 2. Register with every branch.
    if (!arm()) {
      claim_.state.store(select_claim::cancelled, std::memory_order_relaxed);
      return h;
    }
    join_state* helping = publish(await_kind::other, 0, "select");
    registered_ = true;
    std::int64_t earliest = never_ns;
    each([&](auto& node, auto i) {
      if constexpr (std::remove_cvref_t<decltype(node)>::waits_on_lock) {
        node.enqueue(claim_, i, task_);
      } else if (node.deadline() < earliest) {
        earliest = node.deadline();
        timer_branch_ = i;
      }
    });
    bool due = false;
    if (earliest != never_ns) {
      deadline_ns = earliest;
      fire = &on_fire;
      if (task_->rt->sched.add_timer(this) == sched::timer_result::armed)
        timer_armed_ = true;
      else
        due = true;  // passed while we registered
    }
    std::uint32_t expected = select_claim::registering;
    // release: a waker's claim (acquire) sees the waiters' fields and the timer set up.
    if (!due && claim_.state.compare_exchange_strong(expected, select_claim::waiting, std::memory_order_acq_rel,
                                                     std::memory_order_acquire)) {
      locks.unlock_all();
      return suspended(helping);  // a waker, the timer or a canceller resumes us: touch nothing after this
    }

    // The timer or a cancellation came while we registered. We hold every lock, so none of our
    // waiters was seen: take them out, and settle on the timer or the cancellation.
    each([&](auto& node, auto) {
      if constexpr (std::remove_cvref_t<decltype(node)>::waits_on_lock) node.unlink_locked();
    });
    stop_timer();
    registered_ = false;
    std::uint32_t v = claim_.state.load(std::memory_order_acquire);
    while (!claim_.state.compare_exchange_weak(
        v, (v & cancel_requested) ? select_claim::cancelled : select_claim::first_branch + timer_branch_,
        std::memory_order_acq_rel, std::memory_order_acquire)) {
    }
    locks.unlock_all();
    return not_suspended(helping, h);
  }

  result_type await_resume() {
    leave_quietly();
    if (registered_) {
      registered_ = false;
      unregister(false);
    }
    const std::uint32_t v = claim_.state.load(std::memory_order_acquire);
    if (v == select_claim::cancelled) throw cancelled_error();
    return make_result(v - select_claim::first_branch, std::index_sequence_for<Node...>{});
  }

 private:
  static constexpr std::uint32_t none = ~std::uint32_t{0};
  // Marks on a `registering` word (select_claim's states stay far below them).
  static constexpr std::uint32_t timer_fired = 1u << 29, cancel_requested = 1u << 30;
  static constexpr bool has_sleep = (!Node::waits_on_lock || ...);
  static constexpr std::size_t lock_count = ((Node::waits_on_lock ? 1 : 0) + ... + 0);

  static bool registering(std::uint32_t v) noexcept {
    return (v & ~(timer_fired | cancel_requested)) == select_claim::registering;
  }

  /// The primitives' locks, each once, taken in address order (so two selects over the same
  /// channels never deadlock).
  struct lock_set {
    std::array<short_mutex*, lock_count> m{};
    std::size_t n = 0;
    bool held = false;
    void add(short_mutex* mu) noexcept { m[n++] = mu; }
    void lock_all() noexcept {
      std::sort(m.begin(), m.begin() + n, std::less<>());
      n = static_cast<std::size_t>(std::unique(m.begin(), m.begin() + n) - m.begin());
      for (std::size_t i = 0; i < n; ++i) m[i]->lock();
      held = true;
    }
    void unlock_all() noexcept {
      if (!held) return;
      held = false;
      for (std::size_t i = n; i-- > 0;) m[i]->unlock();
    }
    ~lock_set() { unlock_all(); }
  };

  template <class F>
  void each(F&& f) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (f(std::get<I>(nodes_), std::integral_constant<std::uint32_t, I>{}), ...);
    }(std::index_sequence_for<Node...>{});
  }

  /// Completed at once: carry on, budget permitting (waiter::suspend's fast path).
  std::coroutine_handle<> go_on(std::coroutine_handle<> h) {
    if (consume_budget()) return h;
    sched::worker* wk = tls_ctx->w;
    wk->note_budget_yield();
    task_->set_state(record_state::runnable, task_->rt->coarse_now());
    join_state* helping = take_helping(task_);
    wk->requeue_current(task_);  // may be stolen and resumed at once: touch nothing after this
    return after_suspend(helping);
  }

  /// Out of every queue (each under its lock), the timer out of the wheel.
  void unregister(bool abandon) noexcept {
    each([&](auto& node, auto) {
      if constexpr (std::remove_cvref_t<decltype(node)>::waits_on_lock) node.unlink(abandon);
    });
    stop_timer();
  }

  void stop_timer() noexcept {
    if (!timer_armed_) return;
    timer_armed_ = false;
    if (task_->rt->sched.cancel_timer(this)) return;
    // A worker took it out of the wheel and is firing it: wait until it is through with us.
    // acquire: pairs with on_fire's release.
    while (!timer_done_.load(std::memory_order_acquire)) {
      sched::spin_pause();
    }
  }

  template <std::size_t... I>
  result_type make_result(std::uint32_t winner, std::index_sequence<I...>) {
    std::optional<result_type> r;
    (void)((winner == I ? (r.emplace(result_type{I, std::variant<typename Node::value_type...>(
                                                        std::in_place_index<I>, std::get<I>(nodes_).result())}),
                           true)
                        : false) ||
           ...);
    return std::move(*r);
  }

  static void on_fire(sched::timer_entry* e) noexcept {
    auto* self = static_cast<select_awaiter*>(e);
    task_record* to_wake = nullptr;
    std::uint32_t v = self->claim_.state.load(std::memory_order_acquire);
    for (;;) {
      if (v == select_claim::waiting) {
        if (self->claim_.state.compare_exchange_weak(v, select_claim::first_branch + self->timer_branch_,
                                                     std::memory_order_acq_rel, std::memory_order_acquire)) {
          to_wake = self->task_;
          break;
        }
      } else if (registering(v)) {
        if (self->claim_.state.compare_exchange_weak(v, v | timer_fired, std::memory_order_acq_rel,
                                                     std::memory_order_acquire))
          break;
      } else {
        break;  // another branch, or the cancellation, came first
      }
    }
    // release: pairs with stop_timer's acquire. The last touch of *self.
    self->timer_done_.store(true, std::memory_order_release);
    if (to_wake) wake(to_wake, sched::hint::fifo);
  }

  static void hook(cancel_hook* h, hook_op op) noexcept {
    if (!wakes(op)) return;  // abandonment: the destructor unregisters
    auto* self = static_cast<select_awaiter*>(h);
    std::uint32_t v = self->claim_.state.load(std::memory_order_acquire);
    for (;;) {
      if (v == select_claim::waiting) {
        if (self->claim_.state.compare_exchange_weak(v, select_claim::cancelled, std::memory_order_acq_rel,
                                                     std::memory_order_acquire)) {
          wake(self->task_);
          return;
        }
      } else if (registering(v)) {
        if (self->claim_.state.compare_exchange_weak(v, v | cancel_requested, std::memory_order_acq_rel,
                                                     std::memory_order_acquire))
          return;
      } else {
        return;  // a branch won: the select returns its value (the next await sees the cancellation)
      }
    }
  }

  select_claim claim_;
  std::tuple<Node...> nodes_;
  std::atomic<bool> timer_done_{false};
  std::uint32_t timer_branch_ = none;
  bool timer_armed_ = false;
  bool registered_ = false;
};

/// The task behind weft::select: the awaiter in its frame, and the fallback branches' children
/// in a group that is cancelled and joined before the select returns.
template <class... Spec>
task<select_result<typename node_for_t<Spec>::value_type...>> select_impl(Spec... specs) {
  using awaiter = select_awaiter<node_for_t<Spec>...>;
  awaiter aw(std::move(specs)...);
  if constexpr (!(is_fallback_node<node_for_t<Spec>> || ...)) {
    co_return co_await aw;
  } else {
    auto g = make_group();
    std::optional<typename awaiter::result_type> r;
    std::exception_ptr error;
    try {
      aw.spawn_children(g);
      r.emplace(co_await aw);
    } catch (...) {
      error = std::current_exception();
    }
    g->cancel_all();
    try {
      co_await g->join();  // throws only if this task is cancelled meanwhile: the outcome stands
    } catch (...) {
    }
    if (error) std::rethrow_exception(error);
    co_return std::move(*r);
  }
}

}  // namespace detail
}  // namespace weft
