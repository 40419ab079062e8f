#pragma once
// weft::channel<T>: a bounded multi-producer, multi-consumer channel between tasks.
//
//   weft::channel<result> results(4, {.name = "results"});
//   co_await results.send(r);                  // waits while the channel is full
//   std::optional<result> r = co_await results.recv();   // nullopt once closed and drained
//
// A ring of `capacity` values; capacity 0 is a rendezvous (send waits for a receiver); a
// capacity above max_capacity (2^48) throws std::invalid_argument. Senders
// and receivers wait in FIFO order on the runtime's intrusive waiter list and hold no thread
// while they wait; a value is handed straight to a waiting receiver, who runs next on the
// sender's worker (its LIFO slot). A send or receive that neither waits nor wakes anyone takes
// no lock (sync/detail/channel_ring.hpp) and completes in its await_ready, without leaving the
// awaiting coroutine (waiter::ready_now). send and recv are cancellation points. send on a closed
// channel throws channel_closed; recv drains what is buffered, then yields nullopt. A T whose
// move may throw always takes the lock; a move that throws is thrown by the send or recv that
// moved, and leaves the channel and its waiters as they were (a receive that made room keeps
// its value even if the waiting sender's move into the room throws: that sender waits on).
//
// A channel given a name reports, under the label channel=<name>, the time senders spent
// blocked on it full (weft_channel_send_blocked_seconds), receivers blocked on it empty
// (weft_channel_recv_blocked_seconds), and its depth (weft_channel_depth), in the registry of
// the runtime it is created on (or channel_options::registry). A wait is measured up to the
// moment it is served (a receiver took the value or made room, a sender handed one over, the
// channel closed), not to the task's resumption: the waiting task may resume after the channel
// is gone, and the delay before it runs is the schedule delay's (weft_schedule_delay_seconds).
//
// Thread safety: every member may be called from any thread; try_send/try_recv/close from plain
// threads too. Lifetime: a channel should outlive the tasks waiting on it (one destroyed under
// them wakes them with usage_error); it may outlive its runtime. A value handed to a receiver
// that is destroyed before it resumes (shutdown ending a task) is destroyed with it.

#include <cassert>
#include <coroutine>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>

#include <weft/errors.hpp>
#include <weft/sched/scheduler.hpp>
#include <weft/sync/detail/channel_metrics.hpp>
#include <weft/sync/detail/channel_ring.hpp>
#include <weft/sync/detail/waiter.hpp>

namespace weft {

namespace detail {
struct channel_access;  // weft::select's view of a channel (combinators/detail/select_nodes.hpp)
}  // namespace detail

struct channel_options {
  /// Names the channel in metrics and dumps ("send on channel results"). Empty: no metrics.
  std::string_view name{};
  /// Where a named channel's metrics go; null: the registry of the runtime running the caller.
  metrics::registry* registry = nullptr;
};

template <class T>
class channel {
 public:
  /// At most `capacity` values buffered (0: a rendezvous). Throws std::invalid_argument for a
  /// capacity above max_capacity.
  explicit channel(std::size_t capacity, channel_options opts = {})
      : capacity_(checked_capacity(capacity)),
        ring_(capacity ? std::make_unique<ring>(capacity) : nullptr),
        name_(opts.name) {
    send_what_ = name_.empty() ? "channel send" : "send on channel " + name_;
    recv_what_ = name_.empty() ? "channel recv" : "recv on channel " + name_;
    if (!name_.empty()) {
      metrics::registry* reg = opts.registry ? opts.registry : detail::current_registry();
      if (!reg)
        throw usage_error(
            "weft::channel: a named channel needs a registry: create it inside a task, or set "
            "channel_options::registry");
      metrics_ = std::make_unique<detail::channel_metrics>(*reg, name_, [this] { return static_cast<double>(size()); });
    }
  }
  channel(const channel&) = delete;
  channel& operator=(const channel&) = delete;
  ~channel() {
    detail::orphan_all(mu_, senders_);
    detail::orphan_all(mu_, receivers_);
  }

  /// The largest capacity: 2^48 slots, more than any machine's memory holds.
  static constexpr std::size_t max_capacity = std::size_t{1} << 48;

