// What the "Building apps" additions cost, beside what they replace. Every weft benchmark runs on
// a weft::runtime of 2 workers built before the timing loop; one iteration is a batch of
// `ops` operations inside one rt.block_on (so the block_on hand-off is amortised); table.py
// divides by `ops`.
//
//   collect/<how>/n:1000        one task spawns 1,000 trivial children and collects every result:
//                               spawn_join (a vector of handles, awaited in spawn order),
//                               join_set (next() in completion order), when_all (a vector),
//                               task_group (join, results discarded)
//   recv_or_timeout/<how>       take a value that is ready in a channel, with a timeout branch:
//                               recv (plain co_await ch.recv(), no timeout: the floor), select
//                               (select(ch.recv(), sleep_for(1h))), when_any (when_any(a task that
//                               receives, a task that sleeps 1 h): the way to do it without select)
//   pingpong/<how>              two tasks bounce a value through two rendezvous channels, the
//                               answering side waiting in recv or in select(recv, sleep_for(1h))
//   blocking_roundtrip/<how>    run a trivial blocking function elsewhere and wait for it:
//                               weft_in_task (co_await spawn_blocking(fn) in a task), weft_from_thread
//                               (rt.block_on(spawn_blocking(rt, fn)) from the benchmark thread),
//                               std_thread (std::thread(fn).join()), pool_future (a 4-thread
//                               boost::asio::thread_pool: post a std::packaged_task, future.get())
//
// Run with interleaved repetitions and read median and best (bench/README.md):
//   apps_bench --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true \
//              --benchmark_out=apps.json --benchmark_out_format=json
//   python3 bench/apps/table.py apps.json

#include <chrono>
#include <cstdint>
#include <future>
#include <optional>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>
#include <boost/asio/post.hpp>
#include <boost/asio/thread_pool.hpp>

#include <weft/weft.hpp>

