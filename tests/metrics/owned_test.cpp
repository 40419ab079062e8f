#include "weft/metrics/owned.hpp"

#include <atomic>
#include <catch2/catch.hpp>
#include <cstddef>
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
using metrics::owned;
using metrics::registry;

namespace {

// Whether the registry's Prometheus text contains `text`.
bool exports(const registry& reg, const std::string& text) {
  return reg.to_prometheus().find(text) != std::string::npos;
}

const metrics::labels orders_success{{"pool", "orders"}, {"status", "success"}};
const metrics::labels orders_failure{{"pool", "orders"}, {"status", "failure"}};

}  // namespace

TEST_CASE("an owned series is exported while its handle lives and removed when it dies", "[metrics][owned]") {
  registry reg;
  {
    owned<metrics::counter> jobs = reg.owned_counter("pool_jobs_total", "Jobs run", {{"pool", "orders"}});
    REQUIRE(jobs);
    jobs->inc();
    (*jobs).inc(2);
    jobs.get().inc(3);
    REQUIRE(&*jobs == &jobs.get());
    REQUIRE(jobs.operator->() == &jobs.get());
    REQUIRE(jobs->value() == 6);
    REQUIRE(exports(reg, "pool_jobs_total{pool=\"orders\"} 6\n"));
    REQUIRE(reg.snapshot().counter_value("pool_jobs_total", {{"pool", "orders"}}) == 6);
  }
  REQUIRE(reg.snapshot().find_family("pool_jobs_total") == nullptr);
  REQUIRE_FALSE(exports(reg, "pool_jobs_total"));
}

TEST_CASE("reset removes an owned series and empties the handle", "[metrics][owned]") {
  registry reg;
  auto depth = reg.owned_gauge("channel_depth", "Messages waiting", {{"channel", "results"}});
  depth->set(4);
  REQUIRE(reg.snapshot().gauge_value("channel_depth", {{"channel", "results"}}) == 4);
  depth.reset();
  REQUIRE_FALSE(depth);
  REQUIRE(reg.snapshot().find_family("channel_depth") == nullptr);
  depth.reset();  // a second reset does nothing
  REQUIRE_FALSE(depth);
}

TEST_CASE("a family goes with its last series, and not before", "[metrics][owned]") {
  registry reg;
  const auto layout = metrics::buckets::explicit_bounds({0.1, 1});
  auto& plain = reg.histogram("pool_job_seconds", "Job duration", layout, {{"pool", "mail"}, {"status", "success"}});
  plain.observe(0.5);
  {
    auto success = reg.owned_histogram("pool_job_seconds", "Job duration", layout, orders_success);
    {
      auto failure = reg.owned_histogram("pool_job_seconds", "Job duration", layout, orders_failure);
      failure->observe(2);
      REQUIRE(reg.snapshot().find_family("pool_job_seconds")->series.size() == 3);
    }
    const auto snap = reg.snapshot();
    REQUIRE(snap.find("pool_job_seconds", orders_failure) == nullptr);
    REQUIRE(snap.find("pool_job_seconds", orders_success) != nullptr);
  }
  // The plain series keeps the family alive, with its value.
  REQUIRE(reg.snapshot().find_family("pool_job_seconds")->series.size() == 1);
  REQUIRE(reg.snapshot().histogram("pool_job_seconds", {{"pool", "mail"}, {"status", "success"}}).count == 1);

  // A family of owned series only goes with its last one, # HELP and # TYPE lines included, and
  // its name is free for another type.
  {
    auto first = reg.owned_gauge("channel_blocked_seconds", "Time senders waited", {{"channel", "a"}});
    auto second = reg.owned_gauge("channel_blocked_seconds", "Time senders waited", {{"channel", "b"}});
    first.reset();
    REQUIRE(exports(reg, "# TYPE channel_blocked_seconds gauge\n"));
    REQUIRE(exports(reg, "channel_blocked_seconds{channel=\"b\"} 0\n"));
  }
  REQUIRE_FALSE(exports(reg, "channel_blocked_seconds"));
  reg.counter("channel_blocked_seconds", "Now a counter").inc();
  REQUIRE(reg.snapshot().counter_value("channel_blocked_seconds") == 1);
}

