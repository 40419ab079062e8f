#include "testing/sim_driver.hpp"

#include <climits>
#include <thread>

#include <weft/detail/worker_context.hpp>
#include <weft/testing/sim.hpp>
#include <weft/time/detail/deadline.hpp>

namespace weft::detail {
namespace {

// A task that ignores its cancellation without ever waiting (it catches cancelled_error and
// loops) would keep shutdown's unwinding busy forever: it gets this many dispatches at most,
// then shutdown destroys what is left, as a runtime with threads does after its grace.
constexpr std::uint64_t max_unwind_steps = 1'000'000;

}  // namespace

class sim_driver::drive_scope {
 public:
  explicit drive_scope(sim_driver& d) : d_(d), ctx_(tls_ctx), prev_(d.sched_.bind(d.bound_)) {
    tls_ctx = &d.core_.contexts[d.bound_];
  }
  drive_scope(const drive_scope&) = delete;
  ~drive_scope() {
    d_.sched_.unbind(prev_);
    tls_ctx = ctx_;
  }

 private:
  sim_driver& d_;
  worker_context* ctx_;  // saved before bind(): a worker's first bind sets tls_ctx
  sched::scheduler::binding prev_;
};

sim_driver::sim_driver(runtime_core& core, std::uint64_t seed, std::size_t workers, bool wait_for_outside,
                       std::function<std::string()> describe)
    : core_(core),
      sched_(core.sched),
      policy_(seed, workers),
      wait_for_outside_(wait_for_outside),
      describe_(std::move(describe)) {}

void sim_driver::collect() {
  sched_.take_queued([&](sched::job* j, std::size_t home) {
    ready_.push_back(j);
    home_.push_back(home);
  });
}

void sim_driver::switch_to(std::size_t worker) {
  if (worker != bound_) {
    sched_.bind(worker);  // what it replaces is our own binding: drive_scope restores the caller's
    bound_ = worker;
  }
  tls_ctx = &core_.contexts[worker];
}

bool sim_driver::step() {
  collect();
  if (ready_.empty()) return false;
  const std::uint64_t n = steps_.load(std::memory_order_relaxed);
  const std::size_t i = policy_.pick(ready_, n);
  sched::job* j = ready_[i];
  const std::size_t home = home_[i];
  // Swap-remove: the order of ready_ is part of the schedule, and as deterministic as the rest.
  ready_[i] = ready_.back();
  ready_.pop_back();
  home_[i] = home_.back();
  home_.pop_back();
  switch_to(policy_.runner(home));
  steps_.store(n + 1, std::memory_order_relaxed);
  sched_.run_bound(j);
  if (sample_after_) {
    // The dispatch an in-task advance() stretched is over: let the stall detector see it end.
    sample_after_ = false;
    if (core_.sample_observers) core_.sample_observers();
  }
  return true;
}

void sim_driver::move_clock(std::int64_t to) {
  sched_.set_virtual_now(to);
  sched_.fire_due_timers(sched_.now());  // wakes their tasks on the bound worker, in deadline order
}

sim_driver::idle_outcome sim_driver::idle(std::int64_t limit, bool outside) {
  if (outside && core_.outside_work_pending()) {
    // A spawn_blocking call runs: its end wakes a task (a wake from another thread). Time does
    // not move meanwhile: a blocking call takes no virtual time.
    sched_.wait_for_work();
    return idle_outcome::progressed;
  }
  // What outside work queued just before it ended (its wake comes before it counts as done).
  collect();
  if (!ready_.empty()) return idle_outcome::progressed;
  const std::int64_t next = sched_.next_timer_ns();
  if (next != INT64_MAX && next <= limit) {
    move_clock(next);  // auto-advance: every task waits, the next timer is due next
    return idle_outcome::progressed;
  }
  return idle_outcome::stuck;
}

std::exception_ptr sim_driver::run_until(const std::atomic<std::uint32_t>& done) {
  std::lock_guard lock(drive_mu_);
  drive_scope scope(*this);
  std::exception_ptr deadlock;
  // acquire: pairs with the completing task's release store of `done` (on this thread, or on a
  // thread that ended the task from outside: shutdown).
  while (!sched_.stopping()) {
    const bool finished = done.load(std::memory_order_acquire);
    // After a deadlock, the cancelled tasks all unwind before block_on returns: the test's
    // primitives they wait on may go right after.
    if (finished && !deadlock) break;
    if (step()) continue;
    if (finished) break;
    if (idle(never_ns, true) == idle_outcome::progressed) continue;
    if (wait_for_outside_ || core_.io.load(std::memory_order_acquire) || deadlock) {
      // Only a thread we do not own, or I/O, can wake a task now (or the deadlock's cancelled
      // tasks ignore their cancellation): wait for it.
      sched_.wait_for_work();
      continue;
    }
    // Deadlock: the task cannot finish. Cancel every task, so that it ends (with whatever the
    // cancellation makes it throw), and report the deadlock instead of that.
    deadlock = std::make_exception_ptr(testing::deadlock_error(describe_()));
    core_.cancel_live(task_record::cancel_handle);
  }
  return deadlock;
}

void sim_driver::unwind(std::chrono::nanoseconds grace) {
  core_.cancel_live(task_record::cancel_shutdown);
  sched_.wake_controller();
  std::unique_lock lock(drive_mu_, std::try_to_lock);
  if (!lock) {
    // Another thread drives (a block_on racing this shutdown): it runs the unwinding. Wait for
    // it as a runtime waits for its worker threads, at most the grace, in real time.
    const auto deadline = std::chrono::steady_clock::now() + grace;
    while (core_.cancel_live(task_record::cancel_shutdown) != 0 && std::chrono::steady_clock::now() < deadline)
      std::this_thread::sleep_for(std::chrono::microseconds(200));
    return;
  }
  drive_scope scope(*this);
  const std::int64_t limit = saturating_add(sched_.now(), saturating_ns(grace));
  const std::uint64_t step_limit = steps() + max_unwind_steps;
  for (;;) {
    while (steps() < step_limit && step()) {
    }
    if (steps() >= step_limit) return;
    if (core_.cancel_live(task_record::cancel_shutdown) == 0) return;  // also those spawned meanwhile
    // Timers within the grace fire (a task that cleans up with a sleep); outside work is not
    // waited for: the areas' stop hooks end it next.
    if (idle(limit, false) == idle_outcome::stuck) return;
  }
}

void sim_driver::join() noexcept {
  // The thread driving, if any, leaves its loop once it sees the scheduler stopped.
  std::lock_guard lock(drive_mu_);
  // Jobs taken out of the queues and never run go where every job queued at shutdown goes: to
  // the closed global queue, which disposes of them (a task is ended from the task table).
  for (sched::job* j : ready_) sched_.inject(j);
  ready_.clear();
  home_.clear();
  sched_.end_manual_workers();
}

void sim_driver::advance(std::int64_t ns) {
  if (sched_.on_worker()) {
    // Inside one of our tasks: the running dispatch takes `ns`. The stall detector samples it
    // at both ends (and once more when it returns); the timers it passes fire now, and their
    // tasks run after it.
    if (core_.sample_observers) core_.sample_observers();
    move_clock(saturating_add(sched_.now(), ns));
    if (core_.sample_observers) core_.sample_observers();
    sample_after_ = true;
    return;
  }
  std::lock_guard lock(drive_mu_);
  drive_scope scope(*this);
  const std::int64_t target = saturating_add(sched_.now(), ns);
  while (!sched_.stopping()) {
    if (step()) continue;
    if (idle(target, true) == idle_outcome::progressed) continue;
    if (sched_.now() >= target) break;
    move_clock(target);  // the tasks its timers wake (none had a deadline before) run next
  }
}

}  // namespace weft::detail
