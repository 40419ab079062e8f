#pragma once
// weft::task_info: one line of rt.dump_tasks().

#include <chrono>
#include <cstdint>
#include <source_location>
#include <string>
#include <string_view>

namespace weft {

enum class task_state {
  running,    ///< a worker is resuming it right now
  runnable,   ///< queued, waiting for a worker
  suspended,  ///< waiting for something (see task_info::awaiting)
};

constexpr std::string_view to_string(task_state s) noexcept {
  switch (s) {
    case task_state::running:
      return "running";
    case task_state::runnable:
      return "runnable";
    case task_state::suspended:
      return "suspended";
  }
  return "?";
}

/// A live task as seen by rt.dump_tasks(). A dump is a racy snapshot: each entry is
/// self-consistent, but tasks may start or finish while the dump is taken.
struct task_info {
  std::uint64_t id = 0;
  std::string name;                 ///< spawn_options::name, or empty
  std::source_location spawn_site;  ///< where weft::spawn / rt.spawn was called
  task_state state = task_state::runnable;
  std::string awaiting;                  ///< what a suspended task waits for ("sleep until +12ms", "join of task 42")
  std::chrono::nanoseconds in_state{0};  ///< time in `state` (to the runtime's coarse clock, ~1-10 ms)
  std::size_t worker = static_cast<std::size_t>(-1);  ///< the worker running it, if running
};

}  // namespace weft
