#include "weft/metrics/registry.hpp"

#include <catch2/catch.hpp>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>

#include "test_support.hpp"

namespace metrics = weft::metrics;
using Catch::Contains;
using metrics::registry;

TEST_CASE("the design document's example compiles and works as written", "[metrics][registry]") {
  weft::metrics::registry reg;
  auto& done = reg.counter("jobs_processed_total", "Jobs processed", {{"type", "report"}});
  done.inc();
  auto& depth = reg.gauge("queue_depth", "Jobs waiting");
  depth.set(12);
  auto& lat = reg.histogram("job_seconds", "Job duration", weft::metrics::buckets::exponential(1e-6, 2, 24));
  lat.observe(0.0042);
  std::string text = reg.to_prometheus();
  auto snap = reg.snapshot();
  REQUIRE(snap.counter_value("jobs_processed_total", {{"type", "report"}}) == 1);
  REQUIRE(snap.gauge_value("queue_depth") == 12);
  REQUIRE(snap.histogram("job_seconds").count == 1);
  REQUIRE(text.find("jobs_processed_total{type=\"report\"} 1\n") != std::string::npos);
}

TEST_CASE("registering the same name and labels again returns the same object", "[metrics][registry]") {
  registry reg;
  auto& a = reg.counter("jobs_total", "Jobs", {{"type", "report"}, {"queue", "mail"}});
  auto& b = reg.counter("jobs_total", "Jobs", {{"queue", "mail"}, {"type", "report"}});
  REQUIRE(&a == &b);
  auto& other = reg.counter("jobs_total", "Jobs", {{"queue", "mail"}, {"type", "email"}});
  REQUIRE(&other != &a);
  REQUIRE(&reg.gauge("depth", "Depth") == &reg.gauge("depth", "Depth"));
  const auto layout = metrics::buckets::linear(1, 1, 3);
  REQUIRE(&reg.histogram("job_seconds", "Jobs", layout) == &reg.histogram("job_seconds", "Jobs", layout));
}

TEST_CASE("two registries never share a value", "[metrics][registry]") {
  registry first, second;
  first.counter("jobs_total", "Jobs").inc(5);
  second.counter("jobs_total", "Jobs").inc(2);
  first.gauge("depth", "Depth").set(1);
  REQUIRE(first.snapshot().counter_value("jobs_total") == 5);
  REQUIRE(second.snapshot().counter_value("jobs_total") == 2);
  REQUIRE(second.snapshot().find_family("depth") == nullptr);
}

TEST_CASE("the same name with another type is rejected, naming both types", "[metrics][registry]") {
  registry reg;
  reg.counter("jobs_total", "Jobs");
  REQUIRE_THROWS_AS(reg.gauge("jobs_total", "Jobs"), std::invalid_argument);
  REQUIRE_THROWS_WITH(reg.gauge("jobs_total", "Jobs"),
                      Contains("\"jobs_total\"") && Contains("already registered as a counter") && Contains("gauge"));
  REQUIRE_THROWS_WITH(reg.histogram("jobs_total", "Jobs", metrics::buckets::linear(1, 1, 1)),
                      Contains("as a counter") && Contains("histogram"));
}

TEST_CASE("the same name with other label keys is rejected, naming both key sets", "[metrics][registry]") {
  registry reg;
  reg.counter("jobs_total", "Jobs", {{"type", "report"}});
  REQUIRE_THROWS_WITH(reg.counter("jobs_total", "Jobs", {{"kind", "report"}}),
                      Contains("\"jobs_total\"") && Contains("label keys {type}") && Contains("{kind}"));
  REQUIRE_THROWS_WITH(reg.counter("jobs_total", "Jobs"), Contains("label keys {}"));
  REQUIRE_THROWS_WITH(reg.counter("jobs_total", "Jobs", {{"type", "a"}, {"queue", "b"}}), Contains("{queue, type}"));
}

