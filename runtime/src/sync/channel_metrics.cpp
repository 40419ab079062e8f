#include <weft/sync/detail/channel_metrics.hpp>

#include <weft/detail/runtime_core.hpp>
#include <weft/metrics/buckets.hpp>

namespace weft::detail {

channel_metrics::channel_metrics(metrics::registry& reg, const std::string& name, std::function<double()> depth)
    : name_(reg.claim_name("channel", name)),
      send_blocked_(reg.owned_histogram("weft_channel_send_blocked_seconds",
                                        "Time a sender waited for room in a full channel",
                                        metrics::buckets::exponential(1e-6, 2, 24), {{"channel", name}})),
      recv_blocked_(reg.owned_histogram("weft_channel_recv_blocked_seconds",
                                        "Time a receiver waited for a value from an empty channel",
                                        metrics::buckets::exponential(1e-6, 2, 24), {{"channel", name}})),
      depth_(reg.gauge_callback("weft_channel_depth", "Values buffered in the channel", {{"channel", name}},
                                std::move(depth))) {}

metrics::registry* current_registry() noexcept {
  worker_context* ctx = tls_ctx;
  return ctx ? ctx->rt->registry : nullptr;
}

}  // namespace weft::detail