namespace {

using namespace std::chrono_literals;
using weft::task;

constexpr int collect_n = 1000;

task<int> trivial(int v) { co_return v; }

void report(benchmark::State& state, std::int64_t ops, std::int64_t check, std::int64_t expected) {
  state.counters["ops"] = static_cast<double>(ops);
  if (check != expected) state.SkipWithError("wrong result");
}

// ---- collect: spawn 1,000 children, collect every result ----

task<std::int64_t> collect_spawn_join() {
  std::vector<weft::join_handle<int>> hs;
  hs.reserve(collect_n);
  for (int i = 0; i < collect_n; ++i) hs.push_back(weft::spawn(trivial(i)));
  std::int64_t sum = 0;
  for (auto& h : hs) sum += co_await h;
  co_return sum;
}

task<std::int64_t> collect_join_set() {
  weft::join_set<int> set;
  for (int i = 0; i < collect_n; ++i) set.spawn(trivial(i));
  std::int64_t sum = 0;
  while (auto v = co_await set.next()) sum += *v;
  co_return sum;
}

task<std::int64_t> collect_when_all() {
  std::vector<task<int>> ts;
  ts.reserve(collect_n);
  for (int i = 0; i < collect_n; ++i) ts.push_back(trivial(i));
  std::vector<int> vs = co_await weft::when_all(std::move(ts));
  std::int64_t sum = 0;
  for (int v : vs) sum += v;
  co_return sum;
}

task<std::int64_t> collect_task_group() {
  weft::task_group g;
  for (int i = 0; i < collect_n; ++i) g.spawn(trivial(i));
  co_await g.join();
  co_return std::int64_t{collect_n} * (collect_n - 1) / 2;  // (a group discards the values)
}

template <task<std::int64_t> (*Collect)()>
void collect(benchmark::State& state) {
  weft::runtime rt({.workers = 2});
  rt.block_on(Collect());  // warm-up
  std::int64_t bad = 0;
  for (auto _ : state) bad += rt.block_on(Collect()) != std::int64_t{collect_n} * (collect_n - 1) / 2;
  report(state, collect_n, bad, 0);
}

// ---- recv_or_timeout: a ready value, taken with a timeout branch ----

constexpr int batch = 1000;
using chan = weft::channel<int>;

task<std::optional<int>> recv_task(chan& ch) { co_return co_await ch.recv(); }
task<void> sleep_task() { co_await weft::sleep_for(1h); }

task<std::int64_t> recv_plain(chan& ch) {
  std::int64_t sum = 0;
  for (int i = 0; i < batch; ++i) {
    ch.try_send(i);
    auto v = co_await ch.recv();
    sum += *v;
  }
  co_return sum;
}

task<std::int64_t> recv_select(chan& ch) {
  std::int64_t sum = 0;
  for (int i = 0; i < batch; ++i) {
    ch.try_send(i);
    auto r = co_await weft::select(ch.recv(), weft::sleep_for(1h));
    sum += *std::get<0>(r.value);
  }
  co_return sum;
}

task<std::int64_t> recv_when_any(chan& ch) {
  std::int64_t sum = 0;
  for (int i = 0; i < batch; ++i) {
    ch.try_send(i);
    auto r = co_await weft::when_any(recv_task(ch), sleep_task());
    sum += *std::get<0>(r.value);
  }
  co_return sum;
}

template <task<std::int64_t> (*Recv)(chan&)>
void recv_or_timeout(benchmark::State& state) {
  weft::runtime rt({.workers = 2});
  chan ch(1);
  rt.block_on(Recv(ch));
  std::int64_t bad = 0;
  for (auto _ : state) bad += rt.block_on(Recv(ch)) != std::int64_t{batch} * (batch - 1) / 2;
  report(state, batch, bad, 0);
}

// ---- pingpong through two rendezvous channels ----

template <bool UseSelect>
task<void> pong(chan& in, chan& out) {
  for (;;) {
    std::optional<int> v;
    if constexpr (UseSelect) {
      auto r = co_await weft::select(in.recv(), weft::sleep_for(1h));
      v = std::get<0>(r.value);
    } else {
      v = co_await in.recv();
    }
    if (!v) co_return;
    co_await out.send(*v + 1);
  }
}

task<std::int64_t> ping(chan& to, chan& from) {
  std::int64_t sum = 0;
  for (int i = 0; i < batch; ++i) {
    co_await to.send(i);
    auto v = co_await from.recv();
    sum += *v;
  }
  co_return sum;
}

template <bool UseSelect>
void pingpong(benchmark::State& state) {
  weft::runtime rt({.workers = 2});
  chan to(0), from(0);
  auto ponger = rt.spawn(pong<UseSelect>(to, from));
  rt.block_on(ping(to, from));
  std::int64_t bad = 0;
  for (auto _ : state) bad += rt.block_on(ping(to, from)) != std::int64_t{batch} * (batch + 1) / 2;
  to.close();
  rt.block_on(std::move(ponger));
  report(state, batch, bad, 0);
}

// ---- blocking round trip ----

constexpr int blocking_batch = 200;

int blocking_fn() { return 1; }

void blocking_weft_in_task(benchmark::State& state) {
  weft::runtime rt({.workers = 2});
  auto body = []() -> task<std::int64_t> {
    std::int64_t sum = 0;
    for (int i = 0; i < blocking_batch; ++i) {
      auto h = weft::spawn_blocking(blocking_fn);
      sum += co_await h;
    }
    co_return sum;
  };
  rt.block_on(body());
  std::int64_t bad = 0;
  for (auto _ : state) bad += rt.block_on(body()) != blocking_batch;
  report(state, blocking_batch, bad, 0);
}

void blocking_weft_from_thread(benchmark::State& state) {
  weft::runtime rt({.workers = 2});
  auto once = [&] {
    std::int64_t sum = 0;
    for (int i = 0; i < blocking_batch; ++i) sum += rt.block_on(weft::spawn_blocking(rt, blocking_fn));
    return sum;
  };
  once();
  std::int64_t bad = 0;
  for (auto _ : state) bad += once() != blocking_batch;
  report(state, blocking_batch, bad, 0);
}

void blocking_std_thread(benchmark::State& state) {
  std::int64_t bad = 0;
  for (auto _ : state) {
    std::int64_t sum = 0;
    for (int i = 0; i < blocking_batch; ++i) {
      int v = 0;
      std::thread t([&v] { v = blocking_fn(); });
      t.join();
      sum += v;
    }
    bad += sum != blocking_batch;
  }
  report(state, blocking_batch, bad, 0);
}

void blocking_pool_future(benchmark::State& state) {
  boost::asio::thread_pool pool(4);
  auto once = [&] {
    std::int64_t sum = 0;
    for (int i = 0; i < blocking_batch; ++i) {
      std::packaged_task<int()> t(blocking_fn);
      std::future<int> f = t.get_future();
      boost::asio::post(pool, std::move(t));
      sum += f.get();
    }
    return sum;
  };
  once();
  std::int64_t bad = 0;
  for (auto _ : state) bad += once() != blocking_batch;
  report(state, blocking_batch, bad, 0);
  pool.join();
}

}  // namespace

BENCHMARK(collect<collect_spawn_join>)->Name("collect/spawn_join/n:1000")->UseRealTime();
BENCHMARK(collect<collect_join_set>)->Name("collect/join_set/n:1000")->UseRealTime();
BENCHMARK(collect<collect_when_all>)->Name("collect/when_all/n:1000")->UseRealTime();
BENCHMARK(collect<collect_task_group>)->Name("collect/task_group/n:1000")->UseRealTime();
BENCHMARK(recv_or_timeout<recv_plain>)->Name("recv_or_timeout/recv")->UseRealTime();
BENCHMARK(recv_or_timeout<recv_select>)->Name("recv_or_timeout/select")->UseRealTime();
BENCHMARK(recv_or_timeout<recv_when_any>)->Name("recv_or_timeout/when_any")->UseRealTime();
BENCHMARK(pingpong<false>)->Name("pingpong/recv")->UseRealTime();
BENCHMARK(pingpong<true>)->Name("pingpong/select")->UseRealTime();
BENCHMARK(blocking_weft_in_task)->Name("blocking_roundtrip/weft_in_task")->UseRealTime();
BENCHMARK(blocking_weft_from_thread)->Name("blocking_roundtrip/weft_from_thread")->UseRealTime();
BENCHMARK(blocking_std_thread)->Name("blocking_roundtrip/std_thread")->UseRealTime();
BENCHMARK(blocking_pool_future)->Name("blocking_roundtrip/pool_future")->UseRealTime();

BENCHMARK_MAIN();
