#pragma once
// Waiting for POSIX signals in a task: Ctrl-C and the signals a service is stopped with.
//
//   co_await weft::ctrl_c();                                  // until SIGINT arrives
//   int s = co_await weft::wait_for_signal({SIGINT, SIGTERM}); // which one came
//
// To run a whole program until it is told to stop, rt.run() (runtime.hpp) does this for you
// with runtime_options::stop_signals.
//
// Built on Boost.Asio's signal_set on the runtime's reactor (no thread of its own), so it
// coexists with the signal_sets of the program's own Asio code: Asio shares each signal between
// every set that waits for it, and each gets it. From the moment the wait starts until it ends,
// the signal no longer has its default action (SIGINT does not end the process); afterwards,
// once no set in the program waits for it, the default is restored. A signal that arrives while
// nothing waits for it has its default effect.
//
// A cancellation point: cancelled (its token, join_handle::cancel, when_any's loser) it throws
// cancelled_error, under with_timeout timeout_error; the runtime's shutdown ends it like any
// suspended task. Call it from a task on a runtime (usage_error elsewhere). Signal numbers must
// be ones a program can catch (1 to NSIG - 1, not SIGKILL or SIGSTOP), and the list not empty:
// std::invalid_argument, thrown by the call itself.
//
// g++ 12 rejects a braced list written inside the co_await expression ("array used as
// initializer", a compiler bug); name the task first there:
//   auto hup = weft::wait_for_signal({SIGHUP, SIGUSR1});
//   int got = co_await std::move(hup);

#include <initializer_list>
#include <span>

#include <weft/task.hpp>

namespace weft {

/// Waits until one of `signals` arrives; yields its number.
task<int> wait_for_signal(std::initializer_list<int> signals);
task<int> wait_for_signal(std::span<const int> signals);

/// Waits until SIGINT (Ctrl-C in a terminal) arrives.
task<void> ctrl_c();

}  // namespace weft
