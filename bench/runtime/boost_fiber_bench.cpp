// Boost.Fiber: the workloads as fibers (boost::fibers::fiber + join) on N threads.
//
// Configured as Boost.Fiber's own skynet benchmarks are (boostorg/fiber,
// performance/fiber/skynet_stealing_join.cpp): launch::dispatch (the child runs at once, the
// parent waits in the ready queue, where another thread may steal it) and a fixedsize_stack
// of two pages per fiber (the default stack is far larger, and the 1-thread round-robin
// scheduler keeps most fibers of a wide tree alive at once). pooled_fixedsize_stack is not an
// option: it is single-threaded, and with work stealing a fiber may end on another thread.
//
// The fibers run in bench/common/fiber_pool.hpp's thread pool (why it is shaped so: there).
#include <array>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/fiber/algo/work_stealing.hpp>
#include <boost/fiber/all.hpp>

#include "../common/fiber_pool.hpp"
#include "workloads.hpp"

namespace fibers = boost::fibers;

namespace {

using stack_allocator = fibers::fixedsize_stack;

template <class F>
fibers::fiber launch(F&& f) {
  static const std::size_t stack_size = 2 * stack_allocator::traits_type::page_size();
  return fibers::fiber(fibers::launch::dispatch, std::allocator_arg, stack_allocator(stack_size), std::forward<F>(f));
}

std::int64_t fib(int n) {
  if (n < 2) return n;
  std::int64_t a = 0;
  fibers::fiber f = launch([&a, n] { a = fib(n - 1); });
  std::int64_t b = fib(n - 2);
  f.join();
  return a + b;
}

std::int64_t skynet(std::int64_t num, std::int64_t size) {
  if (size == 1) return num;
  std::int64_t sub = size / 10;
  std::array<std::int64_t, 10> r{};
  std::array<fibers::fiber, 10> children;
  for (int i = 0; i < 10; ++i) children[i] = launch([&r, i, num, sub] { r[i] = skynet(num + i * sub, sub); });
  std::int64_t sum = 0;
  for (int i = 0; i < 10; ++i) {
    children[i].join();
    sum += r[i];
  }
  return sum;
}

std::int64_t nqueens(int n, int row, bench::board b) {
  if (row == n) return 1;
  std::array<std::int64_t, bench::nqueens_max> r{};
  std::array<fibers::fiber, bench::nqueens_max> children;
  int k = 0;
  for (int col = 0; col < n; ++col) {
    if (!bench::queen_safe(b, row, col)) continue;
    b[row] = static_cast<char>(col);
    children[k] = launch([&r, i = k, n, row, b] { r[i] = nqueens(n, row + 1, b); });
    ++k;
  }
  std::int64_t sum = 0;
  for (int i = 0; i < k; ++i) {
    children[i].join();
    sum += r[i];
  }
  return sum;
}

std::int64_t ping_pong(std::int64_t n) {
  auto yielder = [n] {
    for (std::int64_t i = 0; i < n; ++i) boost::this_fiber::yield();
  };
  fibers::fiber a = launch(yielder), b = launch(yielder);
  a.join();
  b.join();
  return 2 * n;
}

bench::fiber_pool& pool(const benchmark::State& state) {
  return bench::fiber_pool::get(static_cast<unsigned>(bench::threads(state)));
}

void fib_fibers(benchmark::State& state) {
  int n = static_cast<int>(bench::size(state));
  bench::fiber_pool& p = pool(state);
  bench::measure(state, [&] { return p.compute([n] { return fib(n); }); }, bench::fib_value(n), bench::fib_calls(n));
}

void skynet_fibers(benchmark::State& state) {
  std::int64_t leaves = bench::size(state);
  bench::fiber_pool& p = pool(state);
  bench::measure(
      state, [&] { return p.compute([leaves] { return skynet(0, leaves); }); }, bench::skynet_expected(leaves), leaves);
}

void nqueens_fibers(benchmark::State& state) {
  int n = static_cast<int>(bench::size(state));
  auto want = bench::nqueens_counts(n);
  bench::fiber_pool& p = pool(state);
  bench::measure(
      state, [&] { return p.compute([n] { return nqueens(n, 0, bench::board{}); }); }, want.solutions, want.placements);
}

void yield_fibers(benchmark::State& state) {
  std::int64_t n = bench::size(state);
  bench::fiber_pool& p = pool(state);
  bench::measure(state, [&] { return p.compute([n] { return ping_pong(n); }); }, 2 * n, 2 * n);
}

// Smaller sizes than the others: a fiber costs microseconds (a stack each), and the full sizes
// would take tens of seconds per iteration on one thread. table.py compares per unit.
[[maybe_unused]] const int registered =
    (bench::add("fib/fibers", fib_fibers, 22), bench::add("skynet/fibers", skynet_fibers, 100'000),
     bench::add("nqueens/fibers", nqueens_fibers, 9), bench::add("yield/fibers", yield_fibers, bench::yields_per_task));

}  // namespace
