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
// Jobs wait in a bounded queue and are processed by the pool's workers, tasks on the runtime.
// try_submit sheds load (queue full, memory budget, stopping, circuit open); co_await submit()
// waits for room. Each attempt runs under the job deadline (a cancellation token: an attempt
// that overruns is cancelled at its next cancellation point and counted as timed out; one that
// never reaches one is the stall detector's to report). Failures marked retryable
// (retryable_error, and timeouts) are retried with exponential backoff and jitter; a circuit
// breaker per job type stops hammering a failing dependency; a job that fails for good goes to
// the dead-letter queue with its last error and attempt count, from where it can be taken or
// resubmitted. A processor that throws anything (panics, in the seed's words) fails its job and
// never its worker.
//
// Job-typed settings come as pool_hooks<Job> (hooks.hpp), the optional fourth argument:
//   - Memory budget: with pool_options::max_queued_bytes and pool_hooks::size_of, the queued
//     jobs (not those in flight) hold at most that many bytes; a job that would exceed it is
//     shed with submit_status::memory_limit, or waited for by submit(). stats().queued_bytes.
//   - Durable jobs: with pool_hooks::store (job_store.hpp; sqlite_store.hpp), a job is accepted
//     once stored, removed when it succeeds, recorded as a dead letter when it fails for good,
//     and a new pool on the store queues what was pending. At least once: a job whose success
//     was not recorded before the process died runs again.
// Adaptive concurrency: with pool_options::min_concurrency below concurrency, the pool starts at
// the minimum and adds a worker while jobs wait in the queue longer than scale_up_after with
// every worker busy; a worker idle for scale_down_after retires (detail/scaling.hpp has the rule
// and where it comes from). stats().workers is the live count.
//
// stats() is a consistent snapshot: submitted == processed + failed + in_flight + queue_depth at
// every moment; nothing is counted twice, nothing is lost. Metrics (a `pool` label): the
// counters as weft_pool_*_total, gauges weft_pool_queue_depth, weft_pool_queue_capacity,
// weft_pool_queued_bytes, weft_pool_in_flight, weft_pool_workers, weft_pool_circuits_open, and
// weft_pool_job_duration_seconds by status.
//
// Lifecycle. stop() may be called any number of times, from several tasks at once: the first
// drains, the others wait for it and get the same report. Submitters waiting in submit() (for
// room, for bytes) when a stop begins get submit_status::stopping. A pool destroyed without
// stop() cancels its jobs, and its tasks free everything (queue, dead letters, metric series,
// its name) as they end; nothing refers back to the pool object. A pool outliving its runtime
// stays safe to use (try_submit says stopping) and to destroy. Workers added by scaling and
// workers retiring are tasks like the first ones: stop() waits for every one.
//
// Thread safety: every member may be called from any thread (submit and stop from tasks).

#include <chrono>
#include <cstddef>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <weft/detail/current.hpp>
#include <weft/errors.hpp>
#include <weft/pool/dead_letter.hpp>
#include <weft/pool/detail/pool_core.hpp>
#include <weft/pool/detail/pool_state.hpp>
#include <weft/pool/hooks.hpp>
#include <weft/pool/job_store.hpp>
#include <weft/pool/options.hpp>
#include <weft/runtime.hpp>
#include <weft/spawn.hpp>
#include <weft/sync/semaphore.hpp>
#include <weft/task.hpp>
#include <weft/time.hpp>
#include <weft/timeout.hpp>

namespace weft {

template <class Job>
class job_pool {
 public:
  using processor_fn = std::function<task<void>(Job)>;
  /// The job's type for its circuit breaker ("email", "report"); by default one for all jobs.
  using type_fn = std::function<std::string(const Job&)>;

