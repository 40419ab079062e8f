#include "weft/metrics/labels.hpp"

#include <algorithm>

namespace weft::metrics {

labels::labels(std::initializer_list<std::pair<std::string_view, std::string_view>> pairs) {
  pairs_.reserve(pairs.size());
  for (const auto& [key, value] : pairs) pairs_.emplace_back(std::string(key), std::string(value));
  sort();
}

labels::labels(std::vector<value_type> pairs) : pairs_(std::move(pairs)) { sort(); }

labels& labels::add(std::string_view key, std::string_view value) {
  value_type pair{std::string(key), std::string(value)};
  const auto at = std::upper_bound(pairs_.begin(), pairs_.end(), pair);
  pairs_.insert(at, std::move(pair));
  return *this;
}

std::optional<std::string_view> labels::get(std::string_view key) const noexcept {
  const auto at = std::lower_bound(pairs_.begin(), pairs_.end(), key,
                                   [](const value_type& p, std::string_view k) { return p.first < k; });
  if (at == pairs_.end() || at->first != key) return std::nullopt;
  return at->second;
}

void labels::sort() {
  // By key, then by value: a total order, so even a set with a repeated key (which registration
  // rejects) has one canonical form.
  std::sort(pairs_.begin(), pairs_.end());
}

}  // namespace weft::metrics
