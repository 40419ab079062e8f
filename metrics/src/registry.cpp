#include "weft/metrics/registry.hpp"

#include <stdexcept>
#include <string>
#include <utility>

#include "registry_state.hpp"
#include "text.hpp"
#include "weft/metrics/detail/name_check.hpp"
#include "weft/metrics/json.hpp"
#include "weft/metrics/prometheus.hpp"

namespace weft::metrics {

namespace detail {
namespace {

// The registry whose collection this thread is running, if any. A callback that calls back into
// that registry would lock its mutex a second time (undefined behaviour, in practice deadlock);
// with this we throw std::logic_error instead.
thread_local const registry_state* collecting_state = nullptr;

void check_not_collecting(const registry_state& state, std::string_view what) {
  if (collecting_state == &state)
    throw std::logic_error(cat({"weft::metrics: ", what,
                                " was called from a callback of the registry being collected; "
                                "callbacks must not call into their own registry"}));
}

class collecting_scope {
 public:
  explicit collecting_scope(const registry_state& state) noexcept : saved_(collecting_state) {
    collecting_state = &state;
  }
  ~collecting_scope() { collecting_state = saved_; }
  collecting_scope(const collecting_scope&) = delete;
  collecting_scope& operator=(const collecting_scope&) = delete;

 private:
  const registry_state* saved_;
};

std::string list(const std::vector<std::string>& keys) {
  std::string s = "{";
  for (std::size_t i = 0; i < keys.size(); ++i) {
    if (i) s += ", ";
    s += keys[i];
  }
  s += '}';
  return s;
}

std::string list(const std::vector<double>& bounds) {
  std::string s = "{";
  for (std::size_t i = 0; i < bounds.size(); ++i) {
    if (i) s += ", ";
    append_number(s, bounds[i]);
  }
  s += '}';
  return s;
}

// A registration's label keys and values, checked.
struct checked_labels {
  std::vector<std::string> keys;  // sorted, because labels keeps its pairs sorted by key
  series_key values;
};

checked_labels check_registration(std::string_view name, std::string_view help, const labels& label_set) {
  check_metric_name(name);
  check_help(name, help);
  checked_labels out;
  for (const auto& [key, value] : label_set) {
    check_label_name(name, key);
    check_label_value(name, key, value);
    if (!out.keys.empty() && out.keys.back() == key)
      throw std::invalid_argument(
          cat({"weft::metrics: label ", quoted(key), " appears twice in metric ", quoted(name)}));
    out.keys.push_back(key);
    out.values.push_back(value);
  }
  return out;
}

// A histogram `h` also exposes h_bucket, h_sum and h_count; no other family may take those names.
void check_suffix_clash(const registry_state& state, std::string_view name, metric_type type) {
  static constexpr std::string_view suffixes[] = {"_bucket", "_sum", "_count"};
  for (const std::string_view suffix : suffixes) {
    if (type == metric_type::histogram) {
      const auto other = state.families.find(cat({name, suffix}));
      if (other != state.families.end())
        throw std::invalid_argument(
            cat({"weft::metrics: histogram ", quoted(name), " would expose ", quoted(other->first),
                 ", which is already registered as a ", to_string(other->second.type)}));
    }
    if (name.ends_with(suffix)) {
      const auto base = state.families.find(name.substr(0, name.size() - suffix.size()));
      if (base != state.families.end() && base->second.type == metric_type::histogram)
        throw std::invalid_argument(cat({"weft::metrics: metric ", quoted(name), " clashes with the ", quoted(suffix),
                                         " series of histogram ", quoted(base->first)}));
    }
  }
}

void check_compatible(const family_node& family, std::string_view help, metric_type type, const checked_labels& checked,
                      const std::vector<double>* bounds) {
  const std::string prefix = cat({"weft::metrics: metric ", quoted(family.name), " is already registered "});
  if (family.type != type)
    throw std::invalid_argument(
        cat({prefix, "as a ", to_string(family.type), "; it cannot also be registered as a ", to_string(type)}));
  if (family.label_keys != checked.keys)
    throw std::invalid_argument(cat({prefix, "with label keys ", list(family.label_keys),
                                     "; it cannot be registered with label keys ", list(checked.keys)}));
  if (family.help != help)
    throw std::invalid_argument(cat(
        {prefix, "with help text ", quoted(family.help), "; it cannot be registered with help text ", quoted(help)}));
  if (bounds != nullptr && family.bounds != *bounds)
    throw std::invalid_argument(
        cat({prefix, "with buckets ", list(family.bounds), "; it cannot be registered with buckets ", list(*bounds)}));
}

// What a registration asks for: the shared plain series (counter(), ...), a series of its own
// (owned_counter(), ...), or a callback series (gauge_callback(), ...).
enum class series_kind { plain, owned, callback };

// Why a registration of an existing series fails; empty when it may share it. Only a plain
// series is shared, and only with plain registrations: an owned or callback series belongs to
// its handle, and a plain one is never handed to a handle that would remove it.
std::string conflict(const series_node& existing, series_kind kind, std::string_view name, const labels& label_set,
                     metric_type type) {
  const bool has_callback = static_cast<bool>(existing.sample);
  if (kind == series_kind::plain && !existing.owned_by_handle && !has_callback) return {};
  const std::string which = cat({"weft::metrics: series ", describe_series(name, label_set)});
  if (existing.owned_by_handle)
    return cat({which, " is owned by another live object (an owned<", to_string(type),
                ">); it can be registered again once that handle is gone"});
  if (kind == series_kind::plain)
    return cat({which, " is already registered with a callback; it cannot also be a plain ", to_string(type)});
  if (kind == series_kind::owned)
    return has_callback
               ? cat({which, " is already registered with a callback; it cannot also be an owned ", to_string(type)})
               : cat({which, " is already registered as a plain ", to_string(type),
                      ", which lives as long as the registry; it cannot be owned"});
  return has_callback
             ? cat({which, " already has a callback; reset its callback_handle first"})
             : cat({which, " is already registered as a plain ", to_string(type), "; a callback cannot replace it"});
}

// Finds the series (name, labels) or creates it with `fill`, under the registry's lock. Leaves
// the maps unchanged when it throws.
template <class Fill>
std::pair<family_node*, series_node*> obtain(registry_state& state, std::string_view name, std::string_view help,
                                             metric_type type, const labels& label_set,
                                             const std::vector<double>* bounds, series_kind kind, Fill fill) {
  const checked_labels checked = check_registration(name, help, label_set);
  std::lock_guard lock(state.mutex);

  auto family_at = state.families.find(name);
  const bool new_family = family_at == state.families.end();
  if (new_family)
    check_suffix_clash(state, name, type);
  else
    check_compatible(family_at->second, help, type, checked, bounds);

  if (!new_family) {
    family_node& family = family_at->second;
    if (const auto found = family.series.find(checked.values); found != family.series.end()) {
      series_node& series = found->second;
      if (std::string error = conflict(series, kind, name, label_set, type); !error.empty())
        throw std::invalid_argument(std::move(error));
      return {&family, &series};
    }
  }

  if (new_family) {
    family_node fresh;
    fresh.name = std::string(name);
    fresh.help = std::string(help);
    fresh.type = type;
    fresh.label_keys = checked.keys;
    if (bounds != nullptr) fresh.bounds = *bounds;
    family_at = state.families.emplace(std::string(name), std::move(fresh)).first;
  }
  family_node& family = family_at->second;
  try {
    const auto series_at = family.series.try_emplace(checked.values).first;
    try {
      series_node& series = series_at->second;
      series.label_set = label_set;
      series.key = &series_at->first;
      series.owned_by_handle = kind == series_kind::owned;
      fill(series);
      return {&family, &series};
    } catch (...) {
      family.series.erase(series_at);
      throw;
    }
  } catch (...) {
    if (new_family) state.families.erase(family_at);
    throw;
  }
}

// The series makers, one per type, for both the plain and the owned registrations.
std::pair<family_node*, series_node*> obtain_counter(registry_state& state, std::string_view name,
                                                     std::string_view help, const labels& label_set, series_kind kind) {
  const std::size_t shards = state.shards;
  return obtain(state, name, help, metric_type::counter, label_set, nullptr, kind,
                [shards](series_node& s) { s.counter_cell = std::make_shared<metrics::counter>(shards); });
}

std::pair<family_node*, series_node*> obtain_gauge(registry_state& state, std::string_view name, std::string_view help,
                                                   const labels& label_set, series_kind kind) {
  return obtain(state, name, help, metric_type::gauge, label_set, nullptr, kind,
                [](series_node& s) { s.gauge_cell = std::make_shared<metrics::gauge>(); });
}

std::pair<family_node*, series_node*> obtain_histogram(registry_state& state, std::string_view name,
                                                       std::string_view help, const bucket_layout& layout,
                                                       const labels& label_set, series_kind kind) {
  const std::size_t shards = state.shards;
  return obtain(
      state, name, help, metric_type::histogram, label_set, &layout.bounds(), kind,
      [&layout, shards](series_node& s) { s.histogram_cell = std::make_shared<metrics::histogram>(layout, shards); });
}

// Whether no live claim holds `name` for `kind`. The caller holds state.mutex.
bool name_is_free(const registry_state& state, std::string_view kind, std::string_view name) {
  const auto names = state.claimed_names.find(kind);
  return names == state.claimed_names.end() || !names->second.contains(name);
}

// Records a claim of a free name. The caller holds state.mutex.
void record_claim(registry_state& state, std::string_view kind, const std::string& name) {
  auto names = state.claimed_names.find(kind);
  if (names == state.claimed_names.end()) names = state.claimed_names.try_emplace(std::string(kind)).first;
  names->second.insert(name);
}

}  // namespace

void remove_series(registry_state& state, family_node* family, series_node* series) {
  // owned_by_handle is never written after creation, so reading it without the lock is safe.
  check_not_collecting(state, series->owned_by_handle ? "owned::reset" : "callback_handle::reset");
  std::lock_guard lock(state.mutex);
  family->series.erase(family->series.find(*series->key));
  if (family->series.empty()) state.families.erase(state.families.find(family->name));
}

void release_name(registry_state& state, std::string_view kind, std::string_view name) {
  check_not_collecting(state, "name_claim::reset");
  std::lock_guard lock(state.mutex);
  const auto names = state.claimed_names.find(kind);
  names->second.erase(names->second.find(name));
  if (names->second.empty()) state.claimed_names.erase(names);
}

}  // namespace detail

registry::registry() : registry(registry_options{}) {}

registry::registry(registry_options options)
    : state_(std::make_shared<detail::registry_state>(detail::normalize_shard_count(options.shards))) {}

registry::~registry() = default;

std::size_t registry::shard_count() const noexcept { return state_->shards; }

metrics::counter& registry::counter(std::string_view name, std::string_view help, const metrics::labels& label_set) {
  detail::check_not_collecting(*state_, "registry::counter");
  return *detail::obtain_counter(*state_, name, help, label_set, detail::series_kind::plain).second->counter_cell;
}

metrics::gauge& registry::gauge(std::string_view name, std::string_view help, const metrics::labels& label_set) {
  detail::check_not_collecting(*state_, "registry::gauge");
  return *detail::obtain_gauge(*state_, name, help, label_set, detail::series_kind::plain).second->gauge_cell;
}

metrics::histogram& registry::histogram(std::string_view name, std::string_view help, const bucket_layout& layout,
                                        const metrics::labels& label_set) {
  detail::check_not_collecting(*state_, "registry::histogram");
  return *detail::obtain_histogram(*state_, name, help, layout, label_set, detail::series_kind::plain)
              .second->histogram_cell;
}

owned<metrics::counter> registry::owned_counter(std::string_view name, std::string_view help,
                                                const metrics::labels& label_set) {
  detail::check_not_collecting(*state_, "registry::owned_counter");
  auto [family, series] = detail::obtain_counter(*state_, name, help, label_set, detail::series_kind::owned);
  return owned<metrics::counter>(detail::series_owner(state_, family, series), series->counter_cell);
}

owned<metrics::gauge> registry::owned_gauge(std::string_view name, std::string_view help,
                                            const metrics::labels& label_set) {
  detail::check_not_collecting(*state_, "registry::owned_gauge");
  auto [family, series] = detail::obtain_gauge(*state_, name, help, label_set, detail::series_kind::owned);
  return owned<metrics::gauge>(detail::series_owner(state_, family, series), series->gauge_cell);
}

owned<metrics::histogram> registry::owned_histogram(std::string_view name, std::string_view help,
                                                    const bucket_layout& layout, const metrics::labels& label_set) {
  detail::check_not_collecting(*state_, "registry::owned_histogram");
  auto [family, series] = detail::obtain_histogram(*state_, name, help, layout, label_set, detail::series_kind::owned);
  return owned<metrics::histogram>(detail::series_owner(state_, family, series), series->histogram_cell);
}

callback_handle registry::add_callback(std::string_view name, std::string_view help, metric_type type,
                                       const metrics::labels& label_set, std::function<double()> sample) {
  detail::check_not_collecting(*state_,
                               type == metric_type::gauge ? "registry::gauge_callback" : "registry::counter_callback");
  if (!sample)
    throw std::invalid_argument(
        detail::cat({"weft::metrics: the callback for metric ", detail::quoted(name), " is empty"}));
  auto [family, series] = detail::obtain(*state_, name, help, type, label_set, nullptr, detail::series_kind::callback,
                                         [&sample](detail::series_node& s) { s.sample = std::move(sample); });
  return callback_handle(detail::series_owner(state_, family, series));
}

callback_handle registry::gauge_callback(std::string_view name, std::string_view help, const metrics::labels& label_set,
                                         std::function<double()> sample) {
  return add_callback(name, help, metric_type::gauge, label_set, std::move(sample));
}

callback_handle registry::gauge_callback(std::string_view name, std::string_view help, std::function<double()> sample) {
  return add_callback(name, help, metric_type::gauge, {}, std::move(sample));
}

callback_handle registry::counter_callback(std::string_view name, std::string_view help,
                                           const metrics::labels& label_set, std::function<double()> sample) {
  return add_callback(name, help, metric_type::counter, label_set, std::move(sample));
}

callback_handle registry::counter_callback(std::string_view name, std::string_view help,
                                           std::function<double()> sample) {
  return add_callback(name, help, metric_type::counter, {}, std::move(sample));
}

name_claim registry::claim_name(std::string_view kind, std::string_view name) {
  detail::check_not_collecting(*state_, "registry::claim_name");
  std::string owned_kind(kind), owned_name(name);  // allocated before the claim is recorded
  std::lock_guard lock(state_->mutex);
  if (!detail::name_is_free(*state_, kind, name))
    throw std::invalid_argument(detail::cat({"weft::metrics: another live ", kind, " named ", detail::quoted(name),
                                             " already reports to this registry; give this one another name"}));
  detail::record_claim(*state_, kind, owned_name);
  return name_claim(state_, std::move(owned_kind), std::move(owned_name));
}

name_claim registry::claim_unique_name(std::string_view kind, std::string_view base) {
  detail::check_not_collecting(*state_, "registry::claim_unique_name");
  std::string owned_kind(kind), name(base);
  std::lock_guard lock(state_->mutex);
  // Each taken candidate is a live claim of this kind, so this stops within claims + 1 tries.
  for (std::size_t n = 2; !detail::name_is_free(*state_, kind, name); ++n)
    name = detail::cat({base, "-", std::to_string(n)});
  detail::record_claim(*state_, kind, name);
  return name_claim(state_, std::move(owned_kind), std::move(name));
}

registry_snapshot registry::snapshot() const {
  detail::check_not_collecting(*state_, "registry::snapshot");
  registry_snapshot snap;
  std::lock_guard lock(state_->mutex);
  const detail::collecting_scope scope(*state_);
  snap.families.reserve(state_->families.size());
  for (const auto& [name, family] : state_->families) {
    family_snapshot& out = snap.families.emplace_back();
    out.name = name;
    out.help = family.help;
    out.type = family.type;
    out.series.reserve(family.series.size());
    for (const auto& [key, series] : family.series) {
      series_snapshot& s = out.series.emplace_back();
      s.labels = series.label_set;
      if (series.sample)
        s.value = series.sample();
      else if (series.counter_cell)
        s.value = static_cast<double>(series.counter_cell->value());
      else if (series.gauge_cell)
        s.value = series.gauge_cell->value();
      else
        s.histogram = series.histogram_cell->collect();
    }
  }
  return snap;
}

std::string registry::to_prometheus() const { return metrics::to_prometheus(snapshot()); }

std::string registry::to_json() const { return metrics::to_json(snapshot()); }

}  // namespace weft::metrics
