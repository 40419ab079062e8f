#pragma once
// weft::when_any: run tasks concurrently; the first to finish wins, the rest are cancelled.
//
//   auto [index, value] = co_await weft::when_any(fast(), slow());
//
// Yields a when_any_result {index, value}. With tasks of one value type `value` is that type;
// with several it is a std::variant of them (std::monostate for task<void>). If the first task
// to finish threw, when_any rethrows that exception. Either way the losers are cancelled and
// awaited before when_any returns (structured: nothing is left running). Cancelling the
// awaiting task cancels them all and throws cancelled_error.

#include <atomic>
#include <cstddef>
#include <exception>
#include <limits>
#include <memory>
#include <optional>
#include <source_location>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <weft/combinators/detail/group.hpp>
#include <weft/task.hpp>
#include <weft/when_all.hpp>

namespace weft {

template <class T>
struct when_any_result {
  std::size_t index;
  T value;
};

namespace detail {

template <class V>
struct any_state {
  static constexpr std::size_t none = std::numeric_limits<std::size_t>::max();
  std::atomic<std::size_t> winner{none};
  std::optional<V> value;
  std::exception_ptr error;
};

/// Child wrapper: the first to finish (value or exception) records it and cancels the rest.
/// `I` is the alternative to construct when `V` is the variant of heterogeneous tasks.
template <std::size_t I, bool Heterogeneous, class V, class T>
task<void> any_child(std::shared_ptr<group_core> g, task<T> t, std::size_t index, std::shared_ptr<any_state<V>> st) {
  std::optional<value_or_monostate<T>> v;
  std::exception_ptr e;
  {
    scope_child link(g->links);  // unlinked before the joiner may go on
    try {
      if constexpr (std::is_void_v<T>) {
        co_await std::move(t);
        v.emplace();
      } else {
        v.emplace(co_await std::move(t));
      }
    } catch (...) {
      e = std::current_exception();
    }
  }
  std::size_t none = any_state<V>::none;
  if (st->winner.compare_exchange_strong(none, index, std::memory_order_acq_rel)) {
    if (e)
      st->error = e;
    else if constexpr (Heterogeneous)
      st->value.emplace(std::in_place_index<I>, std::move(*v));
    else
      st->value.emplace(std::move(*v));
    g->cancel_all();
  }
  g->child_finished();
}

template <class V>
task<when_any_result<V>> finish_any(std::shared_ptr<group_core> g, std::shared_ptr<any_state<V>> st) {
  co_await g->join();  // throws cancelled_error only if the caller itself was cancelled
  if (st->error) std::rethrow_exception(st->error);
  co_return when_any_result<V>{st->winner.load(std::memory_order_acquire), std::move(*st->value)};
}

template <class... T>
inline constexpr bool all_same = false;
template <class T, class... Rest>
inline constexpr bool all_same<T, Rest...> = (std::is_same_v<T, Rest> && ...);

template <class... T>
using any_value_t = std::conditional_t<all_same<T...>, value_or_monostate<std::tuple_element_t<0, std::tuple<T...>>>,
                                       std::variant<value_or_monostate<T>...>>;

template <class V, class... T, std::size_t... I>
task<when_any_result<V>> when_any_impl(std::index_sequence<I...>, task<T>... ts) {
  auto g = make_group();
  auto st = std::make_shared<any_state<V>>();
  for (std::size_t k = 0; k < sizeof...(T); ++k) g->child_starting();
  (weft::spawn(any_child<I, !all_same<T...>, V>(g, std::move(ts), I, st), {.token = g->token()}).detach(), ...);
  co_return co_await finish_any(std::move(g), std::move(st));
}

}  // namespace detail

/// The first of `ts` to finish: its index and value (see above).
template <class... T>
  requires(sizeof...(T) > 0)
task<when_any_result<detail::any_value_t<T...>>> when_any(task<T>... ts) {
  return detail::when_any_impl<detail::any_value_t<T...>>(std::index_sequence_for<T...>{}, std::move(ts)...);
}

/// The first task of the vector to finish. Throws std::invalid_argument for an empty vector.
template <class T>
task<when_any_result<detail::value_or_monostate<T>>> when_any(std::vector<task<T>> ts) {
  using V = detail::value_or_monostate<T>;
  if (ts.empty()) throw std::invalid_argument("weft::when_any: no tasks to wait for");
  // (a coroutine: nothing starts until the result is awaited)
  auto g = detail::make_group();
  auto st = std::make_shared<detail::any_state<V>>();
  for (std::size_t i = 0; i < ts.size(); ++i) {
    g->child_starting();
    weft::spawn(detail::any_child<0, false, V>(g, std::move(ts[i]), i, st), {.token = g->token()}).detach();
  }
  co_return co_await detail::finish_any(std::move(g), std::move(st));
}

}  // namespace weft
