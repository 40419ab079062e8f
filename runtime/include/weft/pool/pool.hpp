#pragma once
// weft::job_pool<Job>: the worker pool of the source documents (shared/seeds/003, 004), built
// on the runtime.
//
//   weft::job_pool<order> pool(rt, {.name = "orders", .concurrency = 8, .queue_capacity = 1000,
//                                   .job_timeout = 2s, .retry = {.max_attempts = 3}},
//                              [](order o) -> weft::task<void> { co_await ship(o); });
//   if (auto s = pool.try_submit(o); s != weft::submit_status::accepted) log(weft::to_string(s));
//   ...
//   weft::stop_report r = co_await pool.stop(5s);   // drains; cancels what is left at 5 s
//
// Jobs wait in a bounded queue and are processed `concurrency` at a time by tasks on the
// runtime. try_submit sheds load (queue full, stopping, circuit open); co_await submit() waits
// for room. Each attempt runs under the job deadline (a cancellation token: an attempt that
// overruns is cancelled at its next cancellation point and counted as timed out; one that never
// reaches one is the stall detector's to report). Failures marked retryable (retryable_error,
// and timeouts) are retried with exponential backoff and jitter; a circuit breaker per job type
// stops hammering a failing dependency; a job that fails for good goes to the dead-letter queue
// with its last error and attempt count, from where it can be taken or resubmitted.
//
// stats() is a consistent snapshot: submitted == processed + failed + in_flight + queue_depth at
// every moment; nothing is counted twice, nothing is lost. Metrics: weft_pool_* with a `pool`
// label, and weft_pool_job_duration_seconds by status.
//
// Thread safety: every member may be called from any thread (submit and stop from tasks).
// Lifetime: stop() before destroying the pool to drain it; destroying a pool that was not
// stopped cancels its jobs and lets its tasks finish on their own.

#include <chrono>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <source_location>
#include <string>
#include <utility>
#include <vector>

#include <weft/pool/options.hpp>
#include <weft/pool/pool_core.hpp>
#include <weft/runtime.hpp>
#include <weft/spawn.hpp>
#include <weft/task.hpp>
#include <weft/time.hpp>
#include <weft/timeout.hpp>

namespace weft {

/// A job that failed for good, with why.
template <class Job>
struct dead_letter {
  Job job;
  std::string error;             ///< what() of the last exception
  std::exception_ptr exception;  ///< the last exception itself
  std::size_t attempts = 0;
  std::chrono::system_clock::time_point when{};
};

template <class Job>
class job_pool {
 public:
  using processor_fn = std::function<task<void>(Job)>;
  /// The job's type for its circuit breaker ("email", "report"); by default one for all jobs.
  using type_fn = std::function<std::string(const Job&)>;

  job_pool(runtime& rt, pool_options opts, processor_fn processor, type_fn type_of = {})
      : s_(std::make_shared<state>(rt, std::move(opts), std::move(processor), std::move(type_of))) {
    s_->core.register_metrics([raw = s_.get()] { return raw->snapshot(); });
    for (std::size_t i = 0; i < s_->core.opts.concurrency; ++i)
      s_->workers.push_back(rt.spawn(worker_loop(s_), {.name = s_->worker_name, .token = s_->core.cancel.token()}));
  }
  job_pool(const job_pool&) = delete;
  job_pool& operator=(const job_pool&) = delete;
  ~job_pool() {
    if (s_) s_->abandon();
  }

  /// Queues `job` if there is room; never waits. Counts a rejection as dropped.
  submit_status try_submit(Job job) {
    auto st = s_->admit(job);
    if (st != submit_status::accepted) return st;
    if (!s_->core.room.try_acquire()) {
      std::lock_guard lock(s_->core.mu);
      ++s_->core.counters.dropped;
      return submit_status::queue_full;
    }
    return s_->enqueue(std::move(job), 0);
  }

  /// Queues `job`, waiting for room. A cancellation point. Rejects only when stopping or when
  /// the job type's circuit is open.
  task<submit_status> submit(Job job) {
    auto keep = s_;
    auto st = keep->admit(job);
    if (st != submit_status::accepted) co_return st;
    co_await keep->core.room.acquire();
    co_return keep->enqueue(std::move(job), 0);
  }

  pool_stats stats() const { return s_->snapshot(); }

