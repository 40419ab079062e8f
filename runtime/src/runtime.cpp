#include <weft/runtime.hpp>

#include <algorithm>
#include <chrono>
#include <optional>
#include <stdexcept>
#include <thread>

#include <fmt/format.h>

#include <weft/asio/detail/signal_watch.hpp>
#include <weft/detail/join.hpp>
#include <weft/metrics/registry.hpp>
#include <weft/observe/detail/tracer.hpp>
#include <weft/sched/futex.hpp>
#include <weft/sched/worker.hpp>
#include <weft/trace.hpp>
#include "blocking/blocking_pool.hpp"
#include "observe/dump.hpp"
#include "observe/monitor.hpp"
#include "observe/runtime_metrics.hpp"

namespace weft {
namespace {

sched::options scheduler_options(runtime_options& o, const std::string& name, const detail::runtime_metrics& m,
                                 bool manual) {
  sched::options s;
  s.manual = manual;
  s.poll_duration = m.poll_duration();
  s.schedule_delay = m.schedule_delay();
  s.workers = o.workers;
  s.name = name;
  s.deque_capacity = o.deque_capacity;
  s.budget = o.budget;
  s.idle_spin_ns = std::chrono::nanoseconds(o.idle_spin).count();
  s.on_thread_start = std::move(o.on_thread_start);
  s.on_thread_stop = std::move(o.on_thread_stop);
  s.max_replacements = o.stall.max_replacements;
  return s;
}

}  // namespace

namespace {
// The options checked before anything is built (the first member's initialiser calls it): a
// refusal after the core exists would leak it.
const runtime_options& validated(const runtime_options& o) {
  if (o.shutdown_grace < std::chrono::milliseconds::zero())
    throw std::invalid_argument("weft::runtime_options::shutdown_grace must not be negative");
  if (o.idle_spin < std::chrono::microseconds::zero())
    throw std::invalid_argument("weft::runtime_options::idle_spin must not be negative");
  detail::check_signals(o.stop_signals, "weft::runtime_options::stop_signals", true);
  return o;
}
}  // namespace

runtime::runtime(runtime_options opts) : runtime(std::move(opts), false) {}

runtime::runtime(runtime_options opts, detail::manual_workers_t) : runtime(std::move(opts), true) {}

runtime::runtime(runtime_options opts, bool manual)
    : own_registry_(validated(opts).registry ? nullptr : std::make_unique<metrics::registry>()),
      registry_(opts.registry ? opts.registry : own_registry_.get()),
      name_claim_(opts.name.empty() ? registry_->claim_unique_name("runtime", "weft")
                                    : registry_->claim_name("runtime", opts.name)),
      name_(name_claim_.name()),
      metrics_(std::make_unique<detail::runtime_metrics>(*registry_, name_, opts.timing_metrics)),
      core_(new detail::runtime_core(scheduler_options(opts, name_, *metrics_, manual))),
      shutdown_grace_(opts.shutdown_grace),
      stop_signals_(std::move(opts.stop_signals)) {
  core_->registry = registry_;
  core_->reactor_per_worker = !manual && opts.reactors == reactor_layout::per_worker;
  if (manual) {
    // No thread to replace, and the stuck "worker" a stall names is the driving thread itself.
    opts.stall.max_replacements = 0;
    opts.stall.capture_backtrace = false;
  }
  try {
    metrics_->bind(*core_);
    monitor_ = std::make_unique<detail::monitor>(*core_, opts.stall, *metrics_);
    // Without threads the driver samples, when time passes inside a dispatch (manual_driver).
    if (manual) core_->sample_observers = [m = monitor_.get()] { m->tick(); };
    metrics_->keep(registry_->gauge_callback("weft_hung_tasks",
                                             "Tasks suspended for longer than stall_options::hang_threshold",
                                             {{"runtime", name_}}, [core = core_, t = opts.stall.hang_threshold] {
                                               return static_cast<double>(detail::count_hung_tasks(*core, t));
                                             }));
    // The blocking pool (spawn_blocking): threads on demand; stopped and freed through its hooks.
    detail::install_blocking_pool(*core_, opts.max_blocking_threads, opts.blocking_keep_alive, *registry_, name_);
  } catch (...) {
    metrics_->unbind();
    monitor_.reset();
    core_->retire();
    throw;
  }
  core_->sched.start();  // manual: no thread
  if (!manual) monitor_->start();
}

runtime::~runtime() {
  shutdown();
  // The workers are gone: a trace still recording takes its events now and lets go of us.
  if (live_trace_) live_trace_->runtime_ending();
  // The Asio reactor's io_context: after the tasks, and after I/O objects a user kept past an
  // explicit shutdown(); their sockets close through its services.
  core_->run_destroy_hooks();
  metrics_->unbind();  // the registry may outlive us: no callback may reach the core after this
  monitor_.reset();
  core_->retire();
}

std::size_t runtime::zombie_workers() const { return monitor_->stalls().zombies(); }
std::uint64_t runtime::stalls_detected() const { return monitor_->stalls().stalls(); }

detail::tracer* runtime::start_trace(trace& owner) {
  auto t = std::make_unique<detail::tracer>(core_->sched.slots());
  detail::trace_sink* expected = nullptr;
  if (!core_->tracer.compare_exchange_strong(expected, t.get(), std::memory_order_acq_rel))
    throw usage_error("weft::trace: a trace is already recording this runtime");
  tracers_.push_back(std::move(t));
  live_trace_ = &owner;
  return tracers_.back().get();
}

void runtime::stop_trace(detail::tracer* t) {
  detail::trace_sink* expected = t;
  core_->tracer.compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel);
  live_trace_ = nullptr;
}

