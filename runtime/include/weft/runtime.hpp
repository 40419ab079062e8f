#pragma once
// weft::runtime: the workers, and the entry points from ordinary threads.
//
//   weft::runtime rt;                         // one worker per hardware thread
//   int r = rt.block_on(fib(30));             // runs on the workers, blocks this thread
//   rt.run();                                 // or serve until Ctrl-C / SIGTERM / shutdown()
//
// Shutdown (shutdown() or the destructor), in order:
//   1. stop taking work: spawn, block_on, spawn_fiber and get_executor from outside throw
//      runtime_stopped (each call either lands its task first or throws: never in between);
//   2. cancel every live task (also those spawned meanwhile) and let the workers run the
//      unwinding, for at most runtime_options::shutdown_grace: tasks at a cancellation point
//      throw cancelled_error and clean up as they would for any cancellation;
//   3. stop the reactor and the workers (each finishes the resume it is running) and join them;
//   4. end every task still alive (one that ignored its cancellation, or never reached a
//      cancellation point): destroy its frame, so its locals' destructors run, and every await
//      it sits in unlinks itself from what it waited on (detail/suspension.hpp); then wait for
//      the spawn_blocking calls still running (told to stop in step 3; a call blocked on one
//      of those tasks gets runtime_stopped now);
//   5. release the runtime's memory, except records that join handles held outside still
//      refer to (they are freed when those handles go).
// A thread blocked in block_on whose task was ended by shutdown gets runtime_stopped. Shutdown
// waits at most the grace for suspended tasks; it does wait for a running resume to return
// (C++ cannot stop a thread safely: the stall detector names such a task).
//
// Thread safety: spawn, block_on, shutdown and the observers may be called from any thread, also
// concurrently (a second shutdown waits for the first); block_on must not be called from a task,
// that is on a worker of any weft runtime (this one's would deadlock, another's would block that
// worker while the task runs: usage_error; co_await the task instead), but may be from plain
// threads and spawn_blocking's; run() neither (usage_error: it would hold the worker until the
// runtime shuts down); shutdown() and the destructor must not be called from one of this
// runtime's own workers.
//
// I/O objects (sockets, timers, acceptors built from get_executor()) that handlers or tasks still
// use must outlive the work that uses them: call rt.shutdown() (or let run() return) before
// destroying them, as with an io_context's run() threads. rt.shutdown() ends every task and
// handler; the objects may then be destroyed in any order, up to the runtime's destructor.

#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <mutex>
#include <source_location>
#include <string>
#include <vector>

#include <weft/detail/runtime_core.hpp>
#include <weft/errors.hpp>
#include <weft/metrics/name_claim.hpp>
#include <weft/spawn.hpp>
#include <weft/stall.hpp>
#include <weft/task.hpp>
#include <weft/task_info.hpp>

namespace weft::metrics {
class registry;
}  // namespace weft::metrics
namespace weft::detail {
class monitor;
class tracer;
class runtime_metrics;
struct blocking_call_base;  // <weft/blocking.hpp>
}  // namespace weft::detail

