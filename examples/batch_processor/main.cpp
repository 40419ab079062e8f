// A batch processor (shared/seeds/003's batch_processor profile): few workers, a small queue to
// bound memory, each job a batch of records processed with when_all, and a drain on stop.

#include <chrono>
#include <cstdio>
#include <numeric>
#include <vector>

#include <weft/weft.hpp>

using namespace std::chrono_literals;

struct batch {
  int id;
  std::vector<int> records;
};

weft::task<long> transform(int record) {
  co_await weft::sleep_for(1ms);  // an I/O-bound step per record
  co_return static_cast<long>(record) * 2;
}

int main() {
  weft::runtime rt({.name = "batches"});
  std::atomic<long> total{0};
  weft::job_pool<batch> pool(rt,
                             {.name = "batch_processor", .concurrency = 5, .queue_capacity = 100, .job_timeout = 2s},
                             [&](batch b) -> weft::task<void> {
                               std::vector<weft::task<long>> parts;
                               for (int r : b.records) parts.push_back(transform(r));
                               auto out = co_await weft::when_all(std::move(parts));  // the records in parallel
                               total.fetch_add(std::accumulate(out.begin(), out.end(), 0L));
                             });
  auto start = std::chrono::steady_clock::now();
  rt.block_on([&]() -> weft::task<void> {
    for (int i = 0; i < 200; ++i) {
      batch b{i, {}};
      for (int r = 0; r < 50; ++r) b.records.push_back(i * 50 + r);
      co_await pool.submit(std::move(b));  // waits when 100 batches are queued: memory stays bounded
    }
  }());
  auto report = rt.block_on(pool.stop(10s));
  double secs = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  auto s = pool.stats();
  long expected = 0;
  for (long v = 0; v < 200 * 50; ++v) expected += 2 * v;
  std::printf("%llu batches of 50 records in %.2f s (%.0f records/s), %zu drained at stop; sum %ld (expected %ld)\n",
              (unsigned long long)s.processed, secs, s.processed * 50 / secs, report.drained, total.load(), expected);
  return total.load() == expected ? 0 : 1;
}
