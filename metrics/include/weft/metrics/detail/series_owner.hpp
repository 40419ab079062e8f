// weft::metrics::detail::series_owner: the removal half of callback_handle and owned<Metric>.
//
// A series that an object owns (a callback series, or a plain series made by owned_counter,
// owned_gauge or owned_histogram) is erased from its registry when its owner goes. This class is
// that owner: a weak reference to the registry's state and the family and series nodes to erase.
// std::map nodes never move, so the raw pointers stay valid until this owner erases the series
// or the registry's state dies with every node in it; the weak_ptr tells the two apart, so an
// owner that outlives its registry finds nothing to erase.
//
// Removal takes the registry's mutex, so it waits for a collection in progress and no collection
// sees the series afterwards. Removal from inside a callback of the same registry would lock
// that mutex twice; it throws std::logic_error instead (std::terminate from the destructor and
// from move assignment, which are noexcept).
//
// Thread safety: one owner must not be used by two threads at once; different owners may remove
// their series concurrently with each other and with collections.
#pragma once

#include <memory>
#include <utility>

namespace weft::metrics::detail {

struct registry_state;
struct family_node;
struct series_node;

class series_owner {
 public:
  /// Owns nothing.
  series_owner() noexcept = default;

  /// Owns `series` of `family` in `state` (the registry made them under its lock).
  series_owner(std::weak_ptr<registry_state> state, family_node* family, series_node* series) noexcept
      : state_(std::move(state)), family_(family), series_(series) {}

  series_owner(series_owner&& other) noexcept;
  /// Removes the series this owner held, then takes over `other`'s.
  series_owner& operator=(series_owner&& other) noexcept;
  series_owner(const series_owner&) = delete;
  series_owner& operator=(const series_owner&) = delete;

  /// Removes the series (see reset()).
  ~series_owner();

  /// Erases the series (and its family if it was the last series) now; afterwards this owns
  /// nothing. No-op when it owns nothing; once the registry is gone it only forgets the series.
  void reset();

  /// True while this owns a series.
  explicit operator bool() const noexcept { return series_ != nullptr; }

 private:
  std::weak_ptr<registry_state> state_;
  family_node* family_ = nullptr;
  series_node* series_ = nullptr;
};

}  // namespace weft::metrics::detail
