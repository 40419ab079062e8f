#include "weft/metrics/json.hpp"

#include <cmath>
#include <vector>

#include "text.hpp"
#include "weft/metrics/detail/name_check.hpp"

namespace weft::metrics {

namespace {

void append_json_number(std::string& out, double v) {
  if (std::isfinite(v)) {
    detail::append_number(out, v);
  } else {
    out += '"';
    detail::append_number(out, v);  // "NaN", "+Inf", "-Inf"
    out += '"';
  }
}

void append_labels(std::string& out, const labels& label_set) {
  out += '{';
  bool first = true;
  for (const auto& [key, value] : label_set) {
    if (!first) out += ',';
    first = false;
    append_json_string(out, key);
    out += ':';
    append_json_string(out, value);
  }
  out += '}';
}

// `[b0,b1,...]` for one bucket layout, formatted once per family rather than once per series.
class bounds_cache {
 public:
  const std::string& get(const std::vector<double>& bounds) {
    if (!valid_ || bounds != bounds_) {
      bounds_ = bounds;
      valid_ = true;
      text_.clear();
      text_ += '[';
      for (std::size_t i = 0; i < bounds.size(); ++i) {
        if (i) text_ += ',';
        append_json_number(text_, bounds[i]);
      }
      text_ += ']';
    }
    return text_;
  }

 private:
  bool valid_ = false;
  std::vector<double> bounds_;
  std::string text_;
};

void append_histogram(std::string& out, const histogram_snapshot& h, bounds_cache& bounds) {
  out += ",\"count\":";
  detail::append_integer(out, h.count);
  out += ",\"sum\":";
  append_json_number(out, h.sum);
  out += ",\"bounds\":";
  out += bounds.get(h.bounds);
  out += ",\"counts\":[";
  for (std::size_t i = 0; i < h.counts.size(); ++i) {
    if (i) out += ',';
    detail::append_integer(out, h.counts[i]);
  }
  out += "],\"quantiles\":{";
  static constexpr const char* keys[] = {"0.5", "0.95", "0.99"};
  static constexpr double qs[] = {0.5, 0.95, 0.99};
  for (std::size_t i = 0; i < 3; ++i) {
    if (i) out += ',';
    out += '"';
    out += keys[i];
    out += "\":";
    append_json_number(out, h.quantile(qs[i]));
  }
  out += '}';
}

}  // namespace

std::string to_json(const registry_snapshot& snap) {
  std::string out = "{\"families\":[";
  bounds_cache bounds;
  for (std::size_t f = 0; f < snap.families.size(); ++f) {
    const family_snapshot& family = snap.families[f];
    if (f) out += ',';
    out += "{\"name\":";
    append_json_string(out, family.name);
    out += ",\"help\":";
    append_json_string(out, family.help);
    out += ",\"type\":\"";
    out += to_string(family.type);
    out += "\",\"series\":[";
    for (std::size_t s = 0; s < family.series.size(); ++s) {
      const series_snapshot& series = family.series[s];
      if (s) out += ',';
      out += "{\"labels\":";
      append_labels(out, series.labels);
      if (family.type == metric_type::histogram) {
        append_histogram(out, series.histogram, bounds);
      } else {
        out += ",\"value\":";
        append_json_number(out, series.value);
      }
      out += '}';
    }
    out += "]}";
  }
  out += "]}\n";
  return out;
}

void append_json_string(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  out += '"';
  for (std::size_t i = 0; i < s.size();) {
    const auto u = static_cast<unsigned char>(s[i]);
    if (u >= 0x80) {
      // JSON text must be UTF-8 (RFC 8259 §8.1), and one bad byte in a task's name must not make
      // the whole document unreadable: a well-formed character is copied, an ill-formed sequence
      // becomes U+FFFD.
      i += detail::append_utf8_unit(out, s.substr(i));
      continue;
    }
    switch (s[i]) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (u < 0x20) {
          out += "\\u00";
          out += hex[u >> 4];
          out += hex[u & 0xf];
        } else {
          out += s[i];
        }
    }
    ++i;
  }
  out += '"';
}

}  // namespace weft::metrics
