// weft: the workloads as weft::task coroutines on a weft::runtime of N workers, plus fib with
// the sampled timing histograms off (runtime_options::timing_metrics) to show what they cost.
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include <weft/weft.hpp>

#include "workloads.hpp"

namespace {

using weft::task;

task<std::int64_t> fib(int n) {
  if (n < 2) co_return n;
  weft::join_handle<std::int64_t> a = weft::spawn(fib(n - 1));  // may be stolen
  std::int64_t b = co_await fib(n - 2);                         // inline, symmetric transfer
  co_return co_await a + b;
}

task<std::int64_t> skynet(std::int64_t num, std::int64_t size) {
  if (size == 1) co_return num;
  std::int64_t sub = size / 10;
  std::array<weft::join_handle<std::int64_t>, 10> children;
  for (int i = 0; i < 10; ++i) children[i] = weft::spawn(skynet(num + i * sub, sub));
  std::int64_t sum = 0;
  for (auto& c : children) sum += co_await c;
  co_return sum;
}

task<std::int64_t> nqueens(int n, int row, bench::board b) {
  if (row == n) co_return 1;
  std::array<weft::join_handle<std::int64_t>, bench::nqueens_max> children;
  int k = 0;
  for (int col = 0; col < n; ++col) {
    if (!bench::queen_safe(b, row, col)) continue;
    b[row] = static_cast<char>(col);
    children[k++] = weft::spawn(nqueens(n, row + 1, b));
  }
  std::int64_t sum = 0;
  for (int i = 0; i < k; ++i) sum += co_await children[i];
  co_return sum;
}

task<void> yielder(std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i) co_await weft::yield();
}

task<std::int64_t> ping_pong(std::int64_t n) {
  auto a = weft::spawn(yielder(n));
  auto b = weft::spawn(yielder(n));
  co_await a;
  co_await b;
  co_return 2 * n;
}

task<std::int64_t> trivial(std::int64_t i) { co_return i; }

// Every option at its default but these two (stall detector on, as users run it).
weft::runtime_options options(const benchmark::State& state, bool timing_metrics = true) {
  weft::runtime_options o;
  o.workers = static_cast<std::size_t>(bench::threads(state));
  o.timing_metrics = timing_metrics;
  return o;
}

void fib_on(benchmark::State& state, bool timing_metrics) {
  weft::runtime rt(options(state, timing_metrics));
  int n = static_cast<int>(bench::size(state));
  bench::measure(state, [&] { return rt.block_on(fib(n)); }, bench::fib_value(n), bench::fib_calls(n));
}
void fib_weft(benchmark::State& state) { fib_on(state, true); }
void fib_weft_nometrics(benchmark::State& state) { fib_on(state, false); }

void skynet_weft(benchmark::State& state) {
  weft::runtime rt(options(state));
  std::int64_t leaves = bench::size(state);
  bench::measure(state, [&] { return rt.block_on(skynet(0, leaves)); }, bench::skynet_expected(leaves), leaves);
}

void nqueens_weft(benchmark::State& state) {
  weft::runtime rt(options(state));
  int n = static_cast<int>(bench::size(state));
  auto want = bench::nqueens_counts(n);
  bench::measure(state, [&] { return rt.block_on(nqueens(n, 0, bench::board{})); }, want.solutions, want.placements);
}

void yield_weft(benchmark::State& state) {
  weft::runtime rt(options(state));
  std::int64_t n = bench::size(state);
  bench::measure(state, [&] { return rt.block_on(ping_pong(n)); }, 2 * n, 2 * n);
}

// The benchmark thread is not a worker: rt.spawn goes through the global queue, and
// rt.block_on(handle) joins each task from outside.
void external_weft(benchmark::State& state) {
  weft::runtime rt(options(state));
  const std::int64_t n = bench::size(state);
  std::vector<weft::join_handle<std::int64_t>> handles;
  handles.reserve(static_cast<std::size_t>(n));
  bench::measure(
      state,
      [&] {
        for (std::int64_t i = 0; i < n; ++i) handles.push_back(rt.spawn(trivial(i)));
        std::int64_t sum = 0;
        for (auto& h : handles) sum += rt.block_on(std::move(h));
        handles.clear();
        return sum;
      },
      n * (n - 1) / 2, n);
}

[[maybe_unused]] const int registered =
    (bench::add("fib/weft", fib_weft, bench::fib_n), bench::add("fib/weft_nometrics", fib_weft_nometrics, bench::fib_n),
     bench::add("skynet/weft", skynet_weft, bench::skynet_leaves),
     bench::add("nqueens/weft", nqueens_weft, bench::nqueens_n),
     bench::add("yield/weft", yield_weft, bench::yields_per_task),
     bench::add("external/weft", external_weft, bench::external_tasks));

}  // namespace
