#include "observe/runtime_metrics.hpp"

#include <string>

#include <weft/detail/runtime_core.hpp>
#include <weft/metrics/buckets.hpp>

namespace weft::detail {

runtime_metrics::runtime_metrics(metrics::registry& reg, const std::string& runtime_name, bool timing)
    : reg_(reg), name_(runtime_name) {
  if (!timing) return;
  // 1 µs .. ~8.6 s in powers of two: a dispatch is usually far under a microsecond, a stall is
  // hundreds of milliseconds; both ends stay readable.
  auto layout = metrics::buckets::exponential(1e-6, 2, 24);
  poll_duration_ = &reg_.histogram("weft_poll_duration_seconds",
                                   "Time from a worker resuming a task until its loop got the thread back, tasks it "
                                   "handed over to included (sampled: 1 in 64)",
                                   layout, {{"runtime", name_}});
  schedule_delay_ = &reg_.histogram("weft_schedule_delay_seconds",
                                    "Time from a task becoming runnable to a worker starting it (sampled: 1 in 64)",
                                    layout, {{"runtime", name_}});
}

void runtime_metrics::bind(runtime_core& core) {
  sched::scheduler& s = core.sched;
  const metrics::labels rt{{"runtime", name_}};
  auto gauge = [&](const char* name, const char* help, std::function<double()> fn) {
    handles_.push_back(reg_.gauge_callback(name, help, rt, std::move(fn)));
  };
  auto counter = [&](const char* name, const char* help, std::function<double()> fn) {
    handles_.push_back(reg_.counter_callback(name, help, rt, std::move(fn)));
  };
  auto sum_workers = [&s](auto field) {
    return [&s, field] {
      double total = 0;
      for (std::size_t i = 0; i < s.slots(); ++i) total += static_cast<double>((s.at(i).stats().*field).load());
      return total;
    };
  };
  auto sum_contexts = [&core](auto field) {
    return [&core, field] {
      double total = 0;
      for (auto& c : core.contexts) total += static_cast<double>((c.*field).load());
      return total;
    };
  };

  gauge("weft_workers", "Worker threads running tasks, replacements for stuck workers included",
        [&s] { return static_cast<double>(s.active_workers()); });
  gauge("weft_workers_busy", "Workers running a task right now", [&s] {
    double busy = 0;
    for (std::size_t i = 0; i < s.slots(); ++i) busy += s.at(i).stats().busy.load(std::memory_order_relaxed);
    return busy;
  });
  counter("weft_tasks_spawned_total", "Tasks spawned", [&core, w = sum_workers(&sched::worker_stats::spawned)] {
    return w() + static_cast<double>(core.external_spawned.load(std::memory_order_relaxed));
  });
  auto completed = [&core, c = sum_contexts(&worker_context::completed)] {
    return c() + static_cast<double>(core.external_completed.load(std::memory_order_relaxed));
  };
  counter("weft_tasks_completed_total", "Tasks finished, successfully or not", completed);
  counter("weft_tasks_failed_total", "Tasks finished by an exception other than a cancellation",
          [&core, f = sum_contexts(&worker_context::failed)] {
            return f() + static_cast<double>(core.external_failed.load(std::memory_order_relaxed));
          });
  counter("weft_tasks_cancelled_total", "Tasks finished by their cancellation (cancelled_error, timeout_error)",
          [&core, c = sum_contexts(&worker_context::cancelled)] {
            return c() + static_cast<double>(core.external_cancelled.load(std::memory_order_relaxed));
          });
  counter("weft_tasks_timed_out_total", "Deadlines (with_timeout, with_deadline) that expired",
          [&core] { return static_cast<double>(core.timed_out.load(std::memory_order_relaxed)); });
  gauge("weft_tasks_live", "Tasks spawned and not finished yet",
        [&core, completed, w = sum_workers(&sched::worker_stats::spawned)] {
          double spawned = w() + static_cast<double>(core.external_spawned.load(std::memory_order_relaxed));
          return spawned - completed();
        });
  gauge("weft_global_queue_depth", "Tasks waiting in the global injection queue",
        [&s] { return static_cast<double>(s.injector_depth()); });
  gauge("weft_timers_pending", "Armed timers (sleeps, deadlines)",
        [&s] { return static_cast<double>(s.pending_timers()); });

  struct per_worker {
    const char* name;
    const char* help;
    sched::owner_counter sched::worker_stats::* field;
  };
  static constexpr per_worker counters[] = {
      {"weft_polls_total",
       "Dispatches: tasks resumed by the worker loop or handed the thread by the task that woke them",
       &sched::worker_stats::polls},
      {"weft_steals_total", "Tasks this worker stole from others", &sched::worker_stats::stolen},
      {"weft_steal_attempts_total", "Victims this worker tried while searching for work",
       &sched::worker_stats::steal_attempts},
      {"weft_parks_total", "Times this worker went to sleep for lack of work", &sched::worker_stats::parks},
      {"weft_unparks_total", "Times this worker woke from sleep", &sched::worker_stats::unparks},
      {"weft_budget_yields_total", "Tasks sent to the back of the line for exhausting their cooperative budget",
       &sched::worker_stats::budget_yields},
      {"weft_overflows_total", "Spawns that found the local deque full and went to the global queue",
       &sched::worker_stats::overflows},
      {"weft_idle_spins_total", "Times this worker kept looking for work a while before it would park",
       &sched::worker_stats::idle_spins},
      {"weft_idle_spin_finds_total", "Idle spins that found work, so the worker did not park",
       &sched::worker_stats::idle_spin_finds},
      {"weft_reactor_rescues_total",
       "Polls of another worker's own reactor that was left unattended while its worker ran a long job",
       &sched::worker_stats::driver_rescues},
      {"weft_lifo_hits_total", "Dispatches served from this worker's LIFO slot (the task woken last, run next)",
       &sched::worker_stats::lifo_hits},
      {"weft_global_queue_takes_total", "Tasks this worker took from the global injection queue",
       &sched::worker_stats::injector_pops},
      {"weft_notifies_total", "Sleeping workers this worker woke to share its work", &sched::worker_stats::notifies},
      {"weft_timers_fired_total", "Timers (sleeps, deadlines) this worker fired", &sched::worker_stats::timers_fired},
      {"weft_lifo_rescue_races_total",
       "Tasks this worker had just taken from its LIFO slot when the stall detector rescued them (the rescue ran them)",
       &sched::worker_stats::rescue_races},
  };
  for (std::size_t i = 0; i < s.slots(); ++i) {
    const metrics::labels wl{{"runtime", name_}, {"worker", std::to_string(i)}};
    sched::worker* w = &s.at(i);
    for (const auto& c : counters)
      handles_.push_back(reg_.counter_callback(
          c.name, c.help, wl, [w, f = c.field] { return static_cast<double>((w->stats().*f).load()); }));
    handles_.push_back(reg_.gauge_callback("weft_local_queue_depth", "Tasks waiting in this worker's own queues", wl,
                                           [w] { return static_cast<double>(w->local_depth()); }));
  }
}

}  // namespace weft::detail
