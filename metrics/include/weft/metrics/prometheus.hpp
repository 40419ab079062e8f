// Prometheus text exposition format 0.0.4 for a registry snapshot.
#pragma once

#include <string>

#include "weft/metrics/snapshot.hpp"

namespace weft::metrics {

/// The MIME type to serve to_prometheus() text with.
inline constexpr const char* prometheus_content_type = "text/plain; version=0.0.4; charset=utf-8";

/// Encodes `snap` as Prometheus text format 0.0.4, the body of a `/metrics` response:
///
///     # HELP jobs_total Jobs processed
///     # TYPE jobs_total counter
///     jobs_total{type="report"} 3
///
/// Per family, in name order: a `# HELP` line (backslash and line feed escaped), a `# TYPE` line,
/// then one line per series in label-value order, labels sorted by key, values escaped
/// (backslash, double quote, line feed). A histogram gives cumulative `name_bucket` lines, one
/// per bound (`le` last among the labels) and one for `le="+Inf"`, then `name_sum` and
/// `name_count`. Numbers: integral values below 2^53 without exponent or fraction ("12"), others
/// in the shortest form that reads back exactly ("0.25", "1e-06"), and "+Inf", "-Inf", "NaN".
/// Every line ends with "\n". No timestamps.
///
/// Thread safety: a pure function of its argument.
std::string to_prometheus(const registry_snapshot& snap);

}  // namespace weft::metrics
