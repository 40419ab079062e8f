#pragma once
// weft::broadcast<T>: every value sent reaches every receiver.
//
//   weft::broadcast<event> events(16);
//   auto rx = events.subscribe();                 // sees what is sent from now on
//   events.send(e);                               // never waits
//   std::optional<event> e = co_await rx.recv();  // nullopt once closed and drained
//
// A ring of the last `capacity` values, shared by the sender and its receivers; each receiver
// has its own position in it. send() never waits: it overwrites the oldest value when the ring
// is full. A receiver that fell behind by more than `capacity` values has lost the ones that
// were overwritten: its next recv() throws lagged_error (missed() says how many), and the one
// after that continues from the oldest value kept. Receivers waiting in recv() are handed a copy
// of the new value at send() (a copy that throws is that receiver's error, thrown by its
// recv()), and run next on the sender's worker (LIFO slot) or are queued (from a plain thread).
// recv() is a cancellation point; weft::select can wait on it.
//
// close() (or destroying the broadcast) ends it: send() then throws channel_closed, and each
// receiver, once it has received what the ring still holds for it, gets nullopt.
//
// Thread safety: every member of both classes may be called from any thread; send and close
// from plain threads too. A receiver is used by one task at a time (like a join handle).
// Lifetime: the broadcast and its receivers share their state, so they may be destroyed in any
// order, also after the runtime is gone: a receiver outliving the broadcast drains and gets
// nullopt. A receiver destroyed while a task waits in its recv() wakes that task with
// usage_error. T must be copyable (each receiver gets its own copy). Copies and moves of T run
// under the broadcast's lock: a T that is slow to copy holds up its senders and receivers, and
// one whose copy uses this broadcast deadlocks.

#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <weft/errors.hpp>
#include <weft/sync/detail/waiter.hpp>

namespace weft {

/// Thrown by broadcast<T>::receiver::recv() when the receiver fell behind by more than the
/// broadcast's capacity: missed() values were overwritten before it received them. The receiver
/// continues from the oldest value kept.
class lagged_error : public std::runtime_error {
 public:
  explicit lagged_error(std::uint64_t missed)
      : std::runtime_error("weft::broadcast: the receiver fell behind and missed " + std::to_string(missed) +
                           " values"),
        missed_(missed) {}
  std::uint64_t missed() const noexcept { return missed_; }

 private:
  std::uint64_t missed_;
};

namespace detail {

template <class T>
struct broadcast_state {
  explicit broadcast_state(std::size_t capacity) : ring(capacity) {}

  /// The sequence number of the oldest value still in the ring.
  std::uint64_t oldest() const noexcept { return tail > ring.size() ? tail - ring.size() : 0; }

  mutable short_mutex mu;
  std::vector<std::optional<T>> ring;  // value number s sits at ring[s % capacity]
  std::uint64_t tail = 0;              // the number of the next value sent
  std::size_t receivers = 0;
  bool closed = false;
  waiter_queue waiters;  // receivers caught up with `tail`, waiting for the next value
};

/// A receiver's position: on the heap, so that a receiver can move while a task waits on it.
template <class T>
struct broadcast_cursor {
  std::shared_ptr<broadcast_state<T>> state;
  std::uint64_t next;  // the number of the next value this receiver gets
};

/// How weft::select waits on a receive (combinators/detail/select_nodes.hpp).
template <class T>
struct broadcast_spec {
  broadcast_cursor<T>* c;
};

/// What one recv() gets: a value, a lag, the error copying the value threw, or (none of them:
/// closed and drained) nothing.
template <class T>
struct broadcast_slot {
  std::optional<T> value;
  std::uint64_t missed = 0;
  std::exception_ptr error;
};

/// Under the state's lock: what `c` receives now, into `out`. False: nothing yet (wait).
template <class T>
bool broadcast_deliver(broadcast_state<T>& s, broadcast_cursor<T>& c, broadcast_slot<T>& out) {
  if (c.next < s.oldest()) {
    out.missed = s.oldest() - c.next;
    c.next = s.oldest();
    return true;
  }
  if (c.next < s.tail) {
    const std::optional<T>& v = s.ring[c.next % s.ring.size()];
    if (!v) [[unlikely]] {  // the oldest value, lost to a send whose moves threw (broadcast::send)
      out.missed = 1;
      ++c.next;
      return true;
    }
    out.value.emplace(*v);
    ++c.next;
    return true;
  }
  return s.closed;
}

/// Under the state's lock, from send(): what the waiting receiver of `w` gets now. A copy that
/// throws is that receiver's error, not the sender's (a receiver that does not wait copies in
/// its own recv(), too): its recv() rethrows it, and its next one, its position unchanged,
/// copies the value again.
template <class T>
void broadcast_hand(broadcast_state<T>& s, waiter& w) noexcept {
  auto& slot = *static_cast<broadcast_slot<T>*>(w.payload);
  try {
    broadcast_deliver(s, *static_cast<broadcast_cursor<T>*>(w.owner), slot);
  } catch (...) {
    slot.error = std::current_exception();
  }
}

/// What recv() yields from its slot (its awaiter's, or a weft::select branch's).
template <class T>
std::optional<T> broadcast_take(broadcast_slot<T>& slot) {
  if (slot.error) std::rethrow_exception(slot.error);
  if (slot.missed) throw lagged_error(slot.missed);
  return std::move(slot.value);
}

}  // namespace detail

template <class T>
class broadcast {
  using state = detail::broadcast_state<T>;
  using cursor = detail::broadcast_cursor<T>;

