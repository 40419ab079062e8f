#pragma once
// weft::detail::channel_ring<T>: the buffer of a weft::channel, a bounded multi-producer,
// multi-consumer ring that a send or a receive uses without the channel's lock while nobody
// waits on the channel.
//
// Algorithm: Vyukov's bounded MPMC queue, laid out as crossbeam's ArrayQueue. `tail_` and
// `head_` hold positions (lap * one_lap + index, with one_lap a power of two above the
// capacity: no division), shifted left by two to make room for two flag bits. Each slot has a
// stamp: `pos` while it is free for the push at position pos, `pos + 1` once that push's value
// is in it. A push compare-exchanges tail_ from pos to the next position (the slot is now its
// own), moves the value in, and publishes it by storing the stamp (release; a pop's acquire
// load of the stamp pairs with it). A pop compare-exchanges head_ likewise, moves the value
// out and frees the slot for the next lap (stamp pos + one_lap, release; the next push's
// acquire load pairs with it). Positions only grow (a 62-bit count: no wrap in practice).
//
// Flags, set and cleared only under the channel's lock (channel.hpp says when):
//   tail_: `closed`, and `slow_push`: a receiver or a sender waits (or is about to), so a
//          push must go through the lock (to hand its value to the receiver, or to queue
//          behind the senders);
//   head_: `slow_pop`: a sender waits, so a pop must go through the lock (to move the first
//          waiting sender's value into the room it made).
// try_push() gives up when tail_ carries a flag and try_pop() when head_ does. The flags live
// in the very words those compare-exchanges act on, so no fence is needed on either side: in
// tail_'s modification order a push lands either before the waiter's fetch_or that sets the
// flag (and the waiter, reading tail_ after its own read-modify-write, sees the push and takes
// its value rather than wait), or after it (and its compare-exchange, which expected no flag,
// fails and it sees the flag).
//
// In flight: a push that has reserved its slot but not yet published it (its thread is between
// two instructions, or was preempted there) makes the ring look non-empty by its positions and
// empty by the slot. try_pop() then gives up (the caller takes the lock); pop_locked(), which
// must know, waits for the value to land (it is a few instructions away). Pops in flight are
// the same for push_locked().
//
// Who calls what: try_push / try_pop from any thread without the lock; the *_locked members,
// the flag members and size() under the channel's lock (size() also without). A T whose move
// may throw gets no lock-free path (`lock_free` is false): every access is then under the lock,
// and a push or pop moves the value before it moves a position, so a throw leaves the ring as
// it was.

#include <atomic>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <thread>
#include <type_traits>
#include <utility>

#include <weft/sched/spin.hpp>

namespace weft::detail {

template <class T>
class channel_ring {
 public:
  static constexpr bool lock_free = std::is_nothrow_move_constructible_v<T>;
  static constexpr std::uint64_t closed = 1, slow_push = 2;  ///< flags of tail_
  static constexpr std::uint64_t slow_pop = 1;               ///< flag of head_

  /// `capacity` > 0 (a rendezvous channel has no ring).
  explicit channel_ring(std::size_t capacity)
      : cap_(capacity), one_lap_(std::bit_ceil(capacity + 1)), slots_(std::make_unique<slot[]>(capacity)) {
    for (std::size_t i = 0; i < cap_; ++i) slots_[i].stamp.store(i, std::memory_order_relaxed);
  }

  /// No lock: pushes `v` (moving from it) unless the ring is full or tail_ carries a flag.
  bool try_push(T& v) noexcept { return push(v, false); }
  /// Under the lock: pushes `v` whatever the flags (the caller checked `closed`); false if full.
  bool push_locked(T& v) { return push(v, true); }
  /// No lock: pops into `out` unless the ring is empty, a push is in flight, or head_ is flagged.
  bool try_pop(std::optional<T>& out) noexcept { return pop(out, false); }
  /// Under the lock: pops into `out` whatever the flags; false if empty.
  bool pop_locked(std::optional<T>& out) { return pop(out, true); }

  /// No lock, a hint: whether try_push() may succeed (no flag on tail_; fullness is not looked at).
  bool push_plausible() const noexcept { return (tail_.load(std::memory_order_relaxed) & 3) == 0; }
  /// No lock, a hint: whether try_pop() may succeed (no flag on head_, and a value pushed).
  bool pop_plausible() const noexcept {
    const std::uint64_t h = head_.load(std::memory_order_relaxed);
    return (h & 1) == 0 && (h >> 2) != (tail_.load(std::memory_order_relaxed) >> 2);
  }
  /// Under the lock: no value in the ring and none in flight (as of these two loads).
  bool empty_locked() const noexcept {
    return (tail_.load(std::memory_order_relaxed) >> 2) == (head_.load(std::memory_order_relaxed) >> 2);
  }
  bool tail_flag(std::uint64_t f) const noexcept { return (tail_.load(std::memory_order_relaxed) & f) != 0; }
  bool head_flag(std::uint64_t f) const noexcept { return (head_.load(std::memory_order_relaxed) & f) != 0; }
  // Read-modify-writes: their place in the word's modification order is what orders them
  // against the lock-free pushes and pops (see above); the lock orders them among themselves.
  void set_tail_flag(std::uint64_t f) noexcept { tail_.fetch_or(f, std::memory_order_relaxed); }
  void clear_tail_flag(std::uint64_t f) noexcept { tail_.fetch_and(~f, std::memory_order_relaxed); }
  void set_head_flag(std::uint64_t f) noexcept { head_.fetch_or(f, std::memory_order_relaxed); }
  void clear_head_flag(std::uint64_t f) noexcept { head_.fetch_and(~f, std::memory_order_relaxed); }

