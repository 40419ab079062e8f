#pragma once
// weft::select: wait for the first of several things, and lose nothing that did not win.
//
//   auto [index, value] = co_await weft::select(jobs.recv(), stop.wait(), weft::sleep_for(1s));
//   switch (index) {
//     case 0: handle(std::get<0>(value));  break;   // std::optional<job>: nullopt once closed
//     case 1: co_return;                            // stop was set (std::monostate)
//     case 2: report_idle();  break;                // a second passed (std::monostate)
//   }
//
// Each argument is a branch: an awaitable as you would co_await it. select yields a
// select_result {index, value}: the 0-based index of the branch that completed first and, as
// the variant alternative of that index, what awaiting it alone would have yielded
// (std::monostate for nothing). When several branches are ready at once, the one with the lowest
// index wins (put the stop signal first); so a branch that is always ready starves the later ones.
//
// Branches select waits on itself, queued on each at once and taken out of the others when one
// wins (no task, no allocation; none of them loses anything):
//   - ch.recv(), ch.send(v)    (weft::channel, any capacity, rendezvous included). A receive
//                              that did not win was handed no value: it stays in the channel.
//                              A send that did not win sent nothing (its value is dropped with
//                              the select). recv yields std::optional<T> (nullopt: closed and
//                              drained); send throws channel_closed on a closed channel.
//                              T's move constructor must be noexcept (a move that threw
//                              after the select was chosen would leave it waiting for good).
//   - sleep_for(d), sleep_until(t)   the earliest of them, on one timer.
//   - ev.wait(), l.wait() (event, latch), s.acquire() (semaphore: the permit is the winner's),
//     m.lock() (async_mutex: yields the guard). A permit or lock is only taken by the winner.
//   - rx.recv() of a weft::broadcast receiver, rx.changed() of a weft::watch receiver,
//     set.next() of a weft::join_set (a child's outcome is only taken by the winner).
// Any other awaitable (a task, a join handle, with_timeout(...), an Asio operation with
// use_task, ...) must be passed as an rvalue; select spawns a child task that awaits it, and
// cancels that child (and waits for it to finish) when another branch wins. Such a branch can
// lose a value: an awaitable that consumes something when it completes (a task that received
// from a channel) may complete in the child just after another branch won, and what it got is
// dropped. A child that ignores its cancellation delays the select's return, as with when_any.
//
// select is a cancellation point: a task cancelled before a branch wins gets cancelled_error
// and nothing is taken; one whose branch won first gets the value (its next await sees the
// cancellation). It returns a weft::task, so `with_timeout(d, select(...))` works; the branches
// are looked at when it is awaited, not when select() is called. What a branch throws
// (channel_closed, lagged_error, a child's exception, usage_error if a primitive is destroyed
// under it) select throws.
//
// Thread safety and lifetime: as for the awaitables themselves. The primitives must outlive the
// select (one destroyed under it wakes it with usage_error). A frame destroyed while it waits in
// a select (shutdown) unlinks every branch, like any weft await.
//
// g++ 12 (runtime/README.md): name a select whose send branches carry class temporaries
// (`auto s = weft::select(ch.send(std::move(v)), ...); auto r = co_await std::move(s);`).

#include <type_traits>
#include <utility>

#include <weft/combinators/detail/select_core.hpp>
#include <weft/combinators/detail/select_nodes.hpp>
#include <weft/task.hpp>

namespace weft {

/// The first of `branches` to complete, with its value (see above).
template <class... Branch>
  requires(sizeof...(Branch) > 0)
auto select(Branch&&... branches) {
  return detail::select_impl(detail::make_spec(std::forward<Branch>(branches))...);
}

}  // namespace weft
