// The example of metrics/README.md, kept compiling and true.
#include "weft/metrics/metrics.hpp"

#include <catch2/catch.hpp>
#include <string>

TEST_CASE("the README example compiles and reports what it recorded", "[metrics][readme]") {
  weft::metrics::registry reg;  // private: no global registry
  auto& done = reg.counter("jobs_processed_total", "Jobs processed", {{"type", "report"}});
  done.inc();  // relaxed atomics, no lock, no allocation
  auto& depth = reg.gauge("queue_depth", "Jobs waiting");
  depth.set(12);
  auto& lat = reg.histogram("job_seconds", "Job duration", weft::metrics::buckets::exponential(1e-6, 2, 24));
  lat.observe(0.0042);
  auto busy = reg.gauge_callback("busy_workers", "Workers running a task", {}, [&] { return 3.0; });
  auto sent = reg.owned_counter("sent_total", "Messages sent", {{"channel", "results"}});  // gone with `sent`
  sent->inc();
  std::string text = reg.to_prometheus();  // Prometheus text format 0.0.4
  auto snap = reg.snapshot();              // snap.counter_value("jobs_processed_total", {{"type", "report"}})
  double p99 = snap.histogram("job_seconds").quantile(0.99);

  REQUIRE(snap.counter_value("jobs_processed_total", {{"type", "report"}}) == 1);
  REQUIRE(snap.gauge_value("busy_workers") == 3);
  // 0.0042 lies in the bucket (0.004096, 0.008192]; so does the estimate.
  REQUIRE(p99 > 0.004096);
  REQUIRE(p99 <= 0.008192);
  REQUIRE(text.find("queue_depth 12\n") != std::string::npos);
  REQUIRE(snap.counter_value("sent_total", {{"channel", "results"}}) == 1);
  sent.reset();
  REQUIRE(reg.snapshot().find_family("sent_total") == nullptr);
}
