#include <weft/sched/idle.hpp>

#include <algorithm>

namespace weft::sched {

idle_set::idle_set(std::size_t active, std::size_t slots)
    : active_(active), state_(active * unparked_one), parked_(slots, false) {
  sleepers_.reserve(slots);
}

void idle_set::add_active() noexcept {
  active_.fetch_add(1, std::memory_order_relaxed);
  state_.fetch_add(unparked_one, std::memory_order_seq_cst);
}

void idle_set::remove_active() noexcept {
  state_.fetch_sub(unparked_one, std::memory_order_seq_cst);
  active_.fetch_sub(1, std::memory_order_relaxed);
}

std::optional<std::size_t> idle_set::worker_to_notify() {
  if (!notify_should_wakeup()) return std::nullopt;
  std::lock_guard lock(mu_);
  // Re-check under the lock: another notifier may have woken someone meanwhile.
  if (!notify_should_wakeup() || sleepers_.empty()) return std::nullopt;
  // seq_cst RMW: pairs with the seq_cst load in notify_should_wakeup() on other threads.
  state_.fetch_add(searching_one + unparked_one, std::memory_order_seq_cst);
  std::size_t w = sleepers_.back();
  sleepers_.pop_back();
  parked_[w] = false;
  return w;
}

bool idle_set::transition_to_searching() noexcept {
  auto s = state_.load(std::memory_order_seq_cst);
  if (2 * searching(s) >= active_.load(std::memory_order_relaxed)) return false;
  state_.fetch_add(searching_one, std::memory_order_seq_cst);
  return true;
}

bool idle_set::transition_from_searching() noexcept {
  auto prev = state_.fetch_sub(searching_one, std::memory_order_seq_cst);
  return searching(prev) == 1;
}

bool idle_set::transition_to_parked(std::size_t index, bool is_searching) {
  std::lock_guard lock(mu_);
  std::uint64_t dec = unparked_one + (is_searching ? searching_one : 0);
  // seq_cst RMW: the parker's half of the Dekker pair with notify_should_wakeup() (barrier.hpp).
  auto prev = state_.fetch_sub(dec, std::memory_order_seq_cst);
  sleepers_.push_back(index);
  parked_[index] = true;
  return is_searching && searching(prev) == 1;
}

bool idle_set::unpark_self(std::size_t index) {
  std::lock_guard lock(mu_);
  if (!parked_[index]) return false;
  parked_[index] = false;
  sleepers_.erase(std::find(sleepers_.begin(), sleepers_.end(), index));
  state_.fetch_add(unparked_one, std::memory_order_seq_cst);
  return true;
}

bool idle_set::is_parked(std::size_t index) {
  std::lock_guard lock(mu_);
  return parked_[index];
}

std::vector<std::size_t> idle_set::sleepers() {
  std::lock_guard lock(mu_);
  return sleepers_;
}

}  // namespace weft::sched
