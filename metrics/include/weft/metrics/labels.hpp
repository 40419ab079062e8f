// weft::metrics::labels: the label set that names one series inside a metric family.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace weft::metrics {

/// A set of label pairs such as `{{"type", "report"}, {"queue", "mail"}}`, kept sorted by key,
/// so two sets with the same pairs compare equal whatever order they were written in.
///
/// Building a set does not validate it: the registry checks names, duplicate keys and UTF-8 when
/// the set is used to register a metric, so its error can name the metric.
///
/// Thread safety: a plain value type. Concurrent reads are safe; writes need exclusive access.
class labels {
 public:
  using value_type = std::pair<std::string, std::string>;
  using const_iterator = std::vector<value_type>::const_iterator;

  /// The empty set.
  labels() = default;

  /// The brace form used at registration: `reg.counter("x_total", "X", {{"type", "report"}})`.
  labels(std::initializer_list<std::pair<std::string_view, std::string_view>> pairs);

  /// From pairs built at run time (any order).
  explicit labels(std::vector<value_type> pairs);

  /// Adds one pair, keeping the set sorted. Returns *this, so calls chain.
  labels& add(std::string_view key, std::string_view value);

  /// The value for `key`, or nullopt.
  std::optional<std::string_view> get(std::string_view key) const noexcept;

  const_iterator begin() const noexcept { return pairs_.begin(); }
  const_iterator end() const noexcept { return pairs_.end(); }
  std::size_t size() const noexcept { return pairs_.size(); }
  bool empty() const noexcept { return pairs_.empty(); }

  /// The pairs, sorted by key (then by value, for a repeated key, which registration rejects).
  const std::vector<value_type>& pairs() const noexcept { return pairs_; }

  friend bool operator==(const labels&, const labels&) = default;

 private:
  void sort();

  std::vector<value_type> pairs_;
};

}  // namespace weft::metrics
