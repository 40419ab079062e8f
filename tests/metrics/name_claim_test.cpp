#include "weft/metrics/name_claim.hpp"

#include <algorithm>
#include <atomic>
#include <catch2/catch.hpp>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "test_support.hpp"
#include "weft/metrics/registry.hpp"

namespace metrics = weft::metrics;
using Catch::Contains;
using metrics::name_claim;
using metrics::registry;

TEST_CASE("a second live claim of a name throws, naming the kind and the name", "[metrics][name_claim]") {
  registry reg;
  name_claim orders = reg.claim_name("pool", "orders");
  REQUIRE(orders);
  REQUIRE(orders.kind() == "pool");
  REQUIRE(orders.name() == "orders");
  REQUIRE_THROWS_AS(reg.claim_name("pool", "orders"), std::invalid_argument);
  REQUIRE_THROWS_WITH(reg.claim_name("pool", "orders"),
                      Contains("pool") && Contains("\"orders\"") && Contains("another live"));
  // The same name for another kind, another name for the same kind, and the same claim in
  // another registry are all free.
  name_claim runtime = reg.claim_name("runtime", "orders");
  name_claim mail = reg.claim_name("pool", "mail");
  registry other;
  name_claim elsewhere = other.claim_name("pool", "orders");
  REQUIRE(runtime.name() == "orders");
  REQUIRE(mail.name() == "mail");
  REQUIRE(elsewhere.name() == "orders");
}

TEST_CASE("unique claims take the base name, then base-2, base-3 and so on", "[metrics][name_claim]") {
  registry reg;
  name_claim first = reg.claim_unique_name("pool", "orders");
  name_claim second = reg.claim_unique_name("pool", "orders");
  name_claim third = reg.claim_unique_name("pool", "orders");
  REQUIRE(first.name() == "orders");
  REQUIRE(second.name() == "orders-2");
  REQUIRE(third.name() == "orders-3");
  REQUIRE_THROWS_AS(reg.claim_name("pool", "orders-2"), std::invalid_argument);  // taken for real
  second.reset();
  name_claim refill = reg.claim_unique_name("pool", "orders");  // the first free one, not "orders-4"
  REQUIRE(refill.name() == "orders-2");
}

TEST_CASE("a released name can be claimed again", "[metrics][name_claim]") {
  registry reg;
  {
    name_claim gone = reg.claim_name("pool", "orders");
  }
  name_claim claim = reg.claim_name("pool", "orders");
  REQUIRE(claim.name() == "orders");

  claim.reset();
  REQUIRE_FALSE(claim);
  REQUIRE(claim.name().empty());
  claim = reg.claim_name("pool", "orders");

  // A move hands the claim over: the name stays taken, and the moved-from claim is empty.
  name_claim moved = std::move(claim);
  REQUIRE_FALSE(claim);
  REQUIRE(moved.name() == "orders");
  REQUIRE_THROWS_AS(reg.claim_name("pool", "orders"), std::invalid_argument);

  // Assigning over a claim releases what it held.
  moved = reg.claim_name("pool", "mail");
  REQUIRE(moved.name() == "mail");
  name_claim again = reg.claim_name("pool", "orders");
  REQUIRE(again.name() == "orders");
}

TEST_CASE("a claim that outlives its registry is harmless", "[metrics][name_claim]") {
  auto reg = std::make_unique<registry>();
  name_claim reset_later = reg->claim_name("runtime", "main");
  name_claim destroyed_later = reg->claim_unique_name("runtime", "main");
  reg.reset();
  REQUIRE(reset_later.name() == "main");
  REQUIRE(destroyed_later.name() == "main-2");
  reset_later.reset();
  REQUIRE_FALSE(reset_later);
}  // destroyed_later goes here, long after its registry

TEST_CASE("claims made from several threads at once each get a distinct name", "[metrics][name_claim]") {
  constexpr std::size_t threads = 8;
  registry reg;
  std::vector<name_claim> unique(threads);
  std::vector<std::optional<name_claim>> contested(threads);
  std::atomic<std::size_t> refused{0};
  weft::metrics::test::run_threads(threads, [&](std::size_t i) {
    unique[i] = reg.claim_unique_name("channel", "jobs");
    try {
      contested[i] = reg.claim_name("channel", "mail");
    } catch (const std::invalid_argument&) {
      refused.fetch_add(1, std::memory_order_relaxed);
    }
  });
  std::vector<std::string> names;
  for (const name_claim& claim : unique) names.push_back(claim.name());
  std::vector<std::string> expected{"jobs"};
  for (std::size_t n = 2; n <= threads; ++n) expected.push_back("jobs-" + std::to_string(n));
  std::sort(names.begin(), names.end());
  std::sort(expected.begin(), expected.end());
  REQUIRE(names == expected);
  // Exactly one thread won the name they all asked for.
  REQUIRE(std::count_if(contested.begin(), contested.end(), [](const auto& c) { return c.has_value(); }) == 1);
  REQUIRE(refused.load() == threads - 1);
}

TEST_CASE("claiming or releasing a name inside a callback of the same registry throws", "[metrics][name_claim]") {
  registry reg;
  std::optional<name_claim> held = reg.claim_name("pool", "orders");
  bool claim_threw = false, release_threw = false;
  auto handle = reg.gauge_callback("probe", "Calls back into its registry", [&] {
    try {
      name_claim inside = reg.claim_name("pool", "inside");
    } catch (const std::logic_error&) {
      claim_threw = true;
    }
    try {
      held->reset();
    } catch (const std::logic_error&) {
      release_threw = true;
    }
    return 0.0;
  });
  reg.snapshot();
  REQUIRE(claim_threw);
  REQUIRE(release_threw);
  REQUIRE_THROWS_AS(reg.claim_name("pool", "orders"), std::invalid_argument);  // still held
  handle.reset();
  held.reset();
  name_claim after = reg.claim_name("pool", "orders");
  REQUIRE(after.name() == "orders");
}
