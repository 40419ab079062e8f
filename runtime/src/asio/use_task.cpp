#include <weft/asio/detail/use_task_base.hpp>

#include <exception>
#include <memory>
#include <utility>

#include <boost/asio/detail/call_stack.hpp>
#include <boost/asio/detail/executor_op.hpp>
#include <boost/asio/detail/scheduler.hpp>
#include <boost/asio/detail/scheduler_thread_info.hpp>
#include <boost/asio/detail/thread_context.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/version.hpp>

#include <weft/asio/detail/io_driver.hpp>
#include <weft/detail/current.hpp>

namespace weft::detail {

namespace {

// The cancellation signals of operations on the runtime's reactor, a stock per thread. Asio
// allocates the memory of a slot's handler (each operation connects one) from the recycling
// cache of the innermost io_context call on the thread, two blocks per thread, and frees it
// when the signal is destroyed, or when a bigger handler takes the slot. With a signal per
// operation and many operations in flight on a worker, that was a heap allocation and a free
// for most operations. A signal given back keeps its handler's memory, which the next
// operation's emplace reuses; a new signal gets room for any usual handler at once (a read's,
// a composed write's cancellation state), so that reads and writes taking turns with the same
// signal do not trade blocks of two sizes.
struct no_cancel {
  void operator()(boost::asio::cancellation_type) noexcept {}
};
struct room_for_handlers {
  void operator()(boost::asio::cancellation_type) noexcept {}
  unsigned char room[112];  // with the handler's header: 128 bytes
};

class signal_stock {
 public:
  signal_stock() noexcept = default;
  signal_stock(const signal_stock&) = delete;
  signal_stock& operator=(const signal_stock&) = delete;
  ~signal_stock() {
    while (n_ != 0) delete items_[--n_];
  }

  boost::asio::cancellation_signal* take() {
    if (n_ != 0) return items_[--n_];
    auto s = std::make_unique<boost::asio::cancellation_signal>();
    s->slot().emplace<room_for_handlers>();
    return s.release();
  }
  /// After the operation ended and nothing can emit any more.
  void give(boost::asio::cancellation_signal* s) noexcept {
    // The handler in the slot names the ended operation. One that does nothing takes its place,
    // in its memory (no allocation: it is the smallest a handler can be), so that an emission
    // before the next operation connects reaches nothing.
    if (s->slot().has_handler()) s->slot().emplace<no_cancel>();
    if (n_ < capacity) {
      items_[n_++] = s;
    } else {
      delete s;
    }
  }

