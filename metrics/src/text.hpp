// Text helpers shared by the encoders and the error messages (private to the library).
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>

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

/// Prometheus 0.0.4 HELP escaping: backslash and line feed.
void append_help(std::string& out, std::string_view help);

}  // namespace weft::metrics::detail
