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
//
// An operation of an io_context the runtime does not drive (the program's own io_context, run by
// its own threads, or another runtime's reactor) completes, and takes its steps, on that
// context's threads, which go on after this runtime shuts down and destroys the frames of the
// tasks still waiting. So for such an operation what its handler and its emission job reach
// lives on the heap, in a foreign_link: the cancellation signal (the operation keeps its slot
// while it runs) and the way to the awaiter, which the awaiter cuts when it goes. And the
// emission is posted to the operation's own executor, so that it runs where the operation's
// steps run (Asio's slots are not thread-safe).

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <type_traits>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/cancellation_signal.hpp>
#include <boost/asio/execution/blocking.hpp>
#include <boost/asio/execution_context.hpp>

#include <weft/detail/suspension.hpp>

namespace weft::detail {

class io_driver;
class io_reactors;

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

class use_task_base;

/// What the handler and the emission job of an operation of another io_context reach (see the
/// header comment). Counted: the awaiter, the handler (and its copies) and an emission job each
/// hold a reference. `state`: live, busy (a handler or an emission job is using the awaiter), or
/// gone (the awaiter was destroyed: they drop what they have).
struct foreign_link {
  foreign_link(use_task_base* t, boost::asio::any_io_executor e) noexcept : target(t), ex(std::move(e)) {}
  foreign_link(const foreign_link&) = delete;
  foreign_link& operator=(const foreign_link&) = delete;

  /// Before touching `target`: false once it is gone.
  bool enter() noexcept;
  /// After touching it.
  void leave() noexcept { state.store(live, std::memory_order_release); }
  /// The awaiter goes: waits out a handler or emission job inside it, then cuts the way.
  void cut() noexcept;
  void add_ref() noexcept { refs.fetch_add(1, std::memory_order_relaxed); }
  void release() noexcept {
    if (refs.fetch_sub(1, std::memory_order_acq_rel) == 1) delete this;
  }

  static constexpr std::uint32_t live = 0, busy = 1, gone = 2;
  std::atomic<std::uint32_t> refs{1};
  std::atomic<std::uint32_t> state{live};
  use_task_base* const target;
  const boost::asio::any_io_executor ex;  ///< the operation's: where the emission is posted
  boost::asio::cancellation_signal signal;
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
    // Still held only if the operation did not end here (shutdown destroyed the task, or the
    // initiation threw): its slot may still name the signal, so it does not go back to the stock.
    delete own_signal_;
    if (link_) {
      link_->cut();
      link_->release();
    }
  }

  /// The handler's half, after it stored the result: wakes the task unless someone else will.
  void complete() noexcept;

  /// The slot the operation's handler exposes (from begin() on): not connected when the task
  /// cannot be cancelled.
  boost::asio::cancellation_slot slot() noexcept {
    return own_signal_ || link_ ? signal().slot() : boost::asio::cancellation_slot();
  }
  /// Set (from begin() on) for an operation of an io_context this runtime does not drive.
  foreign_link* link() const noexcept { return link_; }
  /// Where the initiation's operation runs: on one of `own` (the reactors of the runtime
  /// `own_rt`), which it returns, else null with its executor in `out`. Given to begin() by the
  /// typed awaiter.
  using probe_fn = io_driver* (*)(use_task_base*, const runtime_core& own_rt, io_reactors& own,
                                  boost::asio::any_io_executor& out);

 protected:
  /// Before the initiation. False: do not start the operation, do not suspend (cancelled
  /// already; finish_resume() throws).
  bool begin(std::coroutine_handle<> h, probe_fn probe);
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
    if (link_) [[unlikely]]
      return link_->signal;
    return *own_signal_;
  }
  friend struct foreign_emission;

  std::atomic<std::uint32_t> state_{0};
  io_driver* driver_ = nullptr;
  foreign_link* link_ = nullptr;   // an operation of another io_context: its link (one reference)
  join_state* helping_ = nullptr;  // taken by begin(), given back or passed on by end_initiation()
  // An operation on the runtime's reactor: its signal, from begin() to finish_resume(), taken
  // from this thread's stock and given back to the stock of the thread the task resumes on
  // (use_task.cpp: a signal kept keeps the memory of its slot's handler).
  boost::asio::cancellation_signal* own_signal_ = nullptr;
};

}  // namespace weft::detail
