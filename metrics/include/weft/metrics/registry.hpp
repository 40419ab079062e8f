// weft::metrics::registry: owns metric families and collects them.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <string_view>

#include "weft/metrics/buckets.hpp"
#include "weft/metrics/callback_handle.hpp"
#include "weft/metrics/counter.hpp"
#include "weft/metrics/gauge.hpp"
#include "weft/metrics/histogram.hpp"
#include "weft/metrics/labels.hpp"
#include "weft/metrics/name_claim.hpp"
#include "weft/metrics/owned.hpp"
#include "weft/metrics/snapshot.hpp"

namespace weft::metrics {

namespace detail {
struct registry_state;
}

/// Registry construction options (a plain aggregate: `registry reg({.shards = 1});`).
struct registry_options {
  /// Shards per counter and histogram. 0 = the smallest power of two ≥ the hardware threads;
  /// any other value is rounded up to a power of two (at most 4096). Tests set 1 to put every
  /// thread on one shard; more shards than threads only costs memory: per shard, 64 bytes for a
  /// counter and (buckets + 2) × 8 bytes rounded up to 64 for a histogram.
  std::size_t shards = 0;
};

/// A set of metric families, each a name, a help text, a type and a fixed set of label keys,
/// holding one series per distinct label values. A registry is private to whoever makes it
/// (a test, a runtime, an application): there is no global registry, and two registries never
/// share a value.
///
/// Registration: counter(), gauge() and histogram() return the series for (name, labels),
/// creating it on first use; registering it again with the same name, help, type, label keys
/// (and buckets) returns the same object. Any mismatch throws std::invalid_argument naming the
/// metric and the conflict: another type, other label keys, another help text, other buckets,
/// a name that clashes with a histogram's `_bucket`/`_sum`/`_count` lines, or a series already
/// registered as a callback or owned. Invalid names, empty help texts, duplicate label keys and
/// non-UTF-8 text throw std::invalid_argument too (see detail/name_check.hpp).
///
/// Series of objects: owned_counter(), owned_gauge() and owned_histogram() make a series that
/// belongs to the returned owned<> handle and leaves the registry with it, for objects that label
/// series with their own identity (a job pool, a named channel) and come and go while the
/// registry stays. While it lives, no other registration (plain, owned or callback) may take the
/// same name and label values; afterwards the next one starts from zero. Callback series
/// (gauge_callback(), counter_callback()) belong to their callback_handle in the same way.
///
/// Collection: snapshot(), to_prometheus() and to_json() copy every value out under the
/// registry's lock, calling the callbacks of callback series there, then format without it.
///
/// Names of objects: claim_name() and claim_unique_name() reserve a name per kind of object
/// (runtime, pool, channel) for as long as the returned name_claim lives, so that two live
/// objects never export series under the same name label.
///
/// Lifetime: references returned by counter(), gauge() and histogram() stay valid as long as
/// the registry. An owned<> handle keeps its metric valid as long as the handle owns it. An
/// owned<>, callback_handle or name_claim may outlive the registry (it then removes nothing).
///
/// Thread safety: every member may be called from any number of threads at once. Registration,
/// collection, removal of owned and callback series, and name claims take the registry's mutex;
/// updates through the returned references and handles never do. A callback runs on the
/// collecting thread with that mutex held: it must be quick, should not throw (an exception
/// propagates out of the collection, which then yields nothing), and must not call into the same
/// registry, nor reset a handle of it (that throws std::logic_error rather than deadlocking).
class registry {
 public:
  registry();
  explicit registry(registry_options options);
  ~registry();
  registry(const registry&) = delete;
  registry& operator=(const registry&) = delete;

  /// The counter `name{label_set}`, created at 0 on first use.
  metrics::counter& counter(std::string_view name, std::string_view help, const metrics::labels& label_set = {});

  /// The gauge `name{label_set}`, created at 0 on first use.
  metrics::gauge& gauge(std::string_view name, std::string_view help, const metrics::labels& label_set = {});

