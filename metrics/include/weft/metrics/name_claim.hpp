// weft::metrics::name_claim: reserves a name in a registry for one live object while it lives.
#pragma once

#include <memory>
#include <string>
#include <utility>

namespace weft::metrics {

namespace detail {
struct registry_state;
}

/// A name held in a registry for one object of a kind (registry::claim_name,
/// registry::claim_unique_name). Objects that export series labelled by their name (a runtime,
/// a job pool, a named channel) claim it first, so two live ones of a kind cannot feed the same
/// series: the second is told so at construction, by name, instead of failing deep inside
/// callback registration. The claim lasts until the handle is destroyed, reset() or
/// move-assigned over; then the name is free for the next object.
///
/// Either order of destruction is safe: a claim that outlives its registry keeps its name() and
/// does nothing when it is reset or destroyed.
///
/// Thread safety: one claim must not be used by two threads at once (like std::unique_ptr);
/// different claims may be made and released concurrently (under the registry's lock).
/// Releasing a claim from inside a callback of the same registry would deadlock, so it throws
/// std::logic_error instead (std::terminate from the destructor).
class [[nodiscard]] name_claim {
 public:
  /// An empty claim that holds nothing.
  name_claim() noexcept = default;

  name_claim(name_claim&& other) noexcept;
  /// Releases the name this claim held, then takes over `other`'s.
  name_claim& operator=(name_claim&& other) noexcept;
  name_claim(const name_claim&) = delete;
  name_claim& operator=(const name_claim&) = delete;

  /// Releases the name (see reset()).
  ~name_claim();

  /// The name held; empty for an empty claim.
  const std::string& name() const noexcept { return name_; }

  /// The kind the name is held for ("pool", "runtime"); empty for an empty claim.
  const std::string& kind() const noexcept { return kind_; }

  /// Releases the name now; afterwards the claim is empty. No-op on an empty claim; once the
  /// registry is gone it only empties the claim.
  void reset();

  /// True while the claim holds a name.
  explicit operator bool() const noexcept { return held_; }

 private:
  friend class registry;
  name_claim(std::weak_ptr<detail::registry_state> state, std::string kind, std::string name) noexcept
      : state_(std::move(state)), kind_(std::move(kind)), name_(std::move(name)), held_(true) {}

  std::weak_ptr<detail::registry_state> state_;
  std::string kind_;
  std::string name_;
  bool held_ = false;
};

}  // namespace weft::metrics
