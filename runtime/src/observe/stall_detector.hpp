#pragma once
// weft::detail::stall_detector: names whatever is stuck (seastar's reactor-stall report is the
// model).
//
// Each sample reads every worker's (current job, dispatch count) pair: the same non-null pair
// on two samples means one task has held that worker since the first. Past `threshold` that is
// a stall, reported once (task id, name, spawn site, worker, duration, and, on request, the
// worker's own stack, captured by a signal); past `replace_after` the worker is a zombie: its
// LIFO slot is rescued into the global queue (its deques are stealable anyway) and a
// replacement worker starts, up to `max_replacements`. When a zombie's dispatch finally ends, a
// replacement retires. Durations are measured by the sampler, so they are lower bounds with one
// sample interval of slack.
//
// Thread safety: sample() from one thread (the monitor); the observers from any thread.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include <weft/metrics/counter.hpp>
#include <weft/metrics/histogram.hpp>
#include <weft/sched/job.hpp>
#include <weft/stall.hpp>

namespace weft::detail {

class runtime_core;
class runtime_metrics;
struct task_record;

class stall_detector {
 public:
  stall_detector(runtime_core& core, stall_options opts, runtime_metrics& m);

  /// One sampling round at `now` (the stall clock).
  void sample(std::chrono::steady_clock::time_point now);

  /// Since when (stall clock) worker `i` has run the job it runs now, if it runs one.
  std::optional<std::chrono::steady_clock::time_point> running_since(std::size_t i) const;
  std::size_t zombies() const;
  /// Stalls detected so far.
  std::uint64_t stalls() const noexcept { return stalls_.value(); }
  const stall_options& options() const noexcept { return opts_; }

 private:
  struct watch {
    std::uint64_t dispatch = 0;
    const sched::job* job = nullptr;
    std::chrono::steady_clock::time_point since{};
    bool reported = false;
    bool zombie = false;
  };
  void report(std::size_t worker, const sched::job* j, std::uint64_t dispatch, std::chrono::nanoseconds duration);
  void ended(watch& w, std::chrono::steady_clock::time_point now);
  bool allow_report(std::chrono::steady_clock::time_point now);

  runtime_core& core_;
  stall_options opts_;
  metrics::counter& stalls_;
  metrics::counter& replacements_;
  metrics::histogram& durations_;
  mutable std::mutex mu_;  // guards the watches against observers; sample() is the only writer
  std::vector<watch> watches_;
  std::size_t zombies_ = 0;
  std::size_t replacements_running_ = 0;
  std::chrono::steady_clock::time_point window_start_{};
  std::size_t reports_in_window_ = 0;
};

/// The clock stalls are measured with: stall_options::clock, or the runtime's (sched.now()).
std::chrono::steady_clock::time_point stall_clock(const runtime_core& core, const stall_options& opts);

/// The default on_stall: prints the report to stderr with fmt.
void print_stall_report(const stall_report& r);

/// Fills id, name and spawn site from a task record if it still holds the same task between
/// the reads (records are reused; ids never are). Returns false otherwise.
bool read_identity(const task_record& r, std::uint64_t& id, std::string& name, std::source_location& site) noexcept;

}  // namespace weft::detail
