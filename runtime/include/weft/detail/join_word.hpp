#pragma once
// The join word (task_record::join): who frees a finished task, and who is resumed when it
// finishes. This header and join.cpp are the only code that reads or writes it.
//
// A record and its root frame are released by the last of two parties: the task's completion
// and its join handle (joined, detached or destroyed). The word says which came first:
//
//   join value             meaning
//   join_running (0)       not finished; the handle has not started waiting
//   join_done              finished; the frame waits at its final suspend point for the handle
//   join_detached          the handle let go first; completion frees everything
//   join_orphaned          shutdown destroyed the frame unfinished; the handle frees the record,
//                          and a join of it throws runtime_stopped (a task of another runtime
//                          waiting in the word then is woken by orphan_record: join.cpp)
//   join_cancel_pending    a canceller found no waiter yet; the joiner sees it and gives up
//   join_forked            a child of weft::fork with a record: no handle; its parent's awaiter
//                          frees record and frame (detail/fork.hpp), never shutdown's table walk
//   a task_record*         the joining task, resumed by completion (a task of another runtime
//                          is woken there instead: it runs on its own runtime's workers only;
//                          it holds its runtime's core for whoever takes it out: join.cpp)
//   a thread_waiter* | 1   a thread in block_on, woken by completion
//
// The common join costs no atomic read-modify-write at all: a joiner that finds its child still
// at the bottom of its own deque pops it and runs it inline (`inline_joiner`, join.hpp), and the
// child's completion hands the thread straight back by symmetric transfer.
//
// Thread safety: the transitions are atomic exchanges and compare-exchanges (acq_rel: the
// release publishes the result, or the registered waiter, to the other party).

#include <atomic>
#include <cstdint>

#include <weft/detail/task_record.hpp>

namespace weft::detail {

enum : std::uintptr_t {
  join_running = 0,
  join_done = 1,
  join_detached = 2,
  join_orphaned = 3,
  join_cancel_pending = 4,
  join_forked = 5,
};

/// A thread blocked in runtime::block_on, registered in a record's `join` with the low bit set.
/// `done` becomes 1 when the task finished, 2 when shutdown ended it.
struct thread_waiter {
  std::atomic<std::uint32_t> done{0};
};

/// A new task: not finished, nobody waiting.
inline void reset_join(task_record* r) noexcept { r->join.store(join_running, std::memory_order_relaxed); }

/// A record made for a child of weft::fork (fork.cpp): it never has a handle.
inline void mark_forked(task_record* r) noexcept { r->join.store(join_forked, std::memory_order_relaxed); }
/// Whether `r` belongs to a child of weft::fork, whose parent owns its frame and frees it.
inline bool is_forked(const task_record* r) noexcept { return r->join.load(std::memory_order_relaxed) == join_forked; }

/// Whether the task has finished and waits for its handle (its result is ready).
inline bool join_finished(const task_record* r) noexcept {
  return r->join.load(std::memory_order_acquire) == join_done;
}

/// Whether shutdown ended the task unfinished (its frame is gone: a join throws runtime_stopped).
/// For the handle's owner: once set, only the handle changes the word again.
inline bool join_ended_by_shutdown(const task_record* r) noexcept {
  // acquire: pairs with orphan_record's exchange (nothing of the frame is read after it anyway).
  return r->join.load(std::memory_order_acquire) == join_orphaned;
}

/// Registers a thread that will block in `tw` for the task (block_on). If the task is already
/// finished (or ended by shutdown), `tw` says so at once.
inline void wait_on_thread(task_record* r, thread_waiter& tw) noexcept {
  std::uintptr_t expected = join_running;
  if (!r->join.compare_exchange_strong(expected, reinterpret_cast<std::uintptr_t>(&tw) | 1, std::memory_order_acq_rel,
                                       std::memory_order_acquire))
    tw.done.store(expected == join_done ? 1 : 2, std::memory_order_relaxed);
}

/// The task that waits for `r` to finish, if one does: the joiner running `r` inline, the task
/// registered in `r`'s join word, the parent of a child of weft::fork or of a fork_scope's
/// continuation (its spawner, which frees the record once the child is done), or the owner of
/// the group `r` is a child of (scope_owner: when_all, when_any, task_group, select, join_set);
/// null otherwise (no joiner yet, a thread in block_on, a detached task). For `r` the running
/// task, and for the tasks found from it this way: each cannot finish before the one it waits
/// for, but may stop waiting (a cancelled join), which a caller that follows the chain sees by
/// asking about the one before it again. Only records are read, never a frame or a group.
inline task_record* awaited_by(const task_record* r) noexcept {
  // relaxed: set before `r` first ran inline, by the thread that ran it, or, for a task found
  // in a join word, before its registration there (the acquire below, one step earlier).
  if (task_record* joiner = r->inline_joiner.load(std::memory_order_relaxed)) return joiner;
  // acquire: pairs with the joiner's registering CAS (join_suspend_slow), so that its record's
  // fields, inline_joiner above included, are read as they were when it began to wait.
  const std::uintptr_t w = r->join.load(std::memory_order_acquire);
  if (w == join_forked) return r->spawner.load(std::memory_order_relaxed);
  if (w > join_forked && !(w & 1)) return reinterpret_cast<task_record*>(w);
  // A state, or a thread_waiter (low bit): a group's owner, if `r` is a group's child.
  return r->scope_owner.load(std::memory_order_relaxed);
}

/// Shutdown destroyed the task's frame: lets its handle know, wakes a thread in block_on or a
/// task of another runtime waiting for it, and frees the record if nobody holds it (join.cpp).
void orphan_record(task_record* r) noexcept;

}  // namespace weft::detail
