// Updates never allocate: this file replaces the global allocation functions with counting ones
// (binary-wide, which is harmless for the other tests) and updates metrics inside a counted window.
// ThreadSanitizer's runtime defines the allocation functions itself (strongly), so under TSan the
// replacement and the test are left out; the plain and ASan builds run them.
#include "weft/metrics/registry.hpp"

#include <catch2/catch.hpp>
#include <cstdlib>
#include <new>

#if defined(__SANITIZE_THREAD__)
#define WEFT_METRICS_TEST_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_METRICS_TEST_UNDER_TSAN 1
#endif
#endif

#ifndef WEFT_METRICS_TEST_UNDER_TSAN

namespace {
thread_local std::size_t allocations = 0;
}

// Every replaceable non-aligned form is replaced together, so that memory always goes back
// through the allocator it came from (which sanitizers check). The aligned forms stay the
// library's.
void* operator new(std::size_t size) {
  ++allocations;
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return ::operator new(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  ++allocations;
  return std::malloc(size == 0 ? 1 : size);
}
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept { return ::operator new(size, tag); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }

TEST_CASE("updating counters, gauges and histograms allocates nothing", "[metrics][allocation]") {
  weft::metrics::registry reg;
  auto& c = reg.counter("jobs_total", "Jobs", {{"type", "report"}});
  auto& g = reg.gauge("queue_depth", "Jobs waiting");
  auto& h = reg.histogram("job_seconds", "Job duration", weft::metrics::buckets::exponential(1e-6, 2, 24));

  // A thread's very first update takes a shard slot from the process-wide pool, which may grow
  // the pool once. That is per thread, not per update, so it happens before the window.
  c.inc();
  const std::size_t before = allocations;
  for (int i = 0; i < 1000; ++i) {
    c.inc();
    c.inc(2);
    g.set(i);
    g.inc();
    g.dec(0.5);
    h.observe(i * 1e-4);
  }
  const std::size_t during = allocations - before;

  REQUIRE(during == 0);
  REQUIRE(c.value() == 3001);
  // The counting itself works: registration does allocate.
  reg.counter("jobs_total", "Jobs", {{"type", "other"}});
  REQUIRE(allocations > before);
}

#endif  // WEFT_METRICS_TEST_UNDER_TSAN
