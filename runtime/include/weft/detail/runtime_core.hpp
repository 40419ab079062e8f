#pragma once
// weft::detail::runtime_core: the runtime's machinery behind weft::runtime.
//
// It outlives the runtime object when a join handle outlives it (the handle still has to free
// its record), a plain thread is about to wake a task it took out of a wait list, or a task
// waits for another runtime's task: the runtime holds one reference, each record orphaned by
// shutdown with a live handle holds one more, so does each such wake in flight and each such
// joiner (hold_for_wake), and the last release deletes the core.

#include <atomic>
#include <chrono>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <source_location>
#include <string_view>
#include <vector>

#include <weft/detail/join_word.hpp>
#include <weft/detail/task_record.hpp>
#include <weft/detail/task_table.hpp>
#include <weft/detail/trace_sink.hpp>
#include <weft/detail/worker_context.hpp>
#include <weft/sched/scheduler.hpp>

namespace weft::metrics {
class registry;
}

namespace weft::detail {

class io_reactors;

class runtime_core {
 public:
  explicit runtime_core(sched::options opts);
  runtime_core(const runtime_core&) = delete;
  runtime_core& operator=(const runtime_core&) = delete;

  sched::scheduler sched;
  task_table table{this};
  std::vector<worker_context> contexts;

  /// Set first thing by shutdown: entry points from outside the workers refuse new work.
  std::atomic<bool> stopped{false};
  /// Entries from outside in progress (entry_guard): shutdown waits for them after setting
  /// `stopped`, so each one either lands its task before shutdown looks at the tasks or throws
  /// runtime_stopped, never in between.
  std::atomic<std::uint32_t> entering{0};
  /// Where the hot path reports while a weft::trace records, or null (trace_sink.hpp).
  std::atomic<trace_sink*> tracer{nullptr};
  /// The runtime's registry (its own or the user's), for metrics created by tasks (channels).
  metrics::registry* registry = nullptr;
  std::atomic<std::uint64_t> external_spawned{0};
  std::atomic<std::uint64_t> external_completed{0};
  std::atomic<std::uint64_t> external_failed{0};
  std::atomic<std::uint64_t> external_cancelled{0};
  std::atomic<std::uint64_t> timed_out{0};
  /// The Asio reactors (asio/detail/io_driver.hpp): null until the first get_executor(). The
  /// asio area owns them and registers its area_hooks when it makes them.
  std::atomic<io_reactors*> io{nullptr};
  /// runtime_options::reactors is per_worker (and the workers are threads): a reactor each.
  bool reactor_per_worker = false;

  /// How an area above core takes part in the runtime's end without core including it: it
  /// registers its hooks once (the Asio reactor when it is made), and the runtime calls them.
  struct area_hooks {
    /// Shutdown, once the tasks had their grace and before the workers stop: stop driving tasks.
    void (*stop)(runtime_core&) noexcept = nullptr;
    /// Shutdown, after every task left was ended: wait for what the area still runs outside the
    /// workers (the blocking calls, which may have waited for one of those tasks).
    void (*join)(runtime_core&) noexcept = nullptr;
    /// ~runtime, after every task is gone: free what the area keeps for this runtime.
    void (*destroy)(runtime_core&) noexcept = nullptr;
    /// Whether the area has work running outside the workers that wakes a task when it ends (a
    /// spawn_blocking call): a runtime whose time is virtual waits for it before it moves the
    /// clock or calls a deadlock.
    bool (*outside_work)(runtime_core&) noexcept = nullptr;
  };
  void add_hooks(area_hooks h);
  void run_stop_hooks() noexcept;
  void run_join_hooks() noexcept;
  void run_destroy_hooks() noexcept;
  bool outside_work_pending() noexcept;

