#pragma once
// weft::sched::park_driver: something an idle worker can wait in instead of its futex, so that
// the events it waits for (I/O readiness) are handled by that worker, with no thread of their
// own. The runtime's Asio reactor is one (runtime/src/asio/io_driver.cpp); the scheduler knows
// only this interface.
//
// How the scheduler uses it (Tokio's design, runtime/park.rs and its I/O driver behind a lock):
//   - a worker that would park tries to take the driver (scheduler::try_take_driver, a
//     try-lock): one worker at a time waits in it, with its next timer as the deadline; the
//     others park on their futex as usual;
//   - waking that worker (parker::unpark) interrupts its wait;
//   - a busy worker, every global_queue_interval dispatches, takes the driver if it is free and
//     polls it, so events are handled while every worker has work (never starved by CPU work).
// What the driver's events complete runs on the worker that waited or polled. A driver may also
// be one worker's own (scheduler::set_park_driver(d, i): a reactor per worker): that worker
// alone waits in it and polls it, and another polls it only when the monitor finds it left
// unattended by a worker inside a long job (scheduler::check_drivers).
//
// Thread safety: wait() and poll() only by the worker holding the driver (at most one thread at
// a time); interrupt() from any thread, at any time (also when nobody waits: the next wait()
// then returns at once).

#include <cstdint>
#include <optional>

namespace weft::sched {

class park_driver {
 public:
  /// Waits for events until `deadline_ns` (steady-clock nanoseconds; none: without limit),
  /// handling them; returns once something was handled, at the deadline, or when interrupted.
  virtual void wait(std::optional<std::int64_t> deadline_ns) noexcept = 0;
  /// Handles what is ready, without waiting.
  virtual void poll() noexcept = 0;
  /// Makes a wait() in progress return soon, or the next one return at once.
  virtual void interrupt() noexcept = 0;

 protected:
  ~park_driver() = default;
};

}  // namespace weft::sched
