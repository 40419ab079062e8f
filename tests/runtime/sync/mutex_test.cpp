#include <weft/sync/mutex.hpp>

#include <atomic>
#include <chrono>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/runtime.hpp>
#include <weft/spawn.hpp>
#include <weft/yield.hpp>

using namespace std::chrono_literals;
using weft::task;

TEST_CASE("an async_mutex excludes, and hands the lock to waiters in order", "[sync][mutex]") {
  weft::runtime rt({.workers = 2});
  weft::async_mutex m;
  long counter = 0;  // guarded by m, not atomic: TSan checks the exclusion
  rt.block_on([&]() -> task<void> {
    auto body = [&]() -> task<void> {
      for (int k = 0; k < 1000; ++k) {
        auto guard = co_await m.lock();
        ++counter;
        if (k % 100 == 0) co_await weft::yield();  // hold it across a suspension sometimes
      }
    };
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < 8; ++i) hs.push_back(weft::spawn(body()));
    for (auto& h : hs) co_await h;
  }());
  CHECK(counter == 8000);
  CHECK_FALSE(m.is_locked());
}