  std::size_t capacity() const noexcept { return capacity_; }
  const std::string& name() const noexcept { return name_; }
  /// Values buffered now.
  std::size_t size() const noexcept { return ring_ ? ring_->size() : 0; }
  bool closed() const noexcept {
    std::lock_guard lock(mu_);
    return closed_;
  }

  /// Closes the channel: waiting receivers get nullopt (after the buffer drains), waiting and
  /// later senders get channel_closed. Idempotent.
  void close() noexcept {
    detail::wake_list woken;
    {
      std::lock_guard lock(mu_);
      closed_ = true;
      if (ring_) ring_->set_tail_flag(ring::closed);  // lock-free sends stop here
      // Receivers wait only while the buffer is empty, so none of them misses a value.
      for (detail::waiter* r = receivers_.front(); r; r = r->next) note_unblocked(*r, true);
      detail::complete_all(receivers_, detail::waiter::outcome::closed, woken);
      detail::complete_all(senders_, detail::waiter::outcome::closed, woken);
    }
    woken.wake_all();
  }

  /// Sends without waiting: false if the channel is full. Throws channel_closed if closed.
  bool try_send(T value) {
    if (push_fast(value)) return true;
    detail::task_record* woken = nullptr;
    {
      std::lock_guard lock(mu_);
      if (closed_) throw channel_closed();
      if (!offer_locked(value, woken, false)) return false;
    }
    if (woken) detail::wake_taken(woken);
    return true;
  }

  /// Receives without waiting: nullopt if the channel is empty (or closed and drained).
  std::optional<T> try_recv() {
    std::optional<T> out;
    if (pop_fast(out)) return out;
    detail::task_record* woken = nullptr;
    {
      std::lock_guard lock(mu_);
      take_locked(out, woken, false);
    }
    if (woken) detail::wake_taken(woken);
    return out;
  }

  class send_awaiter : detail::waiter {
   public:
    using channel_type = channel;  // weft::select recognises the awaiter by it
    send_awaiter(channel& c, T v) : waiter(c.mu_, c.senders_, &c), c_(&c), value_(std::move(v)) { payload = &value_; }
    [[gnu::always_inline]] bool await_ready() {
      return c_->push_plausible() && ready_now(c_->send_what_.c_str(), [&] { return c_->push_fast(value_); });
    }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) {
      return suspend_after_ready(
          h, c_->send_what_.c_str(),
          [&] {
            if (c_->closed_) {
              result = outcome::closed;
              return true;
            }
            return c_->offer_locked(value_, woken_);
          },
          [&](waiter* w) {
            if (c_->metrics_) blocked_since = sched::clock_now();
            c_->senders_.push_back(w);
            c_->stale_ = 0;
          },
          [&] {
            if (woken_) detail::wake_taken(woken_);
          });
    }
    void await_resume() {
      // (Nothing of the channel is touched after a wait: it may be gone by now. Its waker
      // reported how long we were blocked.)
      if (finish("weft::channel") == outcome::closed) throw channel_closed();
    }

   private:
    friend struct detail::channel_access;
    channel* c_;
    T value_;
    detail::task_record* woken_ = nullptr;
  };

  class recv_awaiter : detail::waiter {
   public:
    using channel_type = channel;  // weft::select recognises the awaiter by it
    explicit recv_awaiter(channel& c) : waiter(c.mu_, c.receivers_, &c), c_(&c) { payload = &value_; }
    [[gnu::always_inline]] bool await_ready() {
      return c_->pop_plausible() && ready_now(c_->recv_what_.c_str(), [&] { return c_->pop_fast(value_); });
    }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) {
      return suspend_after_ready(
          h, c_->recv_what_.c_str(), [&] { return c_->take_locked(value_, woken_); },
          [&](waiter* w) {
            if (c_->metrics_) blocked_since = sched::clock_now();
            c_->receivers_.push_back(w);
            c_->stale_ = 0;
          },
          [&] {
            if (woken_) detail::wake_taken(woken_);
          });
    }
    std::optional<T> await_resume() {
      finish("weft::channel");  // (as for send: the channel may be gone)
      return std::move(value_);
    }