  /// Healthy, or degraded with reasons: queue fuller than pool_options::degraded_queue_fill,
  /// open circuits, zombie workers or stalls since the last check, jobs dead-lettered since the
  /// last check.
  health_status health() {
    std::vector<std::string> open;
    {
      std::lock_guard lock(s_->core.mu);
      open = s_->core.breakers.open_types(std::chrono::steady_clock::now());
    }
    return s_->core.health(stats(), open);
  }

  /// Rejects new jobs, finishes what is queued, and at `drain_timeout` cancels what is still
  /// running and dead-letters what is still queued. Waits for the pool's tasks to end.
  task<stop_report> stop(std::chrono::milliseconds drain_timeout) {
    auto keep = s_;
    co_return co_await keep->stop(drain_timeout);
  }

  /// Takes the dead letters out of the pool.
  std::vector<dead_letter<Job>> take_dead_letters() {
    std::lock_guard lock(s_->core.mu);
    std::vector<dead_letter<Job>> out(std::make_move_iterator(s_->dead.begin()), std::make_move_iterator(s_->dead.end()));
    s_->dead.clear();
    return out;
  }

  /// Submits every dead letter again (try_submit); those refused stay dead letters. Returns how
  /// many were accepted.
  std::size_t resubmit_dead_letters() {
    std::size_t accepted = 0;
    for (auto& letter : take_dead_letters()) {
      Job copy = letter.job;
      if (try_submit(std::move(copy)) == submit_status::accepted) {
        ++accepted;
      } else {
        std::lock_guard lock(s_->core.mu);
        s_->dead.push_back(std::move(letter));
      }
    }
    return accepted;
  }

 private:
  struct entry {
    Job job;
    std::string type;
    std::size_t attempts = 0;
  };

  struct state {
    state(runtime& rt, pool_options o, processor_fn p, type_fn t)
        : core(rt, std::move(o)), processor(std::move(p)), type_of(std::move(t)),
          worker_name(core.opts.name + " worker") {}

    detail::pool_core core;
    processor_fn processor;
    type_fn type_of;
    std::string worker_name;
    std::deque<entry> queue;              // guarded by core.mu
    std::deque<dead_letter<Job>> dead;    // guarded by core.mu
    std::vector<join_handle<void>> workers;

    std::string type(const Job& j) const { return type_of ? type_of(j) : std::string(); }

    pool_stats snapshot() {
      std::lock_guard lock(core.mu);
      pool_stats s = core.counters;
      s.queue_depth = queue.size();
      return s;
    }

    // Under no lock: the checks that do not need room.
    submit_status admit(const Job& j) {
      std::string t = type(j);
      std::lock_guard lock(core.mu);
      submit_status st = core.stopping ? submit_status::stopping
                         : core.breakers.rejecting(t, std::chrono::steady_clock::now()) ? submit_status::circuit_open
                                                                                         : submit_status::accepted;
      if (st != submit_status::accepted) ++core.counters.dropped;
      return st;
    }

    // With a room permit held: queue it (or give the permit back if the pool began stopping).
    submit_status enqueue(Job j, std::size_t attempts) {
      std::string t = type(j);
      {
        std::lock_guard lock(core.mu);
        if (core.stopping) {
          ++core.counters.dropped;
          core.room.release();
          return submit_status::stopping;
        }
        queue.push_back(entry{std::move(j), std::move(t), attempts});
        ++core.counters.submitted;
      }
      core.items.release();
      return submit_status::accepted;
    }

    // Under core.mu: a job that failed for good.
    void dead_letter_locked(entry&& e, std::exception_ptr error) {
      ++core.counters.failed;
      ++core.counters.dead_lettered;
      if (dead.size() >= core.opts.dead_letter_capacity && !dead.empty()) dead.pop_front();
      dead.push_back(dead_letter<Job>{std::move(e.job), detail::pool_core::describe(error), error, e.attempts,
                                      std::chrono::system_clock::now()});
    }

    // Under core.mu: a job left in flight; tells a stopping pool when it has gone idle.
    void finished_locked() {
      --core.counters.in_flight;
      if (core.stopping && queue.empty() && core.counters.in_flight == 0) core.idle.set();
    }

    void abandon() {
      {
        std::lock_guard lock(core.mu);
        if (core.stopping && core.idle.is_set()) return;
        core.stopping = true;
      }
      core.cancel.cancel();
      core.items.release(core.opts.concurrency);
    }

    task<stop_report> stop(std::chrono::milliseconds drain_timeout);
  };

  static task<void> worker_loop(std::shared_ptr<state> s);
  static task<void> run(std::shared_ptr<state> s, entry e);