  /// The histogram `name{label_set}` with these buckets, created empty on first use. Every
  /// series of a family has the same buckets; others throw std::invalid_argument.
  metrics::histogram& histogram(std::string_view name, std::string_view help, const bucket_layout& layout,
                                const metrics::labels& label_set = {});

  /// A new counter `name{label_set}` at 0 that lives as long as the returned handle (see
  /// owned.hpp): destroying or resetting the handle removes the series, and its family with its
  /// last series. Throws std::invalid_argument as counter() does, and, naming the series, if it
  /// exists already: owned by another live handle, as a plain counter (which lives as long as the
  /// registry), or with a callback.
  [[nodiscard]] owned<metrics::counter> owned_counter(std::string_view name, std::string_view help,
                                                      const metrics::labels& label_set = {});

  /// A new gauge `name{label_set}` at 0 that lives as long as the returned handle; otherwise as
  /// owned_counter().
  [[nodiscard]] owned<metrics::gauge> owned_gauge(std::string_view name, std::string_view help,
                                                  const metrics::labels& label_set = {});

  /// A new, empty histogram `name{label_set}` with these buckets that lives as long as the
  /// returned handle; the buckets must match the family's, as for histogram(). Otherwise as
  /// owned_counter().
  [[nodiscard]] owned<metrics::histogram> owned_histogram(std::string_view name, std::string_view help,
                                                          const bucket_layout& layout,
                                                          const metrics::labels& label_set = {});

  /// A gauge series whose value is `sample()`, called at each collection. The series lives as
  /// long as the returned handle. Throws std::invalid_argument as gauge() does, if `sample` is
  /// empty, or if the series already exists (as a plain or owned gauge, or with another
  /// callback).
  [[nodiscard]] callback_handle gauge_callback(std::string_view name, std::string_view help,
                                               const metrics::labels& label_set, std::function<double()> sample);
  [[nodiscard]] callback_handle gauge_callback(std::string_view name, std::string_view help,
                                               std::function<double()> sample);

  /// A counter series whose value is `sample()` (for counts kept elsewhere, such as per-worker
  /// stats); it should never decrease. Otherwise as gauge_callback.
  [[nodiscard]] callback_handle counter_callback(std::string_view name, std::string_view help,
                                                 const metrics::labels& label_set, std::function<double()> sample);
  [[nodiscard]] callback_handle counter_callback(std::string_view name, std::string_view help,
                                                 std::function<double()> sample);

  /// Reserves `name` for one object of `kind` (such as kind "pool", name "orders") while the
  /// returned claim lives. An object that labels its series with its name claims it before
  /// registering them. Throws std::invalid_argument, naming the kind and the name, if a live
  /// claim holds that name for that kind already; the same name under another kind is free.
  [[nodiscard]] name_claim claim_name(std::string_view kind, std::string_view name);

  /// Reserves the first of `base`, `base-2`, `base-3`, ... that no live claim of `kind` holds,
  /// for objects that may share a name (two pools both called "orders" become "orders" and
  /// "orders-2"). The claim's name() is the one taken. Never throws for a taken name.
  [[nodiscard]] name_claim claim_unique_name(std::string_view kind, std::string_view base);

  /// Every family and series with its current value (callbacks sampled now).
  registry_snapshot snapshot() const;

  /// snapshot() in Prometheus text format 0.0.4 (see prometheus.hpp).
  std::string to_prometheus() const;

  /// snapshot() as JSON (see json.hpp).
  std::string to_json() const;

  /// Shards per counter and histogram (after normalising registry_options::shards).
  std::size_t shard_count() const noexcept;

 private:
  callback_handle add_callback(std::string_view name, std::string_view help, metric_type type,
                               const metrics::labels& label_set, std::function<double()> sample);

  std::shared_ptr<detail::registry_state> state_;  // shared with the handles (weakly)
};

}  // namespace weft::metrics
