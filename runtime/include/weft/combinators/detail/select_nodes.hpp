#pragma once
// The branches of a weft::select (select.hpp), one node type per kind of awaitable.
//
// select(...) turns each argument into a *spec* (a movable description: which channel, the value
// to send, the deadline, the awaitable itself); the select's awaiter (select_core.hpp) holds one
// *node* per spec. A node that waits on a primitive owns a `waiter` of that primitive's queue
// (sync/detail/waiter.hpp) and offers, under the primitive's lock:
//
//   try_now(now)          complete at once if the primitive is ready (take the value, the permit)
//   enqueue(s, i, task)   link its waiter as branch i of select s
//   after()               after unlocking, when try_now succeeded: wake a counterpart
//   unlink(abandon)       (lock not held) take its waiter back out; abandoning, give back a
//                         hand-off (a permit, the lock) it was given
//   result()              the branch's value once it won (or throw what the wait threw)
//
// A sleep is a node without a primitive (`deadline()`); the select waits for the earliest on one
// timer. Any other awaitable becomes a *fallback* node: a child task awaits it and, when it is
// done, completes the node's own little wait list; if another branch won first, what the child
// got is lost (a value received from something that consumes on completion) -- said in select.hpp.

#include <concepts>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <variant>

#include <weft/combinators/detail/group.hpp>
#include <weft/combinators/detail/join_set_core.hpp>
#include <weft/errors.hpp>
#include <weft/sync/broadcast.hpp>
#include <weft/sync/channel.hpp>
#include <weft/sync/detail/waiter.hpp>
#include <weft/sync/watch.hpp>
#include <weft/time.hpp>
#include <weft/when_all.hpp>

namespace weft::detail {

// ---- access to the primitives' insides (each names these as friends) ----

struct channel_access {
  template <class A>
  static auto* channel_of(A& awaiter) noexcept {
    return awaiter.c_;
  }
  template <class A>
  static auto&& value_of(A& send_awaiter) noexcept {
    return std::move(send_awaiter.value_);
  }
  template <class T>
  static short_mutex& mu(channel<T>& c) noexcept {
    return c.mu_;
  }
  template <class T>
  static waiter_queue& senders(channel<T>& c) noexcept {
    return c.senders_;
  }
  template <class T>
  static waiter_queue& receivers(channel<T>& c) noexcept {
    return c.receivers_;
  }
  template <class T>
  static bool take(channel<T>& c, std::optional<T>& out, task_record*& woken) {
    return c.take_locked(out, woken);
  }
  template <class T>
  static bool offer(channel<T>& c, T& value, task_record*& woken, bool& closed) {
    if (c.closed_) return closed = true;
    return c.offer_locked(value, woken);
  }
};

[[noreturn]] inline void throw_select_destroyed(const char* what) {
  throw usage_error(
      std::string(what) +
      " was destroyed while a weft::select waited on it: a primitive must outlive the tasks waiting on it");
}

// ---- the common half of a node that waits on a primitive ----

struct waiter_node {
  static constexpr bool waits_on_lock = true;

  waiter_node(short_mutex& mu, waiter_queue& q, void* owner, waiter::undo_fn undo = nullptr) noexcept
      : w(mu, q, owner, undo) {}

  short_mutex* lock() const noexcept { return w.mu; }
  void link(waiter_queue& q, select_claim& s, std::uint32_t branch, task_record* t, void* payload) noexcept {
    w.join_select(s, branch, t);
    w.payload = payload;
    q.push_back(&w);
  }
  /// Under the lock (undoing a registration nobody could see yet).
  void unlink_locked() noexcept {
    if (w.linked) w.queue->remove(&w);
  }
  /// Lock not held: off the wait queue (a loser) or the hand-off queue (the winner of a
  /// semaphore or mutex branch); abandoning, a hand-off is given back.
  void unlink(bool abandon) noexcept {
    primitive_hazard hazard(w.mu);  // until the last touch of the primitive (the give-back included)
    // seq_cst: see primitive_hazard. Pairs with orphan_all's release (an orphaned waiter's
    // primitive may be gone) and with waiter_queue::remove's (a released one is in no list of its
    // primitive any more).
    if (w.orphaned.load(std::memory_order_seq_cst) || w.released.load(std::memory_order_seq_cst)) return;
    bool give_back = false;
    {
      std::lock_guard lock(*w.mu);
      if (!w.linked) return;
      w.queue->remove(&w);
      give_back = abandon && w.result != waiter::outcome::waiting && w.undo != nullptr;
    }
    if (give_back) w.undo(w);
  }
  void after() noexcept {}
  bool destroyed() const noexcept { return w.result == waiter::outcome::destroyed; }

