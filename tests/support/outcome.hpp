#pragma once
// How a call or a join ended: it returned, or which of weft's errors it threw. A race test tallies
// the outcomes a round may have and counts any other as wrong; a misuse test reads what its
// usage_error says. Nothing here asserts (Catch's macros are not thread-safe): the test does.

#include <string>
#include <utility>

#include <weft/errors.hpp>
#include <weft/spawn.hpp>
#include <weft/task.hpp>

namespace weft::test {

enum class outcome {
  returned,
  refused,    // usage_error
  stopped,    // runtime_stopped
  cancelled,  // cancelled_error (timeout_error too)
  other,
};

/// The outcome of the exception being handled: call it in a catch block.
inline outcome caught() {
  try {
    throw;
  } catch (const weft::usage_error&) {
    return outcome::refused;
  } catch (const weft::runtime_stopped&) {
    return outcome::stopped;
  } catch (const weft::cancelled_error&) {
    return outcome::cancelled;
  } catch (...) {
    return outcome::other;
  }
}

/// Calls `f` and says how it ended.
template <class F>
outcome outcome_of(F&& f) {
  try {
    (void)std::forward<F>(f)();
  } catch (...) {
    return caught();
  }
  return outcome::returned;
}

/// Awaits `h` and says how the join ended.
template <class T>
weft::task<outcome> join_outcome(weft::join_handle<T> h) {
  try {
    (void)co_await h;
  } catch (...) {
    co_return caught();
  }
  co_return outcome::returned;
}

/// What the usage_error that `f` throws says; empty if `f` returns. Other exceptions go through.
template <class F>
std::string refusal(F&& f) {
  try {
    (void)std::forward<F>(f)();
  } catch (const weft::usage_error& e) {
    return e.what();
  }
  return {};
}

}  // namespace weft::test
