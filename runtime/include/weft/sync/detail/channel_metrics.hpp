#pragma once
// The metrics of a named channel: how long senders waited on a full channel and receivers on an
// empty one, and how full it is. The numbers that find a hidden bottleneck (shared/seeds, 002):
// workers "busy" that are really blocked sending results into a full channel.

#include <cstdint>
#include <functional>
#include <string>

#include <weft/metrics/callback_handle.hpp>
#include <weft/metrics/histogram.hpp>
#include <weft/metrics/name_claim.hpp>
#include <weft/metrics/owned.hpp>
#include <weft/metrics/registry.hpp>

namespace weft::detail {

class channel_metrics {
 public:
  /// Registers the series with the label channel=`name` in `reg`; `depth` is sampled. Throws
  /// std::invalid_argument if another live channel of that name reports to `reg`.
  channel_metrics(metrics::registry& reg, const std::string& name, std::function<double()> depth);

  void sent_after_blocking(std::int64_t blocked_ns) noexcept { send_blocked_->observe(blocked_ns * 1e-9); }
  void received_after_blocking(std::int64_t blocked_ns) noexcept { recv_blocked_->observe(blocked_ns * 1e-9); }

 private:
  metrics::name_claim name_;
  // Owned: a channel's series leave the registry with it.
  metrics::owned<metrics::histogram> send_blocked_;
  metrics::owned<metrics::histogram> recv_blocked_;
  metrics::callback_handle depth_;
};

/// The registry of the runtime running the calling thread, or null off the runtime.
metrics::registry* current_registry() noexcept;

}  // namespace weft::detail
