// What ending a runtime costs with N tasks suspended in it: rt.shutdown() with every task asleep
// on the timer wheel, with the default grace (each task is cancelled and unwinds through its
// await) and with no grace (each frame is destroyed where it waits, its await unlinking itself).
// Beside it, the peer doing the same job: an asio::io_context with N steady_timers waiting,
// stopped and destroyed (its handlers destroyed unrun).
//
//   shutdown/weft/grace:1/n:10000      rt.shutdown() with 10,000 suspended tasks
//   shutdown/asio/n:10000              io_context::stop() + ~io_context with 10,000 timers
//
// Only the shutdown is timed; making the runtime and putting the tasks to sleep is not.

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <thread>
#include <vector>

#include <benchmark/benchmark.h>
#include <boost/asio/io_context.hpp>
#include <boost/asio/steady_timer.hpp>

#include <weft/weft.hpp>

namespace {

using namespace std::chrono_literals;

weft::task<void> sleeper() { co_await weft::sleep_for(1h); }

void wait_suspended(weft::runtime& rt, std::size_t n) {
  for (;;) {
    std::size_t suspended = 0;
    for (const auto& t : rt.dump_tasks()) suspended += t.state == weft::task_state::suspended;
    if (suspended >= n) return;
    std::this_thread::sleep_for(1ms);
  }
}

void shutdown_weft(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  const bool grace = state.range(1) != 0;
  for (auto _ : state) {
    state.PauseTiming();
    std::optional<weft::runtime> rt;
    rt.emplace(weft::runtime_options{.workers = 2, .shutdown_grace = grace ? 1000ms : 0ms});
    for (std::size_t i = 0; i < n; ++i) rt->spawn(sleeper()).detach();
    wait_suspended(*rt, n);
    state.ResumeTiming();
    rt->shutdown();
    state.PauseTiming();
    rt.reset();
    state.ResumeTiming();
  }
  state.counters["ns_per_task"] = benchmark::Counter(
      static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

void shutdown_asio(benchmark::State& state) {
  const auto n = static_cast<std::size_t>(state.range(0));
  for (auto _ : state) {
    state.PauseTiming();
    auto ctx = std::make_unique<boost::asio::io_context>(1);
    std::vector<std::unique_ptr<boost::asio::steady_timer>> timers;
    for (std::size_t i = 0; i < n; ++i) {
      timers.push_back(std::make_unique<boost::asio::steady_timer>(*ctx, 1h));
      timers.back()->async_wait([](const boost::system::error_code&) {});
    }
    ctx->poll();  // every wait started
    state.ResumeTiming();
    ctx->stop();
    timers.clear();  // each timer cancels its wait
    ctx.reset();     // the aborted handlers are destroyed unrun
  }
  state.counters["ns_per_task"] = benchmark::Counter(
      static_cast<double>(n), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}

}  // namespace

BENCHMARK(shutdown_weft)
    ->Name("shutdown/weft")
    ->ArgNames({"n", "grace"})
    ->ArgsProduct({{0, 1000, 10000}, {1, 0}})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK(shutdown_asio)
    ->Name("shutdown/asio")
    ->ArgNames({"n"})
    ->Args({1000})
    ->Args({10000})
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

BENCHMARK_MAIN();
