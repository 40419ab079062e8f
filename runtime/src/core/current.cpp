#include <weft/detail/current.hpp>
#include <weft/task.hpp>

#include <string>

namespace weft::detail {

void throw_bad_task_await(bool has_frame) {
  if (!has_frame) throw usage_error("weft: co_await on an empty task (moved from, or already spawned)");
  throw usage_error("weft: this task was already awaited; a task is awaited once");
}

void throw_spawn_off_runtime() {
  throw usage_error("weft::spawn called off the runtime's workers: use runtime::spawn from other threads");
}

void throw_not_in_task(const char* what) {
  throw usage_error(std::string(what) +
                    " must be awaited inside a task running on a weft runtime (spawn it, or "
                    "run it with runtime::block_on)");
}

}  // namespace weft::detail
