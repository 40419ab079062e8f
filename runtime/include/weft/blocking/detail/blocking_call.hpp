#pragma once
// weft::detail::blocking_call: one spawn_blocking call, shared by the pool thread that runs it
// and the driver task that waits for it (its join handle's task).
//
//   spawn_blocking(fn) ---> call (shared) ---> pool queue ---> a blocking thread: run()
//          |                    ^  done (oneshot)                      |
//          +--> driver task ----+  waits, then yields the outcome  <---+ done.set()
//
// The pool thread stores the outcome, then sets `done`, which wakes the driver (a plain wake
// from outside the workers). A driver that is cancelled stops waiting: it marks the call
// `abandoned` (a call not started yet is then never run) and asks a running one to stop through
// its token (`stop`, for functions that take a cancel_token); the call itself cannot be
// interrupted, and whoever lets go of it last frees it. Shutdown drops the calls still queued
// (they end with runtime_stopped) and asks the running ones to stop the same way.
//
// Thread safety: run() and drop() once, on one thread; request_stop() from any thread.

#include <atomic>
#include <concepts>
#include <exception>
#include <functional>
#include <memory>
#include <optional>
#include <type_traits>
#include <utility>

#include <weft/cancel.hpp>
#include <weft/combinators/detail/oneshot.hpp>
#include <weft/errors.hpp>
#include <weft/task.hpp>

namespace weft::detail {

class runtime_core;

struct blocking_call_base {
  virtual ~blocking_call_base() = default;
  /// On a blocking thread: runs the function (unless the caller left before it started) and
  /// keeps its outcome; the pool then sets `done` (after its metrics, so that a caller that sees
  /// the outcome sees them too). Returns whether the function ran.
  virtual bool run() noexcept = 0;
  /// Never run (the pool stopped): ends with `error`, sets `done`.
  virtual void drop(std::exception_ptr error) noexcept = 0;
  /// Asks the function to return early, if it watches its token. Any thread, any number of times.
  void request_stop() noexcept {
    if (stop) stop->cancel();
  }

  oneshot done;
  std::atomic<bool> abandoned{false};  // the caller stopped waiting before the call started
  std::optional<cancel_source> stop;   // engaged for a function that takes a cancel_token
};

template <class R>
struct blocking_result : blocking_call_base {
  void drop(std::exception_ptr e) noexcept override {
    error = std::move(e);
    done.set();
  }
  /// The driver, after `done`: the value, or the exception rethrown. The exception is moved
  /// out, so its last reference goes on the caller's side, never on the blocking thread that
  /// may drop the call later (the exception's count lives in uninstrumented libstdc++, so
  /// ThreadSanitizer would see that free race the caller's reads of the exception).
  R take() {
    if (error) std::rethrow_exception(std::exchange(error, nullptr));
    if constexpr (!std::is_void_v<R>) return std::move(*value);
  }

  std::optional<value_or_monostate<R>> value;
  std::exception_ptr error;
};

/// Whether `F` is called with a cancel_token (else with nothing).
template <class F>
inline constexpr bool takes_stop_token = std::invocable<F&, cancel_token>;

template <class F>
using blocking_result_t = typename std::conditional_t<takes_stop_token<F>, std::invoke_result<F&, cancel_token>,
                                                      std::invoke_result<F&>>::type;

template <class F>
struct blocking_call final : blocking_result<blocking_result_t<F>> {
  using R = blocking_result_t<F>;

  explicit blocking_call(F f) : fn(std::move(f)) {
    if constexpr (takes_stop_token<F>) this->stop.emplace();
  }

  bool run() noexcept override {
    const bool ran = !this->abandoned.load(std::memory_order_acquire);
    if (!ran) {
      this->error = std::make_exception_ptr(cancelled_error());
    } else {
      try {
        if constexpr (std::is_void_v<R>) {
          invoke();
          this->value.emplace();
        } else {
          this->value.emplace(invoke());
        }
      } catch (...) {
        this->error = std::current_exception();
      }
    }
    fn.reset();  // its captures go on this thread, before the caller resumes
    return ran;
  }

 private:
  decltype(auto) invoke() {
    if constexpr (takes_stop_token<F>)
      return std::invoke(*fn, this->stop->token());
    else
      return std::invoke(*fn);
  }

  std::optional<F> fn;
};

/// The driver: the task behind a spawn_blocking join handle. Waits for the call (a cancellation
/// point: cancelled, it lets go of the call and throws cancelled_error).
template <class R>
task<R> blocking_driver(std::shared_ptr<blocking_result<R>> call) {
  const bool finished = co_await call->done.wait(true, "spawn_blocking call");
  if (!finished) {
    // release: pairs with run()'s acquire: a call not started yet is not started at all.
    call->abandoned.store(true, std::memory_order_release);
    call->request_stop();
    throw cancelled_error();
  }
  if constexpr (std::is_void_v<R>)
    call->take();
  else
    co_return call->take();
}

/// Queues `call` on the blocking pool of the runtime `core` (src/blocking/blocking_pool.cpp).
/// False once that pool has stopped (shutdown). Throws std::system_error if no thread can be
/// started for it.
bool submit_blocking(runtime_core& core, std::shared_ptr<blocking_call_base> call);

}  // namespace weft::detail