  std::shared_ptr<state> s_;
};

template <class Job>
task<void> job_pool<Job>::worker_loop(std::shared_ptr<state> s) {
  for (;;) {
    try {
      co_await s->core.items.acquire();
    } catch (const cancelled_error&) {
      // Destroyed without stop(): nothing more will be taken from the queue.
    }
    entry e;
    {
      std::lock_guard lock(s->core.mu);
      if (s->queue.empty()) {
        if (s->core.stopping) co_return;
        continue;
      }
      e = std::move(s->queue.front());
      s->queue.pop_front();
      ++s->core.counters.in_flight;
      s->core.room.release();  // under the pool's lock: its slot is free once the job is in flight
    }
    co_await run(s, std::move(e));
  }
}

template <class Job>
task<void> job_pool<Job>::run(std::shared_ptr<state> s, entry e) {
  auto& core = s->core;
  using clock = std::chrono::steady_clock;
  for (;;) {
    ++e.attempts;
    bool allowed;
    {
      std::lock_guard lock(core.mu);
      allowed = core.breakers.allow(e.type, clock::now());
    }
    std::exception_ptr error;
    bool timed_out = false;
    if (!allowed) {
      error = std::make_exception_ptr(std::runtime_error("the circuit for this job type is open"));
    } else {
      auto start = clock::now();
      try {
        if (core.opts.job_timeout > std::chrono::milliseconds::zero())
          co_await with_timeout(core.opts.job_timeout, s->processor(e.job));
        else
          co_await s->processor(e.job);
      } catch (const timeout_error&) {
        timed_out = true;
        error = std::current_exception();
      } catch (...) {
        error = std::current_exception();
      }
      core.observe(!error ? detail::pool_core::outcome::success
                   : timed_out ? detail::pool_core::outcome::timeout
                               : detail::pool_core::outcome::failure,
                   clock::now() - start);
    }
    bool retry = false;
    {
      std::lock_guard lock(core.mu);
      if (!error) {
        ++core.counters.processed;
        core.breakers.success(e.type);
        s->finished_locked();
        co_return;
      }
      if (timed_out) ++core.counters.timed_out;
      if (allowed) core.breakers.failure(e.type, clock::now());
      retry = e.attempts < core.opts.retry.max_attempts && detail::pool_core::retryable(error) &&
              !core.cancel.cancelled();
      if (retry) ++core.counters.retried;
      else {
        s->dead_letter_locked(std::move(e), error);
        s->finished_locked();
        co_return;
      }
    }
    try {
      co_await sleep_for(core.backoff(e.attempts + 1));
    } catch (const cancelled_error&) {
      std::lock_guard lock(core.mu);
      s->dead_letter_locked(std::move(e), std::current_exception());
      s->finished_locked();
      co_return;
    }
  }
}

template <class Job>
task<stop_report> job_pool<Job>::state::stop(std::chrono::milliseconds drain_timeout) {
  stop_report report;
  std::uint64_t finished_before;
  {
    std::lock_guard lock(core.mu);
    if (core.stopping) {  // a second stop (or after destruction began): just wait
      if (core.idle.is_set()) co_return report;
    }
    core.stopping = true;
    finished_before = core.counters.processed + core.counters.failed;
    if (queue.empty() && core.counters.in_flight == 0) core.idle.set();
  }
  core.items.release(core.opts.concurrency);  // idle workers see the flag and leave
  bool drained = true;
  try {
    co_await with_timeout(drain_timeout, [](event& idle) -> task<void> { co_await idle.wait(); }(core.idle));
  } catch (const timeout_error&) {
    drained = false;
  }
  if (!drained) {
    {
      std::lock_guard lock(core.mu);
      report.cancelled = core.counters.in_flight;
      auto why = std::make_exception_ptr(cancelled_error("weft::job_pool: still queued at the drain timeout of stop()"));
      while (!queue.empty()) {
        entry e = std::move(queue.front());
        queue.pop_front();
        dead_letter_locked(std::move(e), why);
        ++report.dead_lettered;
      }
      if (core.counters.in_flight == 0) core.idle.set();
    }
    core.cancel.cancel();  // in-flight attempts and backoffs stop at their next cancellation point
    co_await core.idle.wait();
  }
  for (auto& w : workers) co_await w;
  {
    std::lock_guard lock(core.mu);
    std::uint64_t finished = core.counters.processed + core.counters.failed - finished_before;
    report.drained = static_cast<std::size_t>(finished) - report.cancelled - report.dead_lettered;
  }
  co_return report;
}

}  // namespace weft
