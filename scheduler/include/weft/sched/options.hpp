#pragma once
// weft::sched::options: how a scheduler is shaped. A plain aggregate; every member has a default.

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string>

namespace weft::metrics {
class histogram;
}

namespace weft::sched {

struct options {
  /// Worker threads; 0 means one per hardware thread.
  std::size_t workers = 0;
  /// Names the threads ("<name>-w<i>", truncated to the kernel's 15 characters).
  std::string name = "weft";
  /// Capacity of each worker's local deque (rounded up to a power of two). A push into a full
  /// deque overflows to the global injector. Tests shrink it to 4 to reach the edges.
  std::size_t deque_capacity = 1024;
  /// Every this many dispatches a worker looks at the global injector and its own yield queue
  /// before its local deque, so local work cannot starve them (Go and Tokio use 61).
  std::uint32_t global_queue_interval = 61;
  /// Cooperative budget: how many weft operations a task may complete without suspending in one
  /// dispatch before the next one forces it to the back of the line.
  std::uint32_t budget = 128;
  /// How many times in a row a worker may run the task in its LIFO slot before the slot's task
  /// goes to the back of the line instead (stops two tasks waking each other from starving the
  /// rest of the queue; with nothing else queued on the worker or in the injector, it runs on).
  std::uint32_t max_lifo_polls = 3;
  /// How long, in nanoseconds, a worker that has found nothing to run keeps looking before it
  /// parks: it polls the park driver when nobody holds it, and otherwise yields its cpu
  /// (sched_yield: a thread waiting for that cpu gets it, so the spin does not slow a client or
  /// another program on the same cpu). Waking a parked worker costs the waker a futex call and
  /// the sleeper the kernel's way out of idle (on a virtual machine, the hypervisor's: tens of
  /// microseconds), which work arriving within the spin does not pay. 0: park at once.
  /// Ignored in manual mode.
  std::int64_t idle_spin_ns = 20'000;
  /// A yield in that spin that takes longer than this (ns) ran another thread on the cpu: the
  /// spin ends there and the worker parks, so that it does not slow down whoever shares its
  /// cpu. 0: spin to the end regardless (tests).
  std::int64_t idle_spin_shared_ns = 3'000;
  /// Thread hooks, called on each worker thread as it starts and as it stops, with its index.
  std::function<void(std::size_t)> on_thread_start;
  std::function<void(std::size_t)> on_thread_stop;
  /// Optional histograms fed by sampled dispatches (one in `sample_every`): how long a dispatch
  /// ran, and how long a job waited between becoming runnable and starting. Null: not measured.
  metrics::histogram* poll_duration = nullptr;
  metrics::histogram* schedule_delay = nullptr;
  /// Sampling period of the two histograms above, a power of two.
  std::uint32_t sample_every = 64;
  /// Extra worker slots that start_replacement() may bring up while workers are stuck.
  std::size_t max_replacements = 0;
  /// Manual mode (weft::testing::sim): no worker thread is started. One controlling thread at a
  /// time binds itself to a worker and runs queued jobs one dispatch at a time, choosing them
  /// itself (scheduler.hpp, "Manual mode"), and time is a virtual clock that only that
  /// controller moves. Replacements are never started.
  bool manual = false;
};

}  // namespace weft::sched
