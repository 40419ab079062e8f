// Boost.Asio: the workloads as asio::awaitable coroutines on an asio::thread_pool of N threads.
//
// Asio's fork-join for coroutines is co_spawn into a parallel group: fib uses the awaitable
// operators (`co_await (fib(n - 1) && fib(n - 2))`, which co_spawns BOTH branches), skynet and
// nqueens a ranged parallel group of co_spawn(..., deferred). (experimental::use_promise
// would allow "spawn one, run the other inline", but its promise is not thread-safe on a
// multi-threaded pool.) The benchmark thread is outside the pool: it co_spawns the root with
// use_future and waits.
#include <atomic>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <tuple>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/deferred.hpp>
#include <boost/asio/experimental/awaitable_operators.hpp>
#include <boost/asio/experimental/parallel_group.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>

#include "workloads.hpp"

namespace asio = boost::asio;

namespace {

using asio::awaitable;
using namespace asio::experimental::awaitable_operators;

awaitable<std::int64_t> fib(int n) {
  if (n < 2) co_return n;
  auto [a, b] = co_await (fib(n - 1) && fib(n - 2));
  co_return a + b;
}

// Waits for every op of a ranged parallel group and sums the results (rethrowing the first
// exception).
template <class Op>
awaitable<std::int64_t> sum_all(std::vector<Op> ops) {
  auto [order, errors, values] = co_await asio::experimental::make_parallel_group(std::move(ops))
                                     .async_wait(asio::experimental::wait_for_all(), asio::use_awaitable);
  std::int64_t sum = 0;
  for (std::size_t i = 0; i < values.size(); ++i) {
    if (errors[i]) std::rethrow_exception(errors[i]);
    sum += values[i];
  }
  co_return sum;
}

awaitable<std::int64_t> skynet(std::int64_t num, std::int64_t size) {
  if (size == 1) co_return num;
  auto ex = co_await asio::this_coro::executor;
  std::int64_t sub = size / 10;
  std::vector<decltype(asio::co_spawn(ex, skynet(0, 1), asio::deferred))> children;
  children.reserve(10);
  for (int i = 0; i < 10; ++i) children.push_back(asio::co_spawn(ex, skynet(num + i * sub, sub), asio::deferred));
  co_return co_await sum_all(std::move(children));
}

awaitable<std::int64_t> nqueens(int n, int row, bench::board b) {
  if (row == n) co_return 1;
  auto ex = co_await asio::this_coro::executor;
  std::vector<decltype(asio::co_spawn(ex, nqueens(n, row, b), asio::deferred))> children;
  children.reserve(static_cast<std::size_t>(n));
  for (int col = 0; col < n; ++col) {
    if (!bench::queen_safe(b, row, col)) continue;
    b[row] = static_cast<char>(col);
    children.push_back(asio::co_spawn(ex, nqueens(n, row + 1, b), asio::deferred));
  }
  if (children.empty()) co_return 0;
  co_return co_await sum_all(std::move(children));
}

// A yield: post this coroutine's continuation to the back of the pool's queue.
awaitable<void> yielder(std::int64_t n) {
  auto ex = co_await asio::this_coro::executor;
  for (std::int64_t i = 0; i < n; ++i) co_await asio::post(ex, asio::use_awaitable);
}

awaitable<std::int64_t> ping_pong(std::int64_t n) {
  co_await (yielder(n) && yielder(n));
  co_return 2 * n;
}

// Runs the coroutine make() returns on a pool of N threads, from the benchmark thread.
template <class Make>
void run(benchmark::State& state, Make make, std::int64_t want, std::int64_t units) {
  asio::thread_pool pool(static_cast<std::size_t>(bench::threads(state)));
  bench::measure(state, [&] { return asio::co_spawn(pool, make(), asio::use_future).get(); }, want, units);
  pool.join();
}

void fib_asio(benchmark::State& state) {
  int n = static_cast<int>(bench::size(state));
  run(state, [n] { return fib(n); }, bench::fib_value(n), bench::fib_calls(n));
}

void skynet_asio(benchmark::State& state) {
  std::int64_t leaves = bench::size(state);
  run(state, [leaves] { return skynet(0, leaves); }, bench::skynet_expected(leaves), leaves);
}

void nqueens_asio(benchmark::State& state) {
  int n = static_cast<int>(bench::size(state));
  auto want = bench::nqueens_counts(n);
  run(state, [n] { return nqueens(n, 0, bench::board{}); }, want.solutions, want.placements);
}

void yield_asio(benchmark::State& state) {
  std::int64_t n = bench::size(state);
  run(state, [n] { return ping_pong(n); }, 2 * n, 2 * n);
}

awaitable<std::int64_t> trivial(std::int64_t i) { co_return i; }

// Spawn from outside: the benchmark thread co_spawns each task with a completion handler that
// counts it (Asio's cheapest join; a use_future per task would cost far more).
void external_asio(benchmark::State& state) {
  asio::thread_pool pool(static_cast<std::size_t>(bench::threads(state)));
  const std::int64_t n = bench::size(state);
  bench::completion_tally tally;
  bench::measure(
      state,
      [&] {
        tally.reset(n);
        for (std::int64_t i = 0; i < n; ++i)
          asio::co_spawn(pool, trivial(i), [&](std::exception_ptr, std::int64_t v) { tally.add(v); });
        return tally.wait();
      },
      n * (n - 1) / 2, n);
  pool.join();
}

// Smaller sizes than the others where a task costs microseconds (a co_spawn, a parallel group
// and their allocations, FIFO order keeping the whole tree alive): the full sizes would take
// several seconds per iteration. table.py compares per unit.
[[maybe_unused]] const int registered =
    (bench::add("fib/asio", fib_asio, 23), bench::add("skynet/asio", skynet_asio, 100'000),
     bench::add("nqueens/asio", nqueens_asio, 9), bench::add("yield/asio", yield_asio, bench::yields_per_task),
     bench::add("external/asio", external_asio, bench::external_tasks));

}  // namespace
