#pragma once
// weft::detail::join_set_core<T>: the state a join_set shares with its children.
//
// Each child runs in a small wrapper task (join_set_child) that holds a reference to the core,
// awaits the user's task and reports its outcome (value or exception) under the core's lock:
// straight to a task waiting in next() if there is one (claim_front: a weft::select's waiter
// too, if one ever waits here), else to the back of `done`. So outcomes come out in
// completion order, and a child never outlives the state it reports to: the set, its children
// and the tasks in next() each hold a reference, and the last one frees it. Destroying the set
// cancels the children and wakes the tasks still in next() with usage_error; the children then
// end on their own and drop their references.
//
// Children run under the core's cancellation token, a source linked to the token of the task
// that made the set: cancelling that task's token, or cancel_all(), reaches every child and
// what it spawned. cancel_all() replaces the source, so children spawned afterwards run.
//
// Thread safety: every member may be called from any thread; `mu` guards the outcomes and the
// counts, `token_mu_` the source.

#include <cstddef>
#include <deque>
#include <exception>
#include <memory>
#include <mutex>
#include <optional>
#include <type_traits>
#include <utility>

#include <weft/cancel.hpp>
#include <weft/combinators/detail/scope_link.hpp>
#include <weft/sync/detail/waiter.hpp>
#include <weft/task.hpp>
#include <weft/when_all.hpp>

namespace weft::detail {

template <class T>
class join_set_core {
 public:
  /// One finished child: its value (std::monostate for task<void>) or its exception.
  struct child_outcome {
    std::optional<value_or_monostate<T>> value;
    std::exception_ptr error;
  };

  explicit join_set_core(const cancel_token& parent) : parent_(parent), source_(parent) {}

  /// The token a new child runs under.
  cancel_token token() const {
    std::lock_guard lock(token_mu_);
    return source_.token();
  }
  /// Cancels the children running now; later ones get a fresh source (still linked to the
  /// parent). The old source is cancelled outside the lock: its callbacks wake tasks.
  void cancel_all() {
    cancel_source old;
    {
      std::lock_guard lock(token_mu_);
      old = std::exchange(source_, cancel_source(parent_));
    }
    old.cancel();
  }

  /// The set is going away: cancels the children for good (no fresh source).
  void cancel_for_good() noexcept {
    std::optional<cancel_source> old;
    {
      std::lock_guard lock(token_mu_);
      old.emplace(std::move(source_));
    }
    try {
      old->cancel();
    } catch (...) {  // (a callback that threw: the others ran)
    }
  }

  /// Counts a child about to be spawned.
  void starting() noexcept {
    std::lock_guard lock(mu);
    ++running;
  }
  /// A child's outcome, in completion order; `o` empty for a child whose spawn failed.
  void finished(std::optional<child_outcome> o) noexcept {
    wake_list woken;
    {
      std::lock_guard lock(mu);
      --running;
      if (o) {
        if (waiter* w = waiters.claim_front()) {
          *static_cast<std::optional<child_outcome>*>(w->payload) = std::move(o);
          woken.add(w->complete(waiter::outcome::done));
        } else {
          push_locked(std::move(*o));
        }
      }
      // Nothing will come for the tasks still waiting: they get "no child left".
      if (running == 0 && done.empty()) complete_all(waiters, waiter::outcome::closed, woken);
    }
    woken.wake_all();
  }

  /// Under mu: what next() yields now, if anything. False: wait.
  bool take_locked(std::optional<child_outcome>& out) {
    if (!done.empty()) {
      out.emplace(std::move(done.front()));
      done.pop_front();
      return true;
    }
    return running == 0;  // no child left: nothing (out stays empty)
  }

  std::size_t size() const noexcept {
    std::lock_guard lock(mu);
    return running + done.size();
  }

  /// The creating task, which waits for the children, named in their records (scope_link.hpp).
  scope_links links;
  mutable short_mutex mu;
  std::size_t running = 0;         // spawned, not finished
  std::deque<child_outcome> done;  // finished, not yet returned by next()
  waiter_queue waiters;            // tasks in next()

 private:
  void push_locked(child_outcome&& o) noexcept {
    try {
      done.push_back(std::move(o));
    } catch (...) {  // out of memory: the outcome is lost, the set stays consistent
    }
  }

  mutable std::mutex token_mu_;
  cancel_token parent_;
  cancel_source source_;
};

/// How weft::select waits on a join_set's next() (combinators/detail/select_nodes.hpp).
template <class T>
struct join_set_spec {
  std::shared_ptr<join_set_core<T>> core;
};

/// The wrapper each child runs in: awaits `t`, reports its outcome.
template <class T>
task<void> join_set_child(std::shared_ptr<join_set_core<T>> s, task<T> t) {
  typename join_set_core<T>::child_outcome o;
  {
    scope_child link(s->links);  // unlinked before the set hands the outcome out
    try {
      if constexpr (std::is_void_v<T>) {
        co_await std::move(t);
        o.value.emplace();
      } else {
        o.value.emplace(co_await std::move(t));
      }
    } catch (...) {
      o.error = std::current_exception();
    }
  }
  s->finished(std::move(o));
}

}  // namespace weft::detail
