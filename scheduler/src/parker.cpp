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

void parker::unpark() noexcept {
  // release: pairs with park()'s acquire (see there).
  if (state_.exchange(notified, std::memory_order_release) == parked) futex_wake(&state_, 1);
}

}  // namespace weft::sched
