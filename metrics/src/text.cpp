#include "text.hpp"

#include <charconv>
#include <cmath>
#include <cstdint>

namespace weft::metrics::detail {

std::string cat(std::initializer_list<std::string_view> parts) {
  std::size_t size = 0;
  for (const std::string_view part : parts) size += part.size();
  std::string out;
  out.reserve(size);
  for (const std::string_view part : parts) out += part;
  return out;
}

std::string quoted(std::string_view s) { return cat({"\"", s, "\""}); }

void append_number(std::string& out, double v) {
  if (std::isnan(v)) {
    out += "NaN";
    return;
  }
  if (std::isinf(v)) {
    out += v > 0 ? "+Inf" : "-Inf";
    return;
  }
  char buf[32];
  std::to_chars_result r;
  if (std::trunc(v) == v && std::fabs(v) < 0x1p53)
    r = std::to_chars(buf, buf + sizeof buf, static_cast<std::int64_t>(v));  // -0.0 prints "0"
  else
    r = std::to_chars(buf, buf + sizeof buf, v);  // shortest round-trip form
  out.append(buf, r.ptr);
}

void append_integer(std::string& out, std::uint64_t v) {
  char buf[24];
  out.append(buf, std::to_chars(buf, buf + sizeof buf, v).ptr);
}

std::string format_number(double v) {
  std::string s;
  append_number(s, v);
  return s;
}

void append_label_value(std::string& out, std::string_view value) {
  for (const char c : value) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '"':
        out += "\\\"";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

void append_help(std::string& out, std::string_view help) {
  for (const char c : help) {
    switch (c) {
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      default:
        out += c;
    }
  }
}

void append_label_pairs(std::string& out, const labels& label_set) {
  bool first = true;
  for (const auto& [key, value] : label_set) {
    if (!first) out += ',';
    first = false;
    out += key;
    out += "=\"";
    append_label_value(out, value);
    out += '"';
  }
}

std::string describe_series(std::string_view name, const labels& label_set) {
  std::string s(name);
  s += '{';
  append_label_pairs(s, label_set);
  s += '}';
  return s;
}

}  // namespace weft::metrics::detail
