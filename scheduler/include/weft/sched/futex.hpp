#pragma once
// weft::sched futex helpers: the kernel's wait-on-address, used by the parker and by threads
// blocked in the runtime (block_on). Waking an address whose memory has since been freed is
// harmless (the kernel finds no waiter), which is why waiters that live on a stack use these
// rather than std::atomic::notify_one.

#include <atomic>
#include <cstdint>
#include <optional>

namespace weft::sched {

/// Sleeps while `*word == expected`, until woken or until `deadline_ns` (steady clock) passes.
/// May return spuriously.
void futex_wait(std::atomic<std::uint32_t>* word, std::uint32_t expected,
                std::optional<std::int64_t> deadline_ns = std::nullopt) noexcept;
/// Wakes up to `count` threads sleeping on `word`.
void futex_wake(std::atomic<std::uint32_t>* word, int count = 1) noexcept;

}  // namespace weft::sched
