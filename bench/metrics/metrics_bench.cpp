// Costs of the metrics layer: a sharded counter against one shared atomic (at 1 and 2 threads
// on the SAME counter, where sharding matters), histogram observe, gauge add, and collection.
#include <benchmark/benchmark.h>

#include <atomic>
#include <cstdint>
#include <string>
#include <string_view>

#include "weft/metrics/metrics.hpp"

namespace metrics = weft::metrics;

namespace {

// One registry for the update benchmarks, shared by the benchmark threads (so the counter is
// one object updated by all of them).
metrics::registry& shared_registry() {
  static metrics::registry reg;
  return reg;
}

alignas(64) std::atomic<std::uint64_t> shared_atomic{0};

void counter_inc(benchmark::State& state) {
  static metrics::counter& c = shared_registry().counter("bench_ops_total", "Operations");
  for (auto _ : state) c.inc();
  state.SetItemsProcessed(state.iterations());
}

void shared_atomic_fetch_add(benchmark::State& state) {
  for (auto _ : state) shared_atomic.fetch_add(1, std::memory_order_relaxed);
  state.SetItemsProcessed(state.iterations());
}

void gauge_add(benchmark::State& state) {
  static metrics::gauge& g = shared_registry().gauge("bench_level", "Level");
  for (auto _ : state) g.add(1);
  state.SetItemsProcessed(state.iterations());
}

void histogram_observe(benchmark::State& state) {
  static metrics::histogram& h =
      shared_registry().histogram("bench_seconds", "Durations", metrics::buckets::exponential(1e-6, 2, 24));
  double v = 1e-6;
  for (auto _ : state) {
    h.observe(v);
    v = v < 8.0 ? v * 1.37 : 1e-6;  // walk across the buckets
  }
  state.SetItemsProcessed(state.iterations());
}

std::string numbered(std::string_view prefix, int i) {
  std::string s(prefix);
  s += std::to_string(i);
  return s;
}

// 1,000 series: 500 counters and 400 gauges with a label each, and 100 histograms of 24 buckets.
void fill(metrics::registry& reg) {
  for (int i = 0; i < 500; ++i) reg.counter("bench_requests_total", "Requests", {{"route", numbered("/r", i)}}).inc(i);
  for (int i = 0; i < 400; ++i) reg.gauge("bench_queue_depth", "Depth", {{"queue", numbered("q", i)}}).set(i * 0.5);
  for (int i = 0; i < 100; ++i) {
    auto& h = reg.histogram("bench_latency_seconds", "Latency", metrics::buckets::exponential(1e-6, 2, 24),
                            {{"op", numbered("op", i)}});
    for (int k = 0; k < 50; ++k) h.observe(k * 1e-4);
  }
}

void snapshot_1000_series(benchmark::State& state) {
  metrics::registry reg;
  fill(reg);
  for (auto _ : state) benchmark::DoNotOptimize(reg.snapshot());
}

void to_prometheus_1000_series(benchmark::State& state) {
  metrics::registry reg;
  fill(reg);
  std::size_t bytes = 0;
  for (auto _ : state) {
    const std::string text = reg.to_prometheus();
    bytes = text.size();
    benchmark::DoNotOptimize(text.data());
  }
  state.counters["bytes"] = static_cast<double>(bytes);
}

void to_json_1000_series(benchmark::State& state) {
  metrics::registry reg;
  fill(reg);
  for (auto _ : state) benchmark::DoNotOptimize(reg.to_json());
}

}  // namespace

// A and B interleaved, so a machine-state change between them shows up in both.
BENCHMARK(counter_inc)->Threads(1)->Threads(2);
BENCHMARK(shared_atomic_fetch_add)->Threads(1)->Threads(2);
BENCHMARK(gauge_add)->Threads(1)->Threads(2);
BENCHMARK(histogram_observe)->Threads(1)->Threads(2);
BENCHMARK(snapshot_1000_series)->Unit(benchmark::kMicrosecond);
BENCHMARK(to_prometheus_1000_series)->Unit(benchmark::kMicrosecond);
BENCHMARK(to_json_1000_series)->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
