#pragma once
// The workloads every system in runtime_bench runs, their sizes and expected answers, and the
// registration helper that gives every benchmark the same shape and name:
//
//   <workload>/<system>/threads:<N>/n:<size>     e.g. fib/weft/threads:2/n:30
//
// bench/runtime/table.py parses these names; keep the parts.
//
// Each benchmark builds its runtime (weft::runtime, tbb::task_arena, asio::thread_pool, the
// Boost.Fiber threads) before its timing loop and runs the workload once untimed, so thread
// start-up and first-touch allocation are not measured. Each reports a "tasks" counter: the
// units of work in one iteration (fib calls, skynet leaves, nqueens placements, yields, spawned
// tasks), so that real_time / tasks is the cost per unit.

#include <benchmark/benchmark.h>

#include <array>
#include <atomic>
#include <cstdint>
#include <initializer_list>

namespace bench {

// Every benchmark takes two arguments: threads (workers) and the workload's size n. The sizes
// below are the issue's; the slowest peers (Boost.Fiber, Asio) run smaller sizes so that the
// default tools/bench run stays within a few minutes (table.py then compares per unit).

// fib(n), one branch spawned and the other run inline. A call is one unit.
inline constexpr int fib_n = 30;
constexpr std::int64_t fib_value(int n) {
  std::int64_t a = 0, b = 1;  // fib(0), fib(1)
  for (int i = 0; i < n; ++i) {
    std::int64_t c = a + b;
    a = b;
    b = c;
  }
  return a;
}
/// Number of calls fib(n) makes (itself included): 2 * fib(n + 1) - 1.
constexpr std::int64_t fib_calls(int n) { return 2 * fib_value(n + 1) - 1; }
static_assert(fib_value(30) == 832040 && fib_calls(30) == 2692537);

// skynet: a 10-ary tree of tasks with n leaves (a power of ten); leaf i returns i; the root
// sums them. github.com/atemerev/skynet. A leaf is one unit.
inline constexpr std::int64_t skynet_leaves = 1'000'000;
constexpr std::int64_t skynet_expected(std::int64_t leaves) { return leaves * (leaves - 1) / 2; }

// nqueens(n): a task per queen placed on a safe square, counting the complete boards
// (2680 for n = 11). A placement (a spawned task) is one unit.
inline constexpr int nqueens_n = 11;
inline constexpr int nqueens_max = 16;
using board = std::array<char, nqueens_max>;
/// Whether a queen may go on (row, col) given the queens on rows [0, row).
inline bool queen_safe(const board& b, int row, int col) {
  for (int r = 0; r < row; ++r) {
    int c = b[r];
    if (c == col || c - col == row - r || col - c == row - r) return false;
  }
  return true;
}
struct nqueens_count {
  std::int64_t solutions = 0;
  std::int64_t placements = 0;  // the parallel versions' tasks
};
/// The answer and the number of tasks for nqueens(n), counted (once) by the serial version.
nqueens_count nqueens_counts(int n);

// Yield ping-pong: two tasks each yield n times. A yield is one unit (2n per iteration).
inline constexpr std::int64_t yields_per_task = 100'000;

// Spawn from outside: a plain thread spawns n trivial tasks, then joins them all. A task is
// one unit.
inline constexpr std::int64_t external_tasks = 100'000;

/// Reports `per_iteration` units per iteration: the "tasks" counter and items/s.
inline void set_units(benchmark::State& state, std::int64_t per_iteration) {
  state.counters["tasks"] = static_cast<double>(per_iteration);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * per_iteration);
}

/// Marks the run failed (so table.py shows it) when a workload returns a wrong answer.
inline bool check(benchmark::State& state, std::int64_t got, std::int64_t want) {
  if (got == want) return true;
  state.SkipWithError("wrong answer");
  return false;
}

/// Runs `once()` (which returns the workload's answer) once untimed, as a warm-up, then once per
/// iteration; checks every answer against `want` and reports `units` per iteration.
template <class Once>
void measure(benchmark::State& state, Once&& once, std::int64_t want, std::int64_t units) {
  if (!check(state, once(), want)) return;
  for (auto _ : state)
    if (!check(state, once(), want)) return;
  set_units(state, units);
}

/// Registers `fn` as <name>/threads:<t>/n:<n> for each t: milliseconds, wall-clock time, and a
/// minimum time short enough that the default tools/bench run stays within a few minutes (a
/// workload slower than that runs one timed iteration per repetition).
inline int add(const char* name, void (*fn)(benchmark::State&), std::int64_t n,
               std::initializer_list<int> threads = {1, 2}) {
  auto* b = benchmark::RegisterBenchmark(name, fn);
  b->ArgNames({"threads", "n"});
  for (int t : threads) b->Args({t, n});
  b->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.2);
  return 0;
}

/// Worker threads and size of a benchmark registered by add().
inline int threads(const benchmark::State& state) { return static_cast<int>(state.range(0)); }
inline std::int64_t size(const benchmark::State& state) { return state.range(1); }

/// The join of `external` for systems without a per-task handle (TBB's enqueue, Asio's
/// co_spawn with a completion handler): each task's end adds its value; wait() blocks the
/// benchmark thread until all n have ended and returns their sum.
class completion_tally {
 public:
  void reset(std::int64_t n) {
    n_ = n;
    sum_.store(0, std::memory_order_relaxed);
    done_.store(0, std::memory_order_relaxed);
  }
  void add(std::int64_t v) {
    sum_.fetch_add(v, std::memory_order_relaxed);
    // acq_rel: the last increment publishes every sum to the waiter's acquire load.
    if (done_.fetch_add(1, std::memory_order_acq_rel) + 1 == n_) done_.notify_all();
  }
  std::int64_t wait() {
    for (std::int64_t d = done_.load(std::memory_order_acquire); d != n_; d = done_.load(std::memory_order_acquire))
      done_.wait(d, std::memory_order_acquire);
    return sum_.load(std::memory_order_relaxed);
  }

 private:
  std::int64_t n_ = 0;
  std::atomic<std::int64_t> sum_{0}, done_{0};
};

}  // namespace bench
