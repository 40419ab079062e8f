#include "weft/metrics/detail/series_owner.hpp"

#include "registry_state.hpp"

namespace weft::metrics::detail {

series_owner::series_owner(series_owner&& other) noexcept
    : state_(std::move(other.state_)),
      family_(std::exchange(other.family_, nullptr)),
      series_(std::exchange(other.series_, nullptr)) {}

series_owner& series_owner::operator=(series_owner&& other) noexcept {
  if (this != &other) {
    reset();  // noexcept here: a re-entrant reset from a callback terminates (see the header)
    state_ = std::move(other.state_);
    family_ = std::exchange(other.family_, nullptr);
    series_ = std::exchange(other.series_, nullptr);
  }
  return *this;
}

series_owner::~series_owner() { reset(); }

void series_owner::reset() {
  if (series_ == nullptr) return;
  // The registry may be gone already; then its series went with it.
  if (const std::shared_ptr<registry_state> state = state_.lock()) remove_series(*state, family_, series_);
  state_.reset();
  family_ = nullptr;
  series_ = nullptr;
}

}  // namespace weft::metrics::detail
