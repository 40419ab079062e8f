#include "weft/metrics/metrics.hpp"

#include "../support/promtool.hpp"

#include <catch2/catch.hpp>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>

namespace metrics = weft::metrics;

using weft::test::promtool_check;

TEST_CASE("promtool accepts the text of a registry holding every kind of metric", "[metrics][promtool]") {
  const char* promtool = std::getenv("WEFT_PROMTOOL");
  if (promtool == nullptr || *promtool == '\0') {
    WARN("promtool not found at configure time (WEFT_PROMTOOL unset): skipping `promtool check metrics`");
    return;
  }

  metrics::registry reg;
  reg.counter("weft_test_jobs_processed_total", "Jobs processed", {{"type", "report"}}).inc(3);
  reg.counter("weft_test_jobs_processed_total", "Jobs processed", {{"type", "email \"urgent\"\n\\"}}).inc();
  reg.gauge("weft_test_queue_depth", "Jobs waiting in the queue").set(12);
  reg.gauge("weft_test_temperature_celsius", "A negative, fractional gauge").set(-3.25);
  auto busy =
      reg.gauge_callback("weft_test_busy_workers", "Workers running a task", {{"pool", "io"}}, [] { return 2.0; });
  auto steals = reg.counter_callback("weft_test_steals_total", "Tasks stolen from other workers", {{"worker", "0"}},
                                     [] { return 17.0; });
  auto& lat = reg.histogram("weft_test_job_duration_seconds", "Job duration\nin seconds",
                            metrics::buckets::exponential(1e-6, 2, 24), {{"type", "report"}});
  for (const double v : {4.2e-3, 1e-6, 0.5, 30.0}) lat.observe(v);
  reg.histogram("weft_test_empty_duration_seconds", "A histogram never observed",
                metrics::buckets::linear(0.1, 0.1, 5));

  const std::string text = reg.to_prometheus();
  const weft::test::command_result result = promtool_check(promtool, text);
  INFO("promtool output:\n" << result.output << "\ntext checked:\n" << text);
  REQUIRE(result.exit_status == 0);
  // promtool prints lint findings even when it exits 0 in some versions: require none.
  REQUIRE(result.output.empty());
}