  waiter w;
};

// ---- channel receive and send ----

template <class T>
struct recv_spec {
  channel<T>* c;
};

template <class T>
struct recv_node : waiter_node {
  using value_type = std::optional<T>;
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "weft::select on a channel needs a value type whose move constructor is noexcept: a move "
                "that threw after the select was chosen would leave it waiting for good");
  explicit recv_node(recv_spec<T> s) noexcept
      : waiter_node(channel_access::mu(*s.c), channel_access::receivers(*s.c), s.c), c(s.c) {}
  bool try_now(std::int64_t) { return channel_access::take(*c, slot, woken); }
  void enqueue(select_claim& s, std::uint32_t i, task_record* t) noexcept {
    link(channel_access::receivers(*c), s, i, t, &slot);
  }
  void after() noexcept {
    if (woken) wake_taken(woken);
  }
  value_type result() {
    if (destroyed()) throw_select_destroyed("weft::channel");
    return std::move(slot);  // nullopt: closed and drained
  }

  channel<T>* c;
  std::optional<T> slot;  // a sender hands the value here once it claimed the select for us
  task_record* woken = nullptr;
};

template <class T>
struct send_spec {
  channel<T>* c;
  T value;
};

template <class T>
struct send_node : waiter_node {
  using value_type = std::monostate;
  static_assert(std::is_nothrow_move_constructible_v<T>,
                "weft::select on a channel needs a value type whose move constructor is noexcept: a move "
                "that threw after the select was chosen would leave it waiting for good");
  explicit send_node(send_spec<T>&& s)
      : waiter_node(channel_access::mu(*s.c), channel_access::senders(*s.c), s.c), c(s.c), value(std::move(s.value)) {}
  bool try_now(std::int64_t) { return channel_access::offer(*c, value, woken, closed); }
  void enqueue(select_claim& s, std::uint32_t i, task_record* t) noexcept {
    link(channel_access::senders(*c), s, i, t, &value);
  }
  void after() noexcept {
    if (woken) wake_taken(woken);
  }
  value_type result() {
    if (destroyed()) throw_select_destroyed("weft::channel");
    if (closed || w.result == waiter::outcome::closed) throw channel_closed();
    return {};
  }

  channel<T>* c;
  T value;  // a receiver takes it from here once it claimed the select for us
  task_record* woken = nullptr;
  bool closed = false;
};

// ---- event, latch, semaphore, mutex (the primitives of wait_awaiter<Op>) ----

template <class Op>
struct wait_spec {
  typename Op::primitive* p;
};

template <class Op>
struct wait_node : waiter_node {
  using raw_result = decltype(Op::result(std::declval<typename Op::primitive&>()));
  using value_type = value_or_monostate<raw_result>;
  explicit wait_node(wait_spec<Op> s) noexcept
      : waiter_node(Op::lock(*s.p), Op::queue(*s.p), s.p, Op::give_back), p(s.p) {}
  bool try_now(std::int64_t) { return Op::ready(*p); }
  void enqueue(select_claim& s, std::uint32_t i, task_record* t) noexcept { link(Op::queue(*p), s, i, t, nullptr); }
  value_type result() {
    if (destroyed()) throw_select_destroyed(Op::name);
    if constexpr (std::is_void_v<raw_result>) {
      Op::result(*p);
      return {};
    } else {
      return Op::result(*p);
    }
  }

  typename Op::primitive* p;
};

// ---- broadcast receive, watch changed ----

