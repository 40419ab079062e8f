#pragma once
// weft::trace: where time goes, recorded while it is alive.
//
//   {
//     weft::trace t(rt);           // from now on the runtime records...
//     run_the_workload();
//     t.stop();                    // ...until here
//     std::ofstream("trace.json") << ...;  t.write_chrome_json(file);   // opens in Perfetto
//     std::cout << t.summary();    // "blocked in send on channel results: 43.0 ms over 15 waits"
//   }
//
// Records every spawn, every run of a task on a worker (a lane per worker), every wait at a
// cancellation point with what it awaited and for how long (named channels name their waits:
// "send on channel results"), and every completion. Off (no trace alive) it costs the runtime
// one load per spawn and per dispatch; on, a clock read per event and appends to the
// worker's own buffer (at most a million events per worker; further ones are counted dropped).
//
// Thread safety: one trace per runtime at a time (a second throws usage_error); stop() and the
// accessors from one thread. A trace may outlive its runtime: the runtime's destructor stops it
// (after its workers are gone), and it keeps what it recorded.

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <string>
#include <vector>

#include <weft/observe/detail/tracer.hpp>

namespace weft {

class runtime;

class trace {
 public:
  /// Time blocked at one await site, summed over the trace.
  struct site {
    std::string what;
    std::chrono::nanoseconds total{0};
    std::uint64_t count = 0;
    std::chrono::nanoseconds longest{0};
  };

  explicit trace(runtime& rt);
  trace(const trace&) = delete;
  trace& operator=(const trace&) = delete;
  ~trace();

  /// Stops recording and collects the events. Idempotent.
  void stop();

  /// The events as Chrome trace-event JSON (chrome://tracing, ui.perfetto.dev). After stop().
  void write_chrome_json(std::ostream& os) const;
  /// Blocked time by await site, longest total first (the `top` first). After stop().
  std::string summary(std::size_t top = 10) const;
  const std::vector<site>& by_await_site() const noexcept { return sites_; }
  const std::vector<detail::trace_event>& events() const noexcept { return events_; }

 private:
  friend class runtime;
  void runtime_ending();  ///< the runtime's destructor: stop, and forget the runtime

  runtime* rt_;
  detail::tracer* tracer_;
  std::vector<detail::trace_event> events_;
  std::vector<site> sites_;
  std::uint64_t dropped_ = 0;
  std::int64_t start_ns_ = 0;
};

}  // namespace weft
