#include <weft/testing/sim.hpp>

#include <stdexcept>
#include <string>

#include <fmt/format.h>

#include <weft/errors.hpp>
#include <weft/time/detail/deadline.hpp>
#include "blocking/blocking_pool.hpp"
#include "testing/sim_driver.hpp"

namespace weft::testing {
namespace {

runtime_options checked(const sim_options& o) {
  if (o.workers == 0) throw std::invalid_argument("weft::testing::sim_options::workers must be at least 1");
  runtime_options r = o.runtime;
  r.workers = o.workers;
  return r;
}

}  // namespace

sim::sim(sim_options opts) : runtime(checked(opts), detail::manual_workers_t{}), seed_(opts.seed), start_(now()) {
  driver_ = std::make_unique<detail::sim_driver>(core(), opts.seed, opts.workers, opts.wait_for_outside, [this] {
    std::string text = fmt::format(
        "weft::testing::sim (seed {}): deadlock: no task can run, no timer is armed and nothing outside the sim "
        "is pending, so the task given to block_on can never finish; every task was cancelled. Tasks:",
        seed_);
    for (const task_info& t : dump_tasks())
      text += fmt::format("\n  task {}{} {} ({}), spawned at {}:{}", t.id, t.name.empty() ? "" : " \"" + t.name + "\"",
                          to_string(t.state), t.awaiting.empty() ? "-" : t.awaiting, t.spawn_site.file_name(),
                          t.spawn_site.line());
    return text;
  });
  core().driver = driver_.get();
}

sim::~sim() {
  shutdown();  // while the driver lives: it runs the unwinding
  core().driver = nullptr;
}

void sim::advance(std::chrono::nanoseconds d) {
  if (d < std::chrono::nanoseconds::zero())
    throw std::invalid_argument("weft::testing::sim::advance: a negative duration (" + std::to_string(d.count()) +
                                " ns): virtual time only moves forward");
  // As block_on (runtime::check_block_on): the driver may be waiting for this very call.
  if (detail::on_blocking_thread(core()))
    throw usage_error(
        fmt::format("weft::testing::sim::advance of sim \"{}\" called from one of its spawn_blocking calls; the thread "
                    "driving the sim waits for that call to return, and advance would wait for that thread (deadlock). "
                    "Advance the sim from the thread that drives it, or from one of its tasks",
                    name()));
  if (core().stopped.load(std::memory_order_acquire)) throw runtime_stopped();
  driver_->advance(detail::saturating_ns(d));
}

const char* sim::schedule() const noexcept { return driver_->schedule(); }

std::uint64_t sim::steps() const noexcept { return driver_->steps(); }

}  // namespace weft::testing
