#pragma once
// weft::task<T>: a lazy coroutine that produces a T.
//
//   weft::task<int> answer() { co_return 42; }
//   weft::task<> caller() { int v = co_await answer(); }
//
// A task does nothing until it is awaited or spawned. `co_await t` starts it on the current
// thread by symmetric transfer (no queue, no allocation beyond its frame) and resumes the
// awaiter, on whatever worker the task finished on, with its value or its exception.
//
// Thread safety and lifetime: a task is a move-only owner of its frame. It is awaited at most
// once; awaiting an empty (moved-from) or finished task throws weft::usage_error. Destroying a
// task that was never started destroys its frame (and the arguments it holds).

#include <coroutine>
#include <type_traits>
#include <utility>
#include <variant>

#include <weft/detail/promise.hpp>
#include <weft/errors.hpp>

namespace weft {

namespace detail {
/// Throws the usage_error for awaiting (or spawning) an empty or finished task.
[[noreturn, gnu::cold]] void throw_bad_task_await(bool has_frame);

/// What a task<T> gives where a value must stand (a tuple, an optional): T, or std::monostate
/// for task<void>.
template <class T>
using value_or_monostate = std::conditional_t<std::is_void_v<T>, std::monostate, T>;
}  // namespace detail

template <class T = void>
class [[nodiscard]] task {
 public:
  using promise_type = detail::promise<T>;
  using value_type = T;
  using handle_type = std::coroutine_handle<promise_type>;

  task() noexcept = default;
  explicit task(handle_type h) noexcept : h_(h) {}
  task(task&& o) noexcept : h_(std::exchange(o.h_, {})) {}
  task& operator=(task&& o) noexcept {
    if (this != &o) {
      if (h_) h_.destroy();
      h_ = std::exchange(o.h_, {});
    }
    return *this;
  }
  task(const task&) = delete;
  task& operator=(const task&) = delete;
  ~task() {
    if (h_) h_.destroy();
  }

  /// Whether this task holds a frame (false once moved from or released).
  bool valid() const noexcept { return static_cast<bool>(h_); }
  explicit operator bool() const noexcept { return valid(); }

  struct awaiter {
    handle_type h;
    bool await_ready() const noexcept { return false; }
    std::coroutine_handle<> await_suspend(std::coroutine_handle<> awaiting) noexcept {
      h.promise().continuation_ = awaiting;
      return h;
    }
    T await_resume() { return h.promise().take(); }
  };

  /// Starts the task and suspends the caller until it finishes; yields its value or rethrows.
  awaiter operator co_await() const& { return awaiter{checked()}; }
  awaiter operator co_await() const&& { return awaiter{checked()}; }

  /// Whether release() would succeed: the task holds a frame that has not finished (used by
  /// weft::fork, which checks every child before it takes any).
  bool releasable() const noexcept { return h_ && !h_.done(); }

  /// Gives up ownership of the frame (used by spawn). Throws usage_error if empty or started.
  handle_type release() {
    checked();
    return std::exchange(h_, {});
  }
  /// release() after releasable() said true (weft::fork checks every child first).
  handle_type release_checked_already() noexcept { return std::exchange(h_, {}); }

 private:
  handle_type checked() const {
    if (!h_ || h_.done()) [[unlikely]]
      detail::throw_bad_task_await(static_cast<bool>(h_));
    return h_;
  }

  handle_type h_{};
};

namespace detail {
template <class T>
task<T> promise<T>::get_return_object() noexcept {
  return task<T>(std::coroutine_handle<promise<T>>::from_promise(*this));
}
inline task<void> promise<void>::get_return_object() noexcept {
  return task<void>(std::coroutine_handle<promise<void>>::from_promise(*this));
}
}  // namespace detail

}  // namespace weft