  /// A runtime whose workers have no threads (the scheduler's manual mode: weft::testing::sim).
  /// The area that drives them registers one before any task runs; block_on and shutdown then
  /// run the workers on the calling thread through it (runtime.cpp).
  class manual_driver {
   public:
    /// Runs the workers on the calling thread until `done` is non-zero or the scheduler stops.
    /// Returns an error for block_on to throw once its task is taken care of (the task ended
    /// because the driver found a deadlock), or null.
    virtual std::exception_ptr run_until(const std::atomic<std::uint32_t>& done) = 0;
    /// Shutdown's step 2: cancels the live tasks (`cancel_shutdown`) and runs their unwinding,
    /// for at most `grace` of the runtime's clock.
    virtual void unwind(std::chrono::nanoseconds grace) = 0;
    /// Shutdown's step 3, after the scheduler's stop(): waits until no thread drives the
    /// workers, then ends them (their stop hooks).
    virtual void join() noexcept = 0;

   protected:
    ~manual_driver() = default;
  };
  manual_driver* driver = nullptr;
  /// With a manual driver there is no monitor thread: the driver runs the observers' sampling
  /// round (the stall detector's) through this when virtual time passes inside a dispatch. Set
  /// by the composition root.
  std::function<void()> sample_observers;

  /// A reading of the runtime's clock (sched.now(): steady, or virtual in manual mode) refreshed
  /// by the workers now and then: cheap timestamps for task states (precision: a few ms).
  std::int64_t coarse_now() const noexcept { return sched.coarse_now_ns(); }

  /// A record for a task spawned off the workers (locks the table).
  /// `token`: a reference the record adopts, or null.
  task_record* external_record(std::coroutine_handle<> h, std::string_view name, std::source_location site,
                               cancel_state* token = nullptr);
  /// Frees a record from any thread.
  void free_record(task_record* r) noexcept;

  /// Requests cancellation (`bit`) of every live task that does not have it yet, and returns
  /// how many tasks are live (shutdown's first phase).
  std::size_t cancel_live(std::uint32_t bit);
  /// Ends every live task (destroys its frame) after the workers stopped. Returns how many.
  std::size_t destroy_live_tasks();

  /// Called once by the runtime after shutdown, instead of release(): from now on each record
  /// freed drops the reference its handle held.
  void retire() noexcept;

  /// Wakes from outside the workers (current.hpp: wake, and take_for_wake for a task taken out
  /// of a wait list; join.cpp: a task waiting for another runtime's task, which holds its core
  /// from its registration in that task's join word). hold_for_wake(): while the task still
  /// waits (under the list's lock, or before the waker queues it), so the runtime has not let go
  /// of the core; one reference more, so the core outlives the wake even if the runtime is
  /// destroyed first. wake_from_outside(): wakes the task unless the workers are stopping
  /// (shutdown ends it), then drops that reference (possibly the last).
  void hold_for_wake() noexcept { refs_.fetch_add(1, std::memory_order_relaxed); }
  void wake_from_outside(task_record* r, sched::hint h) noexcept;
  /// Drops a hold_for_wake() reference without a wake (possibly the last): the task was taken out
  /// by someone who wakes it otherwise, or leaves it to its runtime's end (join.cpp).
  void drop_wake_hold() noexcept { release(); }
  /// A posted function (weft::executor) from outside the workers, on a runtime that is alive:
  /// queued as wake_from_outside() queues a task, or destroyed unrun if the workers are stopping.
  /// Once queued it may run, and the runtime end, while this thread is still in the scheduler.
  void post_from_outside(sched::job* j) noexcept;
  /// Shutdown, once the workers stopped: returns when no wake or post from outside is still
  /// about to queue something. Every later one sees the workers stopped and queues nothing, so
  /// no wake reaches a task that shutdown is ending.
  void end_outside_pushes() noexcept;

 private:
  void release() noexcept;
  /// Around a push from outside the workers: false if the workers are stopping (push nothing).
  bool enter_outside() noexcept;
  void leave_outside() noexcept;

