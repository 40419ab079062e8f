#pragma once
// weft::stall_options and weft::stall_report: configuration and output of the stall detector.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <source_location>
#include <string>

namespace weft {

/// One stall: a single dispatch of a task that ran past stall_options::threshold without
/// returning to its worker. Delivered once per stall.
struct stall_report {
  std::uint64_t task_id = 0;
  std::string task_name;
  std::source_location spawn_site;
  std::size_t worker = 0;
  std::chrono::nanoseconds duration{0};  ///< how long the dispatch had run when reported
  std::string backtrace;                 ///< the stuck thread's stack, when captured
};

struct stall_options {
  std::chrono::milliseconds threshold{100};       ///< a dispatch longer than this is a stall
  std::chrono::milliseconds sample_interval{10};  ///< how often the monitor samples the workers
  std::chrono::milliseconds replace_after{500};   ///< a worker stuck this long is a zombie
  std::chrono::seconds hang_threshold{30};        ///< a task suspended this long is a hung job
  std::size_t max_replacements = 4;               ///< replacement workers alive at once, at most
  bool capture_backtrace = true;                  ///< capture the stuck thread's stack
  /// Receives each report; the default prints it to stderr.
  std::function<void(const stall_report&)> on_stall;
  /// The clock stalls are measured with (default: the runtime's clock, runtime::now():
  /// steady_clock's, or a weft::testing::sim's virtual time). A test seam: tests advance a fake
  /// clock instead of waiting out real thresholds.
  std::function<std::chrono::steady_clock::time_point()> clock;
  /// At most this many reports are delivered per second; stalls past it are still counted
  /// (weft_stalls_total) but not reported.
  std::size_t max_reports_per_second = 10;
};

}  // namespace weft
