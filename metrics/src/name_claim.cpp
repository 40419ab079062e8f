#include "weft/metrics/name_claim.hpp"

#include <utility>

#include "registry_state.hpp"

namespace weft::metrics {

name_claim::name_claim(name_claim&& other) noexcept
    : state_(std::move(other.state_)),
      kind_(std::move(other.kind_)),
      name_(std::move(other.name_)),
      held_(std::exchange(other.held_, false)) {
  other.kind_.clear();  // a moved-from string is only "valid but unspecified"
  other.name_.clear();
}

name_claim& name_claim::operator=(name_claim&& other) noexcept {
  if (this != &other) {
    reset();  // noexcept here: a re-entrant reset from a callback terminates (see the header)
    state_ = std::move(other.state_);
    kind_ = std::move(other.kind_);
    name_ = std::move(other.name_);
    held_ = std::exchange(other.held_, false);
    other.kind_.clear();
    other.name_.clear();
  }
  return *this;
}

name_claim::~name_claim() { reset(); }

void name_claim::reset() {
  if (!held_) return;
  // The registry may be gone already; then its claims went with it.
  if (const std::shared_ptr<detail::registry_state> state = state_.lock()) detail::release_name(*state, kind_, name_);
  state_.reset();
  kind_.clear();
  name_.clear();
  held_ = false;
}

}  // namespace weft::metrics