   private:
    friend struct detail::channel_access;
    channel* c_;
    std::optional<T> value_;
    detail::task_record* woken_ = nullptr;
  };

  /// Sends `value`, waiting while the channel is full. Throws channel_closed if the channel is
  /// (or gets) closed, cancelled_error if the task is cancelled first (the value is dropped).
  send_awaiter send(T value) { return send_awaiter(*this, std::move(value)); }
  /// Receives the next value, waiting while the channel is empty; nullopt once it is closed and
  /// drained. Throws cancelled_error if the task is cancelled first.
  recv_awaiter recv() { return recv_awaiter(*this); }

 private:
  // weft::select waits on a channel itself: it locks mu_, tries offer_locked / take_locked, and
  // queues its own waiters (combinators/detail/select_nodes.hpp). A waiting select's waiter is
  // completed only through claim_front() (sync/detail/waiter.hpp): keep that in any fast path,
  // or a select could be handed a value it then loses.
  //
  // The lock-free path (push_fast, pop_fast) goes only through the ring, and only while its
  // flags say that nobody waits: a waiter sets them under mu_ before it looks at the ring a last
  // time and queues (channel_ring.hpp says why that is enough). So every hand-off to a waiter,
  // and so every claim_front(), stays under mu_. Flags are cleared lazily: once `relax_after`
  // locked operations in a row found them set but nobody queued to hand to (relax_locked). Each
  // set or clear is a read-modify-write on a word the other side uses: a channel whose waiters
  // come and go with every value or two (a ping-pong, a channel of one slot) keeps its flags and
  // takes the lock, one that waits now and then (a buffer between a producer and a consumer of
  // different speeds) is lock-free between its waits.
  friend struct detail::channel_access;
  using ring = detail::channel_ring<T>;

  // A capacity past any memory is a count that went below zero before it was converted to
  // std::size_t; refused here, it would be undefined behaviour in the ring (std::bit_ceil of a
  // value above 2^63) or a failed allocation of an absurd size.
  static std::size_t checked_capacity(std::size_t capacity) {
    if (capacity > max_capacity)
      throw std::invalid_argument("weft::channel: capacity " + std::to_string(capacity) + " is above the most, " +
                                  std::to_string(max_capacity) + " (a negative count converted to std::size_t?)");
    return capacity;
  }

  // A look, without a read-modify-write, whether push_fast / pop_fast may succeed now (a ping-pong's
  // operations, which never do, then cost an awaiter no more than that look).
  bool push_plausible() const noexcept {
    if constexpr (ring::lock_free)
      return ring_ && ring_->push_plausible();
    else
      return false;
  }
  bool pop_plausible() const noexcept {
    if constexpr (ring::lock_free)
      return ring_ && ring_->pop_plausible();
    else
      return false;
  }
  bool push_fast(T& value) noexcept {
    if constexpr (ring::lock_free)
      return ring_ && ring_->try_push(value);
    else
      return false;
  }
  bool pop_fast(std::optional<T>& out) noexcept {
    if constexpr (ring::lock_free)
      return ring_ && ring_->try_pop(out);
    else
      return false;
  }

  // Under mu_: delivers `value` to a waiting receiver (returned in `woken`, to resume after
  // unlocking) or into the ring. False if there is no room; then, if the sender `will_wait`,
  // the flags are set that send everyone through the lock until it is gone.
  //
  // A T whose move may throw: a move into a waiting receiver's slot that throws leaves that
  // receiver queued as it was (claim_front() claims nothing of a plain waiter, and weft::select,
  // whose waiters it would claim, refuses such a T), and the send throws.
  bool offer_locked(T& value, detail::task_record*& woken, bool will_wait = true) {
    if (detail::waiter* r = receivers_.claim_front()) {
      static_cast<std::optional<T>*>(r->payload)->emplace(std::move(value));
      note_unblocked(*r, true);
      woken = r->complete(detail::waiter::outcome::done);
      return true;
    }
    return ring_ && push_locked(value, will_wait);
  }

  // Under mu_: takes the next value into `out`: from the ring (refilled from a waiting sender),
  // or straight from a waiting sender (rendezvous). True if done: a value, or closed and empty.
  // When not done and the receiver `will_wait`, pushes go through the lock until it is gone.
  // A move out of a waiting sender that throws (rendezvous) leaves the sender queued, and the
  // receive throws.
  bool take_locked(std::optional<T>& out, detail::task_record*& woken, bool will_wait = true) {
    if (ring_ && !ring_->empty_locked() && pop_locked(out, woken)) return true;
    if (detail::waiter* s = senders_.claim_front()) {  // a rendezvous (a buffered channel: rare)
      out.emplace(std::move(*static_cast<T*>(s->payload)));
      note_unblocked(*s, false);
      woken = s->complete(detail::waiter::outcome::done);
      return true;
    }
    if (closed_) return true;
    if (!will_wait || !ring_ || ring_->tail_flag(ring::slow_push)) return false;
    return flag_and_pop_locked(out, woken);
  }

  // The ring's halves of offer_locked and take_locked, out of line: the hand-off to a waiter
  // (a ping-pong's every step) stays short.
  [[gnu::noinline]] bool push_locked(T& value, bool will_wait) {
    // (While a sender waits the ring is full, so this refuses, and the send queues behind it.)
    if (ring_->push_locked(value)) {
      relax_locked();
      return true;
    }
    if (!will_wait) return false;
    // Full: from here pops come here to move a waiting sender in, and pushes queue behind it.
    if (!ring_->head_flag(ring::slow_pop)) ring_->set_head_flag(ring::slow_pop);
    if (!ring_->tail_flag(ring::slow_push)) ring_->set_tail_flag(ring::slow_push);
    return ring_->push_locked(value);  // a pop that came before the flags made room after all
  }
  [[gnu::noinline]] bool flag_and_pop_locked(std::optional<T>& out, detail::task_record*& woken) {
    ring_->set_tail_flag(ring::slow_push);
    return pop_locked(out, woken);  // a push that came before the flag
  }

  // Under mu_: pops from the ring; the first waiting sender moves into the room made.
  [[gnu::noinline]] bool pop_locked(std::optional<T>& out, detail::task_record*& woken) {
    if (ring_->empty_locked() || !ring_->pop_locked(out)) return false;
    if (detail::waiter* s = senders_.claim_front()) {
      // Into the room just made: no lock-free push takes it first, since a waiting sender set
      // slow_push before it queued (and relax_locked leaves the flag while one is queued).
      // A move that throws (a T with no lock-free path) must not cost the value this receive
      // already holds: the sender keeps its value and waits on, and a later receive takes it
      // (moved into the room by the next pop, or straight from the sender once the ring is
      // empty). Until then a send through the lock may take the room first.
      try {
        [[maybe_unused]] const bool pushed = ring_->push_locked(*static_cast<T*>(s->payload));
        assert(pushed);
      } catch (...) {
        return true;
      }
      note_unblocked(*s, false);
      woken = s->complete(detail::waiter::outcome::done);
    } else {
      relax_locked();
    }
    return true;
  }

  // Under mu_: a waiter of a named channel (blocked_since set as it queued) is done waiting:
  // reports how long it was blocked, here, while the channel surely lives. (The waiter itself
  // may resume after the channel is destroyed, and then must not touch its metrics.)
  void note_unblocked(const detail::waiter& w, bool receiver) noexcept {
    if (!w.blocked_since) return;
    const std::int64_t blocked = sched::clock_now() - w.blocked_since;
    if (receiver)
      metrics_->received_after_blocking(blocked);
    else
      metrics_->sent_after_blocking(blocked);
  }

  // Under mu_, having found nobody to hand to: the relax_after-th time in a row, clears the
  // flags no queued waiter needs.
  void relax_locked() noexcept {
    if (!senders_.empty() || ++stale_ < relax_after) return;
    stale_ = 0;
    if (ring_->head_flag(ring::slow_pop)) ring_->clear_head_flag(ring::slow_pop);
    if (receivers_.empty() && ring_->tail_flag(ring::slow_push)) ring_->clear_tail_flag(ring::slow_push);
  }

  mutable detail::short_mutex mu_;
  std::size_t capacity_;
  std::unique_ptr<ring> ring_;  ///< null for a rendezvous
  bool closed_ = false;
  static constexpr std::uint32_t relax_after = 4;
  std::uint32_t stale_ = 0;  ///< locked operations since a wait that found nobody to hand to
  detail::waiter_queue senders_;
  detail::waiter_queue receivers_;
  std::string name_;
  std::string send_what_;
  std::string recv_what_;
  std::unique_ptr<detail::channel_metrics> metrics_;
};

}  // namespace weft
