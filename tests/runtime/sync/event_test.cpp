#include <weft/sync/event.hpp>

#include <atomic>
#include <chrono>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/runtime.hpp>
#include <weft/spawn.hpp>
#include <weft/timeout.hpp>
#include <weft/yield.hpp>

using namespace std::chrono_literals;
using weft::task;

TEST_CASE("an event wakes every waiter when set, and lets later waits pass", "[sync][event]") {
  weft::runtime rt({.workers = 2});
  weft::event ev;
  std::atomic<int> woke{0};
  rt.block_on([&]() -> task<void> {
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < 10; ++i)
      hs.push_back(weft::spawn([](weft::event& e, std::atomic<int>& n) -> task<void> {
        co_await e.wait();
        n.fetch_add(1);
      }(ev, woke)));
    co_await weft::yield();
    ev.set();
    for (auto& h : hs) co_await h;
    co_await ev.wait();  // already set: passes
    ev.reset();
    CHECK_FALSE(ev.is_set());
  }());
  CHECK(woke.load() == 10);
}

TEST_CASE("a task waiting on an event that is never set is woken by its cancellation", "[sync][event][cancel]") {
  weft::event never;
  weft::runtime rt({.workers = 2});
  CHECK_THROWS_AS(rt.block_on(weft::with_timeout(5ms, [&]() -> task<void> { co_await never.wait(); }())),
                  weft::timeout_error);
  never.set();  // nobody is left waiting: must not touch a dead frame
}