void runtime::run() {
  // As block_on: refused on every runtime's workers (a task). On ours run() would wait for
  // itself; on another's it would hold that worker until this runtime shuts down.
  if (const sched::worker* w = sched::this_worker()) {
    if (&w->owner() == &core_->sched)
      throw usage_error("weft: runtime::run called from one of its own workers; it would wait for itself");
    throw usage_error(fmt::format(
        "weft: runtime::run of runtime \"{}\" called on a worker of runtime \"{}\" (from one of its tasks); it "
        "would hold that worker until \"{}\" shuts down. Call run() from a plain thread (main's), or co_await "
        "weft::ctrl_c() in a task",
        name_, w->owner().opts().name, name_));
  }
  if (core_->driver)
    throw usage_error("weft: runtime::run on a runtime without worker threads (weft::testing::sim): use block_on");
  std::optional<detail::signal_watch> watch;
  if (!stop_signals_.empty()) try {
      watch.emplace(*core_, stop_signals_, [this](int) { request_run_stop(); });
    } catch (const runtime_stopped&) {  // shut down (or shutting down) already: finish below
    }
  {
    std::unique_lock lock(run_mu_);
    run_cv_.wait(lock, [&] { return stop_requested_; });
  }
  watch.reset();  // before the reactor goes (the destructor's hooks)
  shutdown();     // or wait for the one that woke us
}

void runtime::request_run_stop() noexcept {
  {
    std::lock_guard lock(run_mu_);
    stop_requested_ = true;
  }
  run_cv_.notify_all();
}

void runtime::shutdown() {
  if (core_->sched.on_worker())
    throw usage_error("weft: runtime::shutdown called from one of its own workers; it would wait for itself");
  request_run_stop();  // wakes run(), which then waits for this shutdown to finish
  std::lock_guard once(shutdown_mu_);
  if (shut_down_) return;

  // 1. No new work from outside. Entries already past their check land before we go on.
  core_->stopped.store(true, std::memory_order_seq_cst);  // seq_cst: see entry_guard, ensure_io_reactors
  while (core_->entering.load(std::memory_order_acquire) != 0) std::this_thread::yield();

  // 2. Cancel every live task and let the workers (and the reactor, and the monitor's timer
  // fallback) run the unwinding, for at most the grace. Each round also cancels the tasks
  // spawned since the last one (a child of a cancelled task starts cancelled; a task spawned
  // by a posted function does not). The rounds poll, from 20 us apart up to 2 ms: shutdown is
  // not a hot path, and a completion hook on every task would be.
  // Without worker threads, the manual driver runs the unwinding on this thread (the grace is
  // then the runtime's clock's, virtual in a sim).
  if (core_->driver) {
    core_->driver->unwind(shutdown_grace_);
  } else {
    const auto deadline = std::chrono::steady_clock::now() + shutdown_grace_;
    for (auto pause = std::chrono::microseconds(20);; pause = std::min(pause * 2, std::chrono::microseconds(2000))) {
      if (core_->cancel_live(detail::task_record::cancel_shutdown) == 0) break;
      const auto now = std::chrono::steady_clock::now();
      if (now >= deadline) break;
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(pause, deadline - now));
    }
  }

  // 3. Stop what drives tasks: the monitor (replacements, its timer fallback), the Asio
  // reactor (no completion reaches a task or a queue after this), the blocking pool (queued
  // calls dropped, running ones told through their token: waited for at the end of step 4),
  // then the workers (a manual driver: the thread driving them, if another one does, leaves
  // after its current dispatch).
  monitor_->stop();
  core_->run_stop_hooks();
  core_->sched.stop();
  if (core_->driver) core_->driver->join();
  // A thread off the workers may be waking a task or posting a function: let it finish (a few
  // instructions); later ones see the workers stopped and leave their tasks to step 4.
  core_->end_outside_pushes();

  // 4. End what is left. Queued jobs first (posted functions are destroyed; tasks are ended
  // from the table), then every live task's frame: its awaits unlink themselves from the
  // timer wheel, join words and wait lists, so the timers are empty afterwards.
  core_->sched.drain([](sched::job* j) {
    if (j->discard_) j->discard_(j);
  });
  core_->destroy_live_tasks();
  core_->sched.clear_timers();

  // Last, wait for what runs outside the workers: the blocking calls still running (their
  // threads are joined). Only now: a call may be waiting for a task (block_on from a
  // spawn_blocking function) that was just ended, and gets runtime_stopped; waited for before,
  // it would wait for that task and shutdown for it, forever. A call that returns now wakes no
  // one: its task's frame is gone, and its await unlinked itself from the call.
  core_->run_join_hooks();
  shut_down_ = true;
}

