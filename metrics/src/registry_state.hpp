// The registry's private state: families, series and the lock that guards them.
//
// Structure: registry_state → families (std::map by name) → series (std::map by label values)
// → the metric object (counter / gauge / histogram, which own their sharded cells) or a
// callback. std::map nodes never move, so references to metric objects and the raw pointers a
// series_owner keeps stay valid until their node is erased. Only a series with an owner is ever
// erased, by that owner: a callback series (callback_handle) or an owned one (owned<Metric>);
// series from counter(), gauge() and histogram() live as long as the state. An owned<Metric>
// also shares its metric object with the node, so the object outlives the state if the handle
// does. Beside the families, the names claimed by live objects (name_claim), by kind.
//
// Locking: `mutex` guards the maps, the callbacks and the claimed names. Registration,
// collection (which calls the callbacks), removal, claiming and releasing hold it; metric updates
// never touch it. The state is held by a shared_ptr in the registry and a weak_ptr in each
// series_owner and name_claim, so a handle that outlives its registry finds nothing to remove.
#pragma once

#include <cstddef>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "weft/metrics/counter.hpp"
#include "weft/metrics/gauge.hpp"
#include "weft/metrics/histogram.hpp"
#include "weft/metrics/labels.hpp"
#include "weft/metrics/snapshot.hpp"

namespace weft::metrics::detail {

using series_key = std::vector<std::string>;  // label values, in label-key order

struct series_node {
  metrics::labels label_set;
  const series_key* key = nullptr;  // the map key of this node, for erasing it
  // Exactly one of the four is set, matching the family's type. The cells are shared with the
  // owned<Metric> handle of an owned series.
  std::shared_ptr<metrics::counter> counter_cell;
  std::shared_ptr<metrics::gauge> gauge_cell;
  std::shared_ptr<metrics::histogram> histogram_cell;
  std::function<double()> sample;
  // Set at creation for a series made by owned_counter/gauge/histogram, never changed: its
  // owned<Metric> erases it, and nothing else may register it meanwhile.
  bool owned_by_handle = false;
};

struct family_node {
  std::string name;
  std::string help;
  metric_type type = metric_type::counter;
  std::vector<std::string> label_keys;  // sorted
  std::vector<double> bounds;           // histograms only
  std::map<series_key, series_node> series;
};

struct registry_state {
  explicit registry_state(std::size_t shard_count) : shards(shard_count) {}

  const std::size_t shards;
  std::mutex mutex;
  std::map<std::string, family_node, std::less<>> families;  // guarded by mutex
  // kind → the names claimed for it; a kind without names is erased. Guarded by mutex.
  std::map<std::string, std::set<std::string, std::less<>>, std::less<>> claimed_names;
};

/// Erases a series that a series_owner held (a callback or an owned series), and its family if
/// it was the last series. Throws std::logic_error when called from a callback of the same
/// registry.
void remove_series(registry_state& state, family_node* family, series_node* series);

/// Frees a name that name_claim held. Throws std::logic_error when called from a callback of
/// the same registry.
void release_name(registry_state& state, std::string_view kind, std::string_view name);

}  // namespace weft::metrics::detail
