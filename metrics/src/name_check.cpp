#include "weft/metrics/detail/name_check.hpp"

#include <stdexcept>
#include <string>

#include "text.hpp"

namespace weft::metrics::detail {

namespace {

bool is_alpha_or_underscore(char c) noexcept {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

bool is_digit(char c) noexcept { return c >= '0' && c <= '9'; }

}  // namespace

bool is_valid_metric_name(std::string_view name) noexcept {
  if (name.empty() || !(is_alpha_or_underscore(name[0]) || name[0] == ':'))
    return false;
  for (const char c : name)
    if (!(is_alpha_or_underscore(c) || is_digit(c) || c == ':'))
      return false;
  return true;
}

bool is_valid_label_name(std::string_view name) noexcept {
  if (name.empty() || !is_alpha_or_underscore(name[0]) || name.starts_with("__"))
    return false;
  if (name == "le" || name == "quantile")
    return false;
  for (const char c : name)
    if (!(is_alpha_or_underscore(c) || is_digit(c)))
      return false;
  return true;
}

bool is_valid_utf8(std::string_view text) noexcept {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto b0 = static_cast<unsigned char>(text[i]);
    if (b0 < 0x80) {
      ++i;
      continue;
    }
    std::size_t len = 0;
    char32_t cp = 0;
    if ((b0 & 0xe0) == 0xc0) {
      len = 2;
      cp = b0 & 0x1f;
    } else if ((b0 & 0xf0) == 0xe0) {
      len = 3;
      cp = b0 & 0x0f;
    } else if ((b0 & 0xf8) == 0xf0) {
      len = 4;
      cp = b0 & 0x07;
    } else {
      return false;  // a continuation byte or 0xf8..0xff where a sequence should start
    }
    if (text.size() - i < len)
      return false;
    for (std::size_t k = 1; k < len; ++k) {
      const auto b = static_cast<unsigned char>(text[i + k]);
      if ((b & 0xc0) != 0x80)
        return false;
      cp = (cp << 6) | (b & 0x3f);
    }
    static constexpr char32_t min_for_len[] = {0, 0, 0x80, 0x800, 0x10000};
    if (cp < min_for_len[len] || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
      return false;
    i += len;
  }
  return true;
}

void check_metric_name(std::string_view name) {
  if (!is_valid_metric_name(name))
    throw std::invalid_argument(cat({"weft::metrics: invalid metric name ", quoted(name),
                                     ": a metric name must match [a-zA-Z_:][a-zA-Z0-9_:]*"}));
}

void check_label_name(std::string_view metric, std::string_view label) {
  if (is_valid_label_name(label))
    return;
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
    throw std::invalid_argument(cat({"weft::metrics: the value of label ", quoted(label), " of metric ",
                                     quoted(metric), " is not valid UTF-8"}));
}

void check_help(std::string_view metric, std::string_view help) {
  if (help.empty())
    throw std::invalid_argument(cat({"weft::metrics: metric ", quoted(metric),
                                     " has an empty help text; every metric must say what it measures"}));
  if (!is_valid_utf8(help))
    throw std::invalid_argument(
        cat({"weft::metrics: the help text of metric ", quoted(metric), " is not valid UTF-8"}));
}

}  // namespace weft::metrics::detail
