// fiber_bench: what a weft fiber costs, next to a weft task and a Boost.Fiber fiber, in one
// process so that the repetitions interleave (bench/fiber/README.md).
//
//   spawn_join/<system>/threads:N   one spawn of a trivial function (returns an int) and its join
//   ping_pong/<system>/threads:N    one round of two yielders taking turns: two yields
//   await/<system>/threads:N        one await of a trivial, already-finished task<int>
//
// One iteration is one spawn+join, one round, or one await. weft runs the benchmark loop
// itself inside the runtime (in a task, or in a fiber for the fiber variants), so no block_on
// sits in the timed loop. Boost.Fiber runs the loop in thread 0's main fiber of
// bench/common/fiber_pool.hpp's pool (1 thread: algo::round_robin; 2 threads: algo::work_stealing,
// the same pool and for the same reasons as sync_bench and runtime_bench), with launch::post
// so that at 2 threads the other thread may steal the new fiber. Stacks are 64 KiB everywhere:
//   boost_fiber            fixedsize_stack: malloc'd, no guard page
//   boost_fiber_protected  protected_fixedsize_stack: mmap + guard page, per fiber (the safety
//                          weft's pooled stacks give)
//   boost_fiber_pooled     pooled_fixedsize_stack: a boost::pool free list, no guard page;
//                          single-threaded, so at 1 thread only
//
// Run interleaved, with repetitions, and compare the median and the best:
//   fiber_bench --benchmark_repetitions=7 --benchmark_enable_random_interleaving=true
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <vector>

#include <benchmark/benchmark.h>
#include <boost/context/fixedsize_stack.hpp>
#include <boost/context/pooled_fixedsize_stack.hpp>
#include <boost/context/protected_fixedsize_stack.hpp>
#include <boost/fiber/all.hpp>

#include <weft/weft.hpp>

#include "../common/fiber_pool.hpp"

namespace {

namespace fibers = boost::fibers;
constexpr std::size_t stack_size = 64 * 1024;

weft::runtime& runtime_for(std::int64_t workers) {
  static std::unique_ptr<weft::runtime> rts[3];
  auto& rt = rts[workers];
  // The timed loop runs inside one task for the whole benchmark: not a stall to report, and
  // no reason for a replacement worker.
  if (!rt)
    rt = std::make_unique<weft::runtime>(
        weft::runtime_options{.workers = static_cast<std::size_t>(workers),
                              .stall = {.threshold = std::chrono::hours(1), .replace_after = std::chrono::hours(1)}});
  return *rt;
}

bench::fiber_pool& pool_for(std::int64_t threads) { return bench::fiber_pool::get(static_cast<unsigned>(threads)); }

weft::task<int> trivial(int i) { co_return i; }

// ---- spawn + join ----

void spawn_join_weft_fiber(benchmark::State& st) {
  weft::runtime& rt = runtime_for(st.range(0));
  rt.block_on([](benchmark::State& st) -> weft::task<void> {
    int i = 0;
    for (auto _ : st) {
      int v = co_await weft::spawn_fiber([i] { return i; }, {.stack_size = stack_size});
      benchmark::DoNotOptimize(v);
      ++i;
    }
  }(st));
}

void spawn_join_weft_task(benchmark::State& st) {
  weft::runtime& rt = runtime_for(st.range(0));
  rt.block_on([](benchmark::State& st) -> weft::task<void> {
    int i = 0;
    for (auto _ : st) {
      int v = co_await weft::spawn(trivial(i));
      benchmark::DoNotOptimize(v);
      ++i;
    }
  }(st));
}

template <class StackAlloc>
void spawn_join_boost_fiber(benchmark::State& st) {
  pool_for(st.range(0)).run([&st] {
    StackAlloc salloc(stack_size);
    int i = 0;
    for (auto _ : st) {
      int v = 0;
      fibers::fiber f(fibers::launch::post, std::allocator_arg, salloc, [&v, i] { v = i; });
      f.join();
      benchmark::DoNotOptimize(v);
      ++i;
    }
  });
}

// ---- ping-pong: the timed loop yields, a partner yields until it stops ----

void ping_pong_weft_fiber(benchmark::State& st) {
  weft::runtime& rt = runtime_for(st.range(0));
  std::atomic<bool> stop{false};
  auto partner = weft::spawn_fiber(rt,
                                   [&stop] {
                                     while (!stop.load(std::memory_order_relaxed)) weft::this_fiber::yield();
                                   },
                                   {.stack_size = stack_size});
  rt.block_on(weft::spawn_fiber(rt,
                                [&st] {
                                  for (auto _ : st) weft::this_fiber::yield();
                                },
                                {.stack_size = stack_size}));
  stop = true;
  rt.block_on(std::move(partner));
}

weft::task<void> yield_until(std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_relaxed)) co_await weft::yield();
}

