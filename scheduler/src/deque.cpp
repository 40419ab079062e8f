#include <weft/sched/deque.hpp>

#include <bit>

namespace weft::sched {

deque::deque(std::size_t capacity)
    : mask_(std::bit_ceil(capacity < 2 ? std::size_t{2} : capacity) - 1), slots_(new std::atomic<job*>[mask_ + 1]) {
  for (std::size_t i = 0; i <= mask_; ++i) slots_[i].store(nullptr, std::memory_order_relaxed);
}

}  // namespace weft::sched