TEST_CASE("the same name with another help text or other buckets is rejected", "[metrics][registry]") {
  registry reg;
  reg.histogram("job_seconds", "Job duration", metrics::buckets::explicit_bounds({0.1, 1}));
  REQUIRE_THROWS_WITH(reg.histogram("job_seconds", "Other", metrics::buckets::explicit_bounds({0.1, 1})),
                      Contains("help text \"Job duration\""));
  REQUIRE_THROWS_WITH(
      reg.histogram("job_seconds", "Job duration", metrics::buckets::explicit_bounds({0.1, 2}), {{"a", "b"}}),
      Contains("label keys"));
  REQUIRE_THROWS_WITH(reg.histogram("job_seconds", "Job duration", metrics::buckets::explicit_bounds({0.1, 2})),
                      Contains("buckets {0.1, 1}") && Contains("{0.1, 2}"));
}

TEST_CASE("a name that clashes with a histogram's own series is rejected", "[metrics][registry]") {
  registry reg;
  reg.histogram("job_seconds", "Job duration", metrics::buckets::linear(1, 1, 2));
  REQUIRE_THROWS_WITH(reg.counter("job_seconds_count", "Jobs"), Contains("histogram \"job_seconds\""));
  REQUIRE_THROWS_AS(reg.gauge("job_seconds_sum", "Sum"), std::invalid_argument);
  reg.gauge("wait_seconds_bucket", "A gauge that came first");
  REQUIRE_THROWS_WITH(reg.histogram("wait_seconds", "Wait", metrics::buckets::linear(1, 1, 2)),
                      Contains("\"wait_seconds_bucket\""));
}

TEST_CASE("invalid metric and label names are rejected with the rule they break", "[metrics][registry]") {
  registry reg;
  REQUIRE_THROWS_WITH(reg.counter("9lives_total", "X"), Contains("invalid metric name \"9lives_total\""));
  REQUIRE_THROWS_AS(reg.gauge("queue-depth", "X"), std::invalid_argument);
  REQUIRE_THROWS_WITH(reg.counter("jobs_total", "X", {{"__name__", "x"}}), Contains("reserved"));
  REQUIRE_THROWS_WITH(reg.histogram("job_seconds", "X", metrics::buckets::linear(1, 1, 2), {{"le", "1"}}),
                      Contains("\"le\""));
  REQUIRE_THROWS_AS(reg.counter("jobs_total", "X", {{"quantile", "0.5"}}), std::invalid_argument);
  REQUIRE_THROWS_WITH(reg.counter("jobs_total", "X", {{"type", "a"}, {"type", "b"}}), Contains("appears twice"));
  REQUIRE_THROWS_WITH(reg.counter("jobs_total", ""), Contains("empty help"));
  REQUIRE_THROWS_WITH(reg.counter("jobs_total", "X", {{"type", "\xc3"}}), Contains("UTF-8"));
  // A failed registration leaves nothing behind: the name is still free for any type.
  REQUIRE(reg.snapshot().families.empty());
  reg.gauge("jobs_total", "Now a gauge");
}

TEST_CASE("threads registering the same series at once all get the same object", "[metrics][registry]") {
  registry reg;
  std::mutex mutex;
  std::set<const metrics::counter*> seen;
  metrics::test::run_threads(8, [&](std::size_t i) {
    for (int k = 0; k < 200; ++k) {
      auto& c = reg.counter("jobs_total", "Jobs", {{"type", "report"}});
      c.inc();
      const std::string type = std::to_string(i) + "t";
      reg.counter("jobs_total", "Jobs", {{"type", type}}).inc();
      std::lock_guard lock(mutex);
      seen.insert(&c);
    }
  });
  REQUIRE(seen.size() == 1);
  const auto snap = reg.snapshot();
  REQUIRE(snap.counter_value("jobs_total", {{"type", "report"}}) == 1600);
  REQUIRE(snap.find_family("jobs_total")->series.size() == 9);
}

TEST_CASE("a registry's shard count follows its options", "[metrics][registry]") {
  REQUIRE(registry({.shards = 1}).shard_count() == 1);
  REQUIRE(registry({.shards = 5}).shard_count() == 8);
  REQUIRE(registry().shard_count() == metrics::detail::default_shard_count());
}
