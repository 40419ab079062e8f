// weft: weft::channel throughput and ping-pong, and weft::job_pool against bare spawn + join,
// on a weft::runtime of N workers with every option at its default (stall detector and timing
// metrics on, as users run it).
//
// Every task is spawned from the benchmark thread (rt.spawn: the global queue), so that at 2
// workers either worker may take any of them, and joined from there (rt.block_on(handle)).
// The `steals` and `parks` counters (weft_steals_total, weft_parks_total over all workers, per
// iteration) and `cross` say where the tasks actually ran.
#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <string_view>
#include <vector>

#include <weft/metrics/registry.hpp>
#include <weft/pool/pool.hpp>
#include <weft/runtime.hpp>
#include <weft/spawn.hpp>
#include <weft/sync/channel.hpp>
#include <weft/task.hpp>

#include "workloads.hpp"

namespace {

using weft::task;
using chan = weft::channel<std::int64_t>;

// ---- channel throughput ----

task<void> produce(chan& ch, std::int64_t begin, std::int64_t end) {
  for (std::int64_t i = begin; i < end; ++i) co_await ch.send(bench::encode(i));
}

task<bench::tally> consume(chan& ch, std::int64_t count) {
  bench::tally t;
  for (std::int64_t i = 0; i < count; ++i) {
    std::optional<std::int64_t> v = co_await ch.recv();
    if (!v) break;
    t.take(*v);
  }
  co_return t;
}

bench::tally channel_once(weft::runtime& rt, int producers, std::size_t capacity, std::int64_t n) {
  chan ch(capacity);
  std::vector<weft::join_handle<bench::tally>> consumers;
  std::vector<weft::join_handle<void>> senders;
  for (int p = 0; p < producers; ++p) consumers.push_back(rt.spawn(consume(ch, n / producers)));
  for (int p = 0; p < producers; ++p)
    senders.push_back(rt.spawn(produce(ch, n * p / producers, n * (p + 1) / producers)));
  bench::tally t;
  for (auto& c : consumers) t += rt.block_on(std::move(c));
  for (auto& s : senders) rt.block_on(std::move(s));
  return t;
}

// ---- ping-pong: ping sends i, pong answers n + i (so both directions sum to distinct seqs) ----

task<bench::tally> ping(chan& out, chan& in, std::int64_t n) {
  bench::tally t;
  for (std::int64_t i = 0; i < n; ++i) {
    co_await out.send(bench::encode(i));
    std::optional<std::int64_t> v = co_await in.recv();
    if (!v || bench::seq_of(*v) != n + i) break;
    t.take(*v);
  }
  co_return t;
}

task<bench::tally> pong(chan& in, chan& out, std::int64_t n) {
  bench::tally t;
  for (std::int64_t i = 0; i < n; ++i) {
    std::optional<std::int64_t> v = co_await in.recv();
    if (!v) break;
    t.take(*v);
    co_await out.send(bench::encode(n + bench::seq_of(*v)));
  }
  co_return t;
}

bench::tally pingpong_once(weft::runtime& rt, chan& a_to_b, chan& b_to_a, std::int64_t n) {
  auto a = rt.spawn(ping(a_to_b, b_to_a, n));
  auto b = rt.spawn(pong(a_to_b, b_to_a, n));
  bench::tally t = rt.block_on(std::move(a));
  t += rt.block_on(std::move(b));
  return t;
}

// ---- jobs: the same trivial processor through a job_pool, or spawned and joined ----

struct job_counts {
  std::atomic<std::int64_t> sum{0}, received{0}, cross{0};
  void reset() {
    sum = 0;
    received = 0;
    cross = 0;
  }
  bench::tally get() const { return {sum.load(), received.load(), cross.load()}; }
};

task<void> process(std::int64_t job, job_counts* c) {
  c->sum.fetch_add(bench::seq_of(job), std::memory_order_relaxed);
  c->received.fetch_add(1, std::memory_order_relaxed);
  c->cross.fetch_add(bench::crossed(job), std::memory_order_relaxed);
  co_return;
}

task<void> submit_all(weft::job_pool<std::int64_t>& pool, std::int64_t n) {
  for (std::int64_t i = 0; i < n; ++i)
    if (co_await pool.submit(bench::encode(i)) != weft::submit_status::accepted) co_return;  // the tally fails
  co_await pool.stop(std::chrono::seconds(60));
}

// At most `window` jobs outstanding, as in the pool (whose queue holds 1024 by default): spawn
// job i after joining job i - window. (Spawning all 100,000 before joining any keeps them all
// alive and makes one resume of the spawning loop long enough to be reported as a stall.)
task<void> spawn_all(std::int64_t n, job_counts* c) {
  constexpr std::int64_t window = 1024;
  std::vector<weft::join_handle<void>> ring(static_cast<std::size_t>(window));
  for (std::int64_t i = 0; i < n; ++i) {
    auto& slot = ring[static_cast<std::size_t>(i % window)];
    if (i >= window) co_await slot;
    slot = weft::spawn(process(bench::encode(i), c));
  }
  for (std::int64_t i = n > window ? n - window : 0; i < n; ++i) co_await ring[static_cast<std::size_t>(i % window)];
}

// ---- the benchmarks ----

double family_sum(weft::runtime& rt, std::string_view name) {
  auto snap = rt.metrics().snapshot();
  double sum = 0;
  if (const auto* f = snap.find_family(name))
    for (const auto& s : f->series) sum += s.value;
  return sum;
}

// Wraps bench::measure: adds the steals and parks per timed iteration.
template <class Once>
void measure_weft(benchmark::State& state, weft::runtime& rt, Once&& once, std::int64_t size, std::int64_t units,
                  std::int64_t messages, std::int64_t min_warmup = 1) {
  double steals = 0, parks = 0;
  bench::measure(state, once, size, units, messages, min_warmup, [&] {
    steals = family_sum(rt, "weft_steals_total");
    parks = family_sum(rt, "weft_parks_total");
  });
  double iterations = static_cast<double>(state.iterations());
  if (iterations == 0) return;
  state.counters["steals"] = (family_sum(rt, "weft_steals_total") - steals) / iterations;
  state.counters["parks"] = (family_sum(rt, "weft_parks_total") - parks) / iterations;
}

weft::runtime_options options(int threads) {
  weft::runtime_options o;
  o.workers = static_cast<std::size_t>(threads);
  return o;
}

void channel_weft(benchmark::State& state) {
  auto cfg = bench::channel_config(state);
  weft::runtime rt(options(cfg.threads));
  measure_weft(
      state, rt, [&](std::int64_t n) { return channel_once(rt, cfg.producers, cfg.capacity, n); }, cfg.messages,
      cfg.messages, cfg.messages);
}

// `named`: channels given a name (and so the blocked-time histograms and the depth gauge).
void pingpong_on(benchmark::State& state, bool named) {
  const int threads = bench::threads(state);
  const std::int64_t n = state.range(1);
  weft::runtime rt(options(threads));
  chan a_to_b(1, {.name = named ? "ping" : "", .registry = &rt.metrics()});
  chan b_to_a(1, {.name = named ? "pong" : "", .registry = &rt.metrics()});
  measure_weft(state, rt, [&](std::int64_t size) { return pingpong_once(rt, a_to_b, b_to_a, size); }, n, n, 2 * n);
}
void pingpong_weft(benchmark::State& state) { pingpong_on(state, false); }
void pingpong_weft_named(benchmark::State& state) { pingpong_on(state, true); }

void jobs_pool(benchmark::State& state) {
  weft::runtime rt(options(bench::threads(state)));
  job_counts c;
  measure_weft(
      state, rt,
      [&](std::int64_t n) {
        c.reset();
        // concurrency 0: one job at a time per worker; queue_capacity at its default (1024).
        weft::job_pool<std::int64_t> pool(rt, {.name = "bench"}, [&c](std::int64_t job) { return process(job, &c); });
        rt.block_on(submit_all(pool, n));
        return c.get();
      },
      state.range(1), state.range(1), state.range(1));
}

void jobs_spawn(benchmark::State& state) {
  weft::runtime rt(options(bench::threads(state)));
  job_counts c;
  measure_weft(
      state, rt,
      [&](std::int64_t n) {
        c.reset();
        rt.block_on(spawn_all(n, &c));
        return c.get();
      },
      state.range(1), state.range(1), state.range(1));
}

[[maybe_unused]] const int registered =
    (bench::add_channel("channel/weft", channel_weft, bench::channel_messages, bench::channel_messages),
     bench::add_sized("pingpong/weft", pingpong_weft, bench::pingpong_round_trips, bench::pingpong_round_trips),
     bench::add_sized("pingpong/weft_named", pingpong_weft_named, bench::pingpong_round_trips,
                      bench::pingpong_round_trips),
     bench::add_sized("jobs/pool", jobs_pool, bench::pool_jobs, bench::pool_jobs),
     bench::add_sized("jobs/spawn", jobs_spawn, bench::pool_jobs, bench::pool_jobs));

}  // namespace
