#pragma once
// weft::detail::runtime_metrics: the runtime's own metrics, registered in one place.
//
// Everything the hot path counts lives in single-writer per-worker cells (sched::worker_stats,
// worker_context); the registry reads them through callback series at collection time, so
// collecting costs the scraper, never the workers. The two timing histograms are fed by sampled
// dispatches (one in 64). Every series carries a `runtime` label (the runtime's name), so that
// several runtimes can share a registry; per-worker series add a `worker` label.
//
// Lifetime: the callback handles are released (the series removed) when the runtime shuts down,
// so a registry that outlives the runtime never calls into it.

#include <string>
#include <vector>

#include <weft/metrics/callback_handle.hpp>
#include <weft/metrics/histogram.hpp>
#include <weft/metrics/registry.hpp>

namespace weft::detail {

class runtime_core;

class runtime_metrics {
 public:
  /// Registers the histograms (needed before the scheduler is built).
  runtime_metrics(metrics::registry& reg, const std::string& runtime_name, bool timing);
  /// Registers the callback series reading `core`.
  void bind(runtime_core& core);
  /// Removes the callback series.
  void unbind() noexcept { handles_.clear(); }

  metrics::histogram* poll_duration() const noexcept { return poll_duration_; }
  metrics::histogram* schedule_delay() const noexcept { return schedule_delay_; }
  metrics::registry& registry() const noexcept { return reg_; }
  const std::string& name() const noexcept { return name_; }

  /// Keeps a series registered by another part of the runtime (the stall detector) until unbind.
  void keep(metrics::callback_handle h) { handles_.push_back(std::move(h)); }

 private:
  metrics::registry& reg_;
  std::string name_;
  metrics::histogram* poll_duration_ = nullptr;
  metrics::histogram* schedule_delay_ = nullptr;
  std::vector<metrics::callback_handle> handles_;
};

}  // namespace weft::detail
