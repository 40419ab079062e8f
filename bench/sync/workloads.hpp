#pragma once
// The workloads every system in sync_bench runs, their sizes, the message encoding, and the
// registration helper that gives every benchmark the same shape and name:
//
//   channel/<system>/threads:<N>/producers:<P>/capacity:<C>/n:<messages>
//   pingpong/<system>/threads:<N>/n:<round trips>
//   jobs/<system>/threads:<N>/n:<jobs>
//
// bench/sync/table.py parses these names; keep the parts. In `channel`, P producers send n
// messages in all to P consumers (consumers = producers) through one channel of capacity C.
//
// Each benchmark builds its runtime (weft::runtime, asio::thread_pool, the Boost.Fiber threads)
// before its timing loop and runs a smaller workload once untimed as a warm-up. One iteration
// is one whole workload, timed in wall-clock time. Counters, per iteration:
//   units   messages (channel), round trips (pingpong), jobs (jobs): real_time / units is the
//           cost of one;
//   cross   the fraction of messages whose receiver ran on another thread than their sender
//           (every message carries its sender's thread slot), which says whether the two ends
//           really ran on different cores;
//   steals, parks (weft only)   weft_steals_total and weft_parks_total summed over the workers.

#include <benchmark/benchmark.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <vector>

namespace bench {

// Sizes (the issue's). Peers that cost microseconds per message run fewer (see the system's
// file); table.py compares per unit, and marks those with *.
inline constexpr std::int64_t channel_messages = 1'000'000;
inline constexpr std::int64_t pingpong_round_trips = 1'000'000;
inline constexpr std::int64_t pool_jobs = 100'000;
/// Messages (channel) and round trips (pingpong) for Asio, and Boost.Fiber on one thread:
/// they cost 0.5-2.5 us each, so 1,000,000 would take seconds per iteration.
inline constexpr std::int64_t peer_messages = 200'000;
/// Boost.Fiber on two threads: several microseconds per message once the ends are on
/// different threads, and up to milliseconds on a busy machine (its threads spin, so each wait
/// for the other end can cost the other thread's turn on a core): one repetition of 50,000
/// took 137 s at load average 6 on 2 cores.
inline constexpr std::int64_t peer_messages_cross_thread = 20'000;
inline constexpr int channel_capacities[] = {1, 64, 1024};
inline constexpr int channel_producers[] = {1, 2};
/// The warm-up runs this fraction of a workload (at least one unit per producer).
inline constexpr std::int64_t warmup_divisor = 20;

// A message is an int64: its sequence number above 16 bits of the sender's thread slot.
/// A small number per OS thread, fixed for the thread's life (defined out of line: a coroutine
/// that moves between threads must read the current thread's, never a cached one).
std::int64_t thread_slot() noexcept;
inline std::int64_t encode(std::int64_t seq) noexcept { return (seq << 16) | (thread_slot() & 0xffff); }
inline std::int64_t seq_of(std::int64_t msg) noexcept { return msg >> 16; }
/// 1 if `msg` was sent from another thread than the calling one.
inline std::int64_t crossed(std::int64_t msg) noexcept { return (msg & 0xffff) != (thread_slot() & 0xffff); }

/// What a receiving end saw: the sum of the sequence numbers, the messages, how many crossed.
struct tally {
  std::int64_t sum = 0;
  std::int64_t received = 0;
  std::int64_t cross = 0;
  tally& operator+=(const tally& o) noexcept {
    sum += o.sum;
    received += o.received;
    cross += o.cross;
    return *this;
  }
  void take(std::int64_t msg) noexcept {
    sum += seq_of(msg);
    ++received;
    cross += crossed(msg);
  }
};

/// The right tally for `messages` distinct sequence numbers 0..messages-1.
inline bool tally_ok(const tally& t, std::int64_t messages) {
  return t.received == messages && t.sum == messages * (messages - 1) / 2;
}

/// Runs `once(size)` (which returns the iteration's tally) once at a twentieth of `size` (at
/// least `min_warmup`) untimed, then `after_warmup()`, then `once(size)` per iteration; fails the
/// run on a wrong tally. `units` per iteration; `messages` the tally must count (pingpong: both
/// directions). Sets the units and cross counters.
struct no_op {
  void operator()() const noexcept {}
};
template <class Once, class After = no_op>
void measure(benchmark::State& state, Once&& once, std::int64_t size, std::int64_t units, std::int64_t messages,
             std::int64_t min_warmup = 1, After after_warmup = {}) {
  std::int64_t warm = size / warmup_divisor < min_warmup ? min_warmup : size / warmup_divisor;
  if (!tally_ok(once(warm), messages / size * warm)) {
    state.SkipWithError("wrong tally (warm-up)");
    return;
  }
  after_warmup();
  std::int64_t cross = 0;
  for (auto _ : state) {
    tally t = once(size);
    if (!tally_ok(t, messages)) {
      state.SkipWithError("wrong tally");
      return;
    }
    cross += t.cross;
  }
  state.counters["units"] = static_cast<double>(units);
  state.counters["cross"] = static_cast<double>(cross) / static_cast<double>(state.iterations() * messages);
  state.SetItemsProcessed(static_cast<std::int64_t>(state.iterations()) * units);
}

/// Registers `fn` once per argument list, with these argument names: milliseconds, wall-clock
/// time, and a minimum time short enough that the default tools/bench run stays within a few
/// minutes (a workload slower than that runs one timed iteration per repetition).
inline int add(const char* name, void (*fn)(benchmark::State&), std::vector<std::string> arg_names,
               std::vector<std::vector<std::int64_t>> arg_lists) {
  auto* b = benchmark::RegisterBenchmark(name, fn);
  b->ArgNames(arg_names);
  for (auto& args : arg_lists) b->Args(args);
  b->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(0.1);
  return 0;
}

/// Every channel configuration at 1 thread (n1 messages) and 2 threads (n2 messages).
inline int add_channel(const char* name, void (*fn)(benchmark::State&), std::int64_t n1, std::int64_t n2) {
  std::vector<std::vector<std::int64_t>> lists;
  for (int t : {1, 2})
    for (int p : channel_producers)
      for (int c : channel_capacities) lists.push_back({t, p, c, t == 1 ? n1 : n2});
  return add(name, fn, {"threads", "producers", "capacity", "n"}, lists);
}

/// 1 thread at size n1, 2 threads at size n2.
inline int add_sized(const char* name, void (*fn)(benchmark::State&), std::int64_t n1, std::int64_t n2) {
  return add(name, fn, {"threads", "n"}, {{1, n1}, {2, n2}});
}

inline int threads(const benchmark::State& state) { return static_cast<int>(state.range(0)); }
struct channel_args {
  int threads, producers;
  std::int64_t capacity, messages;
};
inline channel_args channel_config(const benchmark::State& state) {
  return {static_cast<int>(state.range(0)), static_cast<int>(state.range(1)), state.range(2), state.range(3)};
}

}  // namespace bench