weft::task<void> yield_loop(benchmark::State& st) {
  for (auto _ : st) co_await weft::yield();
}

void ping_pong_weft_task(benchmark::State& st) {
  weft::runtime& rt = runtime_for(st.range(0));
  std::atomic<bool> stop{false};
  auto partner = rt.spawn(yield_until(stop));
  rt.block_on(yield_loop(st));
  stop = true;
  rt.block_on(std::move(partner));
}

void ping_pong_boost_fiber(benchmark::State& st) {
  pool_for(st.range(0)).run([&st] {
    boost::context::fixedsize_stack salloc(stack_size);
    std::atomic<bool> stop{false};
    fibers::fiber partner(fibers::launch::post, std::allocator_arg, salloc, [&stop] {
      while (!stop.load(std::memory_order_relaxed)) boost::this_fiber::yield();
    });
    for (auto _ : st) boost::this_fiber::yield();
    stop = true;
    partner.join();
  });
}

// ---- await: a fiber awaiting a task (two fiber switches) against a task awaiting it ----

void await_weft_fiber(benchmark::State& st) {
  weft::runtime& rt = runtime_for(st.range(0));
  rt.block_on(weft::spawn_fiber(rt,
                                [&st] {
                                  int i = 0;
                                  for (auto _ : st) {
                                    int v = weft::this_fiber::await(trivial(i));
                                    benchmark::DoNotOptimize(v);
                                    ++i;
                                  }
                                },
                                {.stack_size = stack_size}));
}

weft::task<void> await_loop(benchmark::State& st) {
  int i = 0;
  for (auto _ : st) {
    int v = co_await trivial(i);
    benchmark::DoNotOptimize(v);
    ++i;
  }
}

void await_weft_task(benchmark::State& st) {
  weft::runtime& rt = runtime_for(st.range(0));
  rt.block_on(await_loop(st));
}

double best(const std::vector<double>& v) { return *std::min_element(v.begin(), v.end()); }

void common(benchmark::internal::Benchmark* b) {
  b->UseRealTime()->ComputeStatistics("best", best)->ArgName("threads");
}
void both(benchmark::internal::Benchmark* b) { common(b->Arg(1)->Arg(2)); }
void one(benchmark::internal::Benchmark* b) { common(b->Arg(1)); }

}  // namespace

BENCHMARK(spawn_join_weft_fiber)->Name("spawn_join/weft_fiber")->Apply(both);
BENCHMARK(spawn_join_weft_task)->Name("spawn_join/weft_task")->Apply(both);
BENCHMARK(spawn_join_boost_fiber<boost::context::fixedsize_stack>)->Name("spawn_join/boost_fiber")->Apply(both);
BENCHMARK(spawn_join_boost_fiber<boost::context::protected_fixedsize_stack>)
    ->Name("spawn_join/boost_fiber_protected")
    ->Apply(both);
BENCHMARK(spawn_join_boost_fiber<boost::context::pooled_fixedsize_stack>)
    ->Name("spawn_join/boost_fiber_pooled")
    ->Apply(one);
BENCHMARK(ping_pong_weft_fiber)->Name("ping_pong/weft_fiber")->Apply(both);
BENCHMARK(ping_pong_weft_task)->Name("ping_pong/weft_task")->Apply(both);
BENCHMARK(ping_pong_boost_fiber)->Name("ping_pong/boost_fiber")->Apply(both);
BENCHMARK(await_weft_fiber)->Name("await/weft_fiber")->Apply(both);
BENCHMARK(await_weft_task)->Name("await/weft_task")->Apply(both);

BENCHMARK_MAIN();
