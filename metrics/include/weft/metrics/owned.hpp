// weft::metrics::owned: a counter, gauge or histogram series that lives as long as its handle.
#pragma once

#include <concepts>
#include <memory>
#include <utility>

#include "weft/metrics/counter.hpp"
#include "weft/metrics/detail/series_owner.hpp"
#include "weft/metrics/gauge.hpp"
#include "weft/metrics/histogram.hpp"

namespace weft::metrics {

class registry;

/// Owns one plain series (registry::owned_counter, owned_gauge, owned_histogram) for an object
/// that labels series with its own identity, such as a job pool's
/// `weft_pool_job_duration_seconds{pool="orders",status="success"}`: the series is exported
/// while the handle lives, and destroying the handle, reset(), or move-assigning over it removes
/// the series from the registry (and its family, if that was the family's last series). So a
/// destroyed pool leaves nothing behind in /metrics, and the next pool of that name starts from
/// zero.
///
/// While the handle lives the series is its own: registering the same name and label values
/// again, owned, plain or as a callback, throws std::invalid_argument. Updates go through the
/// handle (`h->inc()`, `h.get().observe(v)`) at the same cost as through a plain reference.
///
/// Lifetime: the metric lives at least as long as the handle owns it, even past the registry
/// (the handle shares it; updates then reach a metric that nothing exports). Moving the handle
/// does not move the metric, but a reference taken with get() or `*` dangles once no handle owns
/// the series any more (reset, destroyed, assigned over): keep the handle, not the reference.
/// Dereferencing an empty handle is undefined, as for std::unique_ptr. Either order of
/// destruction is safe: a handle that outlives its registry does nothing when it is reset or
/// destroyed.
///
/// Thread safety: the metric may be updated from any number of threads at once, as a plain one;
/// the handle itself must not be used by two threads at once (like std::unique_ptr). Removal
/// waits for a collection in progress to finish, and none sees the series afterwards.
/// Destroying or resetting a handle from inside a callback of the same registry would deadlock,
/// so it throws std::logic_error instead (std::terminate from the destructor).
template <class Metric>
  requires(std::same_as<Metric, counter> || std::same_as<Metric, gauge> || std::same_as<Metric, histogram>)
class [[nodiscard]] owned {
 public:
  /// An empty handle that owns nothing.
  owned() noexcept = default;

  owned(owned&& other) noexcept = default;
  /// Removes the series this handle owned, then takes over `other`'s.
  owned& operator=(owned&& other) noexcept = default;
  owned(const owned&) = delete;
  owned& operator=(const owned&) = delete;

  /// Removes the series (see reset()).
  ~owned() = default;

  /// The metric. The handle must not be empty.
  Metric& get() const noexcept { return *metric_; }
  Metric& operator*() const noexcept { return *metric_; }
  Metric* operator->() const noexcept { return metric_.get(); }

  /// Removes the series now; afterwards the handle is empty. Blocks while a collection of the
  /// registry is in progress (collections take the registry's lock). No-op on an empty handle;
  /// once the registry is gone it only empties the handle.
  void reset() {
    owner_.reset();  // first: if it throws (called from a callback), the handle still owns the series
    metric_.reset();
  }

  /// True while the handle owns a series.
  explicit operator bool() const noexcept { return static_cast<bool>(metric_); }

 private:
  friend class registry;
  owned(detail::series_owner owner, std::shared_ptr<Metric> metric) noexcept
      : owner_(std::move(owner)), metric_(std::move(metric)) {}

  detail::series_owner owner_;
  std::shared_ptr<Metric> metric_;  // shared with the series node while the registry lives
};

}  // namespace weft::metrics
