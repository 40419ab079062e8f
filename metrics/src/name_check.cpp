#include "weft/metrics/detail/name_check.hpp"

#include <stdexcept>
#include <string>

#include "text.hpp"
#include "weft/metrics/utf8.hpp"

namespace weft::metrics::detail {

namespace {

bool is_alpha_or_underscore(char c) noexcept { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_'; }

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

}  // namespace

bool is_valid_metric_name(std::string_view name) noexcept {
  if (name.empty() || !(is_alpha_or_underscore(name[0]) || name[0] == ':')) return false;
  for (const char c : name)
    if (!(is_alpha_or_underscore(c) || is_digit(c) || c == ':')) return false;
  return true;
}

bool is_valid_label_name(std::string_view name) noexcept {
  if (name.empty() || !is_alpha_or_underscore(name[0]) || name.starts_with("__")) return false;
  if (name == "le" || name == "quantile") return false;
  for (const char c : name)
    if (!(is_alpha_or_underscore(c) || is_digit(c))) return false;
  return true;
}

utf8_unit next_utf8_unit(std::string_view text) noexcept {
  const auto b0 = static_cast<unsigned char>(text[0]);
  if (b0 < 0x80) return {1, true};
  // Unicode's table of well-formed sequences (Table 3-7): the lead byte fixes the length and the
  // range of the second byte, which is where overlong forms (after E0, F0), surrogates (after ED)
  // and code points above U+10FFFF (after F4) are excluded; later bytes are 80..BF.
  std::size_t len = 0;
  unsigned char lo = 0x80, hi = 0xbf;
  if (b0 >= 0xc2 && b0 <= 0xdf) {
    len = 2;
  } else if (b0 >= 0xe0 && b0 <= 0xef) {
    len = 3;
    if (b0 == 0xe0)
      lo = 0xa0;
    else if (b0 == 0xed)
      hi = 0x9f;
  } else if (b0 >= 0xf0 && b0 <= 0xf4) {
    len = 4;
    if (b0 == 0xf0)
      lo = 0x90;
    else if (b0 == 0xf4)
      hi = 0x8f;
  } else {
    return {1, false};  // a continuation byte, C0/C1 (only ever overlong) or F5..FF
  }
  for (std::size_t k = 1; k < len; ++k) {
    if (k == text.size()) return {k, false};  // truncated by the end of the text
    const auto b = static_cast<unsigned char>(text[k]);
    if (b < lo || b > hi) return {k, false};  // the bytes so far are the maximal subpart; `b` starts the next unit
    lo = 0x80;
    hi = 0xbf;
  }
  return {len, true};
}

bool is_valid_utf8(std::string_view text) noexcept {
  std::size_t i = 0;
  while (i < text.size()) {
    if (static_cast<unsigned char>(text[i]) < 0x80) {
      ++i;
      continue;
    }
    const utf8_unit unit = next_utf8_unit(text.substr(i));
    if (!unit.valid) return false;
    i += unit.size;
  }
  return true;
}

void check_metric_name(std::string_view name) {
  if (!is_valid_metric_name(name))
    throw std::invalid_argument(cat(
        {"weft::metrics: invalid metric name ", quoted(name), ": a metric name must match [a-zA-Z_:][a-zA-Z0-9_:]*"}));
}

void check_label_name(std::string_view metric, std::string_view label) {
  if (is_valid_label_name(label)) return;
  std::string_view why = "a label name must match [a-zA-Z_][a-zA-Z0-9_]*";
  if (label == "le" || label == "quantile")
    why = "it is reserved for histogram and summary series";
  else if (label.starts_with("__"))
    why = "names starting with \"__\" are reserved for Prometheus' internal use";
  throw std::invalid_argument(
      cat({"weft::metrics: invalid label name ", quoted(label), " for metric ", quoted(metric), ": ", why}));
}

void check_label_value(std::string_view metric, std::string_view label, std::string_view value) {
  if (!is_valid_utf8(value))
    throw std::invalid_argument(cat(
        {"weft::metrics: the value of label ", quoted(label), " of metric ", quoted(metric), " is not valid UTF-8"}));
}

void check_help(std::string_view metric, std::string_view help) {
  if (help.empty())
    throw std::invalid_argument(cat(
        {"weft::metrics: metric ", quoted(metric), " has an empty help text; every metric must say what it measures"}));
  if (!is_valid_utf8(help))
    throw std::invalid_argument(
        cat({"weft::metrics: the help text of metric ", quoted(metric), " is not valid UTF-8"}));
}

}  // namespace weft::metrics::detail

namespace weft::metrics {

std::size_t utf8_prefix_length(std::string_view s, std::size_t max_bytes) noexcept {
  if (s.size() <= max_bytes) return s.size();
  // Walk whole units from the front: only there is it known where a character starts.
  std::size_t n = 0;
  while (n < s.size()) {
    const std::size_t size = detail::next_utf8_unit(s.substr(n)).size;
    if (size > max_bytes - n) break;
    n += size;
  }
  return n;
}

std::string utf8_sanitized(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (std::size_t i = 0; i < s.size();) i += detail::append_utf8_unit(out, s.substr(i));
  return out;
}

namespace detail {
std::size_t append_utf8_unit(std::string& out, std::string_view text) {
  const utf8_unit unit = next_utf8_unit(text);
  if (unit.valid)
    out += text.substr(0, unit.size);
  else
    out += utf8_replacement_character;
  return unit.size;
}
}  // namespace detail

}  // namespace weft::metrics
