#pragma once
// weft::watch<T>: one value that changes; receivers see the latest and wait for changes.
//
//   weft::watch<config> cfg(initial);
//   auto rx = cfg.subscribe();        // the current value counts as seen
//   cfg.send(next);                   // never waits
//   while (co_await rx.changed())     // wakes on a value rx has not seen, and marks it seen
//     apply(rx.get());                // the latest value (a copy)
//
// Only the latest value is kept: a receiver that was away while several values were sent sees
// the last one (changed() returns once for them all). changed() returns false once the watch
// is closed (close(), or the watch destroyed) and the receiver has seen the last value.
// Receivers waiting in changed() run next on the sender's worker (LIFO slot) or are queued (from
// a plain thread). changed() is a cancellation point; weft::select can wait on it.
//
// Thread safety: every member of both classes may be called from any thread; send, close and
// get from plain threads too. A receiver is used by one task at a time. Lifetime: the watch and
// its receivers share their state, so they may be destroyed in any order, also after the
// runtime is gone (a receiver outliving its watch still reads the last value). A receiver
// destroyed while a task waits in its changed() wakes that task with usage_error. T must be
// copyable. get() copies and send() moves T under the watch's lock: a T that is slow to copy
// holds up its senders and readers, and one whose copy uses this watch deadlocks.

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <utility>

#include <weft/errors.hpp>
#include <weft/sync/detail/waiter.hpp>

namespace weft {

namespace detail {

template <class T>
struct watch_state {
  explicit watch_state(T v) : value(std::move(v)) {}

  mutable short_mutex mu;
  T value;
  std::uint64_t version = 0;  // how many values were sent
  std::size_t receivers = 0;
  bool closed = false;
  waiter_queue waiters;  // receivers that have seen `version`, waiting for the next
};

/// A receiver's position: on the heap, so that a receiver can move while a task waits on it.
template <class T>
struct watch_cursor {
  std::shared_ptr<watch_state<T>> state;
  std::uint64_t seen;  // the version this receiver saw last
};

/// How weft::select waits on a changed() (combinators/detail/select_nodes.hpp).
template <class T>
struct watch_spec {
  watch_cursor<T>* c;
};

/// Under the state's lock: whether `c` has something to see (marking it seen). `changed`
/// says what: true a new value, false closed. False: nothing yet (wait).
template <class T>
bool watch_look(watch_state<T>& s, watch_cursor<T>& c, bool& changed) noexcept {
  if (c.seen != s.version) {
    c.seen = s.version;
    changed = true;
    return true;
  }
  changed = false;
  return s.closed;
}

}  // namespace detail

template <class T>
class watch {
  using state = detail::watch_state<T>;
  using cursor = detail::watch_cursor<T>;

 public:
  explicit watch(T initial) : s_(std::make_shared<state>(std::move(initial))) {}
  watch(const watch&) = delete;
  watch& operator=(const watch&) = delete;
  /// Closes the watch (see close()).
  ~watch() { close(); }

  class receiver;

  /// A new receiver; the current value counts as seen by it.
  receiver subscribe() {
    std::lock_guard lock(s_->mu);
    ++s_->receivers;
    return receiver(std::unique_ptr<cursor>(new cursor{s_, s_->version}));
  }

  /// Replaces the value and wakes every receiver waiting in changed(); never waits. Throws
  /// channel_closed once closed. The value it replaces is destroyed after the watch's lock is
  /// let go, so its destructor may use this watch. A move of T that throws is thrown here, and
  /// the watch keeps the value it had (should putting it back throw too, the watch holds what
  /// T's failed move left) and wakes nobody.
  void send(T value) {
    detail::wake_list woken;
    std::optional<T> replaced;  // dies as send() returns, unlocked (only a moved-from T dies under the lock)
    {
      std::lock_guard lock(s_->mu);
      state& s = *s_;
      if (s.closed) throw channel_closed("weft: send on a closed watch");
      replaced.emplace(std::move(s.value));  // (a throw: the watch keeps its value)
      try {
        s.value = std::move(value);
      } catch (...) {
        put_back(s.value, *replaced);
        throw;
      }
      ++s.version;
      // Marked seen now, under the lock: a woken receiver needs its cursor no more.
      while (detail::waiter* w = s.waiters.claim_front()) {
        static_cast<cursor*>(w->owner)->seen = s.version;
        woken.add(w->complete(detail::waiter::outcome::done));
      }
    }
    woken.wake_all();
  }

