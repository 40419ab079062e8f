#pragma once
// weft::detail::scope_state: the machinery of weft::fork_scope (fork_scope.hpp), fork-join by
// continuation stealing.
//
//   co_await scope.fork(out, child()):
//     push the parent's continuation (the scope's one job, `cont`) on this worker's deque and run
//     the child at once (symmetric transfer), under the record the parent runs under. When the
//     child completes, its final suspend point moves its value to `out`, destroys its frame and
//     pops the bottom of the deque: the continuation still there? Resume the parent at once. That
//     is the whole fork of a child that nobody stole from: a push, a pop and a comparison; no
//     record, no atomic read-modify-write, nothing left to collect at the join.
//
// A thief (or this worker's loop, when the child suspended) that takes the continuation runs
// the parent from there under a record of its own (run_scope_cont): the *continuation record*,
// named as the scope's owner and sharing its token, so dumps and the stall detector see the
// parent where it runs. From then the parent and the child run in parallel: two *strands*, each
// under its own record. The child's strand ends where the child completes (the continuation is
// not at the bottom); the parent's where it reaches the join.
//
// The scope's *owner* is the record the parent ran under at its first fork. The first steal
// leaves the owner with the child's strand; every later steal gives the parent a new
// continuation record. The join resumes the parent under the owner again, once every strand has
// ended: `pending` counts the strand ends of the children (each subtracts one) against the
// number of steals (the parent adds it at the join), as weft::fork's `pending` does; zero is
// reached once, by the last. A strand that ends first and is a continuation record completes and
// frees it; the owner's strand that ends first suspends the owner (awaiting "fork scope") until
// the last resumes the parent under it.
//
// Which continuation is ours: a child that suspended may complete on another worker, whose
// deque may hold the same job pushed by a later fork of the parent (now running elsewhere).
// `cont_record`, the record the parent ran under when it pushed the job, tells them apart: two
// live strands never share a record.

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <exception>
#include <source_location>

#include <weft/detail/task_record.hpp>
#include <weft/detail/worker_context.hpp>
#include <weft/sched/job.hpp>
#include <weft/sched/worker.hpp>

namespace weft::detail {

/// The job function of a scope's continuation taken from the deque (fork_scope.cpp).
void run_scope_cont(sched::job* j) noexcept;

/// One steal: the continuation record it made, and the child that was running when it happened
/// (whose strand goes on apart from the parent's), until that child completes. Entries are
/// appended by the parent's strand (one steal at a time) and freed at the join.
struct scope_steal {
  scope_steal* next = nullptr;
  task_record* record = nullptr;      ///< the parent's continuation record
  std::atomic<void*> child{nullptr};  ///< the diverged child's frame, null once it completed
};

/// A fork_scope's state. The scope is itself the job of the parent's continuation, pushed at
/// every fork (at most one on a deque at a time), and the owner's cancel hook while the owner
/// waits for the join (its hook cancels the continuation records).
struct scope_state : sched::job, cancel_hook {
  explicit scope_state(std::source_location s) noexcept : site(s) {
    run_ = &run_scope_cont;
    fn = &cancel_strands;
  }

  std::coroutine_handle<> parent;      ///< the coroutine that forks and joins
  task_record* owner = nullptr;        ///< the record the parent ran under at its first fork
  task_record* cont_record = nullptr;  ///< the record the parent ran under when it pushed this job
  /// The child forked last while it runs as the parent's strand (null once it completed or a
  /// steal took it into its entry): what a shutdown destroys with the parent's frame.
  std::atomic<void*> child{nullptr};
  std::atomic<scope_steal*> steals_list{nullptr};  ///< newest first
  std::int32_t steals = 0;                         ///< continuations taken since the last join (the parent's strand's)
  std::atomic<std::int32_t> pending{0};
  bool cancelled = false;    ///< a fork found the parent cancelled: its child never ran
  bool owner_waits = false;  ///< the owner's strand ended first: it armed this hook (read by the last)
  std::atomic<bool> failed{false};
  std::exception_ptr error;  ///< the first failure (whoever won `failed` writes it)
  std::source_location site;

  /// A child failed: the first failure is kept, the others dropped (fork_scope.cpp).
  void fail(std::exception_ptr e) noexcept;
  /// The owner's hook: cancels every continuation record.
  static void cancel_strands(cancel_hook* h, hook_op op) noexcept;
  /// The scope's frame goes with children outstanding: at shutdown, destroys them and frees the
  /// records; otherwise (an exception left the parent between fork and join) terminates.
  void abandon() noexcept;
  /// (A steal always has its entry until the join, so `steals` need not be read.)
  bool outstanding() const noexcept {
    return child.load(std::memory_order_relaxed) || steals_list.load(std::memory_order_relaxed);
  }
};

/// A child's tagged pointer in its promise's `record_` (promise.hpp): its scope | 2.
inline constexpr std::uintptr_t scope_tag = 2;
static_assert(alignof(scope_state) >= 4, "the tag needs two free low bits");

/// A child completed and its continuation is not at the bottom of this worker's deque: its
/// strand ends, and its frame (`frame`, still alive) is destroyed (fork_scope.cpp).
std::coroutine_handle<> scope_strand_end(scope_state& s, std::coroutine_handle<> frame) noexcept;
/// The parent reached the join after a steal: its strand ends (fork_scope.cpp).
std::coroutine_handle<> scope_join_wait(scope_state& s) noexcept;

/// The final suspend point of a scope's child: its value is delivered, its frame destroyed.
template <class P>
[[gnu::always_inline]] inline std::coroutine_handle<> scope_complete(std::coroutine_handle<P> h,
                                                                     std::uintptr_t tagged) noexcept {
  scope_state& s = *reinterpret_cast<scope_state*>(tagged - scope_tag);
  P& p = h.promise();
  if (p.exception_) [[unlikely]]
    s.fail(std::move(p.exception_));
  else
    p.deliver(p.continuation_.address());
  worker_context* ctx = tls_ctx;
  sched::worker* w = ctx->w;
  ctx->completed.inc();
  if (sched::job* bottom = w->pop_local()) [[likely]] {
    if (bottom == &s && s.cont_record == ctx->current) [[likely]] {
      // Nobody took the continuation: the parent's strand goes on here.
      s.child.store(nullptr, std::memory_order_relaxed);
      h.destroy();
      return s.parent;
    }
    w->push_back_local(bottom);  // somebody else's: leave it
  }
  return scope_strand_end(s, h);
}

}  // namespace weft::detail
