// weft::metrics::registry_snapshot: every value of a registry at one collection, as plain data.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "weft/metrics/histogram_snapshot.hpp"
#include "weft/metrics/labels.hpp"

namespace weft::metrics {

/// The Prometheus type of a metric family.
enum class metric_type { counter, gauge, histogram };

/// "counter", "gauge" or "histogram", as in a `# TYPE` line.
std::string_view to_string(metric_type type) noexcept;

/// One series: its labels (sorted by key) and its value.
///
/// Thread safety: a plain value type.
struct series_snapshot {
  metrics::labels labels;
  /// Counter and gauge families: the value. Integer counters are converted to double (exact
  /// below 2^53, the precision Prometheus itself stores). Unused (0) for histograms.
  double value = 0;
  /// Histogram families: the buckets, count and sum. Empty for counters and gauges.
  histogram_snapshot histogram;
};

/// One family: every series registered under one name.
///
/// Thread safety: a plain value type.
struct family_snapshot {
  std::string name;
  std::string help;
  metric_type type = metric_type::counter;
  /// Sorted by label values (compared pair by pair in key order), so output is deterministic.
  std::vector<series_snapshot> series;
};

/// Everything a registry held at one collection (registry::snapshot()).
///
/// Families are sorted by name and series by label values, so the same registry contents always
/// give the same snapshot, and the encoders (to_prometheus, to_json) the same text.
///
/// Lookups for tests: find() returns nullptr when the series is missing; counter_value(),
/// gauge_value() and histogram() throw std::out_of_range, naming the series, when it is missing
/// or of another type, so `REQUIRE(snap.counter_value("jobs_total", {{"type", "report"}}) == 3)`
/// fails with a readable message instead of crashing.
///
/// Thread safety: a plain value type.
struct registry_snapshot {
  std::vector<family_snapshot> families;

  /// The family named `name`, or nullptr.
  const family_snapshot* find_family(std::string_view name) const noexcept;

  /// The series of family `name` with exactly these labels (any order), or nullptr.
  const series_snapshot* find(std::string_view name, const metrics::labels& label_set = {}) const;

  /// The value of a counter series. Throws std::out_of_range if missing or not a counter.
  double counter_value(std::string_view name, const metrics::labels& label_set = {}) const;

  /// The value of a gauge series. Throws std::out_of_range if missing or not a gauge.
  double gauge_value(std::string_view name, const metrics::labels& label_set = {}) const;

  /// A histogram series' snapshot. Throws std::out_of_range if missing or not a histogram.
  const histogram_snapshot& histogram(std::string_view name, const metrics::labels& label_set = {}) const;

 private:
  const series_snapshot& require(std::string_view name, const metrics::labels& label_set, metric_type type) const;
};

}  // namespace weft::metrics
