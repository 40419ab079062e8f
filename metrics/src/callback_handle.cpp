#include "weft/metrics/callback_handle.hpp"

#include "registry_state.hpp"

namespace weft::metrics {

callback_handle::callback_handle(callback_handle&& other) noexcept
    : state_(std::move(other.state_)),
      family_(std::exchange(other.family_, nullptr)),
      series_(std::exchange(other.series_, nullptr)) {}

callback_handle& callback_handle::operator=(callback_handle&& other) noexcept {
  if (this != &other) {
    reset();  // noexcept here: a re-entrant reset from a callback terminates (see the header)
    state_ = std::move(other.state_);
    family_ = std::exchange(other.family_, nullptr);
    series_ = std::exchange(other.series_, nullptr);
  }
  return *this;
}

callback_handle::~callback_handle() { reset(); }

void callback_handle::reset() {
  if (series_ == nullptr)
    return;
  // The registry may be gone already; then its series went with it.
  if (const std::shared_ptr<detail::registry_state> state = state_.lock())
    detail::remove_series(*state, family_, series_);
  state_.reset();
  family_ = nullptr;
  series_ = nullptr;
}

}  // namespace weft::metrics
