#include "weft/metrics/callback_handle.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "test_support.hpp"
#include "weft/metrics/registry.hpp"

namespace metrics = weft::metrics;
using Catch::Contains;
using metrics::callback_handle;
using metrics::registry;

TEST_CASE("a callback gauge is sampled at every collection", "[metrics][callback]") {
  registry reg;
  double depth = 3;
  int calls = 0;
  callback_handle handle = reg.gauge_callback("queue_depth", "Jobs waiting", {{"queue", "mail"}}, [&] {
    ++calls;
    return depth;
  });
  REQUIRE(calls == 0);  // sampled at collection, not at registration
  REQUIRE(reg.snapshot().gauge_value("queue_depth", {{"queue", "mail"}}) == 3);
  depth = 7;
  REQUIRE(reg.snapshot().gauge_value("queue_depth", {{"queue", "mail"}}) == 7);
  REQUIRE(reg.to_prometheus().find("queue_depth{queue=\"mail\"} 7\n") != std::string::npos);
  REQUIRE(reg.to_json().find("\"value\":7") != std::string::npos);
  REQUIRE(calls == 4);
}

TEST_CASE("a callback counter is exported as a counter", "[metrics][callback]") {
  registry reg;
  std::atomic<std::uint64_t> steals{41};
  auto handle = reg.counter_callback("steals_total", "Tasks stolen", [&] { return static_cast<double>(++steals); });
  const auto snap = reg.snapshot();
  REQUIRE(snap.counter_value("steals_total") == 42);
  REQUIRE(reg.to_prometheus().find("# TYPE steals_total counter\nsteals_total 43\n") != std::string::npos);
}

TEST_CASE("a callback series vanishes when its handle dies", "[metrics][callback]") {
  registry reg;
  reg.gauge("plain", "Stays");
  {
    auto w0 = reg.gauge_callback("busy", "Busy", {{"worker", "0"}}, [] { return 1.0; });
    {
      auto w1 = reg.gauge_callback("busy", "Busy", {{"worker", "1"}}, [] { return 0.0; });
      REQUIRE(reg.snapshot().find_family("busy")->series.size() == 2);
    }
    const auto snap = reg.snapshot();
    REQUIRE(snap.find("busy", {{"worker", "1"}}) == nullptr);
    REQUIRE(snap.gauge_value("busy", {{"worker", "0"}}) == 1);
  }
  // The family went with its last series, and its name is free again.
  REQUIRE(reg.snapshot().find_family("busy") == nullptr);
  REQUIRE(reg.to_prometheus().find("busy") == std::string::npos);
  reg.counter("busy", "Now a counter").inc();
  REQUIRE(reg.snapshot().counter_value("busy") == 1);
}

TEST_CASE("reset removes a callback series and empties the handle", "[metrics][callback]") {
  registry reg;
  auto handle = reg.gauge_callback("busy", "Busy", [] { return 1.0; });
  REQUIRE(handle);
  handle.reset();
  REQUIRE_FALSE(handle);
  REQUIRE(reg.snapshot().find_family("busy") == nullptr);
  handle.reset();  // a second reset does nothing
}

TEST_CASE("moving a handle moves the ownership of its series", "[metrics][callback]") {
  registry reg;
  callback_handle moved;
  {
    auto original = reg.gauge_callback("busy", "Busy", [] { return 2.0; });
    moved = std::move(original);
    REQUIRE_FALSE(original);  // NOLINT(bugprone-use-after-move): the moved-from state is specified
  }
  REQUIRE(reg.snapshot().gauge_value("busy") == 2);
  moved = reg.gauge_callback("other", "Other", [] { return 3.0; });  // assigning over it removes "busy"
  const auto snap = reg.snapshot();
  REQUIRE(snap.find_family("busy") == nullptr);
  REQUIRE(snap.gauge_value("other") == 3);
  std::vector<callback_handle> handles;
  handles.push_back(std::move(moved));
  REQUIRE(reg.snapshot().gauge_value("other") == 3);
}

TEST_CASE("a callback series and a plain series with the same name and labels conflict", "[metrics][callback]") {
  registry reg;
  reg.gauge("depth", "Depth", {{"q", "a"}});
  REQUIRE_THROWS_WITH(reg.gauge_callback("depth", "Depth", {{"q", "a"}}, [] { return 1.0; }),
                      Contains("already registered as a plain gauge"));
  auto handle = reg.gauge_callback("depth", "Depth", {{"q", "b"}}, [] { return 1.0; });
  REQUIRE_THROWS_WITH(reg.gauge("depth", "Depth", {{"q", "b"}}), Contains("with a callback"));
  REQUIRE_THROWS_WITH(reg.gauge_callback("depth", "Depth", {{"q", "b"}}, [] { return 2.0; }),
                      Contains("already has a callback"));
  REQUIRE_THROWS_WITH(reg.counter_callback("depth", "Depth", {{"q", "c"}}, [] { return 2.0; }),
                      Contains("already registered as a gauge"));
  REQUIRE_THROWS_WITH(reg.gauge_callback("depth", "Depth", {{"q", "d"}}, nullptr), Contains("empty"));
}

TEST_CASE("a handle that outlives its registry is harmless", "[metrics][callback]") {
  auto reg = std::make_unique<registry>();
  auto handle = reg->gauge_callback("busy", "Busy", [] { return 1.0; });
  reg.reset();
  handle.reset();
  REQUIRE_FALSE(handle);
}

TEST_CASE("a callback that calls into its own registry gets an error instead of a deadlock", "[metrics][callback]") {
  registry reg;
  auto handle = reg.gauge_callback("sneaky", "Calls back", [&reg] {
    reg.counter("inner_total", "Inner");
    return 1.0;
  });
  REQUIRE_THROWS_WITH(reg.snapshot(), Contains("callback") && Contains("registry::counter"));
  // The registry is still usable: the lock was released and nothing was registered.
  handle.reset();
  REQUIRE(reg.snapshot().families.empty());
}

TEST_CASE("collections running while callbacks come and go never call a removed callback", "[metrics][callback]") {
  // Each removing thread makes a callback reading state that it destroys right after reset();
  // a collection that called the callback after removal returned would read freed memory
  // (ASan, TSan) and would see `alive == false` (the counter below).
  registry reg;
  std::atomic<int> stale_calls{0};
  std::atomic<int> removers_left{3};
  metrics::test::run_threads(4, [&](std::size_t thread) {
    if (thread == 0) {
      // Collect until every remover is done (bounded by their fixed iteration counts).
      do {
        const auto snap = reg.snapshot();
        (void)reg.to_prometheus();
      } while (removers_left.load(std::memory_order_acquire) > 0);  // pairs with the release below
      return;
    }
    for (int i = 0; i < 2'000; ++i) {
      auto alive = std::make_unique<std::atomic<bool>>(true);
      auto handle = reg.gauge_callback("worker_busy", "Busy workers", {{"worker", std::to_string(thread)}},
                                       [&stale_calls, flag = alive.get()] {
                                         if (!flag->load(std::memory_order_relaxed))
                                           stale_calls.fetch_add(1, std::memory_order_relaxed);
                                         return 1.0;
                                       });
      handle.reset();
      alive->store(false, std::memory_order_relaxed);
      alive.reset();
    }
    removers_left.fetch_sub(1, std::memory_order_release);  // pairs with the acquire above
  });
  REQUIRE(stale_calls.load() == 0);
  REQUIRE(reg.snapshot().families.empty());
}
