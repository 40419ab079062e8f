#pragma once
// weft::detail::group_core: the shared state behind task_group, when_all and when_any.
//
// Children are spawned as small wrapper tasks that report to the group when they finish. The
// group counts unfinished children plus one reference held by its joiner (so a group can be
// joined, reused and joined again); when the count reaches zero it sets `done_`. Children run
// under the group's own cancellation token (linked to the creating task's), so cancelling the
// group reaches them and everything they spawn. It keeps the first failure to rethrow.
//
// Structured: join waits for every child, even after a failure or a cancellation (it cancels
// them and waits for them to unwind), so children never outlive the scope that awaits them.
//
// Thread safety: every member may be called from any thread; the token and the first error sit
// under a mutex (groups are not on the fork-join hot path: use spawn/join for that).

#include <atomic>
#include <cstddef>
#include <exception>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include <weft/cancel.hpp>
#include <weft/combinators/detail/oneshot.hpp>
#include <weft/combinators/detail/scope_link.hpp>
#include <weft/spawn.hpp>
#include <weft/task.hpp>
#include <weft/this_task.hpp>

namespace weft::detail {

class group_core {
 public:
  /// A group whose children are cancelled with `parent` (the creating task's token).
  explicit group_core(const cancel_token& parent) : parent_(parent), source_(parent) {}

  /// Counts a child about to be spawned.
  void child_starting() noexcept { pending_.fetch_add(1, std::memory_order_relaxed); }
  /// Called by a child's wrapper as its last act.
  void child_finished() noexcept {
    // acq_rel: the last child's release publishes every child's results to the joiner.
    if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) done_.set();
  }
  /// The token children are spawned with: cancelled by cancel_all(), by a failure, and by the
  /// creating task's token.
  cancel_token token() const {
    std::lock_guard lock(mu_);
    return source_.token();
  }
  /// Records a failure (the first one wins) and cancels the other children.
  void fail(std::exception_ptr e) {
    {
      std::lock_guard lock(mu_);
      if (!error_) error_ = std::move(e);
    }
    cancel_all();
  }
  void cancel_all() {
    std::lock_guard lock(mu_);
    source_.cancel();
  }
  /// Waits for every child: the joiner drops its own reference first. If the waiting task is
  /// cancelled, the children are cancelled and still awaited. Rethrows the first failure.
  task<void> join();

  std::size_t unfinished() const noexcept {
    std::size_t p = pending_.load(std::memory_order_relaxed);
    return p ? p - 1 : 0;
  }

  /// The creating task, which waits for the children, named in their records (scope_link.hpp).
  scope_links links;

 private:
  std::atomic<std::size_t> pending_{1};  // unfinished children + the joiner's reference
  oneshot done_;
  mutable std::mutex mu_;
  cancel_token parent_;
  cancel_source source_;
  std::exception_ptr error_;
};

inline task<void> group_core::join() {
  if (pending_.fetch_sub(1, std::memory_order_acq_rel) == 1) done_.set();
  bool ok = co_await done_.wait(true);
  if (!ok) {
    cancel_all();
    co_await done_.wait(false);
  }
  // Ready for reuse: the joiner's reference back, a fresh token if this one was cancelled.
  std::exception_ptr error;
  {
    std::lock_guard lock(mu_);
    error = std::exchange(error_, nullptr);
    if (source_.cancelled()) source_ = cancel_source(parent_);
  }
  done_.reset();
  pending_.store(1, std::memory_order_relaxed);
  if (error) std::rethrow_exception(error);
  if (!ok) throw cancelled_error();
}

/// The wrapper every group child runs in: awaits the task, hands its value to `sink`, reports.
template <class T, class Sink>
task<void> group_child(std::shared_ptr<group_core> g, task<T> t, Sink sink) {
  {
    scope_child link(g->links);  // unlinked before the joiner may go on
    try {
      if constexpr (std::is_void_v<T>) {
        co_await std::move(t);
        sink();
      } else {
        sink(co_await std::move(t));
      }
    } catch (...) {
      g->fail(std::current_exception());
    }
  }
  g->child_finished();
}

/// Spawns `t` as a child of `g`, under the group's token. The child's record frees itself when
/// it finishes: the group waits for children through its count, not through join handles.
template <class T, class Sink>
void spawn_child(const std::shared_ptr<group_core>& g, task<T> t, Sink sink, std::string_view name,
                 std::source_location site) {
  g->child_starting();
  try {
    weft::spawn(group_child(g, std::move(t), std::move(sink)), {.name = name, .token = g->token()}, site).detach();
  } catch (...) {
    g->child_finished();
    throw;
  }
}

/// A group for a child scope of the running task (its token is the parent of the group's).
inline std::shared_ptr<group_core> make_group() { return std::make_shared<group_core>(this_task::token()); }

}  // namespace weft::detail
