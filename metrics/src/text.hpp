// Text helpers shared by the encoders and the error messages (private to the library).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

#include "weft/metrics/labels.hpp"

namespace weft::metrics::detail {

/// The parts joined into one string, for error messages. (Not `"literal" + std::string(...)`:
/// g++ 12 gives a false -Wrestrict warning for that form.)
std::string cat(std::initializer_list<std::string_view> parts);

/// `"s"`, for naming things in error messages.
std::string quoted(std::string_view s);

/// Appends `v` so that Prometheus (Go's strconv.ParseFloat) and JSON readers parse it back to
/// the same double: integral values below 2^53 as plain integers ("12", not "1.2e+01"), others
/// in the shortest form that round-trips ("0.25", "1e-06"), and "NaN", "+Inf", "-Inf".
void append_number(std::string& out, double v);

/// Appends the decimal digits of `v`.
void append_integer(std::string& out, std::uint64_t v);

/// append_number into a fresh string.
std::string format_number(double v);

/// Prometheus 0.0.4 label value escaping: backslash, double quote and line feed.
void append_label_value(std::string& out, std::string_view value);

/// `k="v",k2="v2"` (no braces), values escaped: the one label formatter, for the exposition and
/// for naming a series in messages.
void append_label_pairs(std::string& out, const labels& label_set);

/// `name{k="v",...}` (values escaped), for naming a series in messages.
std::string describe_series(std::string_view name, const labels& label_set);

/// Prometheus 0.0.4 HELP escaping: backslash and line feed.
void append_help(std::string& out, std::string_view help);

}  // namespace weft::metrics::detail