template <class T>
struct broadcast_node : state_ref<broadcast_state<T>>, waiter_node {
  using value_type = std::optional<T>;
  explicit broadcast_node(broadcast_spec<T> s) noexcept
      : state_ref<broadcast_state<T>>{s.c->state}, waiter_node(s.c->state->mu, s.c->state->waiters, s.c), c(s.c) {}
  bool try_now(std::int64_t) { return broadcast_deliver(*this->state, *c, slot); }
  void enqueue(select_claim& s, std::uint32_t i, task_record* t) noexcept {
    link(this->state->waiters, s, i, t, &slot);
  }
  value_type result() {
    if (destroyed()) throw_select_destroyed("weft::broadcast receiver");
    return broadcast_take(slot);
  }

  broadcast_cursor<T>* c;
  broadcast_slot<T> slot;
};

template <class T>
struct watch_node : state_ref<watch_state<T>>, waiter_node {
  using value_type = bool;
  explicit watch_node(watch_spec<T> s) noexcept
      : state_ref<watch_state<T>>{s.c->state}, waiter_node(s.c->state->mu, s.c->state->waiters, s.c), c(s.c) {}
  bool try_now(std::int64_t) {
    bool changed;
    if (!watch_look(*this->state, *c, changed)) return false;
    if (!changed) w.result = waiter::outcome::closed;
    return true;
  }
  void enqueue(select_claim& s, std::uint32_t i, task_record* t) noexcept {
    link(this->state->waiters, s, i, t, nullptr);
  }
  value_type result() {
    if (destroyed()) throw_select_destroyed("weft::watch receiver");
    return w.result != waiter::outcome::closed;  // done (woken by send, or at once): changed
  }

  watch_cursor<T>* c;
};

// ---- join_set next ----

template <class T>
struct join_set_node : state_ref<join_set_core<T>>, waiter_node {
  using value_type = std::conditional_t<std::is_void_v<T>, bool, std::optional<T>>;
  explicit join_set_node(join_set_spec<T>&& s) noexcept
      : state_ref<join_set_core<T>>{std::move(s.core)},
        waiter_node(this->state->mu, this->state->waiters, this->state.get()) {}
  bool try_now(std::int64_t) { return this->state->take_locked(slot); }
  void enqueue(select_claim& s, std::uint32_t i, task_record* t) noexcept {
    link(this->state->waiters, s, i, t, &slot);
  }
  value_type result() {
    if (destroyed()) throw_select_destroyed("weft::join_set");
    if (!slot) return value_type{};  // no child left
    if (slot->error) std::rethrow_exception(slot->error);
    if constexpr (std::is_void_v<T>)
      return true;
    else
      return std::move(*slot->value);
  }

  std::optional<typename join_set_core<T>::child_outcome> slot;  // a finishing child hands it here
};

// ---- sleep_for / sleep_until ----

struct sleep_spec {
  std::int64_t deadline;
};

struct sleep_node {
  using value_type = std::monostate;
  static constexpr bool waits_on_lock = false;
  explicit sleep_node(sleep_spec s) noexcept : deadline_ns(s.deadline) {}
  std::int64_t deadline() const noexcept { return deadline_ns; }
  bool try_now(std::int64_t now) const noexcept { return deadline_ns <= now; }
  void after() noexcept {}
  value_type result() noexcept { return {}; }

  std::int64_t deadline_ns;
};

// ---- any other awaitable: a child task awaits it ----

template <class A>
decltype(auto) select_awaiter_of(A&& a) {
  if constexpr (requires { static_cast<A&&>(a).operator co_await(); })
    return static_cast<A&&>(a).operator co_await();
  else if constexpr (requires { operator co_await(static_cast<A&&>(a)); })
    return operator co_await(static_cast<A&&>(a));
  else
    return static_cast<A&&>(a);
}
template <class A>
using await_result_t = decltype(select_awaiter_of(std::declval<A>()).await_resume());

template <class A>
struct fallback_spec {
  A awaitable;
};

template <class A>
struct fallback_node : waiter_node {
  using raw_result = await_result_t<A>;
  using value_type = value_or_monostate<std::remove_cvref_t<raw_result>>;
  explicit fallback_node(fallback_spec<A>&& s) : waiter_node(mu, q, this), awaitable(std::move(s.awaitable)) {}
  bool try_now(std::int64_t) const noexcept { return done; }
  void enqueue(select_claim& s, std::uint32_t i, task_record* t) noexcept { link(q, s, i, t, nullptr); }
  value_type result() {
    if (error) std::rethrow_exception(error);
    return std::move(*value);
  }

