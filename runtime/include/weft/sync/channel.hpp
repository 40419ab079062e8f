#pragma once
// weft::channel<T>: a bounded multi-producer, multi-consumer channel between tasks.
//
//   weft::channel<result> results(4, {.name = "results"});
//   co_await results.send(r);                  // waits while the channel is full
//   std::optional<result> r = co_await results.recv();   // nullopt once closed and drained
//
// A ring of `capacity` values; capacity 0 is a rendezvous (send waits for a receiver). Senders
// and receivers wait in FIFO order on the runtime's intrusive waiter list and hold no thread
// while they wait; a value is handed straight to a waiting receiver, who runs next on the
// sender's worker (its LIFO slot). send and recv are cancellation points. send on a closed
// channel throws channel_closed; recv drains what is buffered, then yields nullopt.
//
// A channel given a name reports, under the label channel=<name>, the time senders spent
// blocked on it full (weft_channel_send_blocked_seconds), receivers blocked on it empty
// (weft_channel_recv_blocked_seconds), and its depth (weft_channel_depth), in the registry of
// the runtime it is created on (or channel_options::registry).
//
// Thread safety: every member may be called from any thread; try_send/try_recv/close from plain
// threads too. Lifetime: a channel should outlive the tasks waiting on it (one destroyed under
// them wakes them with usage_error); it may outlive its runtime. A value handed to a receiver
// that is destroyed before it resumes (shutdown ending a task) is destroyed with it.

#include <coroutine>
#include <cstddef>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <weft/errors.hpp>
#include <weft/sched/scheduler.hpp>
#include <weft/sync/detail/channel_metrics.hpp>
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
  explicit channel(std::size_t capacity, channel_options opts = {})
      : capacity_(capacity), ring_(capacity), name_(opts.name) {
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

  std::size_t capacity() const noexcept { return capacity_; }
  const std::string& name() const noexcept { return name_; }
  /// Values buffered now.
  std::size_t size() const noexcept {
    std::lock_guard lock(mu_);
    return count_;
  }
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
      // Receivers wait only while the buffer is empty, so none of them misses a value.
      detail::complete_all(receivers_, detail::waiter::outcome::closed, woken);
      detail::complete_all(senders_, detail::waiter::outcome::closed, woken);
    }
    woken.wake_all();
  }

  /// Sends without waiting: false if the channel is full. Throws channel_closed if closed.
  bool try_send(T value) {
    detail::task_record* woken = nullptr;
    {
      std::lock_guard lock(mu_);
      if (closed_) throw channel_closed();
      if (!offer_locked(value, woken)) return false;
    }
    if (woken) detail::wake(woken);
    return true;
  }

  /// Receives without waiting: nullopt if the channel is empty (or closed and drained).
  std::optional<T> try_recv() {
    std::optional<T> out;
    detail::task_record* woken = nullptr;
    {
      std::lock_guard lock(mu_);
      take_locked(out, woken);
    }
    if (woken) detail::wake(woken);
    return out;
  }

  class send_awaiter : detail::waiter {
   public:
    using channel_type = channel;  // weft::select recognises the awaiter by it
    send_awaiter(channel& c, T v) : waiter(c.mu_, c.senders_, &c), c_(&c), value_(std::move(v)) { payload = &value_; }
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) {
      return suspend(
          h, c_->send_what_.c_str(),
          [&] {
            if (c_->closed_) {
              result = outcome::closed;
              return true;
            }
            return c_->offer_locked(value_, woken_);
          },
          [&](waiter* w) {
            if (c_->metrics_) blocked_since_ = sched::clock_now();
            c_->senders_.push_back(w);
          },
          [&] {
            if (woken_) detail::wake(woken_);
          });
    }
    void await_resume() {
      if (finish("weft::channel") == outcome::closed) throw channel_closed();
      if (blocked_since_) c_->metrics_->sent_after_blocking(sched::clock_now() - blocked_since_);
    }

   private:
    friend struct detail::channel_access;
    channel* c_;
    T value_;
    detail::task_record* woken_ = nullptr;
    std::int64_t blocked_since_ = 0;
  };

  class recv_awaiter : detail::waiter {
   public:
    using channel_type = channel;  // weft::select recognises the awaiter by it
    explicit recv_awaiter(channel& c) : waiter(c.mu_, c.receivers_, &c), c_(&c) { payload = &value_; }
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) {
      return suspend(
          h, c_->recv_what_.c_str(), [&] { return c_->take_locked(value_, woken_); },
          [&](waiter* w) {
            if (c_->metrics_) blocked_since_ = sched::clock_now();
            c_->receivers_.push_back(w);
          },
          [&] {
            if (woken_) detail::wake(woken_);
          });
    }
    std::optional<T> await_resume() {
      finish("weft::channel");
      if (blocked_since_) c_->metrics_->received_after_blocking(sched::clock_now() - blocked_since_);
      return std::move(value_);
    }

   private:
    friend struct detail::channel_access;
    channel* c_;
    std::optional<T> value_;
    detail::task_record* woken_ = nullptr;
    std::int64_t blocked_since_ = 0;
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
  friend struct detail::channel_access;

  // Under mu_: delivers `value` to a waiting receiver (returned in `woken`, to resume after
  // unlocking) or into the ring. False if there is no room.
  bool offer_locked(T& value, detail::task_record*& woken) {
    if (detail::waiter* r = receivers_.claim_front()) {
      static_cast<std::optional<T>*>(r->payload)->emplace(std::move(value));
      woken = r->complete(detail::waiter::outcome::done);
      return true;
    }
    if (count_ == capacity_) return false;
    ring_[(head_ + count_) % capacity_].emplace(std::move(value));
    ++count_;
    return true;
  }

  // Under mu_: takes the next value into `out`: from the ring (refilled from a waiting sender),
  // or straight from a waiting sender (rendezvous). True if done: a value, or closed and empty.
  bool take_locked(std::optional<T>& out, detail::task_record*& woken) {
    if (count_ > 0) {
      out.emplace(std::move(*ring_[head_]));
      ring_[head_].reset();
      head_ = (head_ + 1) % capacity_;
      --count_;
      if (detail::waiter* s = senders_.claim_front()) {  // room now: the first sender moves in
        ring_[(head_ + count_) % capacity_].emplace(std::move(*static_cast<T*>(s->payload)));
        ++count_;
        woken = s->complete(detail::waiter::outcome::done);
      }
      return true;
    }
    if (detail::waiter* s = senders_.claim_front()) {
      out.emplace(std::move(*static_cast<T*>(s->payload)));
      woken = s->complete(detail::waiter::outcome::done);
      return true;
    }
    return closed_;
  }

  mutable detail::short_mutex mu_;
  std::size_t capacity_;
  std::vector<std::optional<T>> ring_;
  std::size_t head_ = 0;
  std::size_t count_ = 0;
  bool closed_ = false;
  detail::waiter_queue senders_;
  detail::waiter_queue receivers_;
  std::string name_;
  std::string send_what_;
  std::string recv_what_;
  std::unique_ptr<detail::channel_metrics> metrics_;
};

}  // namespace weft