  /// Throws std::invalid_argument for bad options (naming the field), an empty processor, or if
  /// another live pool reports under the same explicit name to the runtime's registry;
  /// runtime_stopped after the runtime's shutdown began; what the store throws while reading
  /// its pending jobs.
  job_pool(runtime& rt, pool_options opts, processor_fn processor, pool_hooks<Job> hooks = {})
      : s_(std::make_shared<state>(rt, std::move(opts), checked(std::move(processor)), std::move(hooks))) {
    auto& core = s_->core;
    core.register_metrics([raw = s_.get()] { return raw->snapshot(); });
    try {
      if (s_->hooks.store) s_->recover();
      for (std::size_t i = 0; i < core.rule.min; ++i) launch(s_, true);
      if (core.rule.adaptive()) launch(s_, false);
    } catch (...) {
      s_->abandon();  // the tasks that did start end on their own
      throw;
    }
  }
  /// The same with a plain type_of function (pool_hooks{.type_of = type_of}).
  job_pool(runtime& rt, pool_options opts, processor_fn processor, type_fn type_of)
      : job_pool(rt, std::move(opts), std::move(processor), pool_hooks<Job>{.type_of = std::move(type_of)}) {}
  job_pool(const job_pool&) = delete;
  job_pool& operator=(const job_pool&) = delete;
  ~job_pool() { s_->abandon(); }

  /// Queues `job` if there is room in the queue and in the memory budget; never waits for
  /// either. Counts a rejection as dropped. With a store, returns once the job is stored
  /// (blocking the calling thread for the write: from a task, prefer co_await submit()), and
  /// rethrows the store's error if it could not be.
  submit_status try_submit(Job job) {
    auto& s = *s_;
    std::string type = s.type(job);
    std::size_t bytes = s.size(job);
    if (auto st = s.admit(type, bytes); st != submit_status::accepted) return st;
    if (!s.core.room.try_acquire()) return s.refuse(submit_status::queue_full);
    if (auto st = s.reserve(bytes, false); st != submit_status::accepted) {
      s.core.room.release();
      return st;
    }
    entry e{std::move(job), std::move(type), 0, bytes};
    if (!s.hooks.store) return s.enqueue(std::move(e));
    return s.persist(std::move(e))->wait();
  }

  /// Queues `job`, waiting for room in the queue, then in the memory budget (behind submitters
  /// that waited first), then, with a store, for the write. A cancellation point at each wait;
  /// cancelled during the store's write, it throws cancelled_error while the job is queued or
  /// not as the write turns out. Rejects when stopping (also if a stop begins while it waits),
  /// when the job type's circuit is open, or with memory_limit when the job alone is larger
  /// than max_queued_bytes.
  task<submit_status> submit(Job job) {
    auto keep = s_;
    std::string type = keep->type(job);
    std::size_t bytes = keep->size(job);
    auto st = keep->admit(type, bytes);
    if (st != submit_status::accepted) co_return st;
    co_await keep->core.room.acquire();
    struct slot_guard {  // gives the slot back unless the job takes it
      detail::pool_core* core;
      ~slot_guard() {
        if (core) core->room.release();
      }
    } slot{&keep->core};
    struct turn_guard {  // the turn to wait for bytes, held until the job is on its way in
      detail::pool_core* core = nullptr;
      void release() {
        if (core) std::exchange(core, nullptr)->bytes_turn.release();
      }
      ~turn_guard() { release(); }
    } turn;
    st = keep->reserve(bytes, true);
    if (st == submit_status::memory_limit) {
      struct waiter_guard {  // one of the byte waiters until reserved or gone
        state* s;
        bool waiting = true;
        ~waiter_guard() {
          if (waiting) s->leave_byte_waiters();
        }
      } waiting{keep.get()};
      co_await keep->core.bytes_turn.acquire();
      turn.core = &keep->core;
      while ((st = keep->reserve_turn(bytes, waiting.waiting)) == submit_status::memory_limit)
        co_await keep->core.bytes_freed.acquire();
    }
    if (st != submit_status::accepted) co_return st;
    slot.core = nullptr;
    entry e{std::move(job), std::move(type), 0, bytes};
    if (!keep->hooks.store) co_return keep->enqueue(std::move(e));  // (the turn goes after: queue order kept)
    auto write = keep->persist(std::move(e));
    turn.release();                   // the store takes writes in order
    co_await write->finished.wait();  // (the write outlives us if we are cancelled here)
    co_return write->result();
  }

  /// A consistent snapshot of the counters (options.hpp).
  pool_stats stats() const { return s_->snapshot(); }

  /// Healthy, or degraded with reasons: queue (or memory budget) fuller than
  /// pool_options::degraded_queue_fill, open circuits, zombie workers or stalls since the last
  /// check, jobs dead-lettered since the last check, or the pool stopping or stopped. Safe after
  /// the runtime is gone (it is not asked then).
  health_status health() {
    std::vector<std::string> open;
    bool runtime_gone;
    {
      std::lock_guard lock(s_->core.mu);
      open = s_->core.breakers.open_types(s_->core.now());
      runtime_gone = s_->runtime_gone;
    }
    return s_->core.health(stats(), open, runtime_gone);
  }