TEST_CASE("a live owned series cannot be registered again, and the error names it", "[metrics][owned]") {
  registry reg;
  const auto layout = metrics::buckets::explicit_bounds({0.1, 1});
  auto held = reg.owned_histogram("weft_pool_job_duration_seconds", "Job duration", layout, orders_success);
  const std::string series = "weft_pool_job_duration_seconds{pool=\"orders\",status=\"success\"}";
  REQUIRE_THROWS_AS(reg.owned_histogram("weft_pool_job_duration_seconds", "Job duration", layout, orders_success),
                    std::invalid_argument);
  REQUIRE_THROWS_WITH(reg.owned_histogram("weft_pool_job_duration_seconds", "Job duration", layout, orders_success),
                      Contains(series) && Contains("owned by another live object"));
  REQUIRE_THROWS_WITH(reg.histogram("weft_pool_job_duration_seconds", "Job duration", layout, orders_success),
                      Contains(series) && Contains("owned by another live object"));

  auto depth = reg.owned_gauge("depth", "Depth", {{"channel", "results"}});
  REQUIRE_THROWS_WITH(reg.gauge("depth", "Depth", {{"channel", "results"}}),
                      Contains("depth{channel=\"results\"}") && Contains("owned by another live object"));
  REQUIRE_THROWS_WITH(reg.gauge_callback("depth", "Depth", {{"channel", "results"}}, [] { return 1.0; }),
                      Contains("depth{channel=\"results\"}") && Contains("owned by another live object"));

  // The refused registrations changed nothing: both series are still there, still owned.
  held->observe(0.05);
  const auto snap = reg.snapshot();
  REQUIRE(snap.histogram("weft_pool_job_duration_seconds", orders_success).count == 1);
  REQUIRE(snap.find_family("depth")->series.size() == 1);
  // Other label values of the same family are free.
  auto failure = reg.owned_histogram("weft_pool_job_duration_seconds", "Job duration", layout, orders_failure);
  REQUIRE(failure);
}

TEST_CASE("a plain or callback series cannot become owned", "[metrics][owned]") {
  registry reg;
  reg.counter("jobs_total", "Jobs", {{"pool", "orders"}});
  REQUIRE_THROWS_WITH(reg.owned_counter("jobs_total", "Jobs", {{"pool", "orders"}}),
                      Contains("jobs_total{pool=\"orders\"}") && Contains("already registered as a plain counter"));
  auto callback = reg.counter_callback("jobs_total", "Jobs", {{"pool", "mail"}}, [] { return 1.0; });
  REQUIRE_THROWS_WITH(reg.owned_counter("jobs_total", "Jobs", {{"pool", "mail"}}),
                      Contains("jobs_total{pool=\"mail\"}") && Contains("with a callback"));
  // The family's rules hold for owned series too.
  REQUIRE_THROWS_WITH(reg.owned_gauge("jobs_total", "Jobs", {{"pool", "other"}}),
                      Contains("already registered as a counter"));
  // Plain registration of a plain series still returns the same object.
  auto& plain = reg.counter("jobs_total", "Jobs", {{"pool", "orders"}});
  REQUIRE(&reg.counter("jobs_total", "Jobs", {{"pool", "orders"}}) == &plain);
}

