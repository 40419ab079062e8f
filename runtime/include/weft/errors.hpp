#pragma once
// weft's exceptions. Each message says what was wrong and what to do instead.

#include <stdexcept>
#include <string>

namespace weft {

/// Misuse of the API that the type system could not reject: awaiting an empty or already
/// awaited task or join handle, block_on in a task, that is on a worker of any runtime (it would
/// deadlock, or hold that worker), a sim's block_on of another runtime's task, another runtime's
/// block_on or co_await of a sim's task, spawning off the runtime's workers with the free
/// function weft::spawn.
class usage_error : public std::logic_error {
 public:
  using std::logic_error::logic_error;
};

/// The runtime has been shut down: it takes no new work.
class runtime_stopped : public std::runtime_error {
 public:
  runtime_stopped() : std::runtime_error("weft: the runtime has been shut down and takes no new work") {}
  using std::runtime_error::runtime_error;
};

/// Thrown at a cancellation point (a weft awaitable, this_task::checkpoint()) once the task's
/// cancellation was requested.
class cancelled_error : public std::runtime_error {
 public:
  cancelled_error() : std::runtime_error("weft: the task was cancelled") {}
  using std::runtime_error::runtime_error;
};

/// Thrown by with_timeout / with_deadline when the deadline passed before the task finished.
class timeout_error : public cancelled_error {
 public:
  timeout_error() : cancelled_error("weft: the deadline passed before the task finished") {}
  using cancelled_error::cancelled_error;
};

/// Thrown by channel<T>::send and try_send on a closed channel.
class channel_closed : public std::runtime_error {
 public:
  channel_closed() : std::runtime_error("weft: send on a closed channel") {}
  using std::runtime_error::runtime_error;
};

}  // namespace weft
