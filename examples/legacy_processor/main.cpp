// legacy_processor: a synchronous job processor, run by a weft::job_pool on weft fibers.
//
// process_job() is plain blocking-style code, as a legacy codebase has it: it opens a
// connection, calls fetch(url) three times and waits for each answer. It has no co_await
// anywhere; fetch() waits with this_fiber::await on a weft task (a simulated 20 ms remote
// call), so a waiting job holds a fiber stack but no thread. The pool's processor is a one-line
// coroutine that runs the legacy function on a fiber and joins it.
//
// 200 jobs go through a job_pool of concurrency 64 on 2 workers. Blocking calls on the two
// worker threads would need 200 * 3 * 20 ms / 2 = 6 s; on fibers the waits overlap. Meanwhile:
//   * a heartbeat task ticks every 5 ms on the same two workers: it could not if a job
//     blocked a worker;
//   * a dump_tasks() taken by the heartbeat shows the jobs as suspended fibers, by name;
//   * one job calls an upstream that hangs: the pool's job deadline cancels it inside the
//     fiber, the legacy code unwinds (its connection closes), and the job is dead-lettered.
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include <weft/weft.hpp>

using namespace std::chrono_literals;

namespace {

constexpr int jobs = 200, fetches_per_job = 3, hanging_job = 13;
constexpr auto latency = 20ms;

std::atomic<int> in_flight{0}, most_in_flight{0}, open_connections{0};
std::atomic<std::size_t> bytes_fetched{0};

// ---- the asynchronous side: weft tasks, as an HTTP client built on weft would offer ----

weft::task<std::string> http_get(std::string url) {
  int now = in_flight.fetch_add(1) + 1;
  int seen = most_in_flight.load();
  while (now > seen && !most_in_flight.compare_exchange_weak(seen, now)) {
  }
  try {
    co_await weft::sleep_for(url.find("/hanging/") != std::string::npos ? 1h : latency);
  } catch (...) {
    in_flight.fetch_sub(1);
    throw;
  }
  in_flight.fetch_sub(1);
  co_return "<" + url + ">";
}

// ---- the legacy code: synchronous, no co_await anywhere below ----

struct connection {  // RAII, as legacy code has it: closed however the job ends
  connection() { open_connections.fetch_add(1); }
  ~connection() { open_connections.fetch_sub(1); }
  connection(const connection&) = delete;
  connection& operator=(const connection&) = delete;
  std::string fetch(const std::string& url) { return weft::this_fiber::await(http_get(url)); }
};

std::size_t process_job(int id) {
  connection conn;
  std::string base = id == hanging_job ? "https://example.com/hanging/" : "https://example.com/job/";
  std::size_t bytes = 0;
  for (int i = 0; i < fetches_per_job; ++i)
    bytes += conn.fetch(base + std::to_string(id) + "/part/" + std::to_string(i)).size();
  return bytes;
}

// ---- the pool's processor: the whole adapter ----

weft::task<void> run_on_fiber(int id) {
  bytes_fetched += co_await weft::spawn_fiber([id] { return process_job(id); }, {.name = "legacy-job"});
}

// ---- the heartbeat: another task on the same workers; it also takes one look at them ----

struct heartbeat_state {
  std::atomic<bool> stop{false};
  std::vector<std::chrono::nanoseconds> lateness;  // how late each tick woke
  std::ptrdiff_t suspended_fibers = 0;
};

weft::task<void> heartbeat(weft::runtime& rt, heartbeat_state& s) {
  while (!s.stop.load()) {
    auto due = std::chrono::steady_clock::now() + 5ms;
    co_await weft::sleep_for(5ms);
    s.lateness.push_back(std::chrono::steady_clock::now() - due);
    if (s.lateness.size() == 4) {
      auto tasks = rt.dump_tasks();
      s.suspended_fibers = std::count_if(tasks.begin(), tasks.end(), [](const weft::task_info& t) {
        return t.name == "legacy-job" && t.state == weft::task_state::suspended;
      });
    }
  }
}

weft::task<weft::stop_report> submit_all(weft::job_pool<int>& pool) {
  for (int id = 0; id < jobs; ++id) co_await pool.submit(id);
  co_return co_await pool.stop(10s);  // waits for every job to finish
}

}  // namespace

int main() {
  weft::runtime rt({.workers = 2});
  weft::job_pool<int> pool(rt, {.name = "legacy", .concurrency = 64, .job_timeout = 500ms}, run_on_fiber);
  heartbeat_state hb;
  auto beating = rt.spawn(heartbeat(rt, hb));

  auto start = std::chrono::steady_clock::now();
  weft::stop_report report = rt.block_on(submit_all(pool));
  auto elapsed = std::chrono::steady_clock::now() - start;
  hb.stop = true;
  rt.block_on(std::move(beating));

  auto ms = [](auto d) {
    return static_cast<long long>(std::chrono::duration_cast<std::chrono::milliseconds>(d).count());
  };
  weft::pool_stats st = pool.stats();
  std::printf(
      "legacy_processor: %d synchronous jobs (%d blocking-style %lld ms fetches each), each on a fiber,\n"
      "  through a job_pool of concurrency 64 on %zu workers\n",
      jobs, fetches_per_job, ms(latency), rt.workers());
  std::printf("  done in %lld ms: %llu processed, %llu failed, %zu drained by stop; %zu bytes fetched\n", ms(elapsed),
              static_cast<unsigned long long>(st.processed), static_cast<unsigned long long>(st.failed), report.drained,
              bytes_fetched.load());
  std::printf("  blocking the worker threads instead would take ~%lld ms (one call at a time per thread)\n",
              ms(latency * jobs * fetches_per_job / rt.workers()));
  std::printf("  fetches in flight at once: up to %d, on %zu worker threads\n", most_in_flight.load(), rt.workers());
  std::sort(hb.lateness.begin(), hb.lateness.end());
  auto late_ms = [&](double q) {
    return std::chrono::duration<double, std::milli>(
               hb.lateness[static_cast<std::size_t>(q * (hb.lateness.size() - 1))])
        .count();
  };
  std::printf(
      "  heartbeat on the same workers: %zu ticks of 5 ms, late by %.1f ms (median), %.1f ms (worst):\n"
      "    no job held a worker (the timer wheel ticks in 1 ms)\n",
      hb.lateness.size(), late_ms(0.5), late_ms(1.0));
  std::printf("  dump_tasks 20 ms in: %td \"legacy-job\" fibers suspended, each waiting without a thread\n",
              hb.suspended_fibers);
  for (const auto& d : pool.take_dead_letters())
    std::printf("  dead letter: job %d after %zu attempt(s): %s\n", d.job, d.attempts, d.error.c_str());
  // A cancelled join does not wait for its child: the timed-out job's fiber may still be
  // unwinding on the other worker. Shutdown ends every task, so after it nothing is left.
  rt.shutdown();
  std::printf("  connections still open after shutdown: %d (the timed-out job's fiber unwound and closed its own)\n",
              open_connections.load());
  return st.processed == jobs - 1 && st.failed == 1 && open_connections.load() == 0 ? 0 : 1;
}
