#include <weft/sched/barrier.hpp>

#include <cstdlib>
#include <mutex>

#include <linux/membarrier.h>
#include <sys/syscall.h>
#include <unistd.h>

namespace weft::sched {

std::atomic<bool> detail::asymmetric_fences{false};

namespace {
long membarrier(int cmd) noexcept { return syscall(SYS_membarrier, cmd, 0, 0); }
}  // namespace

void init_barriers() noexcept {
  static std::once_flag once;
  std::call_once(once, [] {
    // WEFT_SYMMETRIC_FENCES=1: as on a kernel without membarrier, every light_barrier() a full
    // fence (the tests of that fallback: tests/scheduler/meson.build).
    if (const char* force = std::getenv("WEFT_SYMMETRIC_FENCES"); force && force[0] == '1') return;
    long supported = membarrier(MEMBARRIER_CMD_QUERY);
    if (supported > 0 && (supported & MEMBARRIER_CMD_PRIVATE_EXPEDITED) &&
        membarrier(MEMBARRIER_CMD_REGISTER_PRIVATE_EXPEDITED) == 0)
      detail::asymmetric_fences.store(true, std::memory_order_relaxed);
  });
}

void heavy_barrier() noexcept {
  if (detail::asymmetric_fences.load(std::memory_order_relaxed) && membarrier(MEMBARRIER_CMD_PRIVATE_EXPEDITED) == 0)
    return;
  std::atomic_thread_fence(std::memory_order_seq_cst);
}

}  // namespace weft::sched
