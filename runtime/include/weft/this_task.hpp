#pragma once
// weft::this_task: questions a task asks about itself.
//
//   for (auto& row : rows) {
//     weft::this_task::checkpoint();   // CPU-bound loop: a cancellation point
//     crunch(row);
//   }
//
// Each function must be called from a task running on a weft runtime (usage_error otherwise),
// except token(), which returns an empty token off the runtime.

#include <cstdint>

#include <weft/cancel.hpp>

namespace weft::this_task {

/// The running task's cancellation token (empty if it has none, or off the runtime).
cancel_token token();
/// Whether the running task's cancellation was requested (by its token or its join handle).
bool cancelled();
/// Throws cancelled_error if the running task's cancellation was requested. The explicit
/// cancellation point for code that never awaits: cheap enough for every loop iteration (one
/// load when nothing is cancelled).
void checkpoint();
/// The running task's id, as in dumps and stall reports.
std::uint64_t id();

}  // namespace weft::this_task
