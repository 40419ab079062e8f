#pragma once
// weft::fork: structured fork-join. Runs the tasks in parallel and waits for all of them.
//
//   auto [a, b] = co_await weft::fork(fib(n - 1), fib(n - 2));
//   std::array<int, 10> v = co_await weft::fork(std::move(ten_tasks));   // std::array<task<int>, 10>
//
// The first task runs at once on this worker; the others wait on its deque, where idle workers
// may steal them, and this worker runs each one it finds still there. Children are awaited
// before the fork ends (structured): none outlives it, and there is no handle to move, detach
// or await elsewhere. That is what makes it cheap: a child this worker runs itself has no task
// record and costs no atomic read-modify-write; only a stolen child becomes a task of its own
// (detail/fork.hpp). A child that throws does not stop the others; the first exception (in
// argument order) is rethrown once all are done.

#include <array>
#include <coroutine>
#include <cstddef>
#include <cstdint>
#include <source_location>
#include <tuple>
#include <type_traits>
#include <utility>
#include <variant>

#include <weft/detail/fork.hpp>
#include <weft/errors.hpp>
#include <weft/task.hpp>

namespace weft {

namespace detail {

[[noreturn, gnu::cold]] void throw_fork_off_runtime();
[[noreturn, gnu::cold]] void throw_bad_fork_task();

template <class T>
value_or_monostate<T> take_fork_result(promise<T>& p) {
  if constexpr (std::is_void_v<T>) {
    p.take();
    return {};
  } else {
    return p.take();
  }
}

/// Room for the slots of up to N children: N - 1, since the first child runs at once and needs
/// none. Built only for the children there are (no slot is built for an empty task of an array,
/// and none before the fork starts).
template <std::size_t N>
class fork_slots {
 public:
  fork_slots() noexcept {}
  fork_slots(const fork_slots&) = delete;
  fork_slots& operator=(const fork_slots&) = delete;
  ~fork_slots() {}
  fork_slot* data() noexcept { return slots_; }
  /// Takes child number `i`: the first gets no slot, its promise points at the fork_join; any
  /// other gets the next slot, which its promise points at (tagged, detail/fork.hpp).
  template <class P>
  void add(std::coroutine_handle<P> h, fork_join* f, std::uint32_t i) noexcept {
    std::uintptr_t tagged;
    if (i == 0) {
      tagged = reinterpret_cast<std::uintptr_t>(f) | fork_first_tag;
    } else {
      fork_slot* s = ::new (static_cast<void*>(&slots_[i - 1])) fork_slot(h, f);
      tagged = reinterpret_cast<std::uintptr_t>(s) | fork_tag;
    }
    h.promise().record_ = reinterpret_cast<task_record*>(tagged);
  }

 private:
  union {
    fork_slot slots_[N > 1 ? N - 1 : 1];
  };
};

/// The parts of a fork's awaiter that do not depend on the children's types.
class fork_base {
 public:
  fork_base(const fork_base&) = delete;
  fork_base& operator=(const fork_base&) = delete;

 protected:
  explicit fork_base(std::source_location site) noexcept { f_.site = site; }
  /// The running task, or null (with cancelled_ set) if it is cancelled already. Throws
  /// usage_error off the runtime.
  worker_context* enter() {
    worker_context* ctx = tls_ctx;
    if (!ctx || !ctx->current) [[unlikely]]
      throw_fork_off_runtime();
    if (ctx->current->cancelled()) [[unlikely]] {
      cancelled_ = true;
      return nullptr;
    }
    return ctx;
  }
  /// After every child finished (or the fork never started): disarms, throws cancelled_error
  /// for a fork cancelled at its start.
  void leave() {
    if (cancelled_) [[unlikely]]
      throw cancelled_error();
    fork_leave(f_);
  }
  /// The destructor's halves around destroying the children's frames: children that have a
  /// record give back their hooks first, and their records go after. Only a slot this task did
  /// not pop may have a record: none if it popped them all and never waited (the common case,
  /// which then costs no loop).
  bool maybe_records() const noexcept { return f_.waited || f_.next < f_.n; }
  /// Destroys the children's frames with `destroy_frames()` between the two halves.
  template <class F>
  void destroy_children(F destroy_frames) noexcept {
    if (maybe_records()) [[unlikely]] {
      // A fork that started has n >= 1 children, so n - 1 slots.
      fork_disarm_unfinished(f_.slots, f_.n - 1);
      destroy_frames();
      fork_release_records(f_.slots, f_.n - 1);
    } else {
      destroy_frames();
    }
  }
  fork_join f_;
  bool cancelled_ = false;
};

}  // namespace detail

/// `co_await weft::fork(a, b, ...)`: runs every task in parallel and waits for all; yields a
/// tuple of their values (std::monostate for a task<void>). A cancellation point where it
/// starts; cancelling the awaiting task while it waits cancels the children that run as tasks
/// of their own (those it runs itself see its cancellation directly); either way the fork ends
/// only when every child has. Must be awaited inside a task running on a weft runtime (else
/// usage_error). Not copyable or movable: await it where it is made.
template <class... T>
class [[nodiscard]] fork : detail::fork_base {
  static constexpr std::size_t n = sizeof...(T);