  /// The latest value (a copy).
  T get() const {
    std::lock_guard lock(s_->mu);
    return s_->value;
  }

  /// Ends the watch: changed() returns false once a receiver has seen the last value; send()
  /// throws channel_closed. get() keeps working. Idempotent.
  void close() noexcept {
    detail::wake_list woken;
    {
      std::lock_guard lock(s_->mu);
      s_->closed = true;
      detail::complete_all(s_->waiters, detail::waiter::outcome::closed, woken);
    }
    woken.wake_all();
  }

  bool closed() const noexcept {
    std::lock_guard lock(s_->mu);
    return s_->closed;
  }
  /// Receivers subscribed now.
  std::size_t receiver_count() const noexcept {
    std::lock_guard lock(s_->mu);
    return s_->receivers;
  }

  class changed_awaiter : detail::state_ref<state>, detail::waiter {
   public:
    explicit changed_awaiter(cursor& c) noexcept
        : detail::state_ref<state>{c.state}, waiter(c.state->mu, c.state->waiters, &c), c_(&c) {}
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) {
      return suspend(
          h, "watch changed",
          [&] {
            bool changed;
            if (!detail::watch_look(*this->state, *c_, changed)) return false;
            if (!changed) result = outcome::closed;
            return true;
          },
          [&](waiter* w) { this->state->waiters.push_back(w); }, [] {});
    }
    /// True: a new value (send() marked it seen); false: closed.
    bool await_resume() { return finish("weft::watch receiver") == outcome::done; }
    /// For weft::select, which waits on the receiver itself.
    detail::watch_spec<T> select_spec() const noexcept { return {c_}; }

   private:
    cursor* c_;
  };

  /// One subscription. Movable (also while a task waits on it); an empty (moved-from or
  /// default-constructed) receiver throws usage_error.
  class receiver {
   public:
    receiver() noexcept = default;
    receiver(receiver&& o) noexcept = default;
    receiver& operator=(receiver&& o) noexcept {
      if (this != &o) {
        reset();
        c_ = std::move(o.c_);
      }
      return *this;
    }
    ~receiver() { reset(); }

    /// Suspends until the watch holds a value this receiver has not seen (at once if it does),
    /// marks it seen and returns true; returns false once the watch is closed and the last value
    /// was seen. Throws cancelled_error if the task is cancelled first.
    changed_awaiter changed() { return changed_awaiter(checked()); }

    /// The latest value (a copy). Does not mark it seen.
    T get() const {
      const cursor& c = checked();
      std::lock_guard lock(c.state->mu);
      return c.state->value;
    }
    /// Whether the watch holds a value this receiver has not seen.
    bool has_changed() const {
      const cursor& c = checked();
      std::lock_guard lock(c.state->mu);
      return c.seen != c.state->version;
    }

   private:
    friend class watch;
    explicit receiver(std::unique_ptr<cursor> c) noexcept : c_(std::move(c)) {}
    cursor& checked() const {
      if (!c_) throw usage_error("weft::watch: an empty receiver (moved from or default-constructed)");
      return *c_;
    }
    /// Unsubscribes; a task waiting in this receiver's changed() wakes with usage_error.
    void reset() noexcept {
      if (!c_) return;
      detail::wake_list woken;
      {
        state& s = *c_->state;
        std::lock_guard lock(s.mu);
        --s.receivers;
        detail::orphan_owned_by(s.waiters, c_.get(), woken);
      }
      woken.wake_all();
      c_.reset();
    }

    std::unique_ptr<cursor> c_;
  };

 private:
  // After a move assignment into `value` threw: the value it held goes back. A second throw leaves
  // what T's failed move left (T's own guarantee).
  static void put_back(T& value, T& old) noexcept {
    try {
      value = std::move(old);
    } catch (...) {
    }
  }

  std::shared_ptr<state> s_;
};

}  // namespace weft
