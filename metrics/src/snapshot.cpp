#include "weft/metrics/snapshot.hpp"

#include <algorithm>
#include <stdexcept>

#include "text.hpp"

namespace weft::metrics {

std::string_view to_string(metric_type type) noexcept {
  switch (type) {
    case metric_type::counter:
      return "counter";
    case metric_type::gauge:
      return "gauge";
    case metric_type::histogram:
      return "histogram";
  }
  return "untyped";
}

const family_snapshot* registry_snapshot::find_family(std::string_view name) const noexcept {
  const auto at = std::lower_bound(families.begin(), families.end(), name,
                                   [](const family_snapshot& f, std::string_view n) { return f.name < n; });
  return at != families.end() && at->name == name ? &*at : nullptr;
}

const series_snapshot* registry_snapshot::find(std::string_view name, const labels& label_set) const {
  const family_snapshot* family = find_family(name);
  if (family == nullptr) return nullptr;
  for (const series_snapshot& s : family->series)
    if (s.labels == label_set) return &s;
  return nullptr;
}

const series_snapshot& registry_snapshot::require(std::string_view name, const labels& label_set,
                                                  metric_type type) const {
  const family_snapshot* family = find_family(name);
  if (family == nullptr)
    throw std::out_of_range(detail::cat({"weft::metrics: the snapshot has no metric ", detail::quoted(name)}));
  if (family->type != type)
    throw std::out_of_range(detail::cat({"weft::metrics: metric ", detail::quoted(name), " is a ",
                                         to_string(family->type), ", not a ", to_string(type)}));
  const series_snapshot* series = find(name, label_set);
  if (series == nullptr)
    throw std::out_of_range(
        detail::cat({"weft::metrics: the snapshot has no series ", detail::describe_series(name, label_set)}));
  return *series;
}

double registry_snapshot::counter_value(std::string_view name, const labels& label_set) const {
  return require(name, label_set, metric_type::counter).value;
}

double registry_snapshot::gauge_value(std::string_view name, const labels& label_set) const {
  return require(name, label_set, metric_type::gauge).value;
}

const histogram_snapshot& registry_snapshot::histogram(std::string_view name, const labels& label_set) const {
  return require(name, label_set, metric_type::histogram).histogram;
}

}  // namespace weft::metrics
