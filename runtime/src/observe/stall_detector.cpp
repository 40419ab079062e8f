#include "observe/stall_detector.hpp"

#include <cstdio>

#include <fmt/format.h>

#include <weft/detail/runtime_core.hpp>
#include <weft/metrics/buckets.hpp>
#include <weft/metrics/registry.hpp>
#include <weft/metrics/utf8.hpp>

#include <weft/observe/detail/backtrace.hpp>
#include "observe/dump.hpp"
#include "observe/runtime_metrics.hpp"

namespace weft::detail {

bool read_identity(const task_record& r, std::uint64_t& id, std::string& name, std::source_location& site) noexcept {
  // A seqlock read keyed by the id (task_record.hpp): fields read between two equal, non-zero
  // ids belong to that task.
  std::uint64_t first = r.id.load(std::memory_order_acquire);
  if (first == 0) return false;
  char buf[task_record::name_words * 8];
  std::size_t len = r.copy_name(buf);
  site = r.site.load(std::memory_order_relaxed);
  std::atomic_thread_fence(std::memory_order_acquire);
  if (r.id.load(std::memory_order_relaxed) != first) return false;
  id = first;
  name = metrics::utf8_sanitized(std::string_view(buf, len));  // a name given as bytes, not UTF-8
  return true;
}

std::chrono::steady_clock::time_point stall_clock(const runtime_core& core, const stall_options& opts) {
  if (opts.clock) return opts.clock();
  return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(core.sched.now()));
}

void print_stall_report(const stall_report& r) {
  std::string text = fmt::format(
      "weft: stall on worker {}: task {}{} (spawned at {}:{} in {}) has run {} ms without returning "
      "to its worker\n",
      r.worker, r.task_id, r.task_name.empty() ? std::string() : fmt::format(" \"{}\"", r.task_name),
      r.spawn_site.file_name(), r.spawn_site.line(), r.spawn_site.function_name(),
      std::chrono::duration_cast<std::chrono::milliseconds>(r.duration).count());
  if (!r.backtrace.empty()) text += r.backtrace;
  std::fputs(text.c_str(), stderr);
}

stall_detector::stall_detector(runtime_core& core, stall_options opts, runtime_metrics& m)
    : core_(core),
      opts_(std::move(opts)),
      stalls_(m.registry().counter("weft_stalls_total",
                                   "Dispatches that ran past the stall threshold without returning to their worker",
                                   {{"runtime", m.name()}})),
      replacements_(m.registry().counter("weft_worker_replacements_total",
                                         "Replacement workers started because a worker was stuck",
                                         {{"runtime", m.name()}})),
      durations_(m.registry().histogram("weft_stall_duration_seconds",
                                        "How long stalled dispatches held their worker (observed when they end)",
                                        metrics::buckets::exponential(0.01, 2, 14), {{"runtime", m.name()}})),
      watches_(core.sched.slots()) {
  if (!opts_.on_stall) opts_.on_stall = &print_stall_report;
  m.keep(m.registry().gauge_callback("weft_zombie_workers", "Workers stuck in one dispatch past replace_after",
                                     {{"runtime", m.name()}}, [this] { return static_cast<double>(zombies()); }));
}

std::optional<std::chrono::steady_clock::time_point> stall_detector::running_since(std::size_t i) const {
  std::lock_guard lock(mu_);
  if (i >= watches_.size() || !watches_[i].job) return std::nullopt;
  return watches_[i].since;
}

std::size_t stall_detector::zombies() const {
  std::lock_guard lock(mu_);
  return zombies_;
}

bool stall_detector::allow_report(std::chrono::steady_clock::time_point now) {
  if (now - window_start_ >= std::chrono::seconds(1)) {
    window_start_ = now;
    reports_in_window_ = 0;
  }
  return reports_in_window_++ < opts_.max_reports_per_second;
}

void stall_detector::ended(watch& w, std::chrono::steady_clock::time_point now) {
  if (w.reported) durations_.observe(std::chrono::duration<double>(now - w.since).count());
  if (w.zombie) {
    --zombies_;
    // Capacity is back: one replacement can go.
    if (replacements_running_ > zombies_ && core_.sched.retire_replacement()) --replacements_running_;
  }
}

void stall_detector::sample(std::chrono::steady_clock::time_point now) {
  struct pending {
    std::size_t worker;
    const sched::job* job;
    std::uint64_t dispatch;
    std::chrono::nanoseconds held;
  };
  std::vector<pending> to_report;
  {
    std::lock_guard lock(mu_);
    for (std::size_t i = 0; i < watches_.size(); ++i) {
      sched::worker& w = core_.sched.at(i);
      watch& wa = watches_[i];
      const std::uint64_t dispatch = w.dispatch_count();
      const sched::job* j = w.active() ? w.current() : nullptr;
      if (!j || j != wa.job || dispatch != wa.dispatch) {  // idle, or moved on
        if (wa.job) ended(wa, now);
        wa = watch{dispatch, j, now, false, false};
        continue;
      }
      auto held = now - wa.since;
      if (held >= opts_.threshold && !wa.reported) {
        wa.reported = true;
        stalls_.inc();
        if (allow_report(now))
          to_report.push_back({i, j, dispatch, std::chrono::duration_cast<std::chrono::nanoseconds>(held)});
      }
      if (held >= opts_.replace_after && !wa.zombie) {
        wa.zombie = true;
        ++zombies_;
        core_.sched.rescue_lifo(i);  // its queues are stealable; its LIFO slot is not
        if (replacements_running_ < opts_.max_replacements && core_.sched.start_replacement()) {
          ++replacements_running_;
          replacements_.inc();
        }
      }
    }
  }
  // Reports are made outside the lock: a backtrace takes a signal round trip, and the report
  // function is the user's.
  for (const auto& p : to_report) report(p.worker, p.job, p.dispatch, p.held);
}

void stall_detector::report(std::size_t worker, const sched::job* j, std::uint64_t dispatch,
                            std::chrono::nanoseconds duration) {
  stall_report r;
  r.worker = worker;
  r.duration = duration;
  sched::worker& w = core_.sched.at(worker);
  if (j->run_ == &run_record) {
    if (!read_identity(*static_cast<const task_record*>(j), r.task_id, r.task_name, r.spawn_site)) return;
    // Still the same dispatch? Otherwise the record may already hold another task.
    if (w.current() != j || w.dispatch_count() != dispatch) return;
  } else if (const std::type_info* type = core_.contexts[worker].callback.load(std::memory_order_relaxed)) {
    r.task_name = callback_name(*type);  // a function posted to the executor: its type
  } else {
    r.task_name = "(a function posted to the executor)";
  }
  if (opts_.capture_backtrace) r.backtrace = capture_backtrace(w.native_thread(), std::chrono::milliseconds(100));
  opts_.on_stall(r);
}

}  // namespace weft::detail
