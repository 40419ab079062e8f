#include "weft/metrics/prometheus.hpp"

#include <string_view>
#include <vector>

#include "text.hpp"

namespace weft::metrics {

namespace {

// `name{labels} value\n`, or `name value\n` without labels.
void append_sample(std::string& out, std::string_view name, std::string_view suffix, const std::string& label_text,
                   double value) {
  out += name;
  out += suffix;
  if (!label_text.empty()) {
    out += '{';
    out += label_text;
    out += '}';
  }
  out += ' ';
  detail::append_number(out, value);
  out += '\n';
}

// The `le` values of one bucket layout, formatted once per family rather than once per series.
class le_cache {
 public:
  const std::vector<std::string>& get(const std::vector<double>& bounds) {
    if (bounds != bounds_) {
      bounds_ = bounds;
      text_.clear();
      for (const double b : bounds) text_.push_back(detail::format_number(b));
      text_.emplace_back("+Inf");
    }
    return text_;
  }

 private:
  std::vector<double> bounds_;
  std::vector<std::string> text_{"+Inf"};
};

void append_histogram(std::string& out, const family_snapshot& family, const histogram_snapshot& h,
                      const std::string& label_text, le_cache& les) {
  // Every bucket line shares `name_bucket{labels,le="`.
  std::string prefix = family.name;
  prefix += "_bucket{";
  prefix += label_text;
  if (!label_text.empty()) prefix += ',';
  prefix += "le=\"";
  const std::vector<std::string>& le = les.get(h.bounds);
  std::uint64_t running = 0;
  for (std::size_t b = 0; b < h.counts.size() && b < le.size(); ++b) {
    running += h.counts[b];
    out += prefix;
    out += le[b];
    out += "\"} ";
    detail::append_number(out, static_cast<double>(running));
    out += '\n';
  }
  append_sample(out, family.name, "_sum", label_text, h.sum);
  append_sample(out, family.name, "_count", label_text, static_cast<double>(h.count));
}

}  // namespace

std::string to_prometheus(const registry_snapshot& snap) {
  std::string out;
  std::size_t lines = 0;
  for (const family_snapshot& family : snap.families)
    for (const series_snapshot& series : family.series)
      lines += family.type == metric_type::histogram ? series.histogram.counts.size() + 2 : 1;
  out.reserve(lines * 64);  // a typical line; the string grows if it is not enough

  std::string label_text;
  le_cache les;
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
      label_text.clear();
      detail::append_label_pairs(label_text, series.labels);
      if (family.type == metric_type::histogram)
        append_histogram(out, family, series.histogram, label_text, les);
      else
        append_sample(out, family.name, "", label_text, series.value);
    }
  }
  return out;
}

}  // namespace weft::metrics
