// oneTBB: the workloads with tbb::task_group inside a tbb::task_arena of N threads. The
// benchmark thread enters the arena (arena.execute) and takes one of its N slots, so N threads
// work, as with weft's N workers. TBB has no yield between tasks, so no ping-pong here.
#include <array>
#include <atomic>
#include <cstddef>
#include <cstdint>

#include <tbb/global_control.h>
#include <tbb/task_arena.h>
#include <tbb/task_group.h>

#include "workloads.hpp"

namespace {

std::int64_t fib(int n) {
  if (n < 2) return n;
  std::int64_t a = 0;
  tbb::task_group g;
  g.run([&a, n] { a = fib(n - 1); });
  std::int64_t b = fib(n - 2);
  g.wait();
  return a + b;
}

std::int64_t skynet(std::int64_t num, std::int64_t size) {
  if (size == 1) return num;
  std::int64_t sub = size / 10;
  std::array<std::int64_t, 10> r{};
  tbb::task_group g;
  for (int i = 0; i < 10; ++i) g.run([&r, i, num, sub] { r[i] = skynet(num + i * sub, sub); });
  g.wait();
  std::int64_t sum = 0;
  for (std::int64_t v : r) sum += v;
  return sum;
}

std::int64_t nqueens(int n, int row, bench::board b) {
  if (row == n) return 1;
  std::array<std::int64_t, bench::nqueens_max> r{};
  int k = 0;
  tbb::task_group g;
  for (int col = 0; col < n; ++col) {
    if (!bench::queen_safe(b, row, col)) continue;
    b[row] = static_cast<char>(col);
    g.run([&r, i = k++, n, row, b] { r[i] = nqueens(n, row + 1, b); });
  }
  g.wait();
  std::int64_t sum = 0;
  for (int i = 0; i < k; ++i) sum += r[i];
  return sum;
}

// An arena of N slots, one of them for the benchmark thread, which enters it to run `f`.
struct arena {
  explicit arena(const benchmark::State& state) : a(bench::threads(state)) { a.initialize(); }
  template <class F>
  std::int64_t operator()(F f) {
    std::int64_t r = 0;
    a.execute([&] { r = f(); });
    return r;
  }
  tbb::task_arena a;
};

void fib_tbb(benchmark::State& state) {
  arena in(state);
  int n = static_cast<int>(bench::size(state));
  bench::measure(state, [&] { return in([n] { return fib(n); }); }, bench::fib_value(n), bench::fib_calls(n));
}

void skynet_tbb(benchmark::State& state) {
  arena in(state);
  std::int64_t leaves = bench::size(state);
  bench::measure(
      state, [&] { return in([leaves] { return skynet(0, leaves); }); }, bench::skynet_expected(leaves), leaves);
}

void nqueens_tbb(benchmark::State& state) {
  arena in(state);
  int n = static_cast<int>(bench::size(state));
  auto want = bench::nqueens_counts(n);
  bench::measure(
      state, [&] { return in([n] { return nqueens(n, 0, bench::board{}); }); }, want.solutions, want.placements);
}

// Spawn from outside: the benchmark thread stays out of the arena and enqueues; the arena has
// N worker slots (none reserved for a master) and global_control lets TBB start N workers (its
// default is one fewer than the cores). Joining is one counter the last task signals: TBB has
// no per-task handle for enqueued work.
void external_tbb(benchmark::State& state) {
  const int threads = bench::threads(state);
  tbb::global_control allow(tbb::global_control::max_allowed_parallelism, static_cast<std::size_t>(threads) + 1);
  tbb::task_arena arena(threads, 0);
  arena.initialize();
  const std::int64_t n = bench::size(state);
  bench::completion_tally tally;
  bench::measure(
      state,
      [&] {
        tally.reset(n);
        for (std::int64_t i = 0; i < n; ++i) arena.enqueue([&, i] { tally.add(i); });
        return tally.wait();
      },
      n * (n - 1) / 2, n);
}

[[maybe_unused]] const int registered =
    (bench::add("fib/tbb", fib_tbb, bench::fib_n), bench::add("skynet/tbb", skynet_tbb, bench::skynet_leaves),
     bench::add("nqueens/tbb", nqueens_tbb, bench::nqueens_n),
     bench::add("external/tbb", external_tbb, bench::external_tasks));

}  // namespace
