// weft::sched::parker: one futex word; a notification is never lost (parker.hpp).
#include <weft/sched/parker.hpp>

#include <atomic>
#include <thread>

#include <catch2/catch.hpp>

using weft::sched::now_ns;
using weft::sched::parker;

TEST_CASE("an unpark that comes before park makes park return at once", "[parker]") {
  parker p;
  p.unpark();
  p.park(std::nullopt);  // would sleep forever if the notification were lost
  SUCCEED("park returned");
  // The notification was consumed: a deadline in the past returns too (nothing else would).
  p.park(now_ns() - 1);
  CHECK(true);
}

TEST_CASE("unpark from another thread wakes a parked thread", "[parker]") {
  for (int round = 0; round < 1000; ++round) {
    parker p;
    std::atomic<bool> woke{false};
    std::thread sleeper([&] {
      p.park(std::nullopt);
      woke.store(true);
    });
    p.unpark();  // before or after the sleeper parks: either way it wakes
    sleeper.join();
    CHECK(woke.load());
  }
}

TEST_CASE("a parked thread with a deadline returns once it passed, without an unpark", "[parker]") {
  parker p;
  const std::int64_t deadline = now_ns() + 2'000'000;
  // Spurious returns are allowed: park until the deadline is really behind us.
  while (now_ns() < deadline) p.park(deadline);
  CHECK(now_ns() >= deadline);
}
