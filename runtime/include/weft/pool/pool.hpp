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
// Lifecycle. stop() may be called any number of times, from several tasks at once: the first
// drains, the others wait for it and get the same report. Submitters waiting in submit() when a
// stop begins get submit_status::stopping. A pool destroyed without stop() cancels its jobs,
// and its tasks free everything (queue, dead letters, metric series, its name) as they end;
// nothing refers back to the pool object. A pool outliving its runtime stays safe to use
// (try_submit says stopping) and to destroy. A processor that throws anything fails its job;
// it never ends a pool worker.
//
// Thread safety: every member may be called from any thread (submit and stop from tasks).

#include <chrono>
#include <deque>
#include <exception>
#include <functional>
#include <memory>
#include <source_location>
#include <string>
#include <utility>
#include <vector>

#include <weft/combinators/detail/oneshot.hpp>
#include <weft/pool/detail/pool_core.hpp>
#include <weft/pool/options.hpp>
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

  /// Throws std::invalid_argument for bad options (naming the field), or if another live pool
  /// reports under the same explicit name to the runtime's registry; runtime_stopped after the
  /// runtime's shutdown began.
  job_pool(runtime& rt, pool_options opts, processor_fn processor, type_fn type_of = {})
      : s_(std::make_shared<state>(rt, std::move(opts), std::move(processor), std::move(type_of))) {
    s_->core.register_metrics([raw = s_.get()] { return raw->snapshot(); });
    try {
      for (std::size_t i = 0; i < s_->core.opts.concurrency; ++i) {
        {
          std::lock_guard lock(s_->core.mu);
          ++s_->live_workers;
        }
        try {
          // Detached: a worker's frame holds the state, never the other way round.
          rt.spawn(worker_loop(s_), {.name = s_->worker_name, .token = s_->core.cancel.token()}).detach();
        } catch (...) {
          s_->worker_exited();
          throw;
        }
      }
    } catch (...) {
      s_->abandon();  // the workers that did start end on their own
      throw;
    }
  }
  job_pool(const job_pool&) = delete;
  job_pool& operator=(const job_pool&) = delete;
  ~job_pool() { s_->abandon(); }

  /// Queues `job` if there is room; never waits. Counts a rejection as dropped.
  submit_status try_submit(Job job) {
    std::string type = s_->type(job);
    auto st = s_->admit(type);
    if (st != submit_status::accepted) return st;
    if (!s_->core.room.try_acquire()) {
      std::lock_guard lock(s_->core.mu);
      ++s_->core.counters.dropped;
      return submit_status::queue_full;
    }
    return s_->enqueue(std::move(job), std::move(type));
  }

  /// Queues `job`, waiting for room. A cancellation point. Rejects only when stopping (also if
  /// a stop begins while it waits) or when the job type's circuit is open.
  task<submit_status> submit(Job job) {
    auto keep = s_;
    std::string type = keep->type(job);
    auto st = keep->admit(type);
    if (st != submit_status::accepted) co_return st;
    co_await keep->core.room.acquire();
    co_return keep->enqueue(std::move(job), std::move(type));
  }

  pool_stats stats() const { return s_->snapshot(); }

  /// Healthy, or degraded with reasons: queue fuller than pool_options::degraded_queue_fill,
  /// open circuits, zombie workers or stalls since the last check, jobs dead-lettered since the
  /// last check, or the pool stopped.
  health_status health() {
    std::vector<std::string> open;
    bool runtime_gone;
    {
      std::lock_guard lock(s_->core.mu);
      open = s_->core.breakers.open_types(std::chrono::steady_clock::now());
      runtime_gone = s_->runtime_gone;
    }
    return s_->core.health(stats(), open, runtime_gone);
  }

  /// Rejects new jobs, finishes what is queued, and at `drain_timeout` cancels what is still
  /// running and dead-letters what is still queued. Waits for the pool's tasks to end. A
  /// second call waits for the first and returns its report.
  task<stop_report> stop(std::chrono::milliseconds drain_timeout) {
    auto keep = s_;
    co_return co_await keep->stop(drain_timeout);
  }

  /// Takes the dead letters out of the pool.
  std::vector<dead_letter<Job>> take_dead_letters() {
    std::lock_guard lock(s_->core.mu);
    std::vector<dead_letter<Job>> out(std::make_move_iterator(s_->dead.begin()),
                                      std::make_move_iterator(s_->dead.end()));
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
        : core(rt, std::move(o)),
          processor(std::move(p)),
          type_of(std::move(t)),
          worker_name(core.opts.name + " worker") {}

    detail::pool_core core;
    processor_fn processor;
    type_fn type_of;
    std::string worker_name;
    // Guarded by core.mu:
    std::deque<entry> queue;
    std::deque<dead_letter<Job>> dead;
    std::size_t live_workers = 0;
    bool runtime_gone = false;  // the workers ended without a stop: the runtime shut down
    bool stop_started = false;
    stop_report report;              // the first stop's, for the others
    detail::oneshot workers_exited;  // set when the last worker ended (awaited by the first stop)
    event stop_finished;             // set when the first stop is done (awaited by the others)

    std::string type(const Job& j) const { return type_of ? type_of(j) : std::string(); }

    pool_stats snapshot() {
      std::lock_guard lock(core.mu);
      pool_stats s = core.counters;
      s.queue_depth = queue.size();
      return s;
    }

    // The checks that do not need room.
    submit_status admit(const std::string& t) {
      std::lock_guard lock(core.mu);
      submit_status st = core.stopping                                                  ? submit_status::stopping
                         : core.breakers.rejecting(t, std::chrono::steady_clock::now()) ? submit_status::circuit_open
                                                                                        : submit_status::accepted;
      if (st != submit_status::accepted) ++core.counters.dropped;
      return st;
    }

    // With a room permit held: queue it (or give the permit back if the pool began stopping).
    submit_status enqueue(Job j, std::string t) {
      {
        std::lock_guard lock(core.mu);
        if (core.stopping) {
          ++core.counters.dropped;
          core.room.release();
          return submit_status::stopping;
        }
        queue.push_back(entry{std::move(j), std::move(t), 0});
        ++core.counters.submitted;
      }
      core.items.release();
      return submit_status::accepted;
    }

    // Under core.mu: a job that failed for good.
    void dead_letter_locked(entry&& e, std::exception_ptr error) {
      ++core.counters.failed;
      ++core.counters.dead_lettered;
      if (core.opts.dead_letter_capacity == 0) return;  // counted, not kept
      if (dead.size() >= core.opts.dead_letter_capacity) dead.pop_front();
      dead.push_back(dead_letter<Job>{std::move(e.job), detail::pool_core::describe(error), error, e.attempts,
                                      std::chrono::system_clock::now()});
    }

    // Under core.mu: a job left in flight; tells a stopping pool when it has gone idle.
    void finished_locked() {
      --core.counters.in_flight;
      if (core.stopping && queue.empty() && core.counters.in_flight == 0) core.idle.set();
    }

    // Under core.mu: nothing more is taken in. Wakes every submitter waiting for room (their
    // enqueue() then says stopping) and every idle worker (they see the flag and leave), now
    // and later: a semaphore flooded with permits never makes anyone wait again.
    void begin_stopping_locked() {
      core.stopping = true;
      core.room.release(flood);
      core.items.release(flood);
    }

    // The last act of every worker, also of one whose frame shutdown destroyed.
    void worker_exited() noexcept {
      bool last;
      {
        std::lock_guard lock(core.mu);
        last = --live_workers == 0;
        if (last && !core.stopping) {  // not stopped by us: the runtime ended the workers
          runtime_gone = true;
          begin_stopping_locked();
          // Nobody will run what is queued: it becomes dead letters (to resubmit elsewhere).
          auto why =
              std::make_exception_ptr(runtime_stopped("weft::job_pool: the runtime shut down before the job started"));
          for (; !queue.empty(); queue.pop_front()) dead_letter_locked(std::move(queue.front()), why);
        }
        if (last && queue.empty() && core.counters.in_flight == 0) core.idle.set();
      }
      if (last) workers_exited.set();
    }

    // ~job_pool without stop(): cancel everything; the workers free the state as they end.
    void abandon() noexcept {
      {
        std::lock_guard lock(core.mu);
        if (!core.stopping) begin_stopping_locked();
      }
      core.cancel.cancel();
    }

    task<stop_report> stop(std::chrono::milliseconds drain_timeout);
    task<stop_report> drain(std::chrono::milliseconds drain_timeout);
  };

  static constexpr std::size_t flood = std::size_t{1} << 40;

  static task<void> worker_loop(std::shared_ptr<state> s);
  static task<void> run(std::shared_ptr<state> s, entry e);

  std::shared_ptr<state> s_;
};

