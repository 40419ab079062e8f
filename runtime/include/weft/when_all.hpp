#pragma once
// weft::when_all: run tasks concurrently, wait for all, collect their values.
//
//   auto [a, b] = co_await weft::when_all(load(1), load(2));       // std::tuple
//   std::vector<int> v = co_await weft::when_all(std::move(tasks)); // std::vector
//
// Each task is spawned (so they run in parallel, and may be stolen). A task<void> contributes a
// std::monostate to the tuple; a vector of task<void> gives a task<void>. When one task throws,
// the others are cancelled, all are awaited, and the first exception is rethrown. Cancelling
// the awaiting task cancels them all (cancelled_error, after they finished).

#include <cstddef>
#include <memory>
#include <optional>
#include <source_location>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>
#include <vector>

#include <weft/combinators/detail/group.hpp>
#include <weft/task.hpp>

namespace weft {

namespace detail {
template <class T>
auto sink_into(std::optional<value_or_monostate<T>>& slot) {
  if constexpr (std::is_void_v<T>)
    return [&slot] { slot.emplace(); };
  else
    return [&slot](T&& v) { slot.emplace(std::move(v)); };
}

template <class... T, std::size_t... I>
task<std::tuple<value_or_monostate<T>...>> when_all_impl(std::index_sequence<I...>, task<T>... ts) {
  auto g = make_group();
  std::tuple<std::optional<value_or_monostate<T>>...> slots;
  (spawn_child(g, std::move(ts), sink_into<T>(std::get<I>(slots)), {}, std::source_location::current()), ...);
  co_await g->join();
  co_return std::tuple<value_or_monostate<T>...>(std::move(*std::get<I>(slots))...);
}
}  // namespace detail

/// Awaits every task; yields a tuple of their values (std::monostate for task<void>).
template <class... T>
task<std::tuple<detail::value_or_monostate<T>...>> when_all(task<T>... ts) {
  return detail::when_all_impl(std::index_sequence_for<T...>{}, std::move(ts)...);
}

/// Awaits every task of the vector; yields their values in order.
template <class T>
task<std::vector<T>> when_all(std::vector<task<T>> ts) {
  auto g = detail::make_group();
  std::vector<std::optional<T>> slots(ts.size());
  for (std::size_t i = 0; i < ts.size(); ++i)
    detail::spawn_child(g, std::move(ts[i]), detail::sink_into<T>(slots[i]), {}, std::source_location::current());
  co_await g->join();
  std::vector<T> out;
  out.reserve(slots.size());
  for (auto& s : slots) out.push_back(std::move(*s));
  co_return out;
}

/// Awaits every task of the vector.
inline task<void> when_all(std::vector<task<void>> ts) {
  auto g = detail::make_group();
  for (auto& t : ts) detail::spawn_child(g, std::move(t), [] {}, {}, std::source_location::current());
  co_await g->join();
}

}  // namespace weft
