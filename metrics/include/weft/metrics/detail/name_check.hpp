// Validation of metric names, label names, label values and help texts at registration, and the
// UTF-8 decoding step that the validation, the JSON encoder and utf8.hpp share.
//
// The rules are Prometheus' (text format 0.0.4 and its data model). Every check throws
// std::invalid_argument with a message naming the metric, the offending name and the rule, so a
// misconfigured registration is found by reading the exception, not by a scrape that fails later.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace weft::metrics::detail {

/// `[a-zA-Z_:][a-zA-Z0-9_:]*`.
bool is_valid_metric_name(std::string_view name) noexcept;

/// `[a-zA-Z_][a-zA-Z0-9_]*`, not starting with "__" (reserved for Prometheus' internal labels)
/// and not "le" or "quantile" (reserved for histogram and summary series).
bool is_valid_label_name(std::string_view name) noexcept;

/// Well-formed UTF-8 (no overlong forms, surrogates or code points above U+10FFFF).
bool is_valid_utf8(std::string_view text) noexcept;

/// What starts a non-empty text: a well-formed character of `size` bytes (1 to 4), or, when
/// `valid` is false, an ill-formed sequence of `size` bytes (1 to 3) that is its maximal subpart
/// in Unicode's sense (§3.9, "U+FFFD Substitution of Maximal Subparts"): the longest start of a
/// well-formed sequence there, or one byte. One U+FFFD per such part is what Unicode recommends
/// and what WHATWG's decoder (browsers) and Python produce.
struct utf8_unit {
  std::size_t size;
  bool valid;
};

/// The unit at the front of `text`, which must not be empty.
utf8_unit next_utf8_unit(std::string_view text) noexcept;

/// Appends the unit at the front of `text` (not empty) to `out`, or U+FFFD if it is ill-formed;
/// returns how many bytes of `text` it consumed.
std::size_t append_utf8_unit(std::string& out, std::string_view text);

/// Throws std::invalid_argument unless is_valid_metric_name(name).
void check_metric_name(std::string_view name);

/// Throws std::invalid_argument unless is_valid_label_name(label); the message names `metric`
/// and which rule failed.
void check_label_name(std::string_view metric, std::string_view label);

/// Throws std::invalid_argument if `value` (of label `label` of `metric`) is not valid UTF-8.
void check_label_value(std::string_view metric, std::string_view label, std::string_view value);

/// Throws std::invalid_argument if `help` is empty (every metric documents itself) or not UTF-8.
void check_help(std::string_view metric, std::string_view help);

}  // namespace weft::metrics::detail