  std::atomic<std::size_t> refs_{1};
  std::mutex retire_mu_;                          ///< orders retire()'s count with each record freed off the workers
  bool retired_ = false;                          ///< guarded by retire_mu_
  std::atomic<std::uint32_t> outside_pushes_{0};  ///< wakes and posts from outside deciding or queuing
  std::mutex hooks_mu_;
  std::vector<area_hooks> hooks_;
};

/// Admits one entry from outside the workers (runtime::spawn, block_on): throws
/// runtime_stopped once shutdown has begun. See runtime_core::entering.
class entry_guard {
 public:
  explicit entry_guard(runtime_core& core) : core_(core) {
    // seq_cst, with shutdown's store of `stopped` and load of `entering`: either we see
    // `stopped`, or shutdown sees us and waits.
    core_.entering.fetch_add(1, std::memory_order_seq_cst);
    if (core_.stopped.load(std::memory_order_seq_cst)) {
      core_.entering.fetch_sub(1, std::memory_order_release);
      throw_stopped();
    }
  }
  entry_guard(const entry_guard&) = delete;
  ~entry_guard() { core_.entering.fetch_sub(1, std::memory_order_release); }

 private:
  [[noreturn]] static void throw_stopped();
  runtime_core& core_;
};

/// run_record with a trace on: records the wait that ends here and the dispatch (tracing.cpp).
void run_record_traced(task_record* r, trace_sink* t) noexcept;

/// The job function of every task record: resumes the task where it left off.
inline void run_record(sched::job* j) noexcept {
  auto* r = static_cast<task_record*>(j);
  tls_ctx->current = r;
  r->set_running();
  if (trace_sink* t = r->rt->tracer.load(std::memory_order_acquire)) [[unlikely]]
    return run_record_traced(r, t);
  r->resume_point.resume();
}

/// Fills a record for a new task. The id is stored last (release): a dump that sees the id
/// sees the rest (task_record.hpp). A free record already holds its fixed fields (`run_`, `rt`,
/// set by the task table) and a clear `hook` and `enqueued_ns_` (left so by its last use).
/// `token` is adopted (the caller gives the record one reference), or null. `spawner` is the
/// spawning task (null from outside the runtime).
inline void init_record(task_record* r, std::coroutine_handle<> h, std::string_view name, std::source_location site,
                        std::uint64_t id, std::uint32_t inherited_cancel, cancel_state* token, std::int64_t now,
                        task_record* spawner) noexcept {
  // release fence: orders the previous owner's "id = 0" (free) before the new field values,
  // so a dump racing with reuse sees a changed id and discards what it read.
  std::atomic_thread_fence(std::memory_order_release);
  r->resume_point = h;
  r->root = h;
  r->inline_joiner.store(nullptr, std::memory_order_relaxed);
  r->helping = nullptr;
  r->spawner.store(spawner, std::memory_order_relaxed);
  reset_join(r);
  r->cancel_bits.store(inherited_cancel, std::memory_order_relaxed);
  r->token = token;
  r->site.store(site, std::memory_order_relaxed);
  if (!name.empty()) [[unlikely]]
    task_record::WEFT_COLD_NAME(set_name_cold)(r, name);
  else
    r->name[0].store(0, std::memory_order_relaxed);
  r->awaiting.store(await_kind::none, std::memory_order_relaxed);
  r->set_state(record_state::runnable, now);
  r->id.store(id, std::memory_order_release);
}

/// Frees a record whose task is finished and joined (or detached): the fast path of
/// runtime_core::free_record for a worker of the record's own runtime.
inline void free_record(task_record* r) noexcept {
  worker_context* ctx = tls_ctx;
  if (ctx && ctx->rt == r->rt) [[likely]] {
    if (r->token) [[unlikely]] {
      r->token->release();
      r->token = nullptr;
    }
    // release: a dump still reading this record sees the id change (task_record.hpp).
    r->id.store(0, std::memory_order_release);
    ctx->free_record(r);
  } else {
    r->rt->free_record(r);
  }
}

}  // namespace weft::detail
