#include "weft/metrics/snapshot.hpp"

#include <catch2/catch.hpp>
#include <stdexcept>
#include <string>

#include "weft/metrics/registry.hpp"

namespace metrics = weft::metrics;
using Catch::Contains;

TEST_CASE("a snapshot lists families by name and series by label values", "[metrics][snapshot]") {
  metrics::registry reg;
  reg.gauge("zeta", "Z");
  reg.counter("alpha_total", "A", {{"k", "b"}}).inc(2);
  reg.counter("alpha_total", "A", {{"k", "a"}}).inc(1);
  reg.counter("alpha_total", "A", {{"k", "c"}});
  const auto snap = reg.snapshot();
  REQUIRE(snap.families.size() == 2);
  REQUIRE(snap.families[0].name == "alpha_total");
  REQUIRE(snap.families[0].help == "A");
  REQUIRE(snap.families[0].type == metrics::metric_type::counter);
  REQUIRE(snap.families[1].name == "zeta");
  REQUIRE(snap.families[1].type == metrics::metric_type::gauge);
  const auto& series = snap.families[0].series;
  REQUIRE(series.size() == 3);
  REQUIRE(series[0].labels == metrics::labels{{"k", "a"}});
  REQUIRE(series[0].value == 1);
  REQUIRE(series[1].value == 2);
  REQUIRE(series[2].value == 0);
}

TEST_CASE("snapshot lookups find series by labels in any order", "[metrics][snapshot]") {
  metrics::registry reg;
  reg.counter("jobs_total", "Jobs", {{"type", "report"}, {"queue", "mail"}}).inc(3);
  const auto snap = reg.snapshot();
  REQUIRE(snap.counter_value("jobs_total", {{"queue", "mail"}, {"type", "report"}}) == 3);
  REQUIRE(snap.find("jobs_total", {{"type", "report"}}) == nullptr);
  REQUIRE(snap.find("nope") == nullptr);
  REQUIRE(snap.find_family("jobs_total") != nullptr);
}

TEST_CASE("snapshot lookups of a missing or mistyped series throw, naming it", "[metrics][snapshot]") {
  metrics::registry reg;
  reg.counter("jobs_total", "Jobs", {{"type", "report"}});
  reg.gauge("depth", "Depth");
  const auto snap = reg.snapshot();
  REQUIRE_THROWS_WITH(snap.counter_value("nope_total"), Contains("no metric \"nope_total\""));
  REQUIRE_THROWS_WITH(snap.counter_value("jobs_total", {{"type", "email"}}), Contains("jobs_total{type=\"email\"}"));
  REQUIRE_THROWS_WITH(snap.gauge_value("jobs_total", {{"type", "report"}}), Contains("is a counter, not a gauge"));
  REQUIRE_THROWS_AS(snap.histogram("depth"), std::out_of_range);
}

TEST_CASE("metric types print as Prometheus spells them", "[metrics][snapshot]") {
  REQUIRE(metrics::to_string(metrics::metric_type::counter) == "counter");
  REQUIRE(metrics::to_string(metrics::metric_type::gauge) == "gauge");
  REQUIRE(metrics::to_string(metrics::metric_type::histogram) == "histogram");
}
