#pragma once
// weft::detail::task_table: where task records live.
//
// Records are carved from chunks of 256 that are never freed while the table lives, so any
// thread may read any record at any time (dumps, the stall monitor) and tell a reused one apart
// by its id. Each worker keeps its own free list (worker_context) and allocates without a lock;
// the table's mutex guards only the chunk list and a shared free list used by threads off the
// workers and by workers whose own lists run empty or overflow (in batches).
//
// Ids come from a shared counter in blocks of 1024 per worker, so they are unique and roughly
// increasing without a shared write per spawn.
//
// Thread safety: every member may be called from any thread.

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <mutex>
#include <vector>

#include <weft/detail/task_record.hpp>

namespace weft::detail {
class runtime_core;
}

namespace weft::detail {

class task_table {
 public:
  static constexpr std::size_t chunk_size = 256;
  static constexpr std::uint64_t id_block = 1024;

  /// Records carved here belong to `owner`: their `rt` and `run_` are set once, at carving.
  explicit task_table(runtime_core* owner) noexcept : owner_(owner) {}
  task_table(const task_table&) = delete;
  task_table& operator=(const task_table&) = delete;

  /// Takes up to `max` free records (at least one), linked by `next_`. `count` gets how many.
  task_record* take(std::size_t max, std::size_t& count);
  /// Returns a list of `count` free records linked by `next_`.
  void give(task_record* list, std::size_t count) noexcept;

  /// A block of ids [first, first + id_block).
  std::uint64_t take_ids() noexcept { return next_id_.fetch_add(id_block, std::memory_order_relaxed); }
  /// One id, for threads off the workers.
  std::uint64_t take_id() noexcept { return next_id_.fetch_add(1, std::memory_order_relaxed); }

  /// Calls `f(task_record&)` for every record, free or not. Holds the chunk lock, which only
  /// chunk allocation contends for: never the hot path.
  template <class F>
  void for_each(F&& f) {
    std::lock_guard lock(mu_);
    for (auto& c : chunks_)
      for (std::size_t i = 0; i < chunk_size; ++i) f(c[i]);
  }

  std::size_t capacity() const {
    std::lock_guard lock(mu_);
    return chunks_.size() * chunk_size;
  }

 private:
  runtime_core* owner_;
  mutable std::mutex mu_;
  std::vector<std::unique_ptr<task_record[]>> chunks_;
  task_record* free_ = nullptr;
  std::size_t free_count_ = 0;
  // Ids start high enough that a block boundary never yields 0 (0 means "free record").
  std::atomic<std::uint64_t> next_id_{1};
};

}  // namespace weft::detail