  /// Rejects new jobs, finishes what is queued, and at `drain_timeout` cancels what is still
  /// running and dead-letters what is still queued (a store keeps those pending). Waits for the
  /// pool's tasks to end. A second call waits for the first and returns its report. Throws
  /// std::invalid_argument for a negative drain_timeout, before anything stops, and usage_error,
  /// leaving the pool running, when awaited in one of the pool's own jobs, or in a task that such
  /// a job waits for, at any depth: one it joins (weft::spawn, then co_await of the handle), a
  /// child of its when_all, when_any, task_group, join_set or select, of its weft::fork or its
  /// fork_scope. The stop would wait for that job, which waits for the stop. A job that stops
  /// its pool spawns the stop and does not join it: weft::spawn(pool.stop(d)).detach() (also
  /// from inside such a child). Who waits for the stop is seen as it begins: a job that joins the
  /// task of a stop already under way is held like any job still running, until drain_timeout
  /// cancels it (its join throws cancelled_error).
  task<stop_report> stop(std::chrono::milliseconds drain_timeout) {
    // Checked first: a refused stop leaves the pool running (the drain's with_timeout would
    // throw only once the pool had begun stopping).
    if (drain_timeout < std::chrono::milliseconds::zero())
      throw std::invalid_argument("weft::job_pool::stop: drain_timeout must not be negative (0: cancel at once)");
    auto keep = s_;
    co_return co_await stop_once(keep, drain_timeout);
  }

  /// Takes the dead letters out of the pool (a store keeps its own: job_store::dead_letters).
  std::vector<dead_letter<Job>> take_dead_letters() {
    std::lock_guard lock(s_->core.mu);
    std::vector<dead_letter<Job>> out(std::make_move_iterator(s_->dead.begin()),
                                      std::make_move_iterator(s_->dead.end()));
    s_->dead.clear();
    return out;
  }

  /// Submits every dead letter again (try_submit). Those refused stay dead letters, ahead of any
  /// that failed meanwhile (they are older), and within pool_options::dead_letter_capacity: as
  /// when a job fails with the dead letters full, the oldest go. Returns how many were accepted.
  /// If try_submit throws (type_of, size_of, the store, copying the job), the letter it threw
  /// for and those not tried yet stay dead letters the same way, and the exception propagates.
  std::size_t resubmit_dead_letters() {
    std::size_t accepted = 0;
    std::vector<dead_letter<Job>> letters = take_dead_letters(), refused;
    std::size_t next = 0;
    try {
      refused.reserve(letters.size());
      for (; next < letters.size(); ++next) {
        Job copy = letters[next].job;
        if (try_submit(std::move(copy)) == submit_status::accepted)
          ++accepted;
        else
          refused.push_back(std::move(letters[next]));
      }
    } catch (...) {
      refused.insert(refused.end(), std::make_move_iterator(letters.begin() + static_cast<std::ptrdiff_t>(next)),
                     std::make_move_iterator(letters.end()));
      s_->put_back_dead_letters(std::move(refused));
      throw;
    }
    s_->put_back_dead_letters(std::move(refused));
    return accepted;
  }

 private:
  using state = detail::pool_state<Job>;
  using entry = detail::pool_entry<Job>;
  using ticket = detail::exit_ticket<Job>;

  /// Before anything is made: without it, every job would fail with std::bad_function_call.
  static processor_fn checked(processor_fn p) {
    if (!p) throw std::invalid_argument("weft::job_pool: no processor (an empty function)");
    return p;
  }

  /// Counts in and starts a worker or the scaler.
  static void launch(const std::shared_ptr<state>& s, bool worker) {
    {
      std::lock_guard lock(s->core.mu);
      ++s->core.live_tasks;
      if (worker) ++s->core.live_workers;
    }
    spawn_counted(s, worker);
  }
  /// Spawns a task already counted in live_tasks (and live_workers). Detached: its frame holds
  /// the state, never the other way round. Its ticket counts it out when the frame goes, also
  /// when the spawn throws (the task goes with it).
  static void spawn_counted(const std::shared_ptr<state>& s, bool worker) {
    s->core.rt
        .spawn(worker ? worker_loop(s, ticket(s, true)) : scaler_loop(s, ticket(s, false)),
               {.name = worker ? s->worker_name : s->scaler_name, .token = s->core.cancel.token()})
        .detach();
  }

