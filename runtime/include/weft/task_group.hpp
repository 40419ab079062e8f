#pragma once
// weft::task_group: structured concurrency. Spawn children; join waits for all of them.
//
//   weft::task_group g;
//   for (auto& url : urls) g.spawn(fetch(url));
//   co_await g.join();           // every child done; rethrows the first failure
//
// A child that fails cancels its siblings; join() waits for all of them to finish and then
// rethrows the first failure. Cancelling the task that awaits join() cancels the children,
// waits for them, and throws cancelled_error. After join() returns the group can be reused.
//
// Thread safety: spawn() and join() from the task that owns the group; cancel() from anywhere.
// Lifetime: destroying a group that was not joined cancels its children and lets them finish on
// their own (they keep the group's shared state alive).

#include <memory>
#include <source_location>

#include <weft/combinators/detail/group.hpp>
#include <weft/spawn.hpp>
#include <weft/task.hpp>

namespace weft {

class task_group {
 public:
  /// A group whose children inherit the creating task's cancellation (if any).
  task_group() : core_(detail::make_group()) {}
  task_group(const task_group&) = delete;
  task_group& operator=(const task_group&) = delete;
  ~task_group() {
    core_->links.release();  // nobody waits for the children any more
    if (core_->unfinished()) core_->cancel_all();
  }

  /// Spawns `t` as a child (its value, if any, is discarded). Same rules as weft::spawn.
  /// (The group's token replaces any token in `opts`.)
  template <class T>
  void spawn(task<T> t, const spawn_options& opts = {}, std::source_location site = std::source_location::current()) {
    if constexpr (std::is_void_v<T>)
      detail::spawn_child(core_, std::move(t), [] {}, opts.name, site);
    else
      detail::spawn_child(core_, std::move(t), [](T&&) {}, opts.name, site);
  }

  /// Waits for every child. A cancellation point (see above). Rethrows the first failure.
  [[nodiscard]] task<void> join() { return core_->join(); }

  /// Cancels every child (and what they spawned).
  void cancel() { core_->cancel_all(); }

  /// Children not finished yet.
  std::size_t size() const noexcept { return core_->unfinished(); }

 private:
  std::shared_ptr<detail::group_core> core_;
};

}  // namespace weft
