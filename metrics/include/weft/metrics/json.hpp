// JSON encoding of a registry snapshot.
#pragma once

#include <string>
#include <string_view>

#include "weft/metrics/snapshot.hpp"

namespace weft::metrics {

/// Encodes `snap` as one compact JSON object (RFC 8259), families and series in snapshot order:
///
///     {"families":[{"name":"job_seconds","help":"Job duration","type":"histogram",
///       "series":[{"labels":{},"count":2,"sum":1.5,"bounds":[0.5,1],"counts":[0,2,0],
///                  "quantiles":{"0.5":0.75,"0.95":0.975,"0.99":0.995}}]},
///      {"name":"jobs_total","help":"Jobs","type":"counter",
///       "series":[{"labels":{"type":"report"},"value":3}]}]}
///
/// (shown wrapped; the output is one line ending in "\n"). Histogram `counts` are per bucket, not
/// cumulative, with one more entry than `bounds` for the +Inf bucket, as in histogram_snapshot.
/// `quantiles` are histogram_snapshot::quantile(0.5, 0.95, 0.99). Strings are escaped as
/// append_json_string() does. Numbers are formatted as for Prometheus;
/// JSON has no NaN or infinities, so those are written as the strings "NaN", "+Inf" and "-Inf"
/// (as Prometheus' own JSON API writes every sample value), for example the quantiles of an empty
/// histogram.
///
/// Thread safety: a pure function of its argument.
std::string to_json(const registry_snapshot& snap);

/// Appends `s` to `out` as a JSON string literal, quotes included: `"`, `\` and control
/// characters escaped, well-formed UTF-8 characters copied as they are, and each ill-formed
/// sequence replaced by U+FFFD (as utf8_sanitized() does), so the output is always valid UTF-8
/// whatever bytes `s` holds. For other JSON documents built beside the metrics (the runtime's
/// task dump over HTTP, traces).
void append_json_string(std::string& out, std::string_view s);

}  // namespace weft::metrics
