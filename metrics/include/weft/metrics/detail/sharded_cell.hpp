// Per-thread sharded cells: the storage behind every counter and histogram.
//
// Algorithm. A metric that many threads update keeps N copies ("shards") of its state, N a power
// of two no smaller than the number of hardware threads. Each shard starts on its own cache line
// and is padded to a whole number of lines, so two shards never share a line (no false sharing).
// A thread picks its shard once: the first time it updates any metric it takes the lowest free
// thread id from a process-wide pool (src/sharded_cell.cpp) and keeps it in a thread_local; it
// returns the id when it exits. Shard = id & (N - 1). With at most N live updating threads every thread
// has a shard to itself; beyond that, threads share shards, which costs contention, never
// correctness, because every update is an atomic read-modify-write.
//
// Who calls what. Any thread may update its own shard through local(); any thread may read every
// shard (shard(), sum()) at any time. Readers sum the shards, so a read that races with updates
// sees each shard's value at some moment: the total is not a single-instant snapshot, but it
// never goes backwards for a given reader (read-read coherence on each shard).
//
// Memory order. Everything is relaxed: a metric cell publishes nothing but its own value, and a
// reader that needs "all updates before X" gets that ordering from X itself (thread join, a lock,
// a channel), not from the cell.
//
// Invariants. Cells are allocated once at construction and never move or grow, so updates never
// allocate and never take a lock; the one exception is a thread's very first update, which takes
// its id from the pool (a mutex, and at most one growth of the pool's vector). The thread-id pool
// is the only process-wide state, and it holds no metric values: two registries never share a
// cell.
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <memory>

namespace weft::metrics::detail {

/// Bytes per cache line assumed for padding (x86-64 and most AArch64 parts).
inline constexpr std::size_t cache_line_size = 64;

/// The shard count used when a registry asks for 0 ("automatic"): the smallest power of two
/// not below std::thread::hardware_concurrency() (at least 1).
std::size_t default_shard_count() noexcept;

/// `requested` rounded up to a power of two; 0 means default_shard_count(). Capped at 4096.
std::size_t normalize_shard_count(std::size_t requested) noexcept;

/// Flag bit marking an assigned slot; ids are far smaller than this, so `slot & mask` drops it.
inline constexpr std::uint32_t thread_slot_assigned = std::uint32_t{1} << 31;

/// This thread's id from the pool, with thread_slot_assigned set; 0 until assigned. Trivially
/// initialised (constinit), so reading it costs one TLS load and no guard.
inline constinit thread_local std::uint32_t this_thread_slot = 0;

/// Slow path: takes the lowest free id, arranges for it to be returned at thread exit, stores it
/// in this_thread_slot and returns it. Takes a process-wide mutex once per thread.
std::uint32_t assign_thread_slot() noexcept;

/// The calling thread's slot (assigned on first use).
inline std::uint32_t thread_slot() noexcept {
  const std::uint32_t slot = this_thread_slot;
  if (slot != 0) [[likely]]
    return slot;
  return assign_thread_slot();
}

/// N shards of `width` relaxed 64-bit atomic slots each, every shard on its own cache lines.
class sharded_cells {
 public:
  using cell = std::atomic<std::uint64_t>;

  /// `shards` must be a power of two (see normalize_shard_count); `width` ≥ 1. All cells start
  /// at 0. Allocates; everything after construction is allocation-free.
  sharded_cells(std::size_t shards, std::size_t width);

  sharded_cells(const sharded_cells&) = delete;
  sharded_cells& operator=(const sharded_cells&) = delete;

  /// The calling thread's shard: `width()` cells. Wait-free after the thread's first call.
  cell* local() noexcept { return cells_.get() + (thread_slot() & mask_) * stride_; }

  /// Shard `i` (i < shard_count()), for readers.
  const cell* shard(std::size_t i) const noexcept { return cells_.get() + i * stride_; }

  /// Sum over the shards of cell `slot` (relaxed loads), stopping at UINT64_MAX as the counters
  /// do rather than wrapping.
  std::uint64_t sum(std::size_t slot) const noexcept {
    std::uint64_t total = 0;
    for (std::size_t i = 0; i <= mask_; ++i) {
      const std::uint64_t v = shard(i)[slot].load(std::memory_order_relaxed);
      if (v > std::numeric_limits<std::uint64_t>::max() - total) [[unlikely]]
        return std::numeric_limits<std::uint64_t>::max();
      total += v;
    }
    return total;
  }

  std::size_t shard_count() const noexcept { return mask_ + 1; }
  std::size_t width() const noexcept { return width_; }

 private:
  struct aligned_delete {
    void operator()(cell* p) const noexcept;
  };

  std::unique_ptr<cell[], aligned_delete> cells_;
  std::size_t mask_;    // shard_count() - 1
  std::size_t stride_;  // cells between consecutive shards: width_ rounded up to whole lines
  std::size_t width_;
};

}  // namespace weft::metrics::detail
