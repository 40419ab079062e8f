#include "weft/metrics/detail/sharded_cell.hpp"

#include <algorithm>
#include <bit>
#include <mutex>
#include <new>
#include <thread>
#include <vector>

namespace weft::metrics::detail {

namespace {

constexpr std::size_t max_shards = 4096;

// The pool of thread ids. Leaked on purpose: a detached thread may exit (and return its id)
// after static destructors have run, so the pool must outlive them.
struct slot_pool {
  std::mutex mutex;
  std::vector<bool> used;
};

slot_pool& pool() {
  static slot_pool* const p = new slot_pool;
  return *p;
}

// Returns this thread's id to the pool when the thread exits. Only the slow path touches it, so
// the hot path's this_thread_slot stays a trivially-initialised thread_local. After this runs the
// thread keeps its stale id in this_thread_slot: an update from a later thread_local destructor
// may then share a shard with a newer thread, which is harmless (the cells are atomic).
struct slot_releaser {
  std::uint32_t id = 0;
  bool held = false;
  ~slot_releaser() {
    if (!held) return;
    slot_pool& p = pool();
    std::lock_guard lock(p.mutex);
    p.used[id] = false;
  }
};

thread_local slot_releaser releaser;

}  // namespace

std::size_t default_shard_count() noexcept {
  const std::size_t hw = std::max(1u, std::thread::hardware_concurrency());
  return std::min(std::bit_ceil(hw), max_shards);
}

std::size_t normalize_shard_count(std::size_t requested) noexcept {
  if (requested == 0) return default_shard_count();
  return std::bit_ceil(std::min(requested, max_shards));
}

std::uint32_t assign_thread_slot() noexcept {
  slot_pool& p = pool();
  std::uint32_t id = 0;
  {
    std::lock_guard lock(p.mutex);
    const auto free = std::find(p.used.begin(), p.used.end(), false);
    id = static_cast<std::uint32_t>(free - p.used.begin());
    if (free == p.used.end())
      p.used.push_back(true);
    else
      *free = true;
  }
  releaser.id = id;
  releaser.held = true;
  this_thread_slot = id | thread_slot_assigned;
  return this_thread_slot;
}

sharded_cells::sharded_cells(std::size_t shards, std::size_t width) : mask_(shards - 1), width_(width) {
  constexpr std::size_t per_line = cache_line_size / sizeof(cell);
  stride_ = (width + per_line - 1) / per_line * per_line;
  const std::size_t count = stride_ * shards;
  void* raw = ::operator new(count * sizeof(cell), std::align_val_t{cache_line_size});
  cell* cells = static_cast<cell*>(raw);
  for (std::size_t i = 0; i < count; ++i) ::new (cells + i) cell(0);
  cells_.reset(cells);
}

void sharded_cells::aligned_delete::operator()(cell* p) const noexcept {
  // std::atomic<std::uint64_t> is trivially destructible: releasing the storage ends the cells.
  ::operator delete(p, std::align_val_t{cache_line_size});
}

}  // namespace weft::metrics::detail