TEST_CASE("a released series can be registered again and starts from zero", "[metrics][owned]") {
  registry reg;
  const auto layout = metrics::buckets::explicit_bounds({1});
  const metrics::labels results{{"channel", "results"}};
  auto sent = reg.owned_counter("sent_total", "Sent", results);
  auto depth = reg.owned_gauge("depth", "Depth", results);
  auto blocked = reg.owned_histogram("blocked_seconds", "Blocked", layout, results);
  sent->inc(5);
  depth->set(3);
  blocked->observe(0.5);
  sent.reset();
  depth.reset();
  blocked.reset();

  sent = reg.owned_counter("sent_total", "Sent", results);
  depth = reg.owned_gauge("depth", "Depth", results);
  blocked = reg.owned_histogram("blocked_seconds", "Blocked", layout, results);
  REQUIRE(sent->value() == 0);
  REQUIRE(depth->value() == 0);
  REQUIRE(blocked->count() == 0);
  const auto snap = reg.snapshot();
  REQUIRE(snap.counter_value("sent_total", results) == 0);
  REQUIRE(snap.gauge_value("depth", results) == 0);
  REQUIRE(snap.histogram("blocked_seconds", results).count == 0);
  REQUIRE(snap.histogram("blocked_seconds", results).sum == 0);

  // Once no handle owns it, a plain registration may take the series, for good.
  sent.reset();
  reg.counter("sent_total", "Sent", results).inc();
  REQUIRE(reg.snapshot().counter_value("sent_total", results) == 1);
  REQUIRE_THROWS_WITH(reg.owned_counter("sent_total", "Sent", results), Contains("plain counter"));
}

TEST_CASE("an owned handle that outlives its registry is harmless, and so is its metric", "[metrics][owned]") {
  auto reg = std::make_unique<registry>();
  auto reset_later = reg->owned_counter("jobs_total", "Jobs");
  auto destroyed_later = reg->owned_histogram("job_seconds", "Jobs", metrics::buckets::explicit_bounds({1}));
  reg.reset();
  // The metrics outlive the registry with their handles (ASan checks that they are not freed).
  reset_later->inc(2);
  destroyed_later->observe(3);
  REQUIRE(reset_later->value() == 2);
  REQUIRE(destroyed_later->count() == 1);
  reset_later.reset();
  REQUIRE_FALSE(reset_later);
  REQUIRE(destroyed_later);
}  // destroyed_later goes here, after its registry

TEST_CASE("moving a handle keeps the series and the metric", "[metrics][owned]") {
  registry reg;
  owned<metrics::counter> moved;
  REQUIRE_FALSE(moved);
  const metrics::counter* address = nullptr;
  {
    auto original = reg.owned_counter("jobs_total", "Jobs", {{"pool", "orders"}});
    original->inc(7);
    address = &original.get();
    owned<metrics::counter> constructed(std::move(original));
    REQUIRE_FALSE(original);  // NOLINT(bugprone-use-after-move): the moved-from state is specified
    moved = std::move(constructed);
    REQUIRE_FALSE(constructed);  // NOLINT(bugprone-use-after-move)
  }  // the moved-from handles die here and remove nothing
  REQUIRE(&moved.get() == address);
  REQUIRE(reg.snapshot().counter_value("jobs_total", {{"pool", "orders"}}) == 7);
  REQUIRE_THROWS_WITH(reg.owned_counter("jobs_total", "Jobs", {{"pool", "orders"}}), Contains("owned by another"));

  std::vector<owned<metrics::counter>> handles;
  handles.push_back(std::move(moved));
  handles.push_back(reg.owned_counter("jobs_total", "Jobs", {{"pool", "mail"}}));  // may reallocate: moves again
  REQUIRE(&handles.front().get() == address);
  REQUIRE(reg.snapshot().counter_value("jobs_total", {{"pool", "orders"}}) == 7);

  // Assigning over a handle removes the series it owned.
  handles.front() = reg.owned_counter("jobs_total", "Jobs", {{"pool", "billing"}});
  const auto snap = reg.snapshot();
  REQUIRE(snap.find("jobs_total", {{"pool", "orders"}}) == nullptr);
  REQUIRE(snap.find("jobs_total", {{"pool", "billing"}}) != nullptr);
  REQUIRE(snap.find("jobs_total", {{"pool", "mail"}}) != nullptr);
}

