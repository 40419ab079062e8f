#pragma once
// weft::detail::tracer: the recorder behind weft::trace.
//
// While a trace is on, the runtime's hot path reports four kinds of events here: a spawn, a
// dispatch (a task run on a worker, start and end), a blocked wait (from the suspension at a
// cancellation point to the next run, with what it awaited), and a completion. Each worker
// appends to its own buffer (a spinlock that only the collector ever contends), so tracing
// costs the workers a clock read per event and no shared writes. Off, it costs one relaxed load
// of runtime_core::tracer per spawn and per dispatch.
//
// Blocked time is also summed per await site ("send on channel results") as it happens.
//
// Thread safety: the record functions from the worker they run on (or any thread: the shared
// buffer); collect() from any thread.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include <weft/detail/trace_sink.hpp>

namespace weft::detail {

struct trace_event {
  enum class kind : std::uint8_t { spawn, run, blocked, complete };
  kind k;
  std::uint32_t worker;  ///< lane (for runs); the buffer's worker otherwise
  std::uint64_t task;
  std::int64_t start_ns;
  std::int64_t end_ns;  ///< runs and waits
  std::string name;     ///< the task's name (spawns, runs) or what it waited for (waits)
};

struct trace_site {
  std::string what;
  std::int64_t total_ns = 0;
  std::uint64_t count = 0;
  std::int64_t max_ns = 0;
};

class tracer final : public trace_sink {
 public:
  static constexpr std::size_t max_events_per_buffer = 1'000'000;

  explicit tracer(std::size_t workers);

  void spawn(std::size_t worker, std::uint64_t task, std::string_view name, std::int64_t now) override;
  void run(std::size_t worker, std::uint64_t task, std::string_view name, std::int64_t start,
           std::int64_t end) override;
  void blocked(std::size_t worker, std::uint64_t task, const char* what, std::int64_t start, std::int64_t end) override;
  void complete(std::size_t worker, std::uint64_t task, std::int64_t now) override;

  struct result {
    std::vector<trace_event> events;
    std::vector<trace_site> sites;
    std::uint64_t dropped = 0;
    std::int64_t start_ns = 0;
  };
  /// Everything recorded so far, sorted by time; sites longest total first.
  result collect();

 private:
  struct alignas(64) buffer {
    std::atomic_flag busy = ATOMIC_FLAG_INIT;
    std::vector<trace_event> events;
    std::map<const char*, trace_site> sites;  // keyed by the wait's description pointer
    std::vector<trace_site> retired;
    std::uint64_t dropped = 0;
  };
  buffer& at(std::size_t worker) noexcept { return worker < buffers_.size() - 1 ? buffers_[worker] : buffers_.back(); }
  void push(buffer& b, trace_event&& e);

  std::vector<buffer> buffers_;  // one per worker slot, and one shared by other threads (last)
  std::int64_t start_ns_;
};

}  // namespace weft::detail