  static task<void> acquire(semaphore& sem) { co_await sem.acquire(); }
  static task<void> worker_loop(std::shared_ptr<state> s, ticket me);
  static task<void> scaler_loop(std::shared_ptr<state> s, ticket me);
  static task<void> run(std::shared_ptr<state> s, entry e);
  static task<stop_report> stop_once(std::shared_ptr<state> s, std::chrono::milliseconds drain_timeout);
  static task<stop_report> drain(std::shared_ptr<state> s, std::chrono::milliseconds drain_timeout);

  std::shared_ptr<state> s_;
};

template <class Job>
task<void> job_pool<Job>::worker_loop(std::shared_ptr<state> s, ticket me) {
  auto& core = s->core;
  {
    std::lock_guard lock(core.mu);
    me.record = detail::current_task("weft::job_pool worker");
    s->worker_tasks.insert(me.record);
  }
  for (;;) {
    bool idle_too_long = false;
    try {
      if (!core.rule.adaptive()) {
        co_await core.items.acquire();
      } else if (!core.items.try_acquire()) {
        bool may_retire;
        {
          std::lock_guard lock(core.mu);
          may_retire = core.rule.retire(core.live_workers);
        }
        if (may_retire)
          co_await with_timeout(core.rule.down_after, acquire(core.items));  // a job, or scale_down_after idle
        else  // at the minimum: nothing to time (with a scale_down_after of 0 the loop never waited)
          co_await core.items.acquire();
      }
    } catch (const timeout_error&) {
      idle_too_long = true;
    } catch (const cancelled_error&) {
      co_return;  // the pool was destroyed (or stopped past its drain), or the runtime shuts down
    }
    entry e;
    {
      std::lock_guard lock(core.mu);
      if (idle_too_long) {
        if (!core.stopping && core.rule.retire(core.live_workers)) {
          --core.live_workers;  // under the lock, so two idle workers never both retire the last spare
          me.worker = false;
          co_return;
        }
        continue;
      }
      if (!s->take_locked(e)) {
        if (core.stopping) co_return;
        continue;
      }
    }
    co_await run(s, std::move(e));
  }
}

// The scaler of an adaptive pool (scaling.hpp): asleep until a job is queued while every worker
// is busy (maybe_grow_locked), then it watches the oldest queued job and starts workers by the
// rule until the backlog is gone or the pool is at `concurrency`.
template <class Job>
task<void> job_pool<Job>::scaler_loop(std::shared_ptr<state> s, [[maybe_unused]] ticket me) {
  auto& core = s->core;
  for (;;) {
    try {
      co_await core.grow.acquire();
    } catch (const cancelled_error&) {
      co_return;
    }
    for (;;) {
      std::chrono::nanoseconds wait{};
      bool start = false;
      {
        std::lock_guard lock(core.mu);
        if (core.stopping) co_return;
        if (s->queue.empty() || core.live_workers >= core.rule.max) {
          core.scaler_armed = false;  // asleep again until the next backlog
          break;
        }
        const auto waited = core.now() - s->queue.front().queued_at;
        start = core.rule.grow(core.live_workers, core.counters.in_flight, waited);
        if (start) {
          ++core.live_tasks;
          ++core.live_workers;
        }
        wait = core.rule.recheck_in(waited, start);
      }
      if (start) {
        try {
          spawn_counted(s, true);
        } catch (...) {  // the runtime is shutting down (counted out again): stay as we are
        }
      }
      try {
        co_await with_timeout(wait, acquire(core.grow));  // only a stop releases it meanwhile
      } catch (const timeout_error&) {
      } catch (const cancelled_error&) {
        co_return;
      }
    }
  }
}

template <class Job>
task<void> job_pool<Job>::run(std::shared_ptr<state> s, entry e) {
  auto& core = s->core;
  using outcome = detail::pool_core::outcome;
  // A job whose frame is destroyed mid-attempt (shutdown past its grace) still leaves the
  // books balanced, as a dead letter that says why (a store keeps the job pending).
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
      allowed = core.breakers.allow(e.type, core.now());
    }
    std::exception_ptr error;
    bool timed_out = false;
    if (!allowed) {
      error = std::make_exception_ptr(std::runtime_error("the circuit for this job type is open"));
    } else {
      auto start = core.now();
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
      core.observe(!error ? outcome::success : timed_out ? outcome::timeout : outcome::failure, core.now() - start);
    }
    detail::store_note note;
    {
      std::lock_guard lock(core.mu);
      if (!error) {
        ++core.counters.processed;
        core.breakers.success(e.type);
        note = {detail::store_note::kind::remove, e.store_id, {}, 0};
        s->finished_locked();
        guard.finished = true;
      } else {
        if (timed_out) ++core.counters.timed_out;
        if (allowed) core.breakers.failure(e.type, core.now());
        bool retry = e.attempts < core.opts.retry.max_attempts && detail::pool_core::retryable(error) &&
                     !core.cancel.cancelled();
        if (retry) {
          ++core.counters.retried;
        } else {
          if (!detail::pool_core::cancelled_from_outside(error))  // failed for good: recorded as such
            note = {detail::store_note::kind::dead_letter, e.store_id, detail::pool_core::describe(error), e.attempts};
          s->dead_letter_locked(std::move(e), error);
          s->finished_locked();
          guard.finished = true;
        }
      }
    }
    if (guard.finished) {
      s->tell_store(note);
      co_return;
    }
    try {
      co_await sleep_for(core.backoff(e.attempts + 1));
    } catch (...) {  // cancelled (stop's timeout, destruction, shutdown): a store keeps the job pending
      std::lock_guard lock(core.mu);
      s->dead_letter_locked(std::move(e), std::current_exception());
      s->finished_locked();
      guard.finished = true;
      co_return;
    }
  }
}

