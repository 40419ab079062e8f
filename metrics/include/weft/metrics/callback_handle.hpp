// weft::metrics::callback_handle: keeps a callback-sampled series registered while it lives.
#pragma once

#include <utility>

#include "weft/metrics/detail/series_owner.hpp"

namespace weft::metrics {

/// Owns one callback series (registry::gauge_callback / registry::counter_callback): while the
/// handle lives, every collection calls the callback; destroying the handle, reset(), or
/// move-assigning over it removes the series (and its family, if that was the family's last
/// series). Once removal returns, no collection calls the callback again and none is still
/// inside it, so whatever the callback reads may be destroyed right after. That is what lets a
/// runtime bind its per-worker stats into a registry that outlives it.
///
/// Either order of destruction is safe: a handle that outlives its registry just does nothing
/// when it is reset or destroyed.
///
/// Thread safety: one handle must not be used by two threads at once (like std::unique_ptr);
/// different handles, and removal concurrent with collection on other threads, are safe.
/// Removal waits for a collection in progress to finish. Destroying or resetting a handle from
/// inside a callback of the same registry would deadlock, so it throws std::logic_error instead
/// (std::terminate from the destructor).
class [[nodiscard]] callback_handle {
 public:
  /// An empty handle that owns nothing.
  callback_handle() noexcept = default;

  callback_handle(callback_handle&& other) noexcept = default;
  /// Removes the series this handle owned, then takes over `other`'s.
  callback_handle& operator=(callback_handle&& other) noexcept = default;
  callback_handle(const callback_handle&) = delete;
  callback_handle& operator=(const callback_handle&) = delete;

  /// Removes the series (see reset()).
  ~callback_handle() = default;

  /// Removes the series now; afterwards the handle is empty. Blocks while a collection of the
  /// registry is in progress (collections take the registry's lock). No-op on an empty handle
  /// or once the registry is gone.
  void reset() { owner_.reset(); }

  /// True while the handle owns a series.
  explicit operator bool() const noexcept { return static_cast<bool>(owner_); }

 private:
  friend class registry;
  explicit callback_handle(detail::series_owner owner) noexcept : owner_(std::move(owner)) {}

  detail::series_owner owner_;
};

}  // namespace weft::metrics
