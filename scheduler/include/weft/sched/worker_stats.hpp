#pragma once
// weft::sched::worker_stats: one worker's own counters.
//
// Each counter has a single writer (its worker), so an update is a relaxed load and a relaxed
// store of the worker's own cache line: no locked instruction, no sharing. Readers (metrics
// collection, tests) load them relaxed from any thread and sum across workers; a value read
// mid-update is at most one increment stale.

#include <atomic>
#include <cstdint>

namespace weft::sched {

/// A counter with exactly one writing thread and any number of readers.
class owner_counter {
 public:
  void inc(std::uint64_t n = 1) noexcept {
    v_.store(v_.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
  std::uint64_t load() const noexcept { return v_.load(std::memory_order_relaxed); }

 private:
  std::atomic<std::uint64_t> v_{0};
};

struct alignas(64) worker_stats {
  owner_counter polls;            ///< dispatches (one job run from the worker loop)
  owner_counter spawned;          ///< jobs pushed by tasks running on this worker
  owner_counter stolen;           ///< jobs this worker took from other workers
  owner_counter steal_attempts;   ///< victims this worker tried while searching
  owner_counter parks;            ///< times it went to sleep
  owner_counter unparks;          ///< times it woke from sleep
  owner_counter notifies;         ///< sleepers it woke (itself, when a timer it fires while parked wakes work)
  owner_counter budget_yields;    ///< tasks it sent to the back of the line for exhausting their budget
  owner_counter injector_pops;    ///< jobs it took from the global injector
  owner_counter overflows;        ///< pushes that found its deque full and went to the injector
  owner_counter lifo_hits;        ///< dispatches served from its LIFO slot
  owner_counter rescue_races;     ///< jobs it had just taken from its LIFO slot when a rescue took them (worker.hpp)
  owner_counter timers_fired;     ///< timers it fired
  owner_counter idle_spins;       ///< times it looked for work a while before parking (options::idle_spin_ns)
  owner_counter idle_spin_finds;  ///< of those, the ones that found work and did not park
  owner_counter
      driver_rescues;  ///< other workers' own park drivers it polled, left unattended (scheduler::check_drivers)
  std::atomic<bool> busy{false};  ///< running a job right now
};

}  // namespace weft::sched