template <class Job>
task<stop_report> job_pool<Job>::stop_once(std::shared_ptr<state> s, std::chrono::milliseconds drain_timeout) {
  // A job runs inline in its worker's task: awaited there, or in a task that task waits for, the
  // stop would wait for itself.
  const detail::task_record* caller = detail::current_task("weft::job_pool::stop");
  bool first;
  {
    std::lock_guard lock(s->core.mu);
    if (s->awaited_by_worker_locked(caller))
      throw usage_error(
          "weft::job_pool::stop awaited in one of the pool's own jobs, or in a task such a job waits for (joins, "
          "or awaits through when_all, when_any, a task_group, a join_set, select, weft::fork or a fork_scope): it "
          "would wait for that job, which waits for it. Spawn the stop instead, without joining it: "
          "weft::spawn(pool.stop(d)).detach()");
    first = !s->stop_started;
    s->stop_started = true;
  }
  if (!first) {
    co_await s->stop_finished.wait();  // the first stop's report, when it is done
    std::lock_guard lock(s->core.mu);
    co_return s->report;
  }
  // Whatever happens to the first caller (cancelled, or its runtime shutting down), the others
  // are let go with what it found.
  struct finish {
    state* s;
    ~finish() { s->stop_finished.set(); }
  } done{s.get()};
  stop_report r = co_await drain(s, drain_timeout);
  {
    std::lock_guard lock(s->core.mu);
    s->report = r;
  }
  co_return r;
}

template <class Job>
task<stop_report> job_pool<Job>::drain(std::shared_ptr<state> s, std::chrono::milliseconds drain_timeout) {
  auto& core = s->core;
  stop_report r;
  std::uint64_t finished_before;
  {
    std::lock_guard lock(core.mu);
    if (!core.stopping) s->begin_stopping_locked();
    finished_before = core.counters.processed + core.counters.failed;
    if (s->queue.empty() && core.counters.in_flight == 0) core.idle.set();
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
      r.dead_lettered = s->drop_queued_locked(
          std::make_exception_ptr(cancelled_error("weft::job_pool: still queued at the drain timeout of stop()")));
    }
    core.cancel.cancel();  // in-flight attempts and backoffs stop at their next cancellation point
  }
  // The workers leave once the queue is empty (or at the cancellation); a job in flight ends
  // first. Not a cancellation point: the pool is not stopped until they are gone.
  co_await s->workers_exited.wait(false);
  {
    std::lock_guard lock(core.mu);
    std::uint64_t finished = core.counters.processed + core.counters.failed - finished_before;
    r.drained = static_cast<std::size_t>(finished) - r.cancelled - r.dead_lettered;
  }
  co_return r;
}

}  // namespace weft