TEST_CASE("owned histograms updated from several threads count every observation exactly", "[metrics][owned]") {
  // Observations are multiples of 0.25 whose running sums stay far below 2^50, so every partial
  // sum is exact in a double and the total does not depend on the order of the additions.
  constexpr std::size_t threads = 8;
  constexpr int per_thread = 10'000;
  const auto layout = metrics::buckets::explicit_bounds({100, 1000});
  registry reg;
  auto shared = reg.owned_histogram("job_seconds", "Job duration", layout, {{"pool", "shared"}});
  std::vector<owned<metrics::histogram>> own(threads);
  for (std::size_t t = 0; t < threads; ++t)
    own[t] = reg.owned_histogram("job_seconds", "Job duration", layout, {{"pool", "own-" + std::to_string(t)}});

  metrics::test::run_threads(threads, [&](std::size_t t) {
    for (int i = 0; i < per_thread; ++i) {
      const double v = 0.25 * (i % 8'000);  // 0 .. 1999.75: every bucket, +Inf included
      shared->observe(v);
      own[t]->observe(v);
    }
  });

  double per_thread_sum = 0;
  std::uint64_t per_thread_le_100 = 0;
  for (int i = 0; i < per_thread; ++i) {
    const double v = 0.25 * (i % 8'000);
    per_thread_sum += v;
    per_thread_le_100 += v <= 100 ? 1 : 0;
  }
  const auto snap = reg.snapshot();
  const auto& all = snap.histogram("job_seconds", {{"pool", "shared"}});
  REQUIRE(all.count == threads * per_thread);
  REQUIRE(all.sum == per_thread_sum * threads);
  REQUIRE(all.counts[0] == per_thread_le_100 * threads);
  for (std::size_t t = 0; t < threads; ++t) {
    const auto& mine = snap.histogram("job_seconds", {{"pool", "own-" + std::to_string(t)}});
    REQUIRE(mine.count == static_cast<std::uint64_t>(per_thread));
    REQUIRE(mine.sum == per_thread_sum);
  }
}

TEST_CASE("owned series that come and go while collections run are removed every time", "[metrics][owned]") {
  // Each churning thread owns and releases the same series over and over while another thread
  // collects: a release that left the series behind would make the next owned_gauge refuse it,
  // and a collection reading a removed series would read freed memory (ASan).
  registry reg;
  std::atomic<int> churners_left{3};
  std::atomic<int> refused{0};
  metrics::test::run_threads(4, [&](std::size_t thread) {
    if (thread == 0) {
      do {
        (void)reg.to_prometheus();
      } while (churners_left.load(std::memory_order_acquire) > 0);  // pairs with the release below
      return;
    }
    for (int i = 0; i < 2'000; ++i) {
      try {
        auto busy = reg.owned_gauge("worker_busy", "Busy workers", {{"worker", std::to_string(thread)}});
        busy->set(1);
      } catch (const std::invalid_argument&) {
        refused.fetch_add(1, std::memory_order_relaxed);
      }
    }
    churners_left.fetch_sub(1, std::memory_order_release);  // pairs with the acquire above
  });
  REQUIRE(refused.load() == 0);
  REQUIRE(reg.snapshot().families.empty());
}

TEST_CASE("releasing an owned series inside a callback of the same registry throws", "[metrics][owned]") {
  registry reg;
  std::optional<owned<metrics::counter>> held = reg.owned_counter("jobs_total", "Jobs");
  bool release_threw = false, register_threw = false;
  auto probe = reg.gauge_callback("probe", "Calls back into its registry", [&] {
    try {
      held->reset();
    } catch (const std::logic_error&) {
      release_threw = true;
    }
    try {
      auto inside = reg.owned_counter("inside_total", "Inside");
    } catch (const std::logic_error&) {
      register_threw = true;
    }
    return 0.0;
  });
  (void)reg.snapshot();
  REQUIRE(release_threw);
  REQUIRE(register_threw);
  REQUIRE(*held);  // the refused reset left the handle owning its series
  REQUIRE(reg.snapshot().find("jobs_total") != nullptr);
  probe.reset();
  held->reset();
  REQUIRE(reg.snapshot().families.empty());
}
