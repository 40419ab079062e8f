// Boost.Asio: experimental::concurrent_channel throughput and ping-pong, asio::awaitable
// coroutines co_spawned from the benchmark thread onto an asio::thread_pool of N threads.
//
// The channel's operations are co_awaited with use_awaitable; it is bound to the pool's
// executor, and its capacity is the one asked for (1, 64, 1024).
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <mutex>
#include <vector>

#include <boost/asio/co_spawn.hpp>
#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "workloads.hpp"

namespace {

namespace asio = boost::asio;
using asio::awaitable;
using asio::use_awaitable;
using chan = asio::experimental::concurrent_channel<void(boost::system::error_code, std::int64_t)>;

// Co_spawns every coroutine onto the pool and waits for all of them; sums their tallies (an
// exception leaves its tally out, so the check fails).
bench::tally run_all(asio::thread_pool& pool, std::vector<awaitable<bench::tally>> coros) {
  std::mutex m;
  std::condition_variable cv;
  std::size_t left = coros.size();
  bench::tally total;
  for (auto& c : coros)
    asio::co_spawn(pool, std::move(c), [&](std::exception_ptr e, bench::tally t) {
      std::lock_guard lk(m);  // notified under the lock: the waiter's stack outlives it
      if (!e) total += t;
      if (--left == 0) cv.notify_all();
    });
  std::unique_lock lk(m);
  cv.wait(lk, [&] { return left == 0; });
  return total;
}

awaitable<bench::tally> produce(chan& ch, std::int64_t begin, std::int64_t end) {
  for (std::int64_t i = begin; i < end; ++i)
    co_await ch.async_send(boost::system::error_code{}, bench::encode(i), use_awaitable);
  co_return bench::tally{};
}

awaitable<bench::tally> consume(chan& ch, std::int64_t count) {
  bench::tally t;
  for (std::int64_t i = 0; i < count; ++i) t.take(co_await ch.async_receive(use_awaitable));
  co_return t;
}

bench::tally channel_once(asio::thread_pool& pool, int producers, std::int64_t capacity, std::int64_t n) {
  chan ch(pool.get_executor(), static_cast<std::size_t>(capacity));
  std::vector<awaitable<bench::tally>> coros;
  for (int p = 0; p < producers; ++p) coros.push_back(consume(ch, n / producers));
  for (int p = 0; p < producers; ++p) coros.push_back(produce(ch, n * p / producers, n * (p + 1) / producers));
  return run_all(pool, std::move(coros));
}

// ping sends i, pong answers n + i.
awaitable<bench::tally> ping(chan& out, chan& in, std::int64_t n) {
  bench::tally t;
  for (std::int64_t i = 0; i < n; ++i) {
    co_await out.async_send(boost::system::error_code{}, bench::encode(i), use_awaitable);
    std::int64_t v = co_await in.async_receive(use_awaitable);
    if (bench::seq_of(v) != n + i) break;
    t.take(v);
  }
  co_return t;
}

awaitable<bench::tally> pong(chan& in, chan& out, std::int64_t n) {
  bench::tally t;
  for (std::int64_t i = 0; i < n; ++i) {
    std::int64_t v = co_await in.async_receive(use_awaitable);
    t.take(v);
    co_await out.async_send(boost::system::error_code{}, bench::encode(n + bench::seq_of(v)), use_awaitable);
  }
  co_return t;
}

bench::tally pingpong_once(asio::thread_pool& pool, std::int64_t n) {
  chan a_to_b(pool.get_executor(), 1), b_to_a(pool.get_executor(), 1);
  std::vector<awaitable<bench::tally>> coros;
  coros.push_back(ping(a_to_b, b_to_a, n));
  coros.push_back(pong(a_to_b, b_to_a, n));
  return run_all(pool, std::move(coros));
}

void channel_asio(benchmark::State& state) {
  auto cfg = bench::channel_config(state);
  asio::thread_pool pool(static_cast<std::size_t>(cfg.threads));
  bench::measure(
      state, [&](std::int64_t n) { return channel_once(pool, cfg.producers, cfg.capacity, n); }, cfg.messages,
      cfg.messages, cfg.messages);
  pool.join();
}

void pingpong_asio(benchmark::State& state) {
  asio::thread_pool pool(static_cast<std::size_t>(bench::threads(state)));
  const std::int64_t n = state.range(1);
  bench::measure(state, [&](std::int64_t size) { return pingpong_once(pool, size); }, n, n, 2 * n);
  pool.join();
}

[[maybe_unused]] const int registered =
    (bench::add_channel("channel/asio", channel_asio, bench::peer_messages, bench::peer_messages),
     bench::add_sized("pingpong/asio", pingpong_asio, bench::peer_messages, bench::peer_messages));

}  // namespace