 private:
  static constexpr std::size_t capacity = 256;
  boost::asio::cancellation_signal* items_[capacity];
  std::size_t n_ = 0;
};

thread_local signal_stock signals;

}  // namespace

bool use_task_base::begin(std::coroutine_handle<> h, probe_fn probe) {
  if (!enter(h, "co_await of an Asio operation with weft::use_task")) return false;
  io_reactors& reactors = ensure_io_reactors(*task_->rt);
  // Every task can be cancelled (shutdown cancels them all), so every operation gets a slot: in
  // the awaiter, or for an operation of another io_context in its link. Such an operation's
  // initiation still runs inside the calling worker's reactor (run_initiation).
  boost::asio::any_io_executor ex;
  driver_ = probe(this, *task_->rt, reactors, ex);
  if (!driver_) [[unlikely]] {
    driver_ = &reactors.home();
    link_ = new foreign_link(this, std::move(ex));
  } else {
    own_signal_ = signals.take();
  }
  if (!arm()) return false;
  helping_ = publish(await_kind::other, 0, "asio operation");
  return true;
}

// Asio queues the completion of an operation that finishes during its initiation (a speculative
// send or receive that succeeded, an error found up front) on the io_context, for a thread
// running it: here, the next wait or poll of the reactor by some worker. That detour costs a
// wake-up for a result this thread already has. But Asio puts such completions on a thread-private queue
// instead when the initiating thread is inside the io_context's call stack (a single-threaded
// io_context's own optimisation, scheduler::post_immediate_completion). So the initiation runs
// inside that call stack, and this thread then completes what landed on its private queue, as
// the io_context's run loop would after a handler. Outstanding work balances: a privately
// queued completion counts only in `private_outstanding_work`, which is dropped as it runs.
//
// This uses Asio's detail API (scheduler, scheduler_thread_info, call_stack), checked against
// the version it was written for.
static_assert(BOOST_ASIO_VERSION == 102600,
              "weft::use_task's inline completions rely on Asio 1.26's scheduler internals: re-check them");

namespace {
using asio_scheduler = boost::asio::detail::scheduler;
using asio_call_stack =
    boost::asio::detail::call_stack<boost::asio::detail::thread_context, boost::asio::detail::thread_info_base>;

// One per thread: the private completion queue, and Asio's per-thread recycling allocator
// cache for operations started here.
boost::asio::detail::scheduler_thread_info& thread_info() {
  struct per_thread {
    per_thread() { info.private_outstanding_work = 0; }
    boost::asio::detail::scheduler_thread_info info;
  };
  thread_local per_thread t;
  return t.info;
}
}  // namespace

void use_task_base::run_initiation(void (*initiate)(use_task_base*)) {
  asio_scheduler& sched = driver_->scheduler();
  auto& info = thread_info();
  std::exception_ptr error;
  {
    asio_call_stack::context inside(&sched, info);
    try {
      initiate(this);
    } catch (...) {
      error = std::current_exception();
    }
    // Complete what the initiation queued here. A completion may start the next step of a
    // composed operation, whose own immediate completion lands here too.
    while (boost::asio::detail::scheduler_operation* op = info.private_op_queue.front()) {
      info.private_op_queue.pop();
      op->complete(&sched, boost::system::error_code(), 0);
    }
    info.private_outstanding_work = 0;
    // Completed already (a write, usually): nothing emits on the signal any more (hook() and
    // emit_now() check `completed`), so it goes back now, inside this call stack, rather than
    // when the task resumes, after the tasks it may let go first (end_initiation). Writes of
    // many connections taking turns would otherwise hold a block of Asio's cache each (a
    // composed write's cancellation state frees its inner operation's handler when the signal
    // goes back), and the cache holds two.
    if (own_signal_ && (state_.load(std::memory_order_acquire) & completed))
      signals.give(std::exchange(own_signal_, nullptr));
  }
  if (error) {
    abort_initiation();
    std::rethrow_exception(error);
  }
}

void use_task_base::finish_resume() {
  leave_quietly();
  if (own_signal_) {
    // Nothing can emit any more: the hook is disarmed, and a pending emission would have held
    // the wake-up until it was done. Inside this thread's Asio call stack, as the initiation
    // was: what the slot's handler frees (a composed operation's cancellation state frees the
    // memory of its inner operation's handler) goes back to this thread's Asio cache, where the
    // next initiation finds it.
    asio_call_stack::context inside(&driver_->scheduler(), thread_info());
    signals.give(std::exchange(own_signal_, nullptr));
  }
  // The handler has run (or the operation never started); it may still hold the link a moment.
  if (link_) std::exchange(link_, nullptr)->release();
  if (was_cancelled()) throw cancelled_error();  // cancelled before the operation started
}

std::coroutine_handle<> use_task_base::end_initiation(std::coroutine_handle<> h) noexcept {
  join_state* helping = helping_;
  // acquire (both orders): pairs with the handler's fetch_or, so a result stored before it is
  // visible if we go on without suspending.
  std::uint32_t s = state_.load(std::memory_order_acquire);
  while (!(s & completed)) {
    // A cancel that came during the initiation left the emission to us (see the header).
    const std::uint32_t want = s | suspended_bit | ((s & cancel_req) ? emit_pending : 0);
    if (state_.compare_exchange_weak(s, want, std::memory_order_acq_rel, std::memory_order_acquire)) {
      // With emit_pending set nobody wakes us before the emission job has run, so `this` is
      // still ours here; after post_emission() returns we touch nothing.
      if (want & emit_pending) post_emission();
      return suspended(helping);
    }
  }
  // The operation completed during the initiation (on another thread, or inline). The task goes
  // on at once, unless other tasks wait on this worker: then it goes to the back of the line,
  // the order Asio gives such a completion (its thread-private queue is FIFO). That order is not
  // only fair, it saves a system call: a server task that goes on at once after writing a
  // response reads its connection a microsecond later and finds nothing there yet (a failed
  // speculative read, and then a wait in the reactor); one that lets the others write first reads
  // when the peer's next request has had time to come. Echo at 50 connections, one worker: 1.95
  // reads per round trip before, 0.99 after (bench/net/README.md). It spends budget too: a
  // completed operation is a weft operation all the same.
  not_suspended(helping, h);
  sched::worker* w = tls_ctx->w;
  const bool exhausted = !consume_budget();
  if (exhausted || w->local_depth() != 0) {
    task_record* me = task_;
    if (exhausted) w->note_budget_yield();
    me->set_state(record_state::runnable, me->rt->coarse_now());
    join_state* again = take_helping(me);
    w->requeue_current(me);  // may be stolen and resumed at once: touch nothing after this
    return after_suspend(again);
  }
  return h;
}

void use_task_base::abort_initiation() noexcept {
  not_suspended(helping_, {});
  leave_quietly();
}

void use_task_base::complete() noexcept {
  task_record* me = task_;  // read first: once `completed` is set the task may free us
  // acq_rel: the release publishes the stored result to the task (which reads it after its
  // wake, or in end_initiation); the acquire orders our view of the other bits.
  const std::uint32_t prev = state_.fetch_or(completed, std::memory_order_acq_rel);
  if (prev & emit_pending) return;     // the emission job wakes the task
  if (prev & suspended_bit) wake(me);  // else end_initiation sees `completed` and does not suspend
}

void use_task_base::hook(cancel_hook* h, hook_op op) noexcept {
  // Abandoned (its frame destroyed by shutdown): the reactor has stopped, so neither the
  // operation's handler nor an emission job can run again; the io_context destroys them unrun.
  if (op == hook_op::abandon) return;
  // Runs on the canceller's thread with the record's cancel_busy held: the task cannot leave
  // await_resume (disarm) meanwhile, so the awaiter is alive.
  auto* self = static_cast<use_task_base*>(h);
  std::uint32_t s = self->state_.load(std::memory_order_acquire);
  for (;;) {
    if (s & (completed | cancel_req)) return;  // finished, or already being cancelled
    const std::uint32_t want = s | cancel_req | ((s & suspended_bit) ? emit_pending : 0);
    if (self->state_.compare_exchange_weak(s, want, std::memory_order_acq_rel, std::memory_order_acquire)) {
      if (want & emit_pending) self->post_emission();
      return;
    }
  }
}

bool foreign_link::enter() noexcept {
  std::uint32_t s = live;
  // acquire: pairs with leave()'s release, so a handler sees what an emission job wrote before.
  while (!state.compare_exchange_weak(s, busy, std::memory_order_acquire, std::memory_order_relaxed)) {
    if (s == gone) return false;
    s = live;  // busy: another holder is inside for a moment (a handler and an emission job)
  }
  return true;
}

void foreign_link::cut() noexcept {
  std::uint32_t s = live;
  while (!state.compare_exchange_weak(s, gone, std::memory_order_acq_rel, std::memory_order_relaxed)) {
    if (s == gone) return;
    s = live;  // a handler or an emission job is inside: it touches the awaiter only briefly
  }
}

/// The emission job of an operation of another io_context, posted to that operation's executor.
/// Holds a reference to the link: run or destroyed unrun (its context destroyed first), it lets
/// go.
struct foreign_emission {
  explicit foreign_emission(foreign_link* l) noexcept : link(l) { l->add_ref(); }
  foreign_emission(foreign_emission&& o) noexcept : link(std::exchange(o.link, nullptr)) {}
  foreign_emission(const foreign_emission&) = delete;
  foreign_emission& operator=(const foreign_emission&) = delete;
  ~foreign_emission() {
    if (link) link->release();
  }
  void operator()() {
    foreign_link* l = std::exchange(link, nullptr);
    if (l->enter()) {
      l->target->emit_now();  // touches nothing of the awaiter once it returns
      l->leave();
    }
    l->release();
  }
  foreign_link* link;
};

void use_task_base::post_emission() noexcept {
  if (link_) [[unlikely]] {
    // Where the operation runs, which for its own context is where its steps are taken. post()
    // allocates; if that fails the cancellation is lost, and the operation ends on its own.
    try {
      boost::asio::post(link_->ex, foreign_emission(link_));
    } catch (...) {
      // As emit_now() ends, without the emission: wake the task if the operation completed.
      task_record* me = task_;
      if (state_.fetch_and(~emit_pending, std::memory_order_acq_rel) & completed) wake(me);
    }
    return;
  }
  // Straight onto the reactor's shared queue (scheduler::do_dispatch), not boost::asio::post:
  // on a worker inside run_initiation (user code of an awaitable co_spawned inline cancelling
  // another task) post would queue the job on this thread's private queue, and the signal would
  // be emitted here instead of by the reactor's holder. The job holds a plain pointer: if the
  // reactor is stopped (shutdown) it is destroyed unrun with the io_context, and the task is
  // destroyed with the runtime's other tasks.
  auto emit = [self = this] { self->emit_now(); };
  using op = boost::asio::detail::executor_op<decltype(emit), std::allocator<void>>;
  std::allocator<void> alloc;
  typename op::ptr p = {std::addressof(alloc), op::ptr::allocate(alloc), nullptr};
  p.p = new (p.v) op(std::move(emit), alloc);
  driver_->scheduler().do_dispatch(p.p);
  p.v = p.p = nullptr;
}

void use_task_base::emit_now() noexcept {
  task_record* me = task_;
  // Terminal: the one type every cancellable Asio operation accepts (composed operations filter
  // out the others by default). A pending socket read or timer wait is cancelled without side
  // effects either way, so the socket stays usable.
  if (!(state_.load(std::memory_order_acquire) & completed)) signal().emit(boost::asio::cancellation_type::terminal);
  // acq_rel: the acquire sees a result stored by a handler that ran meanwhile (we wake the task
  // then); the release hands the awaiter back to the task. Touch nothing after this.
  const std::uint32_t prev = state_.fetch_and(~emit_pending, std::memory_order_acq_rel);
  if (prev & completed) wake(me);
}

}  // namespace weft::detail