void runtime::throw_ended_by_shutdown() {
  throw runtime_stopped("weft: the runtime shut down before the task finished");
}

void runtime::check_block_on() const {
  // Refused on every runtime's workers, not only ours. A worker blocked here holds its thread
  // from its runtime while we run the task, and never gives it back if the task waits for
  // something of that runtime's (on ours: always, since the worker has to run the task). What
  // identifies a worker is the scheduler's thread-local: set for a worker thread's whole life
  // (replacements included, their start hooks too) and for the thread driving a sim while it runs
  // the sim's tasks. A blocking pool's threads (spawn_blocking) and plain threads have none: they
  // may block.
  if (const sched::worker* w = sched::this_worker()) {
    if (&w->owner() == &core_->sched)
      throw usage_error(
          "weft: block_on called from one of this runtime's own workers; it would block the worker "
          "that has to run the task (deadlock). co_await the task, or spawn it, instead");
    throw usage_error(fmt::format(
        "weft: block_on of runtime \"{}\" called on a worker of runtime \"{}\" (from one of its tasks); it "
        "would block that worker while the task runs, and deadlock if the task waits for that runtime. co_await "
        "the task (or its join_handle: a join across runtimes works; in a fiber, this_fiber::await it) instead",
        name_, w->owner().opts().name));
  }
  // A sim's spawn_blocking call: the thread driving the sim (holding its driver) is most likely
  // the one waiting for this call, and this block_on would wait for the driver: a deadlock.
  // Refused whether or not someone drives now, so the outcome never depends on timing.
  if (core_->driver && detail::on_blocking_thread(*core_))
    throw usage_error(fmt::format(
        "weft: block_on of weft::testing::sim \"{}\" called from one of its spawn_blocking calls; the thread "
        "driving the sim waits for that call to return, and this block_on would wait for that thread (deadlock). "
        "Return what the task needs from the blocking function and co_await the rest in the task that called "
        "spawn_blocking",
        name_));
  if (core_->stopped.load(std::memory_order_acquire)) throw runtime_stopped();
}

void runtime::check_block_on_handle(detail::task_record* r) const {
  // A sim (a manual driver) runs its own workers on this thread until the task is done. A task
  // of another runtime is not its to run: it ends in real time on that runtime's threads, and its
  // completion wakes this thread's futex, not the driver. The driver, finding nothing of its own
  // to run, would report a deadlock that is none and then wait for a wake of its own that never
  // comes (a hang); a task ending just then would give deadlock_error, one that ended before,
  // its value. A driver taught to wait for that end could still not tell it from a deadlock (the
  // other task may wait for one of the sim's), and would jump its virtual clock over timers while
  // real time passes; waiting without driving would never end a task of the other runtime that
  // waits for one of the sim's. So it is refused whatever the task's state (one rule, not one
  // that depends on timing), naming the two ways that do wait correctly.
  // A runtime with threads waits for any runtime's task but a sim's: nothing runs a sim's tasks
  // but the sim's own block_on or advance, on the thread that calls them, so this thread would
  // wait for a task that nobody drives (a hang, unless another thread happens to drive the sim
  // meanwhile). A task of the sim that has ended would give its value; it is refused too, for
  // the same one rule. The scheduler's manual mode is what makes a sim, and it is fixed for the
  // core's life (the handle keeps the core alive; the sim itself may be gone).
  if (r->rt == core_) return;
  if (!core_->driver && !r->rt->sched.manual()) return;
  const std::string owner = r->rt->sched.opts().name;
  detail::release_handle(r);  // the handle is dropped, as by its destructor: the task runs on
  if (!core_->driver)
    throw usage_error(fmt::format(
        "weft: block_on of runtime \"{}\" given the handle of a task of a weft::testing::sim (\"{}\"); only "
        "the sim's own block_on or advance run its tasks, on the thread that calls them, so this would wait for "
        "a task that nothing runs. Call block_on of the sim with the handle, or co_await it in another of the "
        "sim's tasks",
        name_, owner));
  throw usage_error(fmt::format(
      "weft: block_on of a weft::testing::sim (\"{}\") given the handle of a task of another runtime; the sim "
      "runs only its own tasks, in virtual time, and would not see that task end. Call block_on of the "
      "task's own runtime, or co_await the handle in a task of the sim made with "
      "sim_options::wait_for_outside",
      name_));
}

std::uint32_t runtime::wait(detail::thread_waiter& tw, std::exception_ptr& error) {
  if (core_->driver) error = core_->driver->run_until(tw.done);
  for (;;) {
    // acquire: pairs with the release store of the completing worker (or of shutdown).
    std::uint32_t v = tw.done.load(std::memory_order_acquire);
    if (v) return v;
    sched::futex_wait(&tw.done, 0);
  }
}

std::vector<task_info> runtime::dump_tasks() const { return detail::dump_tasks(*core_, &monitor_->stalls()); }

}  // namespace weft
