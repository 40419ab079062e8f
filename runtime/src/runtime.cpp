#include <weft/runtime.hpp>

#include <fmt/format.h>

#include <weft/asio/detail/io_shutdown.hpp>
#include <weft/detail/dump.hpp>
#include <weft/detail/monitor.hpp>
#include <weft/detail/runtime_metrics.hpp>
#include <weft/detail/tracer.hpp>
#include <weft/metrics/registry.hpp>
#include <weft/sched/futex.hpp>

namespace weft {
namespace {

sched::options scheduler_options(runtime_options& o, const detail::runtime_metrics& m) {
  sched::options s;
  s.poll_duration = m.poll_duration();
  s.schedule_delay = m.schedule_delay();
  s.workers = o.workers;
  s.name = o.name;
  s.deque_capacity = o.deque_capacity;
  s.budget = o.budget;
  s.on_thread_start = std::move(o.on_thread_start);
  s.on_thread_stop = std::move(o.on_thread_stop);
  s.max_replacements = o.stall.max_replacements;
  return s;
}

}  // namespace

runtime::runtime(runtime_options opts)
    : name_(opts.name),
      own_registry_(opts.registry ? nullptr : std::make_unique<metrics::registry>()),
      registry_(opts.registry ? opts.registry : own_registry_.get()),
      metrics_(std::make_unique<detail::runtime_metrics>(*registry_, name_, opts.timing_metrics)),
      core_(new detail::runtime_core(scheduler_options(opts, *metrics_))) {
  core_->registry = registry_;
  try {
    metrics_->bind(*core_);
    monitor_ = std::make_unique<detail::monitor>(*core_, opts.stall, *metrics_);
    metrics_->keep(registry_->gauge_callback(
        "weft_hung_tasks", "Tasks suspended for longer than stall_options::hang_threshold",
        {{"runtime", name_}}, [core = core_, t = opts.stall.hang_threshold] {
          return static_cast<double>(detail::count_hung_tasks(*core, t));
        }));
  } catch (...) {
    metrics_->unbind();
    monitor_.reset();
    core_->retire();
    throw;
  }
  core_->sched.start();
  monitor_->start();
}

runtime::~runtime() {
  shutdown();
  // The Asio reactor's io_context: after the tasks, and after I/O objects a user kept past an
  // explicit shutdown(); their sockets close through its services.
  detail::destroy_io(*core_);
  metrics_->unbind();  // the registry may outlive us: no callback may reach the core after this
  monitor_.reset();
  core_->retire();
}

std::size_t runtime::zombie_workers() const { return monitor_->stalls().zombies(); }
std::uint64_t runtime::stalls_detected() const { return monitor_->stalls().stalls(); }

detail::tracer* runtime::start_trace() {
  auto t = std::make_unique<detail::tracer>(core_->sched.slots());
  detail::tracer* expected = nullptr;
  if (!core_->tracer.compare_exchange_strong(expected, t.get(), std::memory_order_acq_rel))
    throw usage_error("weft::trace: a trace is already recording this runtime");
  tracers_.push_back(std::move(t));
  return tracers_.back().get();
}

void runtime::stop_trace(detail::tracer* t) {
  detail::tracer* expected = t;
  core_->tracer.compare_exchange_strong(expected, nullptr, std::memory_order_acq_rel);
}

void runtime::shutdown() {
  if (core_->sched.on_worker())
    throw usage_error("weft: runtime::shutdown called from one of its own workers; it would wait for itself");
  if (shut_down_) return;
  shut_down_ = true;
  core_->stopped.store(true, std::memory_order_seq_cst);  // seq_cst: see ensure_io_driver
  monitor_->stop();  // no more replacements started, no more timers fired from outside
  detail::stop_io(*core_);  // the Asio reactor: no completion reaches a task or a queue after this
  core_->sched.stop();
  core_->sched.clear_timers();  // sleeping tasks are ended below like any other
  core_->sched.drain([](sched::job* j) {
    if (j->discard_) j->discard_(j);  // task records are ended below, from the task table
  });
  core_->destroy_live_tasks();
}

void runtime::check_block_on() const {
  if (core_->sched.on_worker())
    throw usage_error(
        "weft: block_on called from one of this runtime's own workers; it would block the worker "
        "that has to run the task (deadlock). co_await the task, or spawn it, instead");
  if (core_->stopped.load(std::memory_order_acquire)) throw runtime_stopped();
}

std::uint32_t runtime::wait(detail::thread_waiter& tw) noexcept {
  for (;;) {
    // acquire: pairs with the release store of the completing worker (or of shutdown).
    std::uint32_t v = tw.done.load(std::memory_order_acquire);
    if (v) return v;
    sched::futex_wait(&tw.done, 0);
  }
}

std::vector<task_info> runtime::dump_tasks() const {
  return detail::dump_tasks(*core_, &monitor_->stalls());
}

}  // namespace weft
