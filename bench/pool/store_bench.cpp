// pool_store_bench: what a durable job costs. The same trivial jobs go through a job_pool in
// memory and through a job_pool on a weft::sqlite_store (WAL; synchronous=NORMAL, and FULL),
// submitted by 1 or 64 tasks at once (co_await submit), until the pool has processed them all
// and the store has committed every deletion (flush). One iteration = n jobs, submit to
// deletion; the table (table.py) divides by n. `writes_per_commit` says how well the group
// commit batched: each job is two writes (its insert, its deletion).
//
//   pool_store_bench --benchmark_repetitions=5 --benchmark_enable_random_interleaving=true \
//                    --benchmark_out=store.json --benchmark_out_format=json
//   python3 bench/pool/table.py store.json

#include <benchmark/benchmark.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include <weft/pool/pool.hpp>
#include <weft/pool/sqlite_store.hpp>
#include <weft/runtime.hpp>
#include <weft/task_group.hpp>

namespace {

using weft::task;
using store_t = weft::sqlite_store<std::int64_t>;

enum class kind { memory, sqlite, sqlite_full };

task<void> submit_range(weft::job_pool<std::int64_t>& pool, std::int64_t from, std::int64_t to) {
  for (std::int64_t j = from; j < to; ++j) {
    auto submitting = pool.submit(j);
    co_await std::move(submitting);
  }
}

task<void> submit_all(weft::job_pool<std::int64_t>& pool, std::int64_t n, std::int64_t submitters) {
  weft::task_group g;
  for (std::int64_t s = 0; s < submitters; ++s)
    g.spawn(submit_range(pool, n * s / submitters, n * (s + 1) / submitters));
  co_await g.join();
  co_await pool.stop(std::chrono::seconds(60));
}

std::shared_ptr<store_t> open_store(kind k, const std::string& path) {
  std::filesystem::remove(path);
  std::filesystem::remove(path + "-wal");
  std::filesystem::remove(path + "-shm");
  return std::make_shared<store_t>(
      path, [](const std::int64_t& j) { return std::to_string(j); },
      [](std::string_view s) { return std::stoll(std::string(s)); },
      weft::sqlite_store_options{.sync_every_commit = k == kind::sqlite_full});
}

void jobs(benchmark::State& state, kind k) {
  const std::int64_t submitters = state.range(0), n = state.range(1);
  weft::runtime rt({.workers = 2});
  const std::string path = (std::filesystem::temp_directory_path() / "weft-store-bench.db").string();
  std::shared_ptr<store_t> store = k == kind::memory ? nullptr : open_store(k, path);
  std::atomic<std::int64_t> done{0};
  auto once = [&] {
    done = 0;
    weft::job_pool<std::int64_t> pool(rt, {.name = "bench", .queue_capacity = 1024},
                                      [&done](std::int64_t) -> task<void> {
                                        done.fetch_add(1, std::memory_order_relaxed);
                                        co_return;
                                      },
                                      {.store = store});
    rt.block_on(submit_all(pool, n, submitters));
    if (store) store->flush();  // every deletion committed: the job is gone from the disk
  };
  once();  // warm-up (and the file's first pages)
  weft::sqlite_store_stats before = store ? store->stats() : weft::sqlite_store_stats{};
  for (auto _ : state) {
    auto t0 = std::chrono::steady_clock::now();
    once();
    state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    if (done.load() != n) state.SkipWithError("a job was lost");
  }
  state.counters["jobs"] = static_cast<double>(n);
  if (store) {
    auto after = store->stats();
    state.counters["writes_per_commit"] = static_cast<double>(after.writes - before.writes) /
                                          static_cast<double>(after.transactions - before.transactions);
    store.reset();
    std::filesystem::remove(path);
    std::filesystem::remove(path + "-wal");
    std::filesystem::remove(path + "-shm");
  }
}

void register_all() {
  struct row {
    const char* name;
    kind k;
  };
  for (row r : {row{"store/memory", kind::memory}, row{"store/sqlite", kind::sqlite},
                row{"store/sqlite_fsync", kind::sqlite_full}})
    for (std::int64_t submitters : {1, 64})
      benchmark::RegisterBenchmark(r.name, [k = r.k](benchmark::State& s) { jobs(s, k); })
          ->ArgNames({"submitters", "n"})
          ->Args({submitters, submitters > 1 || r.k == kind::memory ? 20000
                              : r.k == kind::sqlite                 ? 2000
                                                                    : 500})
          ->UseManualTime()
          ->Unit(benchmark::kMillisecond)
          ->MinTime(0.5);
}

}  // namespace

int main(int argc, char** argv) {
  register_all();
  benchmark::Initialize(&argc, argv);
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
}