namespace weft {

class executor;  // <weft/asio/executor.hpp>
class trace;     // <weft/trace.hpp>

namespace detail {
/// Selects the runtime constructor for a runtime without worker threads whose clock is virtual
/// (weft::testing::sim).
struct manual_workers_t {
  explicit manual_workers_t() = default;
};
}  // namespace detail

/// Where a runtime drives its Asio I/O (<weft/asio.hpp>, runtime/src/asio/README.md).
enum class reactor_layout {
  /// One reactor (io_context) for every worker: a worker with nothing to run waits in it, one
  /// at a time, and the tasks its events wake spread to the others through the queues.
  shared,
  /// One reactor per worker, as Asio's io_context-per-thread layout: each worker waits in and
  /// polls its own, and a socket belongs to the reactor of the executor it was built from
  /// (rt.get_executor() on a worker: that worker's; rt.worker_executors(): all of them). A
  /// reactor whose worker runs a long job is polled by another worker after one stall sample
  /// period (stall_options::sample_interval; none when sampling is off). A runtime whose time is
  /// virtual (weft::testing::sim) always has one shared reactor.
  per_worker,
};

/// How a runtime is built. A plain aggregate: `weft::runtime rt({.workers = 2});`
struct runtime_options {
  /// Worker threads; 0 means one per hardware thread.
  std::size_t workers = 0;
  /// Names the worker threads and labels the runtime's metrics. Empty (the default): "weft",
  /// or "weft-2", "weft-3"... while other runtimes report to the same registry. An explicit
  /// name another live runtime uses in that registry is an error (std::invalid_argument).
  std::string name{};
  /// Where the runtime registers its metrics; null means it owns a registry (rt.metrics()).
  metrics::registry* registry = nullptr;
  /// The stall detector.
  stall_options stall{};
  /// Called on each worker thread as it starts and as it stops, with the worker's index.
  std::function<void(std::size_t)> on_thread_start;
  std::function<void(std::size_t)> on_thread_stop;
  /// Capacity of each worker's local deque (a power of two; overflow goes to the global queue).
  std::size_t deque_capacity = 1024;
  /// Weft operations a task may complete without suspending before it is sent to the back of
  /// the line (fairness).
  std::uint32_t budget = 128;
  /// How long a worker that has found nothing to run keeps looking (polling the reactor,
  /// yielding its cpu to any other thread that wants it) before it sleeps. Work that arrives
  /// meanwhile starts without a wake-up; a server answering one client at a time gains the most
  /// (bench/net/README.md). Zero: sleep at once. Negative: std::invalid_argument.
  std::chrono::microseconds idle_spin{20};
  /// Sampled poll-duration and schedule-delay histograms. Off saves a branch per dispatch.
  bool timing_metrics = true;
  /// How long shutdown lets cancelled tasks unwind before it destroys what is left (see the
  /// steps above). Zero: destroy at once. Negative: std::invalid_argument.
  std::chrono::milliseconds shutdown_grace{1000};
  /// Most threads that run spawn_blocking calls at once (<weft/blocking.hpp>); later calls wait
  /// in a queue. At least 1 (std::invalid_argument otherwise).
  std::size_t max_blocking_threads = 64;
  /// How long a blocking thread stays idle before it exits. Negative: std::invalid_argument.
  std::chrono::milliseconds blocking_keep_alive{10000};
  /// The signals that end run(): it shuts the runtime down when one arrives. Caught only while
  /// run() waits (Asio's signal_set on the reactor, so the program's own signal_sets still get
  /// them); empty: run() ends only with shutdown(). A number a program cannot catch (SIGKILL,
  /// SIGSTOP, outside 1 .. NSIG - 1): std::invalid_argument.
  std::vector<int> stop_signals{SIGINT, SIGTERM};
  /// One Asio reactor for all workers, or one each (reactor_layout).
  reactor_layout reactors = reactor_layout::shared;
};

class runtime {
 public:
  explicit runtime(runtime_options opts = {});
  runtime(const runtime&) = delete;
  runtime& operator=(const runtime&) = delete;
  ~runtime();

  /// Runs `t` on the workers and blocks the calling thread until it finishes; returns its value
  /// or rethrows its exception. Throws usage_error on a worker of any weft runtime (in a task: a
  /// replacement worker and a sim's driving thread count; a spawn_blocking thread does not), and
  /// runtime_stopped if the runtime is (or gets) shut down. A refused task is destroyed unrun.
  template <class T>
  T block_on(task<T> t, const spawn_options& opts = {}, std::source_location site = std::source_location::current()) {
    check_block_on();
    detail::thread_waiter tw;
    detail::task_record* r;
    {
      detail::entry_guard entry(*core_);
      auto h = t.release();
      r = core_->external_record(h, opts.name, site, detail::token_for_spawn(opts, nullptr));
      h.promise().record_ = r;
      detail::wait_on_thread(r, tw);
      core_->sched.inject(r);
    }
    return wait_and_take<T>(r, tw);
  }