 public:
  explicit fork(task<T>... ts, std::source_location site = std::source_location::current()) : fork_base(site) {
    // All or nothing: an empty or finished task throws before any frame changes hands.
    if (!(ts.releasable() && ...)) [[unlikely]]
      detail::throw_bad_fork_task();
    h_ = {ts.release_checked_already()...};
  }
  ~fork() {
    destroy_children([this] { std::apply([](auto... h) { (h.destroy(), ...); }, h_); });
  }

  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) {
    detail::worker_context* ctx = enter();
    if (!ctx) return h;
    [this]<std::size_t... I>(std::index_sequence<I...>) {
      (slots_.add(std::get<I>(h_), &f_, I), ...);
    }(std::index_sequence_for<T...>{});
    f_.slots = slots_.data();
    return detail::fork_start(f_, n, ctx, ctx->current, h, std::get<0>(h_));
  }
  std::tuple<detail::value_or_monostate<T>...> await_resume() {
    leave();
    // take() rethrows a failure: the first in argument order wins (a braced list is evaluated
    // in order).
    return std::apply(
        [](auto... h) {
          return std::tuple<detail::value_or_monostate<T>...>{detail::take_fork_result(h.promise())...};
        },
        h_);
  }

 private:
  std::tuple<std::coroutine_handle<detail::promise<T>>...> h_;
  detail::fork_slots<n> slots_;
};

/// `co_await weft::fork(std::move(tasks))`, for a std::array of tasks of one type: yields an
/// array of their values. Empty (default-constructed) tasks are skipped: their place in the
/// result is value-initialised, so a loop may fill the first k of N.
template <class T, std::size_t N>
class [[nodiscard]] fork<std::array<task<T>, N>> : detail::fork_base {
  // The tasks there are, packed: h_[0..k_) and their places in the array, pos_[0..k_). Every
  // loop after the first runs over those only (a search tree's nodes fill few of N places).
  using place = std::conditional_t<(N <= 0xff), std::uint8_t, std::uint32_t>;

 public:
  explicit fork(std::array<task<T>, N>&& ts, std::source_location site = std::source_location::current())
      : fork_base(site) {
    // All or nothing: find every task first, take them only if none is finished.
    std::uint32_t k = 0;
    for (std::size_t i = 0; i < N; ++i) {
      if (!ts[i].valid()) continue;
      if (!ts[i].releasable()) [[unlikely]]
        detail::throw_bad_fork_task();
      pos_[k++] = static_cast<place>(i);
    }
    for (std::uint32_t j = 0; j < k; ++j) h_[j] = ts[pos_[j]].release_checked_already();
    k_ = k;
  }
  ~fork() {
    destroy_children([this] {
      for (std::uint32_t j = 0; j < k_; ++j) h_[j].destroy();
    });
  }

  /// Nothing to run (a search tree's dead end): no suspension, only the checks of a start.
  bool await_ready() {
    if (k_ != 0) return false;
    enter();
    return true;
  }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) {
    detail::worker_context* ctx = enter();
    if (!ctx) return h;  // cancelled already
    for (std::uint32_t j = 0; j < k_; ++j) slots_.add(h_[j], &f_, j);
    f_.slots = slots_.data();
    return detail::fork_start(f_, k_, ctx, ctx->current, h, h_[0]);
  }
  std::array<detail::value_or_monostate<T>, N> await_resume() {
    leave();
    for (std::uint32_t j = 0; j < k_; ++j) h_[j].promise().rethrow_if_failed();  // the first failure in order
    std::array<detail::value_or_monostate<T>, N> out{};
    if (k_ == N) {  // every place filled: no need for pos_
      for (std::size_t j = 0; j < N; ++j) out[j] = detail::take_fork_result(h_[j].promise());
    } else {
      for (std::uint32_t j = 0; j < k_; ++j) out[pos_[j]] = detail::take_fork_result(h_[j].promise());
    }
    return out;
  }

 private:
  std::uint32_t k_ = 0;
  std::coroutine_handle<detail::promise<T>> h_[N];
  place pos_[N];
  detail::fork_slots<N> slots_;
};

template <class... T>
fork(task<T>...) -> fork<T...>;
template <class T, std::size_t N>
fork(std::array<task<T>, N>&&) -> fork<std::array<task<T>, N>>;

}  // namespace weft
