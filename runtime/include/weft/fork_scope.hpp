#pragma once
// weft::fork_scope: fork-join by continuation stealing, for a number of children known only as
// they are made (a search tree's legal moves).
//
//   weft::fork_scope scope;
//   std::array<std::uint64_t, N> parts;
//   for (...) co_await scope.fork(parts[k++], child(...));   // the child runs at once
//   co_await scope.join();                                    // every child done; rethrows the first failure
//
// `co_await scope.fork(out, t)` runs `t` at once on this worker and leaves the rest of the
// caller (its continuation) on the worker's deque, where an idle worker may steal it; when `t`
// completes its value is in `out`, and the caller goes on, here or wherever its continuation
// went. A fork nobody stole from costs a push and a pop (detail/fork_scope.hpp). The caller may
// resume on another worker after any fork.
//
// The contract: between the first fork and the join the caller runs in parallel with children
// that write into its frame, so it must reach the join. An exception that leaves the caller there
// (an await other than a fork may throw one: a cancelled sleep, say) ends the program with a
// message, as a joinable std::thread's destructor does; await only forks between the first fork
// and the join. weft::fork (fork.hpp) keeps the caller suspended for the whole fork and asks for
// none of this: use it unless a hot recursive search needs the difference. Shutdown may end a
// task whose scope has children outstanding: its frame is destroyed with theirs.
//
// Cancellation: a fork that finds the caller cancelled does not start its child (the child's
// frame is destroyed, `out` untouched) and the join throws cancelled_error once every child
// that did start is done. A child's failure does not stop the others: the join rethrows the
// first.

#include <coroutine>
#include <cstdint>
#include <exception>
#include <source_location>
#include <type_traits>
#include <utility>

#include <weft/detail/fork_scope.hpp>
#include <weft/errors.hpp>
#include <weft/task.hpp>

namespace weft {

namespace detail {
[[noreturn, gnu::cold]] void throw_scope_off_runtime();
[[noreturn, gnu::cold]] void throw_bad_scope_task();
/// The join found a failure or a cancelled fork: resets them, throws the first failure, else
/// cancelled_error.
[[noreturn, gnu::cold]] void scope_rethrow(scope_state& s);
}  // namespace detail

class fork_scope {
 public:
  explicit fork_scope(std::source_location site = std::source_location::current()) noexcept : s_(site) {}
  fork_scope(const fork_scope&) = delete;
  fork_scope& operator=(const fork_scope&) = delete;
  ~fork_scope() {
    if (s_.outstanding()) [[unlikely]]
      s_.abandon();
  }

  template <class T>
  class [[nodiscard]] fork_awaiter {
   public:
    fork_awaiter(detail::scope_state& s, std::coroutine_handle<detail::promise<T>> h, void* out) noexcept
        : s_(s), h_(h), out_(out) {}
    fork_awaiter(const fork_awaiter&) = delete;
    fork_awaiter& operator=(const fork_awaiter&) = delete;
    ~fork_awaiter() {
      if (h_) h_.destroy();  // never started (cancelled)
    }
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> parent) {
      detail::worker_context* ctx = detail::tls_ctx;
      if (!ctx || !ctx->current) [[unlikely]]
        detail::throw_scope_off_runtime();
      // The members in locals first: the stores below could alias this awaiter as far as the
      // compiler knows, and would make it load them again after each.
      detail::scope_state& s = s_;
      void* const out = out_;
      detail::task_record* me = ctx->current;
      if (me->cancelled()) [[unlikely]] {
        s.cancelled = true;
        return parent;
      }
      const std::coroutine_handle<detail::promise<T>> child = std::exchange(h_, {});
      if (!s.owner) s.owner = me;
      s.parent = parent;
      s.cont_record = me;
      s.child.store(child.address(), std::memory_order_relaxed);
      auto& p = child.promise();
      p.record_ = reinterpret_cast<detail::task_record*>(reinterpret_cast<std::uintptr_t>(&s) | detail::scope_tag);
      p.continuation_ = std::coroutine_handle<>::from_address(out);
      // Once pushed, the continuation may be taken and the parent go on, this awaiter with it:
      // nothing of it is touched afterwards.
      ctx->w->push_continuation(&s);
      return child;
    }
    void await_resume() const noexcept {}

   private:
    detail::scope_state& s_;
    std::coroutine_handle<detail::promise<T>> h_;
    void* out_;
  };

  /// Runs `t` at once; its value goes to `out` when it completes. A task<void> takes no `out`.
  template <class T>
    requires(!std::is_void_v<T>)
  fork_awaiter<T> fork(T& out, task<T> t) {
    static_assert(std::is_nothrow_move_assignable_v<T>,
                  "fork_scope delivers a child's value by move assignment at its final suspend point");
    if (!t.releasable()) [[unlikely]]
      detail::throw_bad_scope_task();
    return fork_awaiter<T>(s_, t.release_checked_already(), &out);
  }
  fork_awaiter<void> fork(task<void> t) {
    if (!t.releasable()) [[unlikely]]
      detail::throw_bad_scope_task();
    return fork_awaiter<void>(s_, t.release_checked_already(), nullptr);
  }

  class [[nodiscard]] join_awaiter {
   public:
    explicit join_awaiter(detail::scope_state& s) noexcept : s_(s) {}
    /// No steal since the last join: every child completed before the caller went on.
    bool await_ready() const noexcept { return s_.steals == 0; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<>) noexcept { return detail::scope_join_wait(s_); }
    void await_resume() {
      s_.steals = 0;  // (`pending` is back at zero: the strands subtracted what the parent added)
      if (s_.cancelled || s_.failed.load(std::memory_order_relaxed)) [[unlikely]]
        detail::scope_rethrow(s_);
    }

   private:
    detail::scope_state& s_;
  };

  /// Waits for every child forked since the last join.
  join_awaiter join() noexcept { return join_awaiter(s_); }

 private:
  detail::scope_state s_;
};

}  // namespace weft