  /// Blocks until the task behind `h` finishes; returns its value or rethrows its exception. The
  /// task may be of another runtime, except that a weft::testing::sim's block_on runs only its
  /// own tasks, and a sim's tasks run only in its own block_on or advance: either way usage_error,
  /// whatever the task's state (block_on of the task's own runtime instead). Refused as block_on
  /// of a task is (on a worker: usage_error; shut down: runtime_stopped); a refused handle is
  /// dropped, its task left to run on.
  template <class T>
  T block_on(join_handle<T> h) {
    check_block_on();
    if (!h) throw usage_error("weft: block_on of an empty join_handle");
    detail::task_record* r = h.release_record();
    check_block_on_handle(r);
    detail::thread_waiter tw;
    detail::wait_on_thread(r, tw);
    return wait_and_take<T>(r, tw);
  }

  /// Spawns `t` from any thread. On one of this runtime's workers it behaves as weft::spawn;
  /// elsewhere the task goes to the global queue. Throws runtime_stopped after shutdown.
  template <class T>
  join_handle<T> spawn(task<T> t, const spawn_options& opts = {},
                       std::source_location site = std::source_location::current()) {
    if (core_->sched.on_worker()) return weft::spawn(std::move(t), opts, site);
    detail::entry_guard entry(*core_);
    auto h = t.release();
    detail::task_record* r = core_->external_record(h, opts.name, site, detail::token_for_spawn(opts, nullptr));
    h.promise().record_ = r;
    core_->sched.inject(r);
    return join_handle<T>(r);
  }

  /// Stops the runtime (see the steps above). Idempotent; a call racing another waits for it.
  void shutdown();

  /// Blocks the calling thread while the runtime serves, until shutdown() is called from
  /// elsewhere or one of runtime_options::stop_signals arrives; in both cases the runtime is
  /// shut down when run() returns (so the I/O objects the tasks used may go next). Returns at
  /// once after a shutdown. Throws usage_error on a worker of any weft runtime (in a task), and
  /// in a weft::testing::sim (nothing would run its tasks). Several threads may run() at once; all
  /// return.
  void run();

  /// The runtime's clock: std::chrono::steady_clock's time, or a weft::testing::sim's virtual
  /// time. Timers, deadlines, pool backoff and breakers, and the stall detector read it.
  std::chrono::steady_clock::time_point now() const noexcept {
    return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(core_->sched.now()));
  }

  /// Number of workers.
  std::size_t workers() const noexcept { return core_->sched.size(); }
  const std::string& name() const noexcept { return name_; }
  /// The registry holding the runtime's metrics (its own, or runtime_options::registry).
  metrics::registry& metrics() noexcept { return *registry_; }
  /// Every live task: running, queued or suspended. See task_info.
  std::vector<task_info> dump_tasks() const;
  /// The runtime as a Boost.Asio executor: include <weft/asio/executor.hpp> (or <weft/asio.hpp>)
  /// to call it. The first call creates the runtime's reactor, which idle workers run themselves
  /// (asio/detail/io_driver.hpp). With a reactor per worker (runtime_options::reactors), I/O
  /// objects built from it belong to the calling worker's reactor (off the workers: the first
  /// worker's). Throws runtime_stopped after shutdown.
  executor get_executor() const;
  /// One executor per reactor, in the workers' order: for a reactor per worker, to spread
  /// connections over them (an acceptor each with SO_REUSEPORT, or accepted sockets dealt out
  /// in turn); with one shared reactor, just get_executor(). Throws runtime_stopped after
  /// shutdown.
  std::vector<executor> worker_executors() const;

  /// The scheduler underneath (for tests and tools).
  sched::scheduler& scheduler() noexcept { return core_->sched; }
  /// Zombie workers right now (stuck past stall_options::replace_after).
  std::size_t zombie_workers() const;
  /// Stalls detected since the runtime started (weft_stalls_total).
  std::uint64_t stalls_detected() const;

