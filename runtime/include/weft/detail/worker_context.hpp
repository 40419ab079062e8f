#pragma once
// weft::detail::worker_context: the runtime's per-worker state, reached through one
// initial-exec thread_local pointer: the task running now, the worker's free task records and
// id block, and its own counters. Everything here is touched by its worker thread only, except
// the counters (single writer, read by metrics collection).

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <typeinfo>

#include <weft/detail/task_record.hpp>
#include <weft/sched/cold_call.hpp>
#include <weft/sched/worker.hpp>
#include <weft/sched/worker_stats.hpp>

namespace weft::detail {

class runtime_core;
class trace_sink;

struct alignas(64) worker_context {  // one cache line set per worker: no false sharing
  static constexpr std::size_t max_free = 512;

  runtime_core* rt = nullptr;
  sched::worker* w = nullptr;
  /// &rt->tracer, for headers that cannot see runtime_core: non-null while a trace records.
  const std::atomic<trace_sink*>* tracing = nullptr;
  task_record* current = nullptr;  ///< the task this worker is running (valid during a dispatch)
  /// The type of the function posted to the executor (an Asio handler) this worker is running,
  /// or null: what dumps and stall reports name when no task runs. Read by the monitor.
  std::atomic<const std::type_info*> callback{nullptr};

  task_record* free_ = nullptr;
  std::size_t free_count_ = 0;
  std::uint64_t next_id_ = 0;
  std::uint64_t id_end_ = 0;

  // Tasks spawned here are counted by the scheduler worker's `spawned`.
  sched::owner_counter completed;
  sched::owner_counter failed;
  sched::owner_counter cancelled;

  /// This worker runs `r` from here (a symmetric transfer to another task, or to a task's other
  /// strand): the current task, the stall sampler's view, and `r`'s state.
  void switch_to(task_record* r) noexcept {
    current = r;
    w->switch_current(r);
    r->set_running();
  }

  task_record* alloc_record() {
    if (task_record* r = free_) [[likely]] {
      free_ = static_cast<task_record*>(r->next_);
      --free_count_;
      return r;
    }
    return WEFT_COLD_NAME(refill_cold)(this);
  }
  void free_record(task_record* r) noexcept {
    r->next_ = free_;
    free_ = r;
    if (++free_count_ > max_free) [[unlikely]]
      spill();
  }
  std::uint64_t next_id() noexcept {
    if (next_id_ == id_end_) [[unlikely]]
      WEFT_COLD_NAME(refill_ids_cold)(this);
    return next_id_++;
  }

  task_record* refill();
  void spill() noexcept;
  void refill_ids() noexcept;
  // The cold calls of a spawn's inline path, leaving the spawner's registers alone (cold_call.hpp).
  WEFT_COLD_CALL static task_record* WEFT_COLD_NAME(refill_cold)(worker_context* c) { return c->refill(); }
  WEFT_COLD_CALL static void WEFT_COLD_NAME(refill_ids_cold)(worker_context* c) noexcept { c->refill_ids(); }
  /// Gives every cached record back to the table (worker exit).
  void release_all() noexcept;
};

[[gnu::tls_model("initial-exec")]] extern constinit thread_local worker_context* tls_ctx;

}  // namespace weft::detail
