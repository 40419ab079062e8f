// job_pool's series in the runtime's metrics at the end of a pool: they leave the registry
// before the pool's state goes, so a scrape racing the end never reads a destroyed pool.

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include <weft/metrics/registry.hpp>
#include <weft/pool/pool.hpp>
#include <weft/runtime.hpp>
#include <weft/sync/event.hpp>

#include "../../support/watchdog.hpp"
#include "pool_support.hpp"

using namespace std::chrono_literals;
using weft::task;

namespace {

/// Runs `last_act` as it goes. Captured by a processor (by shared_ptr: as the last copy goes), it
/// runs while the pool's state is destroyed, after the state's queue.
struct at_end {
  std::function<void()> last_act;
  ~at_end() { last_act(); }
};

}  // namespace

TEST_CASE("a pool's series leave the registry before anything of the pool's state is destroyed",
          "[pool][lifecycle][metrics]") {
  for (bool stopped : {true, false}) {
    INFO((stopped ? "stopped, then destroyed" : "destroyed without stop()"));
    weft::test::watchdog wd("a pool's series at its end");
    weft::runtime rt({.workers = 2});
    std::atomic<int> gone{0}, still_exported{0};
    {
      auto probe = std::make_shared<at_end>([&] {  // a scrape now would read the destroyed queue
        if (rt.metrics().to_prometheus().find("pool=\"probed\"") != std::string::npos) still_exported.fetch_add(1);
        gone.fetch_add(1);
      });
      weft::job_pool<int> pool(rt, {.name = "probed", .concurrency = 1}, [probe](int) -> task<void> { co_return; });
      probe.reset();  // the processor's copies hold it now
      REQUIRE(pool.try_submit(1) == weft::submit_status::accepted);
      while (pool.stats().processed == 0) std::this_thread::yield();
      REQUIRE(rt.metrics().to_prometheus().find("pool=\"probed\"") != std::string::npos);
      if (stopped) rt.block_on(pool.stop(10s));
    }
    weft::test::wait_pool_name_free(rt.metrics(), "probed");  // the state is gone (the name goes last)
    CHECK(gone.load() == 1);
    CHECK(still_exported.load() == 0);
  }
}

TEST_CASE("metrics scraped again and again while pools run their last job and go never see a pool being destroyed",
          "[pool][lifecycle][metrics][stress]") {
  weft::test::watchdog wd("scrapes racing pools' ends");
  weft::runtime rt({.workers = 2});
  auto& reg = rt.metrics();
  constexpr int rounds = 300;
  std::atomic<int> round{0};
  std::atomic<int> exported_in{-1};  // the last round whose pool a scrape saw
  std::atomic<int> ended{-1};        // the last round whose pool's state began to go
  std::atomic<int> late{0};          // scrapes that saw a pool after that
  std::atomic<bool> done{false};
  std::thread scraper([&] {
    while (!done.load()) {
      const int r = round.load(), gone = ended.load();  // both before the scrape
      const bool exported = reg.to_prometheus().find("pool=\"scraped\"") != std::string::npos;
      if (!exported || round.load() != r) continue;  // (not this round's pool, or maybe the next one's)
      exported_in.store(r);
      if (gone == r) late.fetch_add(1);
    }
  });
  int processed = 0;
  for (int r = 0; r < rounds; ++r) {
    INFO("round " << r);
    round.store(r);
    weft::event gate;
    std::optional<weft::job_pool<int>> pool;
    pool.emplace(rt, weft::pool_options{.name = "scraped", .concurrency = 1},
                 [&gate, end = std::make_shared<at_end>([&ended, r] { ended.store(r); })](int) -> task<void> {
                   co_await gate.wait();
                 });
    REQUIRE(pool->try_submit(r) == weft::submit_status::accepted);
    while (exported_in.load() < r) std::this_thread::yield();  // the scraper is at work on this pool
    switch (r % 3) {
      case 0:  // its last job done, stopped, destroyed
        gate.set();
        rt.block_on(pool->stop(10s));
        processed += pool->stats().processed == 1;
        break;
      case 1:  // its last job done, destroyed without stop()
        gate.set();
        while (pool->stats().processed == 0) std::this_thread::yield();
        ++processed;
        break;
      default:  // destroyed without stop() while its last job runs: cancelled
        break;
    }
    pool.reset();
    weft::test::wait_pool_name_free(reg, "scraped");  // its tasks ended and its state went
    REQUIRE(ended.load() == r);
  }
  done.store(true);
  scraper.join();
  CHECK(late.load() == 0);
  CHECK(processed == 2 * rounds / 3);
  CHECK(reg.to_prometheus().find("pool=\"scraped\"") == std::string::npos);
}
