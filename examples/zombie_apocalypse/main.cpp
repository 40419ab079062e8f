// The zombie-worker incident (shared/seeds/000, 001), retold with weft.
//
//   zombie_apocalypse [normal|zombie|protected] [--duration=SECONDS] [--rate=JOBS_PER_SECOND]
//                     [--dashboard=HOST:PORT]
//
// Jobs of several types arrive steadily at a pool of job slots fed by a channel. From the
// fourth second some are toxic: some hang forever on an upstream that never answers, a few spin
// on the CPU forever.
//   normal     no toxic jobs.
//   zombie     protections off: no job deadline, no replacement workers. Hung jobs pile up in
//              the pool's slots, spinning jobs take worker threads for good; latency climbs and
//              throughput collapses while "workers: 2" still looks fine.
//   protected  (default) every job runs under a deadline, so hanging jobs are cancelled and
//              their slots come back; the stall detector names each spinning job (name, spawn
//              site, stack) and starts a replacement worker, so throughput holds.
// Every second a dashboard line; at the end a summary. Exits non-zero if the protected run lost
// a job or let throughput collapse. Meanwhile weft::metrics::serve shows the same live in a
// browser: its URL is printed at the start (127.0.0.1:9464, or a free port if that one is
// taken; --dashboard=HOST:PORT to choose).

#include <sys/resource.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <random>
#include <string>
#include <thread>

#include <fmt/format.h>

#include <weft/asio.hpp>
#include <weft/metrics/registry.hpp>
#include <weft/weft.hpp>

#include "jobs.hpp"

using namespace std::chrono_literals;
using clock_type = std::chrono::steady_clock;

