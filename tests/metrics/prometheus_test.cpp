#include "weft/metrics/prometheus.hpp"

#include <catch2/catch.hpp>
#include <cmath>
#include <limits>
#include <string>

#include "weft/metrics/registry.hpp"

namespace metrics = weft::metrics;

TEST_CASE("a small registry prints exactly the expected Prometheus text", "[metrics][prometheus]") {
  metrics::registry reg;
  reg.counter("jobs_total", "Jobs processed", {{"type", "report"}}).inc(3);
  reg.counter("jobs_total", "Jobs processed", {{"type", "email"}}).inc();
  reg.gauge("queue_depth", "Jobs waiting").set(12);
  auto& h = reg.histogram("job_seconds", "Job duration", metrics::buckets::explicit_bounds({0.1, 1}));
  h.observe(0.25);
  h.observe(0.5);
  h.observe(4);
  h.observe(0.0625);
  auto& labelled = reg.histogram("rpc_seconds", "RPC latency", metrics::buckets::explicit_bounds({0.5}),
                                 {{"method", "get"}, {"code", "200"}});
  labelled.observe(0.25);

  const std::string expected =
      "# HELP job_seconds Job duration\n"
      "# TYPE job_seconds histogram\n"
      "job_seconds_bucket{le=\"0.1\"} 1\n"
      "job_seconds_bucket{le=\"1\"} 3\n"
      "job_seconds_bucket{le=\"+Inf\"} 4\n"
      "job_seconds_sum 4.8125\n"
      "job_seconds_count 4\n"
      "# HELP jobs_total Jobs processed\n"
      "# TYPE jobs_total counter\n"
      "jobs_total{type=\"email\"} 1\n"
      "jobs_total{type=\"report\"} 3\n"
      "# HELP queue_depth Jobs waiting\n"
      "# TYPE queue_depth gauge\n"
      "queue_depth 12\n"
      "# HELP rpc_seconds RPC latency\n"
      "# TYPE rpc_seconds histogram\n"
      "rpc_seconds_bucket{code=\"200\",method=\"get\",le=\"0.5\"} 1\n"
      "rpc_seconds_bucket{code=\"200\",method=\"get\",le=\"+Inf\"} 1\n"
      "rpc_seconds_sum{code=\"200\",method=\"get\"} 0.25\n"
      "rpc_seconds_count{code=\"200\",method=\"get\"} 1\n";
  REQUIRE(reg.to_prometheus() == expected);
  REQUIRE(metrics::to_prometheus(reg.snapshot()) == expected);
}

TEST_CASE("an empty registry prints nothing", "[metrics][prometheus]") {
  metrics::registry reg;
  REQUIRE(reg.to_prometheus().empty());
}

TEST_CASE("label values escape backslash, double quote and line feed", "[metrics][prometheus]") {
  metrics::registry reg;
  reg.gauge("path_info", "Paths", {{"path", "C:\\dir \"quoted\"\nnext"}}).set(1);
  REQUIRE(reg.to_prometheus().find("path_info{path=\"C:\\\\dir \\\"quoted\\\"\\nnext\"} 1\n") != std::string::npos);
}

TEST_CASE("help text escapes backslash and line feed but not quotes", "[metrics][prometheus]") {
  metrics::registry reg;
  reg.gauge("odd_help", "first line\nsecond \\ \"third\"");
  REQUIRE(reg.to_prometheus().find("# HELP odd_help first line\\nsecond \\\\ \"third\"\n") != std::string::npos);
}

TEST_CASE("numbers print the way Prometheus parses them", "[metrics][prometheus]") {
  metrics::registry reg;
  const auto line = [&reg](const std::string& name) {
    const std::string text = reg.to_prometheus();
    const auto at = text.find('\n' + name + ' ');
    REQUIRE(at != std::string::npos);
    return text.substr(at + 1, text.find('\n', at + 1) - at - 1);
  };
  reg.gauge("g_int", "x").set(1e6);
  REQUIRE(line("g_int") == "g_int 1000000");
  reg.gauge("g_neg", "x").set(-42);
  REQUIRE(line("g_neg") == "g_neg -42");
  reg.gauge("g_frac", "x").set(0.1);
  REQUIRE(line("g_frac") == "g_frac 0.1");
  reg.gauge("g_small", "x").set(1e-6);
  REQUIRE(line("g_small") == "g_small 1e-06");
  reg.gauge("g_huge", "x").set(1e300);
  REQUIRE(line("g_huge") == "g_huge 1e+300");
  reg.gauge("g_inf", "x").set(std::numeric_limits<double>::infinity());
  REQUIRE(line("g_inf") == "g_inf +Inf");
  reg.gauge("g_ninf", "x").set(-std::numeric_limits<double>::infinity());
  REQUIRE(line("g_ninf") == "g_ninf -Inf");
  reg.gauge("g_nan", "x").set(std::nan(""));
  REQUIRE(line("g_nan") == "g_nan NaN");
  reg.gauge("g_negzero", "x").set(-0.0);
  REQUIRE(line("g_negzero") == "g_negzero 0");
  auto& big = reg.counter("c_big_total", "x");
  big.inc(std::uint64_t{1} << 52);
  REQUIRE(line("c_big_total") == "c_big_total 4503599627370496");
}

TEST_CASE("exponential bucket bounds print in their shortest exact form", "[metrics][prometheus]") {
  metrics::registry reg;
  reg.histogram("job_seconds", "Job duration", metrics::buckets::exponential(1e-6, 2, 3));
  const std::string text = reg.to_prometheus();
  REQUIRE(text.find("job_seconds_bucket{le=\"1e-06\"} 0\n"
                    "job_seconds_bucket{le=\"2e-06\"} 0\n"
                    "job_seconds_bucket{le=\"4e-06\"} 0\n"
                    "job_seconds_bucket{le=\"+Inf\"} 0\n"
                    "job_seconds_sum 0\n"
                    "job_seconds_count 0\n") != std::string::npos);
}
