#include <weft/sched/futex.hpp>

#include <ctime>

#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace weft::sched {

// FUTEX_WAIT_BITSET takes an absolute CLOCK_MONOTONIC deadline, the same clock as
// std::chrono::steady_clock on Linux, so a spurious wake-up never stretches the total wait.
void futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected,
                std::optional<std::int64_t> deadline_ns) noexcept {
  timespec ts{};
  timespec* tsp = nullptr;
  if (deadline_ns) {
    ts.tv_sec = static_cast<time_t>(*deadline_ns / 1'000'000'000);
    ts.tv_nsec = static_cast<long>(*deadline_ns % 1'000'000'000);
    tsp = &ts;
  }
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAIT_BITSET_PRIVATE, expected, tsp, nullptr,
          FUTEX_BITSET_MATCH_ANY);
}

void futex_wake(std::atomic<std::uint32_t>* word, int count) noexcept {
  syscall(SYS_futex, reinterpret_cast<std::uint32_t*>(word), FUTEX_WAKE_PRIVATE, count, nullptr, nullptr, 0);
}

}  // namespace weft::sched
