#include "weft/metrics/prometheus.hpp"

#include <string_view>

#include "text.hpp"

namespace weft::metrics {

namespace {

// `{k="v",...}` with an optional trailing `le` label; nothing at all for an empty set.
void append_labels(std::string& out, const labels& label_set, const std::string* le = nullptr) {
  if (label_set.empty() && le == nullptr)
    return;
  out += '{';
  bool first = true;
  for (const auto& [key, value] : label_set) {
    if (!first)
      out += ',';
    first = false;
    out += key;
    out += "=\"";
    detail::append_label_value(out, value);
    out += '"';
  }
  if (le != nullptr) {
    if (!first)
      out += ',';
    out += "le=\"";
    out += *le;
    out += '"';
  }
  out += '}';
}

void append_sample(std::string& out, std::string_view name, std::string_view suffix, const labels& label_set,
                   double value, const std::string* le = nullptr) {
  out += name;
  out += suffix;
  append_labels(out, label_set, le);
  out += ' ';
  detail::append_number(out, value);
  out += '\n';
}

void append_histogram(std::string& out, const family_snapshot& family, const series_snapshot& series) {
  const histogram_snapshot& h = series.histogram;
  std::uint64_t running = 0;
  std::string le;
  for (std::size_t b = 0; b < h.counts.size(); ++b) {
    running += h.counts[b];
    le.clear();
    if (b < h.bounds.size())
      detail::append_number(le, h.bounds[b]);
    else
      le = "+Inf";
    append_sample(out, family.name, "_bucket", series.labels, static_cast<double>(running), &le);
  }
  append_sample(out, family.name, "_sum", series.labels, h.sum);
  append_sample(out, family.name, "_count", series.labels, static_cast<double>(h.count));
}

}  // namespace

std::string to_prometheus(const registry_snapshot& snap) {
  std::string out;
  for (const family_snapshot& family : snap.families) {
    out += "# HELP ";
    out += family.name;
    out += ' ';
    detail::append_help(out, family.help);
    out += "\n# TYPE ";
    out += family.name;
    out += ' ';
    out += to_string(family.type);
    out += '\n';
    for (const series_snapshot& series : family.series) {
      if (family.type == metric_type::histogram)
        append_histogram(out, family, series);
      else
        append_sample(out, family.name, "", series.labels, series.value);
    }
  }
  return out;
}

}  // namespace weft::metrics
