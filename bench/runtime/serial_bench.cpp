// The serial baseline: the same recursions as plain function calls on the benchmark thread.
// What a runtime adds on top of this, divided by the units, is its cost per task.
#include <cstdint>
#include <map>
#include <mutex>

#include "workloads.hpp"

namespace {

std::int64_t fib(int n) {
  if (n < 2) return n;
  return fib(n - 1) + fib(n - 2);
}

std::int64_t skynet(std::int64_t num, std::int64_t size) {
  if (size == 1) return num;
  std::int64_t sub = size / 10, sum = 0;
  for (int i = 0; i < 10; ++i) sum += skynet(num + i * sub, sub);
  return sum;
}

// Counts the complete boards; `placements` counts the queens placed.
std::int64_t nqueens(int n, int row, bench::board b, std::int64_t& placements) {
  if (row == n) return 1;
  std::int64_t sum = 0;
  for (int col = 0; col < n; ++col) {
    if (!bench::queen_safe(b, row, col)) continue;
    b[row] = static_cast<char>(col);
    ++placements;
    sum += nqueens(n, row + 1, b, placements);
  }
  return sum;
}

void fib_serial(benchmark::State& state) {
  int n = static_cast<int>(bench::size(state));
  bench::measure(
      state,
      [&] {
        benchmark::DoNotOptimize(n);  // keeps the compiler from folding the call to a constant
        return fib(n);
      },
      bench::fib_value(n), bench::fib_calls(n));
}

void skynet_serial(benchmark::State& state) {
  std::int64_t leaves = bench::size(state);
  bench::measure(
      state,
      [&] {
        benchmark::DoNotOptimize(leaves);
        return skynet(0, leaves);
      },
      bench::skynet_expected(leaves), leaves);
}

void nqueens_serial(benchmark::State& state) {
  int n = static_cast<int>(bench::size(state));
  auto want = bench::nqueens_counts(n);
  bench::measure(
      state,
      [&] {
        std::int64_t placements = 0;
        std::int64_t r = nqueens(n, 0, bench::board{}, placements);
        benchmark::DoNotOptimize(placements);
        return r;
      },
      want.solutions, want.placements);
}

[[maybe_unused]] const int registered = (bench::add("fib/serial", fib_serial, bench::fib_n, {1}),
                                         bench::add("skynet/serial", skynet_serial, bench::skynet_leaves, {1}),
                                         bench::add("nqueens/serial", nqueens_serial, bench::nqueens_n, {1}));

}  // namespace

bench::nqueens_count bench::nqueens_counts(int n) {
  static std::mutex m;
  static std::map<int, nqueens_count> known;
  std::lock_guard lk(m);
  auto [it, added] = known.try_emplace(n);
  if (added) it->second.solutions = nqueens(n, 0, board{}, it->second.placements);
  return it->second;
}
