#include <weft/pool/detail/pool_core.hpp>

#include <algorithm>
#include <cmath>
#include <limits>
#include <stdexcept>

#include <fmt/format.h>

#include <weft/metrics/buckets.hpp>
#include <weft/metrics/registry.hpp>
#include <weft/runtime.hpp>
#include <weft/time/detail/deadline.hpp>

namespace weft::detail {

namespace {

// Options with every field checked; each error names the field.
pool_options validated(pool_options o, std::size_t workers, const std::string& name, bool has_size_of) {
  o.name = name;
  using ms = std::chrono::milliseconds;
  auto bad = [](const char* field, const char* rule) {
    return std::invalid_argument(fmt::format("weft::job_pool: pool_options::{} {}", field, rule));
  };
  auto ratio = [](double x, double lo, double hi) { return x >= lo && x <= hi; };  // false for NaN
  if (o.concurrency == 0) o.concurrency = workers;
  if (o.queue_capacity == 0) throw bad("queue_capacity", "must be at least 1");
  if (o.job_timeout < ms::zero()) throw bad("job_timeout", "must not be negative (0: no deadline)");
  if (o.retry.max_attempts == 0) throw bad("retry.max_attempts", "must be at least 1");
  if (o.retry.initial_backoff < ms::zero()) throw bad("retry.initial_backoff", "must not be negative");
  if (o.retry.max_backoff < ms::zero()) throw bad("retry.max_backoff", "must not be negative");
  if (!(o.retry.multiplier >= 1.0) || o.retry.multiplier == std::numeric_limits<double>::infinity())
    throw bad("retry.multiplier", "must be a finite number >= 1");
  if (!ratio(o.retry.jitter, 0.0, 1.0)) throw bad("retry.jitter", "must be within [0, 1]");
  if (o.breaker.enabled && o.breaker.failure_threshold == 0)
    throw bad("breaker.failure_threshold", "must be at least 1");
  if (o.breaker.enabled && o.breaker.half_open_probes == 0) throw bad("breaker.half_open_probes", "must be at least 1");
  if (o.breaker.reset_timeout < ms::zero()) throw bad("breaker.reset_timeout", "must not be negative");
  if (!ratio(o.degraded_queue_fill, 0.0, 1.0)) throw bad("degraded_queue_fill", "must be within [0, 1]");
  if (o.max_queued_bytes != 0 && !has_size_of)
    throw bad("max_queued_bytes", "needs pool_hooks::size_of (the bytes of a job)");
  if (o.min_concurrency == 0) o.min_concurrency = o.concurrency;
  if (o.min_concurrency > o.concurrency) throw bad("min_concurrency", "must not exceed concurrency");
  if (o.scale_up_after < ms::zero()) throw bad("scale_up_after", "must not be negative");
  if (o.scale_down_after < ms::zero()) throw bad("scale_down_after", "must not be negative");
  return o;
}

}  // namespace

pool_core::pool_core(runtime& r, pool_options o, bool has_size_of)
    : rt(r),
      clock_(r.scheduler().clock()),
      name(o.name.empty() ? r.metrics().claim_unique_name("pool", "pool") : r.metrics().claim_name("pool", o.name)),
      opts(validated(std::move(o), r.workers(), name.name(), has_size_of)),
      rule{opts.min_concurrency, opts.concurrency, std::chrono::nanoseconds(detail::saturating_ns(opts.scale_up_after)),
           std::chrono::nanoseconds(detail::saturating_ns(opts.scale_down_after))},  // max(): never
      breakers(opts.breaker),
      room(opts.queue_capacity) {
  counters.queue_capacity = opts.queue_capacity;
}

void pool_core::begin_stopping_locked() noexcept {
  static constexpr std::size_t flood = std::size_t{1} << 40;
  stopping = true;
  for (semaphore* s : {&room, &items, &bytes_turn, &bytes_freed, &grow}) {
    try {
      s->release(flood);
    } catch (const std::invalid_argument&) {
      // It counts within `flood` of semaphore::max() already (room, with a queue_capacity that
      // large): so many permits that nobody waits on it, now or later.
    }
  }
}

submit_status pool_core::reserve_locked(std::size_t bytes) noexcept {
  if (stopping) return submit_status::stopping;
  if (opts.max_queued_bytes != 0 && bytes != 0 &&
      (byte_waiters > 0 || counters.queued_bytes + reserved_bytes + bytes > opts.max_queued_bytes))
    return submit_status::memory_limit;
  reserved_bytes += bytes;
  return submit_status::accepted;
}

submit_status pool_core::reserve_turn_locked(std::size_t bytes) noexcept {
  if (stopping) return submit_status::stopping;
  if (counters.queued_bytes + reserved_bytes + bytes > opts.max_queued_bytes) {
    bytes_parked = true;
    return submit_status::memory_limit;
  }
  reserved_bytes += bytes;
  return submit_status::accepted;
}

void pool_core::unreserve_locked(std::size_t bytes) noexcept {
  reserved_bytes -= bytes;
  if (bytes != 0 && bytes_parked) {
    bytes_parked = false;
    bytes_freed.release();
  }
}

void pool_core::queued_locked(std::size_t bytes) noexcept {
  reserved_bytes -= bytes;
  counters.queued_bytes += bytes;
}

void pool_core::dequeued_locked(std::size_t bytes) noexcept {
  counters.queued_bytes -= bytes;
  if (overflow > 0)
    --overflow;  // a job recovered past the capacity held no slot
  else
    room.release();  // under the pool's lock: its slot is free once the job is in flight
  if (bytes != 0 && bytes_parked) {
    bytes_parked = false;
    bytes_freed.release();
  }
}

void pool_core::maybe_grow_locked(std::size_t queued) noexcept {
  if (!rule.adaptive() || scaler_armed || stopping || queued == 0) return;
  if (live_workers >= rule.max || counters.in_flight < live_workers) return;  // at the ceiling, or a worker is free
  scaler_armed = true;
  grow.release();
}

void pool_core::register_metrics(std::function<pool_stats()> stats) {
  auto& reg = rt.metrics();
  const metrics::labels pool{{"pool", opts.name}};
  static constexpr const char* status[] = {"success", "failure", "timeout"};
  for (int i = 0; i < 3; ++i)
    durations_[i] =
        reg.owned_histogram("weft_pool_job_duration_seconds", "Time one attempt of a job took, by its outcome",
                            metrics::buckets::exponential(1e-5, 2, 24), {{"pool", opts.name}, {"status", status[i]}});
  struct series {
    const char* name;
    const char* help;
    bool counter;
    double (*get)(const pool_stats&);
  };
  static constexpr series all[] = {
      {"weft_pool_submitted_total", "Jobs accepted by the pool", true,
       [](const pool_stats& s) { return double(s.submitted); }},
      {"weft_pool_processed_total", "Jobs finished successfully", true,
       [](const pool_stats& s) { return double(s.processed); }},
      {"weft_pool_failed_total", "Jobs finished unsuccessfully after every attempt", true,
       [](const pool_stats& s) { return double(s.failed); }},
      {"weft_pool_dropped_total", "Jobs rejected at submission (queue full, memory budget, stopping, circuit open)",
       true, [](const pool_stats& s) { return double(s.dropped); }},
      {"weft_pool_timed_out_total", "Attempts cancelled at the job deadline", true,
       [](const pool_stats& s) { return double(s.timed_out); }},
      {"weft_pool_retried_total", "Attempts after a job's first", true,
       [](const pool_stats& s) { return double(s.retried); }},
      {"weft_pool_dead_lettered_total", "Jobs put in the dead-letter queue", true,
       [](const pool_stats& s) { return double(s.dead_lettered); }},
      {"weft_pool_queue_depth", "Jobs accepted and not started", false,
       [](const pool_stats& s) { return double(s.queue_depth); }},
      {"weft_pool_in_flight", "Jobs started and not finished", false,
       [](const pool_stats& s) { return double(s.in_flight); }},
      {"weft_pool_workers", "Workers the pool runs now (jobs processed at once, at most)", false,
       [](const pool_stats& s) { return double(s.workers); }},
      {"weft_pool_queue_capacity", "Jobs the queue holds at most (pool_options::queue_capacity)", false,
       [](const pool_stats& s) { return double(s.queue_capacity); }},
      {"weft_pool_queued_bytes", "Bytes held by the queued jobs (pool_hooks::size_of), against max_queued_bytes", false,
       [](const pool_stats& s) { return double(s.queued_bytes); }},
      {"weft_pool_circuits_open", "Job types whose circuit is open or half-open", false,
       [](const pool_stats& s) { return double(s.circuits_open); }},
  };
  for (const auto& s : all) {
    auto fn = [stats, get = s.get] { return get(stats()); };
    handles_.push_back(s.counter ? reg.counter_callback(s.name, s.help, pool, fn)
                                 : reg.gauge_callback(s.name, s.help, pool, fn));
  }
}

void pool_core::unregister_metrics() noexcept {
  handles_.clear();  // each removal waits for a collection in progress (callback_handle)
  for (auto& h : durations_) h = {};
}

void pool_core::observe(outcome o, clock::duration d) noexcept {
  if (auto& h = durations_[static_cast<int>(o)]) h->observe(std::chrono::duration<double>(d).count());
}

std::chrono::nanoseconds pool_core::backoff(std::size_t attempt) {
  const auto& r = opts.retry;
  double base = std::chrono::duration<double, std::nano>(r.initial_backoff).count() *
                std::pow(r.multiplier, static_cast<double>(attempt >= 2 ? attempt - 2 : 0));
  base = std::min(base, std::chrono::duration<double, std::nano>(r.max_backoff).count());  // also caps inf
  std::lock_guard lock(mu);
  std::uniform_real_distribution<double> spread(1.0 - r.jitter, 1.0 + r.jitter);
  const double wait = base * spread(rng_);
  if (!(wait < 9.2e18)) return std::chrono::nanoseconds::max();  // a cap past int64 nanoseconds: "never" (saturating)
  return std::chrono::nanoseconds(static_cast<std::int64_t>(wait));
}

health_status pool_core::health(const pool_stats& s, const std::vector<std::string>& open_circuits, bool runtime_gone) {
  health_status h;
  if (runtime_gone) {  // its runtime (and the stall detector with it) may be gone: not asked
    h.healthy = false;
    h.reasons.push_back("stopped: the runtime shut down");
    return h;
  }
  double fill = static_cast<double>(s.queue_depth) / static_cast<double>(s.queue_capacity);
  if (fill > opts.degraded_queue_fill)
    h.reasons.push_back(fmt::format("queue {:.0f}% full ({} of {})", fill * 100, s.queue_depth, s.queue_capacity));
  if (opts.max_queued_bytes != 0) {
    double bytes = static_cast<double>(s.queued_bytes) / static_cast<double>(opts.max_queued_bytes);
    if (bytes > opts.degraded_queue_fill)
      h.reasons.push_back(fmt::format("memory budget {:.0f}% used ({} of {} bytes)", bytes * 100, s.queued_bytes,
                                      opts.max_queued_bytes));
  }
  for (const auto& t : open_circuits) h.reasons.push_back("circuit open for " + t);
  std::uint64_t letters = s.dead_lettered;
  {
    std::lock_guard lock(mu);
    if (stopping) h.reasons.push_back(live_tasks == 0 ? "stopped" : "stopping");
    // The runtime is asked only while the pool's tasks live, and under mu: its end ends them,
    // each taking mu (task_exited), so it cannot be freed meanwhile. Once they are gone it may
    // be (a stopped pool may outlive its runtime).
    if (live_tasks > 0) {
      if (std::size_t z = rt.zombie_workers())
        h.reasons.push_back(fmt::format("{} worker(s) stuck in a task (zombies)", z));
      std::uint64_t stalls = rt.stalls_detected();
      if (stalls > last_stalls_)
        h.reasons.push_back(fmt::format("{} stall(s) since the last check", stalls - last_stalls_));
      last_stalls_ = stalls;
    }
    if (letters > last_dead_lettered_)
      h.reasons.push_back(fmt::format("{} job(s) dead-lettered since the last check", letters - last_dead_lettered_));
    last_dead_lettered_ = letters;
  }
  h.healthy = h.reasons.empty();
  return h;
}

std::string pool_core::describe(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "an exception not derived from std::exception";
  }
}

bool pool_core::cancelled_from_outside(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const timeout_error&) {
    return false;  // the job's own deadline: a failure of the job
  } catch (const cancelled_error&) {
    return true;
  } catch (...) {
    return false;
  }
}

bool pool_core::retryable(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const timeout_error&) {
    return true;  // the attempt overran its deadline: try again
  } catch (const retryable_error&) {
    return true;
  } catch (...) {
    return false;
  }
}

}  // namespace weft::detail