namespace {

enum class scenario { normal, zombie, guarded };

struct config {
  scenario mode = scenario::guarded;
  int duration_s = 20;
  int rate = 400;  // jobs per second
  int slots = 32;  // jobs processed at once
  std::chrono::milliseconds deadline{250};
  std::string dashboard = "127.0.0.1:9464";  // metrics::serve: the live page at /
};

struct counters {
  weft::metrics::counter& submitted;
  weft::metrics::counter& completed;
  weft::metrics::counter& timed_out;
  weft::metrics::counter& failed;
  weft::metrics::counter& dropped;
  weft::metrics::histogram& latency;
  std::atomic<int> in_flight{0};
  std::atomic<int> slots_busy{0};
};

double rss_mb() {
  std::ifstream statm("/proc/self/statm");
  long pages = 0, resident = 0;
  statm >> pages >> resident;
  return static_cast<double>(resident) * static_cast<double>(sysconf(_SC_PAGESIZE)) / (1024.0 * 1024.0);
}

// One job slot: takes jobs off the queue and runs each, under a deadline when protected.
weft::task<void> slot(weft::channel<demo::job>& queue, counters& c, const config& cfg) {
  while (auto j = co_await queue.recv()) {
    c.slots_busy.fetch_add(1);
    try {
      // Spawned (and named) so that dumps and stall reports say which job it is.
      auto work = demo::process(*j);
      if (cfg.mode == scenario::guarded)
        co_await weft::with_timeout(cfg.deadline, [](weft::task<void> w, std::string_view n) -> weft::task<void> {
          co_await weft::spawn(std::move(w), {.name = n});
        }(std::move(work), demo::name(j->type)));
      else
        co_await weft::spawn(std::move(work), {.name = demo::name(j->type)});
      c.completed.inc();
      c.latency.observe(std::chrono::duration<double>(clock_type::now() - j->enqueued).count());
    } catch (const weft::timeout_error&) {
      c.timed_out.inc();
    } catch (const std::exception&) {
      c.failed.inc();
    }
    c.slots_busy.fetch_sub(1);
    c.in_flight.fetch_sub(1);
  }
}

// The arrivals, from outside the runtime (like requests off the network): `rate` jobs a second,
// toxic ones from the fourth second on. A full queue sheds the job (counted as dropped).
void producer(weft::channel<demo::job>& queue, counters& c, const config& cfg, clock_type::time_point start) {
  std::mt19937 rng(2026);
  std::uint64_t next_id = 0;
  auto next = start;
  const auto gap = std::chrono::nanoseconds(1'000'000'000 / cfg.rate);
  int spins = 0;
  while (clock_type::now() < start + std::chrono::seconds(cfg.duration_s)) {
    next += gap;
    std::this_thread::sleep_until(next);
    auto elapsed = clock_type::now() - start;
    demo::job j{next_id++, demo::job_type::email, clock_type::now()};
    int roll = static_cast<int>(rng() % 1000);
    j.type = roll < 500 ? demo::job_type::email : roll < 800 ? demo::job_type::report : demo::job_type::image;
    if (cfg.mode != scenario::normal && elapsed > 3s) {
      if (roll < 8) j.type = demo::job_type::toxic_hang;  // 0.8 %
      // A spinner at 4 s and every 5 s after: a worker thread each, for good.
      if (elapsed > 4s + spins * 5s) {
        j.type = demo::job_type::toxic_spin;
        ++spins;
      }
    }
    c.submitted.inc();
    c.in_flight.fetch_add(1);
    if (!queue.try_send(j)) {
      c.dropped.inc();
      c.in_flight.fetch_sub(1);
    }
  }
}

}  // namespace

int main(int argc, char** argv) {
  config cfg;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "normal")
      cfg.mode = scenario::normal;
    else if (a == "zombie")
      cfg.mode = scenario::zombie;
    else if (a == "protected")
      cfg.mode = scenario::guarded;
    else if (a.rfind("--duration=", 0) == 0)
      cfg.duration_s = std::atoi(a.c_str() + 11);
    else if (a.rfind("--rate=", 0) == 0)
      cfg.rate = std::atoi(a.c_str() + 7);
    else if (a.rfind("--dashboard=", 0) == 0)
      cfg.dashboard = a.substr(12);
    else {
      std::fprintf(stderr,
                   "usage: %s [normal|zombie|protected] [--duration=SECONDS] [--rate=JOBS_PER_SECOND] "
                   "[--dashboard=HOST:PORT]\n",
                   argv[0]);
      return a == "--help" || a == "-h" ? 0 : 2;
    }
  }
  if (cfg.duration_s < 5 || cfg.rate < 1) {
    std::fprintf(stderr, "--duration must be at least 5 seconds and --rate at least 1\n");
    return 2;
  }
  const char* mode_name = cfg.mode == scenario::normal   ? "normal"
                          : cfg.mode == scenario::zombie ? "zombie"
                                                         : "protected";

  weft::stall_options stall;
  stall.hang_threshold = 2s;  // the incident used 30 s; the demo is short
  if (cfg.mode == scenario::zombie) {
    stall.max_replacements = 0;  // protections off: stuck workers are not replaced...
    stall.capture_backtrace = false;
    stall.on_stall = [](const weft::stall_report&) {};  // ...nor reported
  }
  weft::runtime rt({.name = "demo", .stall = stall});
  auto& reg = rt.metrics();
  counters c{reg.counter("demo_jobs_submitted_total", "Jobs submitted"),
             reg.counter("demo_jobs_completed_total", "Jobs completed"),
             reg.counter("demo_jobs_timed_out_total", "Jobs cancelled at their deadline"),
             reg.counter("demo_jobs_failed_total", "Jobs that failed"),
             reg.counter("demo_jobs_dropped_total", "Jobs shed because the queue was full"),
             reg.histogram("demo_job_latency_seconds", "Time from arrival to completion",
                           weft::metrics::buckets::exponential(1e-4, 1.5, 30))};

  std::printf("zombie_apocalypse: scenario %s, %d s, %d jobs/s, %zu workers, %d job slots%s\n", mode_name,
              cfg.duration_s, cfg.rate, rt.workers(), cfg.slots,
              cfg.mode == scenario::guarded ? fmt::format(", job deadline {} ms", cfg.deadline.count()).c_str() : "");

  // The live page (and /metrics, /tasks) for the length of the run; if the port is taken, any
  // free one.
  weft::metrics::server dashboard;
  try {
    dashboard = weft::metrics::serve(rt, cfg.dashboard);
  } catch (const boost::system::system_error&) {
    dashboard = weft::metrics::serve(rt, cfg.dashboard.substr(0, cfg.dashboard.rfind(':')) + ":0");
  }
  std::printf("dashboard: http://%s:%u/ (live while the demo runs; /metrics for Prometheus)\n",
              cfg.dashboard.substr(0, cfg.dashboard.rfind(':')).c_str(), static_cast<unsigned>(dashboard.port()));
  std::fflush(stdout);

  weft::channel<demo::job> queue(1024);
  auto start = clock_type::now();
  std::vector<weft::join_handle<void>> slots;
  for (int i = 0; i < cfg.slots; ++i) slots.push_back(rt.spawn(slot(queue, c, cfg), {.name = "job slot"}));
  std::thread arrivals([&] { producer(queue, c, cfg, start); });

  // The dashboard: what the incident's dashboard showed, and what it did not.
  double last_completed = 0, tail_rate = 0, first_rates = 0;
  int first_n = 0;
  for (int s = 1; s <= cfg.duration_s; ++s) {
    std::this_thread::sleep_until(start + std::chrono::seconds(s));
    auto snap = reg.snapshot();
    auto g = [&](const char* n) { return snap.gauge_value(n, {{"runtime", "demo"}}); };
    double completed = snap.counter_value("demo_jobs_completed_total");
    double per_s = completed - last_completed;
    last_completed = completed;
    if (s <= 3) first_rates += per_s, ++first_n;
    if (s > cfg.duration_s - 3) tail_rate += per_s / 3;
    auto lat = snap.histogram("demo_job_latency_seconds");
    std::printf(
        "[%3ds] queue %4zu dropped %5.0f | workers %2.0f busy %2.0f zombie %.0f replaced %.0f | slots busy %2d/%d hung "
        "%3.0f | done/s %5.0f timed-out %4.0f | p95 %7.1f ms | rss %5.1f MB\n",
        s, queue.size(), snap.counter_value("demo_jobs_dropped_total"), g("weft_workers"), g("weft_workers_busy"),
        g("weft_zombie_workers"), snap.counter_value("weft_worker_replacements_total", {{"runtime", "demo"}}),
        c.slots_busy.load(), cfg.slots, g("weft_hung_tasks"), per_s, snap.counter_value("demo_jobs_timed_out_total"),
        lat.count ? lat.quantile(0.95) * 1e3 : 0.0, rss_mb());
    std::fflush(stdout);
  }

  // The end: stop the spinners, let the queue drain for a moment, count everything.
  arrivals.join();
  queue.close();
  demo::demo_over.store(true);
  auto drain_until = clock_type::now() + 2s;
  while (c.in_flight.load() > 0 && clock_type::now() < drain_until) std::this_thread::sleep_for(10ms);
  auto snap = reg.snapshot();
  double submitted = snap.counter_value("demo_jobs_submitted_total");
  double completed = snap.counter_value("demo_jobs_completed_total");
  double timed_out = snap.counter_value("demo_jobs_timed_out_total");
  double failed = snap.counter_value("demo_jobs_failed_total");
  double dropped = snap.counter_value("demo_jobs_dropped_total");
  double stuck = c.in_flight.load();
  double stalls = snap.counter_value("weft_stalls_total", {{"runtime", "demo"}});
  double replaced = snap.counter_value("weft_worker_replacements_total", {{"runtime", "demo"}});
  double baseline = first_n ? first_rates / first_n : 0;
  std::printf(
      "\nsummary (%s): %.0f submitted, %.0f completed, %.0f timed out, %.0f failed, %.0f dropped, %.0f still stuck\n",
      mode_name, submitted, completed, timed_out, failed, dropped, stuck);
  std::printf("  throughput: %.0f jobs/s in the first 3 s, %.0f jobs/s in the last 3 s (%.0f%%)\n", baseline, tail_rate,
              baseline > 0 ? 100 * tail_rate / baseline : 0.0);
  std::printf("  stalls detected %.0f, replacement workers started %.0f, latency p95 %.1f ms\n", stalls, replaced,
              snap.histogram("demo_job_latency_seconds").quantile(0.95) * 1e3);

  int status = 0;
  if (cfg.mode == scenario::guarded) {
    bool lost = submitted != completed + timed_out + failed + dropped + stuck;
    bool collapsed = tail_rate < 0.8 * baseline;
    if (lost)
      std::printf("FAIL: %.0f jobs are not accounted for\n",
                  submitted - completed - timed_out - failed - dropped - stuck);
    if (dropped > 0) std::printf("FAIL: %.0f jobs were shed\n", dropped);
    if (collapsed) std::printf("FAIL: throughput fell below 80%% of the first seconds'\n");
    if (stuck > 0) std::printf("FAIL: %.0f jobs never finished\n", stuck);
    status = lost || collapsed || stuck > 0 || dropped > 0 ? 1 : 0;
    if (!status) std::printf("  protected: no job lost, throughput held\n");
  } else if (cfg.mode == scenario::zombie) {
    std::printf("  zombie: %.0f jobs stuck for good, %.0f shed; the worker count said %zu all along\n", stuck, dropped,
                rt.workers());
  }
  std::fflush(stdout);
  dashboard.stop();
  rt.shutdown();  // ends whatever still hangs (its frames are destroyed) without waiting for it
  return status;
}