  /// Used by weft::spawn_blocking(rt, ...): queues a call on the runtime's blocking pool (defined
  /// in src/blocking/). False once the pool has stopped (shutdown).
  bool submit_blocking(std::shared_ptr<detail::blocking_call_base> call);

  /// Used by weft::trace: turns recording on (usage_error if a trace is already on) and off.
  /// A trace still on when the runtime is destroyed is stopped then, and keeps its events.
  detail::tracer* start_trace(trace& owner);
  void stop_trace(detail::tracer* t);

 protected:
  /// A runtime whose workers have no threads and whose clock is virtual (the scheduler's manual
  /// mode): the derived class registers a detail::runtime_core::manual_driver before any task
  /// runs, and calls shutdown() in its destructor, while the driver is alive. There is no
  /// monitor thread; stall samples are taken by the driver (core().sample_observers) and
  /// carry no backtrace; no replacement worker is ever started.
  runtime(runtime_options opts, detail::manual_workers_t);
  detail::runtime_core& core() const noexcept { return *core_; }

 private:
  runtime(runtime_options opts, bool manual);
  void check_block_on() const;
  /// A sim given another runtime's task: drops the handle (r) and throws usage_error.
  void check_block_on_handle(detail::task_record* r) const;
  void request_run_stop() noexcept;  // wakes run()
  /// Waits for `tw` and takes the result from `r`; frees both. `r` may be a task of another
  /// runtime (block_on of its handle): its record goes back to its own runtime, r->rt.
  template <class T>
  T wait_and_take(detail::task_record* r, detail::thread_waiter& tw) {
    std::exception_ptr driver_error;  // a manual driver's verdict (a deadlock), thrown last
    std::uint32_t v = wait(tw, driver_error);
    detail::runtime_core* owner = r->rt;
    if (v == 2) {
      owner->free_record(r);  // shutdown destroyed the frame
      if (driver_error) std::rethrow_exception(driver_error);
      throw_ended_by_shutdown();
    }
    auto h = std::coroutine_handle<detail::promise<T>>::from_address(r->root.address());
    struct release_guard {
      detail::runtime_core* core;
      detail::task_record* r;
      ~release_guard() {
        r->root.destroy();
        core->free_record(r);
      }
    } guard{owner, r};
    if (driver_error) std::rethrow_exception(driver_error);
    // A task that ended in a cancellation once shutdown had begun was stopped by the shutdown:
    // the one it was given, or one that reached it from a child that shutdown cancelled first
    // (a join or a weft::fork rethrows the child's cancelled_error, possibly before shutdown
    // reached this task's own record).
    if (h.promise().exception_ &&
        ((r->cancel_bits.load(std::memory_order_relaxed) & detail::task_record::cancel_shutdown) ||
         owner->stopped.load(std::memory_order_acquire)) &&
        detail::is_cancellation(h.promise().exception_)) [[unlikely]]
      throw_ended_by_shutdown();
    return h.promise().take();
  }
  [[noreturn]] static void throw_ended_by_shutdown();
  /// Waits for `tw` (with a manual driver: runs the workers meanwhile, and may set `error`).
  std::uint32_t wait(detail::thread_waiter& tw, std::exception_ptr& error);

  std::unique_ptr<metrics::registry> own_registry_;
  metrics::registry* registry_;
  metrics::name_claim name_claim_;  // the runtime's name in its registry, for its lifetime
  std::string name_;
  std::unique_ptr<detail::runtime_metrics> metrics_;
  detail::runtime_core* core_;
  std::unique_ptr<detail::monitor> monitor_;
  std::vector<std::unique_ptr<detail::tracer>> tracers_;  // kept: a worker may still be writing
  trace* live_trace_ = nullptr;                           // the trace recording now, if any
  std::chrono::milliseconds shutdown_grace_;
  std::mutex shutdown_mu_;  // a second shutdown() waits for the first
  bool shut_down_ = false;
  std::vector<int> stop_signals_;
  std::mutex run_mu_;  // run(): woken by shutdown() or a stop signal
  std::condition_variable run_cv_;
  bool stop_requested_ = false;
};

}  // namespace weft
