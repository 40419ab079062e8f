#pragma once
// weft::join_set<T>: spawn tasks, collect their results as they finish.
//
//   weft::join_set<page> pages;
//   for (auto& url : urls) pages.spawn(fetch(url), {.name = "fetch"});
//   while (std::optional<page> p = co_await pages.next())   // in completion order
//     index(*p);                                            // (rethrows a child's exception)
//
// next() yields the outcome of the next child to finish: its value as std::optional<T> (for
// join_set<void>, true), or rethrows its exception; when no child is left it yields nullopt
// (false) at once. Children that finished before anyone asked wait in the set, in the order they
// finished. size() counts the children not yet returned by next(), running or finished.
//
// Children run concurrently (spawned like weft::spawn, on the caller's worker, stealable) under
// the set's cancellation token, linked to the token of the task that made the set: cancelling
// that reaches them. cancel_all() cancels the children running now (each then finishes with
// cancelled_error, which next() rethrows for it; children spawned later are not affected).
// Destroying the set cancels what is left; the children end on their own and their outcomes
// are dropped. next() is a cancellation point: a task cancelled while it waits gets
// cancelled_error and the outcomes stay in the set.
//
// Thread safety: spawn() from a task running on a weft runtime (usage_error elsewhere);
// next(), size() and cancel_all() from any task (several tasks may wait in next() at once: each
// gets a different child); size() and cancel_all() from plain threads too. A set is a move-only
// owner; a moved-from set is empty (next() yields nullopt; spawn() starts a new one).
// Lifetime: the set, its children and the tasks waiting in next() share the set's state, so a
// set destroyed while children run (or at shutdown, in any order with its children's frames)
// leaves nothing dangling; a task still waiting in next() of a destroyed set wakes with
// usage_error.

#include <cstddef>
#include <memory>
#include <optional>
#include <source_location>
#include <type_traits>
#include <utility>

#include <weft/combinators/detail/join_set_core.hpp>
#include <weft/spawn.hpp>
#include <weft/sync/detail/waiter.hpp>
#include <weft/task.hpp>
#include <weft/this_task.hpp>

namespace weft {

template <class T = void>
class join_set {
  using core = detail::join_set_core<T>;
  using child_outcome = typename core::child_outcome;

 public:
  /// What next() yields: std::optional<T>, or bool for join_set<void>.
  using next_type = std::conditional_t<std::is_void_v<T>, bool, std::optional<T>>;

  /// An empty set whose children inherit the creating task's cancellation (if any).
  join_set() : s_(make_core()) {}
  join_set(join_set&&) noexcept = default;
  join_set& operator=(join_set&& o) noexcept {
    if (this != &o) {
      end();
      s_ = std::move(o.s_);
    }
    return *this;
  }
  join_set(const join_set&) = delete;
  join_set& operator=(const join_set&) = delete;
  /// Cancels the children still running; wakes tasks waiting in next() with usage_error.
  ~join_set() { end(); }

  /// Spawns `t` as a child. Same rules as weft::spawn: `opts.name` names it in dumps and stall
  /// reports; the set's token replaces `opts.token`.
  void spawn(task<T> t, const spawn_options& opts = {}, std::source_location site = std::source_location::current()) {
    if (!s_) s_ = make_core();
    s_->starting();
    try {
      weft::spawn(detail::join_set_child<T>(s_, std::move(t)), {.name = opts.name, .token = s_->token()}, site)
          .detach();
    } catch (...) {
      s_->finished(std::nullopt);
      throw;
    }
  }

  class next_awaiter : detail::state_ref<core>, detail::waiter {
   public:
    explicit next_awaiter(std::shared_ptr<core> s) noexcept
        : detail::state_ref<core>{std::move(s)}, waiter(this->state->mu, this->state->waiters, this->state.get()) {}
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) {
      payload = &got_;
      return suspend(
          h, "join_set next", [&] { return this->state->take_locked(got_); },
          [&](waiter* w) { this->state->waiters.push_back(w); }, [] {});
    }
    next_type await_resume() {
      finish("weft::join_set");
      if (!got_) return next_type{};
      if (got_->error) std::rethrow_exception(got_->error);
      if constexpr (std::is_void_v<T>)
        return true;
      else
        return std::move(*got_->value);
    }

    /// For weft::select, which waits on the set itself.
    detail::join_set_spec<T> select_spec() const { return {this->state}; }

   private:
    std::optional<child_outcome> got_;
  };

  /// The outcome of the next child to finish (see above). Suspends while children run and none
  /// has finished; yields nullopt (false) at once when no child is left. Rethrows the child's
  /// exception; throws cancelled_error if the waiting task is cancelled first.
  next_awaiter next() { return next_awaiter(s_ ? s_ : make_core()); }

  /// Children not yet returned by next() (running, or finished and waiting in the set).
  std::size_t size() const noexcept { return s_ ? s_->size() : 0; }
  bool empty() const noexcept { return size() == 0; }

  /// Cancels every child running now (and what it spawned); see above.
  void cancel_all() {
    if (s_) s_->cancel_all();
  }

 private:
  static std::shared_ptr<core> make_core() { return std::make_shared<core>(this_task::token()); }

  void end() noexcept {
    if (!s_) return;
    s_->links.release();  // nobody waits for the children any more
    if (s_->size() != 0) s_->cancel_for_good();
    detail::orphan_all(s_->mu, s_->waiters);
    s_.reset();
  }

  std::shared_ptr<core> s_;
};

}  // namespace weft
