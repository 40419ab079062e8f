#pragma once
// weft::testing::sim: a runtime on a virtual clock, whose tasks run in an order drawn from a
// seed.
//
//   weft::testing::sim sim{{.seed = 42, .workers = 1}};
//   sim.block_on([]() -> weft::task<void> {
//     co_await weft::sleep_for(1h);                  // returns at once: virtual time jumps
//   }());
//   REQUIRE(sim.now() - sim.start() == 1h);
//
// A sim is a weft::runtime (job pools, channels, metrics, spawn take it as they take a runtime)
// with no worker threads. Its logical workers run on the thread that calls block_on (or
// advance), one dispatch at a time, so the number of workers changes nothing about
// determinism. Nothing runs between those calls: a task spawned from outside waits for the next
// one.
//
// Virtual time. Every timer, sleep_for / sleep_until, with_timeout / with_deadline, the job
// pool's backoff, breakers and deadlines, task-state stamps (dump_tasks, hung-task counts) and
// the stall detector read the runtime's clock, which here moves only:
//   - by itself, when no task can run and a timer is armed: it jumps to the next timer
//     (Tokio's auto-advance); a task waiting for a spawn_blocking call holds it back;
//   - by advance(d): from outside, the sim runs for `d` of virtual time (every timer due meanwhile
//     fires at its deadline, and the tasks it wakes run); from inside a task, the running
//     dispatch is taken to last `d` (a stand-in for CPU work or a blocking call: the stall
//     detector sees it), and the timers it passes fire when it ends.
// Timers fire on the wheel's 1 ms ticks, as with threads: sleep_for(1500us) wakes at +2 ms.
// sim.start() is the steady clock's reading when the sim was made; deadlines computed inside
// its tasks (sleep_for, with_timeout, weft::now()) use its clock. A deadline computed from
// std::chrono::steady_clock::now() does not.
//
// Deterministic schedules. Whenever the sim runs a task, it takes every runnable task out of
// the workers' queues and draws the next one from the seed: uniformly for an even seed, by
// PCT-style priorities for an odd one (runtime/src/testing/README.md); which logical worker
// runs it (a steal, when it is not the one that queued it) is drawn too. The same seed replays
// the same order; weft::testing::explore tries many. Interleavings happen at awaits: one
// dispatch runs to its next suspension alone, and a task that joins a child it just spawned
// runs it inline, as on a real worker.
//
// What it does not control, said plainly: threads it does not own (a thread of yours that
// sends on a channel, spawn_blocking's threads, a job store's writer thread) and real I/O
// (Asio sockets and timers, whose time is real). They still work (set wait_for_outside when
// only they can wake a task), but when they act is up to the OS, so a test that depends on
// them is not replayed exactly. The cooperative budget and LIFO slot of a real worker do not
// shape the order here: every runnable task is a candidate at every step. Poll-duration and
// schedule-delay histograms and weft::trace timestamps measure real time.
//
// Deadlocks. When no task can run, no timer is armed and nothing outside is pending, the task
// given to block_on can never finish: block_on cancels every task, lets them unwind, and
// throws deadlock_error listing what each task waited for (unless wait_for_outside: then it
// waits for a wake from another thread).
//
// Tasks of other runtimes. block_on of the join_handle of another runtime's task throws
// usage_error (the handle is dropped): the sim runs only its own tasks and would not see that
// one end. Join it with its own runtime's block_on, or co_await it in a task of a sim with
// wait_for_outside (its end wakes the sim as any outside wake does). The other way round, another
// runtime's block_on of the handle of a sim's task throws usage_error too (the handle is
// dropped): nothing would run the task while that thread waits. Use the sim's block_on. So does
// a co_await of that handle in a task of another runtime (with threads, or another sim),
// finished or not; the handle stays with its owner, for the sim's block_on or one of its tasks.
//
// Thread safety: as weft::runtime, except that block_on and advance() run the tasks on the
// calling thread: one thread at a time drives a sim (a second waits for the first). As every
// runtime's, block_on is refused in a task (of the sim, or of any runtime: usage_error). A
// spawn_blocking call of the sim may not block_on or advance the sim either (usage_error): the
// thread driving the sim is waiting for that call. Another runtime's blocking threads and plain
// threads may.
// shutdown() and the destructor may come from any thread but a task of the sim; the destructor
// cancels every task and runs their unwinding (shutdown_grace is virtual time here).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <stdexcept>

#include <weft/runtime.hpp>

namespace weft::detail {
class sim_driver;
}  // namespace weft::detail

namespace weft::testing {

/// How a sim is made. A plain aggregate: `sim s{{.seed = 7, .workers = 2}}`.
struct sim_options {
  /// Draws the schedule: the same seed, the same order of tasks.
  std::uint64_t seed = 0;
  /// Logical workers (at least 1), all run on the driving thread.
  std::size_t workers = 1;
  /// When no task can run and no timer is armed: false, block_on calls it a deadlock; true, it
  /// waits for a thread the sim does not own (or I/O) to wake a task.
  bool wait_for_outside = false;
  /// Everything else a runtime takes (name, registry, stall options, shutdown_grace, ...). Its
  /// `workers` is ignored (the member above counts).
  runtime_options runtime{};
};

/// Thrown by sim::block_on when its task could never finish (see the top): what() lists the
/// tasks and what each waited for.
class deadlock_error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

class sim : public runtime {
 public:
  /// Throws std::invalid_argument for zero workers.
  explicit sim(sim_options opts = {});
  /// Shuts down (see weft::runtime): cancels every task and runs their unwinding here.
  ~sim();

  /// The virtual clock when the sim was made (now() is inherited: runtime::now()).
  std::chrono::steady_clock::time_point start() const noexcept { return start_; }
  /// Moves the virtual clock `d` ahead (see the top): from outside, runs the sim for `d`; from
  /// inside one of its tasks, the running dispatch takes `d`. Throws std::invalid_argument for a
  /// negative `d`, runtime_stopped after shutdown.
  void advance(std::chrono::nanoseconds d);

  /// The seed the schedule is drawn from.
  std::uint64_t seed() const noexcept { return seed_; }
  /// "random" or "PCT (depth N)": the kind of schedule the seed chose.
  const char* schedule() const noexcept;
  /// Dispatches run so far (one per task step).
  std::uint64_t steps() const noexcept;

 private:
  std::uint64_t seed_;
  std::chrono::steady_clock::time_point start_;
  std::unique_ptr<detail::sim_driver> driver_;
};

}  // namespace weft::testing