  /// Values in the ring (pushes in flight included); a snapshot.
  std::size_t size() const noexcept {
    for (;;) {
      const std::uint64_t t = tail_.load(std::memory_order_relaxed) >> 2;
      const std::uint64_t h = head_.load(std::memory_order_relaxed) >> 2;
      if ((tail_.load(std::memory_order_relaxed) >> 2) != t) continue;
      const std::uint64_t ti = t & (one_lap_ - 1), hi = h & (one_lap_ - 1);
      if (hi < ti) return ti - hi;
      if (hi > ti) return cap_ - hi + ti;
      return t == h ? 0 : cap_;
    }
  }

 private:
  struct slot {
    std::atomic<std::uint64_t> stamp;
    std::optional<T> value;
  };

  std::uint64_t next(std::uint64_t pos) const noexcept {
    const std::uint64_t index = pos & (one_lap_ - 1);
    return index + 1 < cap_ ? pos + 1 : (pos & ~(one_lap_ - 1)) + one_lap_;
  }
  static void pause(int& spins) noexcept {
    if (++spins < 64) {
      sched::spin_pause();
    } else {
      std::this_thread::yield();  // the thread in flight may have been preempted
    }
  }

  bool push(T& v, bool locked) noexcept(lock_free) {
    std::uint64_t t = tail_.load(std::memory_order_relaxed);
    for (int spins = 0;;) {
      if (!locked && (t & 3)) return false;
      const std::uint64_t pos = t >> 2;
      slot& s = slots_[pos & (one_lap_ - 1)];
      // acquire: pairs with the release by the pop that freed the slot (its move-out is done).
      const std::uint64_t stamp = s.stamp.load(std::memory_order_acquire);
      if (stamp == pos) {
        const std::uint64_t to = (next(pos) << 2) | (t & 3);
        if constexpr (!lock_free) {  // alone under the lock: move first, then claim the slot
          s.value.emplace(std::move(v));
          tail_.store(to, std::memory_order_relaxed);
        } else {
          // relaxed: the slot's stamp carries the data; tail_ orders only against the flags.
          if (!tail_.compare_exchange_weak(t, to, std::memory_order_relaxed, std::memory_order_relaxed)) continue;
          s.value.emplace(std::move(v));
        }
        s.stamp.store(pos + 1, std::memory_order_release);  // release: pairs with pop()'s acquire
        return true;
      }
      if (stamp + one_lap_ == pos + 1) {  // the slot holds last lap's value: full, or a pop in flight
        if (!locked || (head_.load(std::memory_order_relaxed) >> 2) + one_lap_ == pos) return false;
        pause(spins);
      }
      t = tail_.load(std::memory_order_relaxed);  // (otherwise another push took this position)
    }
  }

  bool pop(std::optional<T>& out, bool locked) noexcept(lock_free) {
    std::uint64_t h = head_.load(std::memory_order_relaxed);
    for (int spins = 0;;) {
      if (!locked && (h & 1)) return false;
      const std::uint64_t pos = h >> 2;
      slot& s = slots_[pos & (one_lap_ - 1)];
      // acquire: pairs with push()'s release of the stamp (the value is in).
      const std::uint64_t stamp = s.stamp.load(std::memory_order_acquire);
      if (stamp == pos + 1) {
        const std::uint64_t to = (next(pos) << 2) | (h & 1);
        if constexpr (!lock_free) {
          out.emplace(std::move(*s.value));
          head_.store(to, std::memory_order_relaxed);
        } else {
          if (!head_.compare_exchange_weak(h, to, std::memory_order_relaxed, std::memory_order_relaxed)) continue;
          out.emplace(std::move(*s.value));
        }
        s.value.reset();
        s.stamp.store(pos + one_lap_, std::memory_order_release);  // release: pairs with push()'s acquire
        return true;
      }
      if (stamp == pos) {  // not written this lap: empty, or a push in flight
        if (!locked || (tail_.load(std::memory_order_relaxed) >> 2) == pos) return false;
        pause(spins);
      }
      h = head_.load(std::memory_order_relaxed);  // (otherwise another pop took this position)
    }
  }

  const std::size_t cap_;
  const std::uint64_t one_lap_;
  std::unique_ptr<slot[]> slots_;
  // Pushers and poppers each keep to their own cache line. (Padding, not alignas: a channel
  // lives in coroutine frames, which promise no more than the default alignment.)
  std::atomic<std::uint64_t> tail_{0};
  char pad_[64 - sizeof(std::atomic<std::uint64_t>)];
  std::atomic<std::uint64_t> head_{0};
};

}  // namespace weft::detail
