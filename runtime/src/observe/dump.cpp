#include "observe/dump.hpp"

#include <cxxabi.h>

#include <cstdlib>

#include <fmt/format.h>

#include <weft/detail/runtime_core.hpp>
#include <weft/metrics/utf8.hpp>
#include "observe/stall_detector.hpp"

namespace weft::detail {
namespace {

std::string describe_wait(const task_record& r, std::int64_t now) {
  switch (r.awaiting.load(std::memory_order_relaxed)) {
    case await_kind::join:
      return fmt::format("join of task {}", r.awaiting_arg.load(std::memory_order_relaxed));
    case await_kind::sleep: {
      auto deadline = static_cast<std::int64_t>(r.awaiting_arg.load(std::memory_order_relaxed));
      return fmt::format("sleep until {:+.1f} ms", static_cast<double>(deadline - now) / 1e6);
    }
    case await_kind::other:
      if (const char* what = r.awaiting_what.load(std::memory_order_relaxed)) return what;
      return "something";
    case await_kind::none:
      break;
  }
  return {};
}

}  // namespace

std::vector<task_info> dump_tasks(runtime_core& core, const stall_detector* stalls) {
  const std::int64_t now = core.sched.now();
  // Which record each worker runs right now.
  std::vector<const sched::job*> running(core.sched.slots());
  for (std::size_t i = 0; i < running.size(); ++i)
    running[i] = core.sched.at(i).active() ? core.sched.at(i).current() : nullptr;

  std::vector<task_info> out;
  core.table.for_each([&](const task_record& r) {
    if (r.id.load(std::memory_order_acquire) == 0) return;
    record_state state = r.state.load(std::memory_order_relaxed);
    if (state == record_state::completed) return;
    task_info info;
    if (!read_identity(r, info.id, info.name, info.spawn_site)) return;
    std::int64_t since = r.since_ns.load(std::memory_order_relaxed);
    for (std::size_t w = 0; w < running.size(); ++w)
      if (running[w] == &r) {
        info.worker = w;
        state = record_state::running;
        if (stalls)
          if (auto t = stalls->running_since(w))
            // The stall clock may be a test's fake clock: measure against it.
            info.in_state =
                std::chrono::duration_cast<std::chrono::nanoseconds>(stall_clock(core, stalls->options()) - *t);
      }
    switch (state) {
      case record_state::running:
        info.state = task_state::running;
        break;
      case record_state::runnable:
        info.state = task_state::runnable;
        info.in_state = std::chrono::nanoseconds(now - since);
        break;
      default:
        info.state = task_state::suspended;
        info.awaiting = describe_wait(r, now);
        info.in_state = std::chrono::nanoseconds(now - since);
        break;
    }
    if (info.in_state < std::chrono::nanoseconds::zero()) info.in_state = {};
    // The record may have moved on while we read it: keep the entry only if the id held.
    if (r.id.load(std::memory_order_acquire) == info.id) out.push_back(std::move(info));
  });
  // Workers running a function posted to the executor (an Asio handler) rather than a task: id
  // 0, named by the function's type. (An Asio awaitable between its handlers is Asio's state,
  // not a job: it shows only while one of its handlers runs.)
  for (std::size_t w = 0; w < running.size(); ++w) {
    const sched::job* j = running[w];
    if (!j || j->run_ == &run_record) continue;
    const std::type_info* type = core.contexts[w].callback.load(std::memory_order_relaxed);
    if (!type) continue;
    task_info info;
    info.name = callback_name(*type);
    info.state = task_state::running;
    info.worker = w;
    if (stalls)
      if (auto t = stalls->running_since(w))
        info.in_state = std::chrono::duration_cast<std::chrono::nanoseconds>(stall_clock(core, stalls->options()) - *t);
    out.push_back(std::move(info));
  }
  return out;
}

std::string callback_name(const std::type_info& type) {
  int status = 0;
  char* demangled = abi::__cxa_demangle(type.name(), nullptr, nullptr, &status);
  std::string name = "asio handler ";
  name += status == 0 && demangled ? demangled : type.name();
  std::free(demangled);
  return metrics::utf8_sanitized(name);
}

std::size_t count_hung_tasks(runtime_core& core, std::chrono::nanoseconds threshold) {
  const std::int64_t now = core.coarse_now();
  std::size_t n = 0;
  core.table.for_each([&](const task_record& r) {
    if (r.id.load(std::memory_order_acquire) == 0) return;
    if (r.state.load(std::memory_order_relaxed) != record_state::suspended) return;
    if (now - r.since_ns.load(std::memory_order_relaxed) > threshold.count()) ++n;
  });
  return n;
}

}  // namespace weft::detail
