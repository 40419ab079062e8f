#include <weft/sched/futex.hpp>
#include <weft/sched/parker.hpp>

namespace weft::sched {

void parker::park(std::optional<std::int64_t> deadline_ns) noexcept {
  // acquire on both exits: pairs with unpark()'s release exchange, so whatever the unparker
  // wrote before notifying is visible once park() returns.
  std::uint32_t s = empty;
  if (!state_.compare_exchange_strong(s, parked, std::memory_order_acquire)) {
    state_.exchange(empty, std::memory_order_acquire);  // consume `notified`
    return;
  }
  if (!deadline_ns || *deadline_ns > now_ns()) futex_wait(&state_, parked, deadline_ns);
  // Woken, timed out or spurious: back to empty, consuming a notification if there is one.
  state_.exchange(empty, std::memory_order_acquire);
}

void parker::park_in(park_driver& driver, std::optional<std::int64_t> deadline_ns) noexcept {
  std::uint32_t s = empty;
  if (!state_.compare_exchange_strong(s, parked, std::memory_order_acquire)) {
    state_.exchange(empty, std::memory_order_acquire);  // consume `notified`
    return;
  }
  driver_.store(&driver, std::memory_order_seq_cst);
  // An unpark that came before the store above found no driver to interrupt: it left
  // `notified`, which this load sees (seq_cst on both sides, see the header).
  if (state_.load(std::memory_order_seq_cst) == parked && (!deadline_ns || *deadline_ns > now_ns()))
    driver.wait(deadline_ns);
  driver_.store(nullptr, std::memory_order_seq_cst);
  state_.exchange(empty, std::memory_order_acquire);
}

void parker::unpark() noexcept {
  // release: pairs with park()'s acquire (see there). seq_cst: with park_in's store of driver_.
  if (state_.exchange(notified, std::memory_order_seq_cst) == parked) {
    futex_wake(&state_, 1);
    // A stale driver (its wait already over) only makes its next wait return at once.
    if (park_driver* d = driver_.load(std::memory_order_seq_cst)) d->interrupt();
  }
}

}  // namespace weft::sched