  /// The child, when its await is over (value or error stored): completes the select's waiter,
  /// if the select still waits and takes this branch. Touches nothing of the node afterwards.
  void finish() noexcept {
    wake_list woken;
    {
      std::lock_guard lock(mu);
      done = true;
      complete_all(q, waiter::outcome::done, woken);
    }
    woken.wake_all();
  }

  short_mutex mu;
  waiter_queue q;
  bool done = false;  // under mu
  std::optional<A> awaitable;
  std::optional<value_type> value;
  std::exception_ptr error;
};

/// The child task of a fallback branch. It runs under the select's group (cancelled when another
/// branch wins; the select waits for it before it returns, so `n` outlives it).
template <class A>
task<void> select_child(A a, fallback_node<A>* n, std::shared_ptr<group_core> g) {
  {
    scope_child link(g->links);  // unlinked before the select may go on
    try {
      if constexpr (std::is_void_v<typename fallback_node<A>::raw_result>) {
        co_await std::move(a);
        n->value.emplace();
      } else {
        n->value.emplace(co_await std::move(a));
      }
    } catch (...) {
      n->error = std::current_exception();
    }
  }
  n->finish();
  g->child_finished();
}

// ---- from a select(...) argument to its spec ----

template <class A>
concept channel_recv_awaiter =
    requires { typename A::channel_type; } && std::same_as<A, typename A::channel_type::recv_awaiter>;
template <class A>
concept channel_send_awaiter =
    requires { typename A::channel_type; } && std::same_as<A, typename A::channel_type::send_awaiter>;

template <class A>
struct wait_op_of {};
template <class Op>
struct wait_op_of<wait_awaiter<Op>> {
  using type = Op;
};

template <class T>
T value_type_of(const channel<T>*);

template <class A>
auto make_spec(A&& a) {
  using D = std::remove_cvref_t<A>;
  if constexpr (requires { a.select_spec(); }) {  // broadcast recv, watch changed, join_set next
    return a.select_spec();
  } else if constexpr (requires { typename wait_op_of<D>::type; }) {  // event, latch, semaphore, mutex
    return wait_spec<typename wait_op_of<D>::type>{&a.target()};
  } else if constexpr (channel_recv_awaiter<D>) {
    auto* c = channel_access::channel_of(a);
    return recv_spec<decltype(value_type_of(c))>{c};
  } else if constexpr (channel_send_awaiter<D>) {
    auto* c = channel_access::channel_of(a);
    using T = decltype(value_type_of(c));
    return send_spec<T>{c, T(channel_access::value_of(a))};
  } else if constexpr (std::same_as<D, sleep_awaiter>) {
    return sleep_spec{a.deadline()};
  } else {
    static_assert(std::is_rvalue_reference_v<A&&>,
                  "weft::select: pass a task, join handle or other awaitable as an rvalue (std::move it): the "
                  "select takes it over");
    static_assert(std::move_constructible<D>,
                  "weft::select: this awaitable cannot be waited on by select (it is neither a weft primitive's "
                  "wait nor movable into the child task that would await it)");
    return fallback_spec<D>{std::move(a)};
  }
}

template <class Spec>
struct node_for;
template <class T>
struct node_for<recv_spec<T>> {
  using type = recv_node<T>;
};
template <class T>
struct node_for<send_spec<T>> {
  using type = send_node<T>;
};
template <class Op>
struct node_for<wait_spec<Op>> {
  using type = wait_node<Op>;
};
template <class T>
struct node_for<broadcast_spec<T>> {
  using type = broadcast_node<T>;
};
template <class T>
struct node_for<watch_spec<T>> {
  using type = watch_node<T>;
};
template <class T>
struct node_for<join_set_spec<T>> {
  using type = join_set_node<T>;
};
template <>
struct node_for<sleep_spec> {
  using type = sleep_node;
};
template <class A>
struct node_for<fallback_spec<A>> {
  using type = fallback_node<A>;
};
template <class Spec>
using node_for_t = typename node_for<Spec>::type;

}  // namespace weft::detail