 public:
  /// A broadcast keeping the last `capacity` values. Throws std::invalid_argument for 0.
  explicit broadcast(std::size_t capacity) : s_(make_state(capacity)) {}
  broadcast(const broadcast&) = delete;
  broadcast& operator=(const broadcast&) = delete;
  /// Closes the broadcast (receivers drain, then get nullopt).
  ~broadcast() { close(); }

  class receiver;

  /// A new receiver; it gets the values sent from now on. Throws channel_closed once closed.
  receiver subscribe() {
    std::lock_guard lock(s_->mu);
    if (s_->closed) throw channel_closed("weft: subscribe to a closed broadcast");
    ++s_->receivers;
    return receiver(std::unique_ptr<cursor>(new cursor{s_, s_->tail}));
  }

  /// Sends `value` to every receiver; never waits. Returns how many receivers there are (0: the
  /// value is kept in the ring all the same). Throws channel_closed once closed; a copy for a
  /// waiting receiver that throws is thrown by that receiver's recv(), not here. The value it
  /// overwrites is destroyed after the broadcast's lock is let go, so its destructor may use
  /// this broadcast. A move of T that throws (into the ring, or of the value it overwrites) is
  /// thrown here and the broadcast stays as it was; should putting the overwritten value back
  /// throw too, that value is lost, and receivers that had not had it get lagged_error for it.
  std::size_t send(T value) {
    detail::wake_list woken;
    std::size_t receivers;
    std::optional<T> overwritten;  // dies as send() returns, unlocked (only a moved-from T dies under the lock)
    {
      std::lock_guard lock(s_->mu);
      state& s = *s_;
      if (s.closed) throw channel_closed("weft: send on a closed broadcast");
      std::optional<T>& slot = s.ring[s.tail % s.ring.size()];
      if (slot) overwritten.emplace(std::move(*slot));  // (a throw: the slot keeps its value)
      try {
        slot.emplace(std::move(value));
      } catch (...) {
        if (overwritten) put_back(slot, *overwritten);
        throw;
      }
      ++s.tail;
      // Each waiting receiver gets its copy now, under the lock: it then needs neither its
      // cursor nor the ring when it resumes (its receiver may be gone by then).
      while (detail::waiter* w = s.waiters.claim_front()) {
        detail::broadcast_hand(s, *w);
        woken.add(w->complete(detail::waiter::outcome::done));
      }
      receivers = s.receivers;
    }
    woken.wake_all();
    return receivers;
  }

  /// Ends the broadcast: waiting receivers get nullopt, later sends throw channel_closed.
  /// Idempotent.
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
  std::size_t capacity() const noexcept { return s_->ring.size(); }
  /// Receivers subscribed now.
  std::size_t receiver_count() const noexcept {
    std::lock_guard lock(s_->mu);
    return s_->receivers;
  }

  class recv_awaiter : detail::state_ref<state>, detail::waiter {
   public:
    explicit recv_awaiter(cursor& c) noexcept
        : detail::state_ref<state>{c.state}, waiter(c.state->mu, c.state->waiters, &c), c_(&c) {}
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) {
      payload = &slot_;
      return suspend(
          h, "broadcast recv", [&] { return detail::broadcast_deliver(*this->state, *c_, slot_); },
          [&](waiter* w) { this->state->waiters.push_back(w); }, [] {});
    }
    std::optional<T> await_resume() {
      finish("weft::broadcast receiver");
      return detail::broadcast_take(slot_);
    }
    /// For weft::select, which waits on the receiver itself.
    detail::broadcast_spec<T> select_spec() const noexcept { return {c_}; }

   private:
    cursor* c_;
    detail::broadcast_slot<T> slot_;
  };

  /// One subscription. Movable (also while a task waits on it); an empty (moved-from or
  /// default-constructed) receiver's recv() throws usage_error.
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

    /// The next value: at once if the ring holds one this receiver has not had, else when one is
    /// sent. nullopt once the broadcast is closed and this receiver drained it. Throws
    /// lagged_error (see above), cancelled_error if the task is cancelled first, and what
    /// copying the value threw (the next recv() tries that value again).
    recv_awaiter recv() {
      if (!c_) throw usage_error("weft::broadcast: recv() on an empty receiver (moved from or default-constructed)");
      return recv_awaiter(*c_);
    }

   private:
    friend class broadcast;
    explicit receiver(std::unique_ptr<cursor> c) noexcept : c_(std::move(c)) {}
    /// Unsubscribes; a task waiting in this receiver's recv() wakes with usage_error.
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
  // After a move into `slot` threw (and emptied it): the value it held goes back. A second throw
  // leaves the slot empty, a lost value to the receivers (broadcast_deliver).
  static void put_back(std::optional<T>& slot, T& old) noexcept {
    try {
      slot.emplace(std::move(old));
    } catch (...) {
    }
  }

  static std::shared_ptr<state> make_state(std::size_t capacity) {
    if (capacity == 0) throw std::invalid_argument("weft::broadcast: the capacity must be at least 1");
    return std::make_shared<state>(capacity);
  }

  std::shared_ptr<state> s_;
};

}  // namespace weft
