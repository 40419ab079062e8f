#pragma once
// weft::detail::use_task_base: the part of every `co_await op(..., weft::use_task)` that does not
// depend on the operation: suspending the task, waking it, and cancelling the operation.
//
// Who touches the awaiter (it lives in the suspended task's frame):
//   the task      await_suspend: begin() -> the initiation (starts the operation) -> end_initiation();
//                 await_resume after it is woken
//   the handler   on whatever thread the operation completes (the worker running the reactor,
//                 for the runtime's own I/O objects): stores the result, then complete()
//   a canceller   any thread, through the task's cancel hook (task_record::request_cancel):
//                 on_cancel(), holding the record's cancel_busy, so the awaiter is alive
//   the emitter   a job on the reactor's queue, run by its holder: emits the signal, emit_now()
//
// `state_` arbitrates, so that the task is resumed exactly once and nobody touches the awaiter
// after that:
//
//   bit             set by                      meaning
//   suspended       end_initiation (CAS)        the initiation returned; the task is suspended
//   completed       complete (fetch_or)         the result is stored
//   cancel_req      on_cancel (CAS)             cancellation was requested while the op ran
//   emit_pending    on_cancel or end_initiation an emission job is queued or running
//
// - The handler wakes the task only if `suspended` and not `emit_pending`; otherwise
//   end_initiation sees `completed` and does not suspend, or the emission job wakes the task.
// - The signal is emitted only after the initiation returned (the slot's handler is installed
//   by the initiation, on the task's thread): a cancel that arrives during the initiation only
//   sets cancel_req, and end_initiation queues the emission itself.
// - The emission runs on the reactor (by the worker holding it) because Asio's slots are not
//   thread-safe: there it is serialised with the operation's own steps (a composed operation's
//   intermediate handlers run there, through inline_executor) and with its completion.
// - Once the emitter clears `emit_pending`, it touches nothing of the awaiter: if the op had
//   completed meanwhile it wakes the task (which may then free the awaiter), else the handler
//   will.

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <new>
#include <type_traits>
#include <utility>

#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/execution/blocking.hpp>

#include <weft/detail/suspension.hpp>

namespace weft::detail {

class io_driver;

/// The associated executor of use_task's handler: runs it inline, on the thread that completes
/// the operation. The handler itself only stores the result and wakes the task, which then runs
/// on a worker.
///
/// Operations that post their completion through the handler's executor (Asio's channels) ask it
/// for blocking.never and prefer outstanding_work.tracked: this executor answers with itself. Its
/// "post" runs the handler at once, which is safe for use_task's handler (it takes no lock and
/// runs no user code), and only for it: it is not a general-purpose executor.
struct inline_executor {
  template <class F>
  void execute(F&& f) const {
    std::decay_t<F> tmp(std::forward<F>(f));
    tmp();
  }
  friend bool operator==(const inline_executor&, const inline_executor&) noexcept { return true; }
  friend bool operator!=(const inline_executor&, const inline_executor&) noexcept { return false; }

  static constexpr boost::asio::execution::blocking_t query(boost::asio::execution::blocking_t) noexcept {
    return boost::asio::execution::blocking.possibly;
  }
  inline_executor require(boost::asio::execution::blocking_t::never_t) const noexcept { return *this; }
  inline_executor require(boost::asio::execution::blocking_t::possibly_t) const noexcept { return *this; }
};

class use_task_base : suspension {
 public:
  use_task_base() noexcept : suspension(&hook) {}
  /// Moving is allowed only before the operation starts (the async_result chain returns the
  /// awaiter by value).
  use_task_base(use_task_base&&) noexcept : use_task_base() {}
  use_task_base(const use_task_base&) = delete;
  use_task_base& operator=(const use_task_base&) = delete;
  ~use_task_base() {
    if (signal_live_) signal().~cancellation_signal();
  }

  /// The handler's half, after it stored the result: wakes the task unless someone else will.
  void complete() noexcept;

  /// The slot the operation's handler exposes (from begin() on): not connected when the task
  /// cannot be cancelled.
  boost::asio::cancellation_slot slot() noexcept {
    return signal_live_ ? signal().slot() : boost::asio::cancellation_slot();
  }

 protected:
  /// Before the initiation. False: do not start the operation, do not suspend (cancelled
  /// already; finish_resume() throws).
  bool begin(std::coroutine_handle<> h);
  /// Calls `initiate(this)`, which starts the operation, as if this thread were running the
  /// reactor's io_context: a completion the operation queues at once (a speculative read or
  /// write that succeeded, an error found up front) is run right here when `initiate` returns,
  /// instead of crossing to the reactor thread and back. If `initiate` throws, undoes begin()
  /// and rethrows.
  void run_initiation(void (*initiate)(use_task_base*));
  /// After the initiation returned: what the thread runs next. `h` (the task itself) when the
  /// operation completed already and the task goes on; otherwise the task is suspended (touch
  /// nothing more) and the result is what runs next: noop, or the join this task was helping
  /// with (help-first joins, detail/current.hpp).
  std::coroutine_handle<> end_initiation(std::coroutine_handle<> h) noexcept;
  /// First thing in await_resume: disarms; throws cancelled_error if the op never started.
  void finish_resume();
  /// Whether cancellation was requested while the operation was in flight.
  bool cancel_requested() const noexcept { return state_.load(std::memory_order_relaxed) & cancel_req; }

 private:
  static constexpr std::uint32_t suspended_bit = 1, completed = 2, cancel_req = 4, emit_pending = 8;

  void abort_initiation() noexcept;
  static void hook(cancel_hook* h, hook_op op) noexcept;
  void post_emission() noexcept;
  void emit_now() noexcept;
  boost::asio::cancellation_signal& signal() noexcept {
    return *std::launder(reinterpret_cast<boost::asio::cancellation_signal*>(signal_buf_));
  }

  std::atomic<std::uint32_t> state_{0};
  io_driver* driver_ = nullptr;
  join_state* helping_ = nullptr;  // taken by begin(), given back or passed on by end_initiation()
  bool signal_live_ = false;
  // Constructed in begin(): a cancellation_signal cannot move, and the awaiter has to before.
  alignas(boost::asio::cancellation_signal) unsigned char signal_buf_[sizeof(boost::asio::cancellation_signal)];
};

}  // namespace weft::detail
