// short_mutex (sync/detail/waiter.hpp), the lock under every sync primitive: its unlock is a
// plain store, fenced asymmetrically against a locker about to sleep. These tests drive lockers
// past their spin into the futex, so that unlocks race with them, and destroy a mutex right after
// the unlock that let its destroyer in (ASan checks that the unlocker reads nothing after it).
#include <weft/sync/detail/waiter.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/sched/spin.hpp>

using weft::detail::short_mutex;

namespace {
// Holds the lock long enough (a few microseconds) for a contender to give up spinning and sleep.
void hold_for(int pauses) {
  for (int i = 0; i < pauses; ++i) {
    weft::sched::spin_pause();
  }
}
}  // namespace

TEST_CASE("a short_mutex excludes, and no locker sleeps through the unlock it waits for",
          "[sync][short_mutex][stress]") {
  // First, for certain, the slow path: a locker asleep in the futex while the lock is held, then
  // woken by the unlock (whether the stress below puts lockers to sleep depends on how the
  // machine schedules its threads: under load it may not).
  {
    short_mutex mu;
    mu.lock();
    std::thread sleeper([&] {
      mu.lock();
      mu.unlock();
    });
    while (weft::detail::short_mutex_sleepers.load() == 0) std::this_thread::yield();
    mu.unlock();
    sleeper.join();
    CHECK(weft::detail::short_mutex_sleepers.load() == 0);
  }
  // Two and four threads: with two, a lost wake-up leaves the last sleeper asleep for good (the
  // test hangs); with four, the unlocks interleave with more sleepers at once.
  for (int threads : {2, 4}) {
    short_mutex mu;
    long counter = 0;  // guarded by mu, not atomic: TSan checks the exclusion
    constexpr int rounds = 20'000;
    std::vector<std::thread> ts;
    for (int t = 0; t < threads; ++t)
      ts.emplace_back([&, t] {
        for (int i = 0; i < rounds; ++i) {
          mu.lock();
          ++counter;
          // Now and then a long hold, so the others sleep; otherwise short, so that unlocks
          // land at every point of a contender's way to sleep.
          hold_for((i + t) % 16 == 0 ? 4000 : (i * 7 + t) % 64);
          mu.unlock();
        }
      });
    for (auto& t : ts) t.join();
    CHECK(counter == static_cast<long>(threads) * rounds);
    CHECK(weft::detail::short_mutex_sleepers.load() == 0);  // every sleeper left
  }
}

TEST_CASE("a short_mutex unlocked once wakes the locker on its way to sleep, which may then destroy it",
          "[sync][short_mutex][lifecycle]") {
  // Round after round, a fresh mutex: the holder unlocks it once, after a hold that sweeps
  // across the other thread's spin and its way into the futex, and never touches it again; the
  // other thread locks it (spinning, or asleep), unlocks and deletes it. A lost wake-up leaves
  // it asleep for good (the test hangs); a read of the mutex after the unlocking store is a read
  // of freed memory (ASan). A wake-up of a freed futex word is harmless.
  std::atomic<short_mutex*> handed{nullptr};
  std::atomic<int> round_done{-1};
  constexpr int rounds = 100'000;
  std::thread next([&] {
    for (int r = 0; r < rounds; ++r) {
      short_mutex* mu;
      while (!(mu = handed.load(std::memory_order_acquire))) {
      }
      handed.store(nullptr, std::memory_order_relaxed);
      mu->lock();
      mu->unlock();
      delete mu;
      round_done.store(r, std::memory_order_release);
    }
  });
  for (int r = 0; r < rounds; ++r) {
    auto* mu = new short_mutex;
    mu->lock();
    handed.store(mu, std::memory_order_release);
    hold_for(r % 512);
    mu->unlock();
    while (round_done.load(std::memory_order_acquire) != r) {
    }
  }
  next.join();
  CHECK(weft::detail::short_mutex_sleepers.load() == 0);
}