template <class Job>
task<void> job_pool<Job>::worker_loop(std::shared_ptr<state> s) {
  struct exit_guard {
    state* s;
    ~exit_guard() { s->worker_exited(); }
  } guard{s.get()};
  for (;;) {
    try {
      co_await s->core.items.acquire();
    } catch (const cancelled_error&) {
      co_return;  // the pool was destroyed (or stopped past its drain), or the runtime shuts down
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
  // A job whose frame is destroyed mid-attempt (shutdown past its grace) still leaves the
  // books balanced, as a dead letter that says why.
  struct ended_guard {
    state* s;
    entry* e;
    bool finished = false;
    ~ended_guard() {
      if (finished) return;
      std::lock_guard lock(s->core.mu);
      s->dead_letter_locked(
          std::move(*e),
          std::make_exception_ptr(runtime_stopped("weft::job_pool: the runtime shut down while the job ran")));
      s->finished_locked();
    }
  } guard{s.get(), &e};
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
      } catch (...) {  // whatever the processor throws fails the job, never the worker
        error = std::current_exception();
      }
      core.observe(!error      ? detail::pool_core::outcome::success
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
        guard.finished = true;
        co_return;
      }
      if (timed_out) ++core.counters.timed_out;
      if (allowed) core.breakers.failure(e.type, clock::now());
      retry =
          e.attempts < core.opts.retry.max_attempts && detail::pool_core::retryable(error) && !core.cancel.cancelled();
      if (retry)
        ++core.counters.retried;
      else {
        s->dead_letter_locked(std::move(e), error);
        s->finished_locked();
        guard.finished = true;
        co_return;
      }
    }
    try {
      co_await sleep_for(core.backoff(e.attempts + 1));
    } catch (...) {  // cancelled (stop's timeout, destruction, shutdown)
      std::lock_guard lock(core.mu);
      s->dead_letter_locked(std::move(e), std::current_exception());
      s->finished_locked();
      guard.finished = true;
      co_return;
    }
  }
}

