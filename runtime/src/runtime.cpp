#include <weft/runtime.hpp>

#include <fmt/format.h>

#include <weft/metrics/registry.hpp>
#include <weft/sched/futex.hpp>

namespace weft {
namespace {

sched::options scheduler_options(runtime_options& o) {
  sched::options s;
  s.workers = o.workers;
  s.name = o.name;
  s.deque_capacity = o.deque_capacity;
  s.budget = o.budget;
  s.on_thread_start = std::move(o.on_thread_start);
  s.on_thread_stop = std::move(o.on_thread_stop);
  return s;
}

}  // namespace

runtime::runtime(runtime_options opts)
    : name_(opts.name),
      core_(new detail::runtime_core(scheduler_options(opts))),
      own_registry_(opts.registry ? nullptr : std::make_unique<metrics::registry>()),
      registry_(opts.registry ? opts.registry : own_registry_.get()) {
  core_->sched.start();
}

runtime::~runtime() {
  shutdown();
  core_->retire();
}

void runtime::shutdown() {
  if (core_->sched.on_worker())
    throw usage_error("weft: runtime::shutdown called from one of its own workers; it would wait for itself");
  if (shut_down_) return;
  shut_down_ = true;
  core_->stopped.store(true, std::memory_order_release);
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

std::vector<task_info> runtime::dump_tasks() const { return {}; }

}  // namespace weft