template <class Job>
task<stop_report> job_pool<Job>::state::stop(std::chrono::milliseconds drain_timeout) {
  bool first;
  {
    std::lock_guard lock(core.mu);
    first = !stop_started;
    stop_started = true;
  }
  if (!first) {
    co_await stop_finished.wait();  // the first stop's report, when it is done
    std::lock_guard lock(core.mu);
    co_return report;
  }
  // Whatever happens to the first caller (cancelled, or its runtime shutting down), the others
  // are let go with what it found.
  struct finish {
    state* s;
    ~finish() { s->stop_finished.set(); }
  } done{this};
  stop_report r = co_await drain(drain_timeout);
  {
    std::lock_guard lock(core.mu);
    report = r;
  }
  co_return r;
}

template <class Job>
task<stop_report> job_pool<Job>::state::drain(std::chrono::milliseconds drain_timeout) {
  stop_report r;
  std::uint64_t finished_before;
  {
    std::lock_guard lock(core.mu);
    if (!core.stopping) begin_stopping_locked();
    finished_before = core.counters.processed + core.counters.failed;
    if (queue.empty() && core.counters.in_flight == 0) core.idle.set();
  }
  bool drained = true;
  try {
    co_await with_timeout(drain_timeout, [](event& idle) -> task<void> { co_await idle.wait(); }(core.idle));
  } catch (const cancelled_error&) {  // the timeout, or the stopping task itself cancelled
    drained = false;
  }
  if (!drained) {
    {
      std::lock_guard lock(core.mu);
      r.cancelled = core.counters.in_flight;
      auto why =
          std::make_exception_ptr(cancelled_error("weft::job_pool: still queued at the drain timeout of stop()"));
      while (!queue.empty()) {
        entry e = std::move(queue.front());
        queue.pop_front();
        dead_letter_locked(std::move(e), why);
        ++r.dead_lettered;
      }
    }
    core.cancel.cancel();  // in-flight attempts and backoffs stop at their next cancellation point
  }
  // The workers leave once the queue is empty (or at the cancellation); a job in flight ends
  // first. Not a cancellation point: the pool is not stopped until they are gone.
  co_await workers_exited.wait(false);
  {
    std::lock_guard lock(core.mu);
    std::uint64_t finished = core.counters.processed + core.counters.failed - finished_before;
    r.drained = static_cast<std::size_t>(finished) - r.cancelled - r.dead_lettered;
  }
  co_return r;
}

}  // namespace weft
