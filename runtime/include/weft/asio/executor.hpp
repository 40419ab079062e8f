#pragma once
// weft::executor: the runtime as a Boost.Asio executor (standard executor model, Asio 1.26).
//
//   weft::runtime rt;
//   boost::asio::ip::tcp::socket s(rt.get_executor());   // I/O served by the runtime's reactor
//   boost::asio::post(rt.get_executor(), [] { ... });    // runs on one of the workers
//   boost::asio::co_spawn(rt.get_executor(), session(std::move(s)), boost::asio::detached);
//
// What runs where:
// - execute() (and so asio::post, asio::defer, asio::dispatch) runs the function on one of the
//   runtime's workers, as a job the other workers can steal like any task. With
//   blocking.possibly (asio::dispatch, the default) it runs at once, inline, when the caller is
//   already on one of this runtime's workers; with blocking.never (asio::post, asio::defer) it is
//   always queued: at the back of the calling worker's line, or on the global queue from any
//   other thread. Queued functions run in the order they were posted from one thread unless
//   another worker steals them.
// - I/O objects built from the executor (sockets, acceptors, steady_timer, resolvers) look up
//   their services in the io_context that query(ex, execution::context) returns: the runtime's
//   reactor (asio/detail/io_driver.hpp), which the workers run themselves, one at a time. Their
//   completion handlers are dispatched through this executor, so they run on the workers too.
//   With a reactor per worker (runtime_options::reactors) an executor names one of them: the
//   calling worker's for rt.get_executor() on a worker (the first one's elsewhere), each in
//   turn in rt.worker_executors().
// - Concurrency, said plainly: the executor behaves like an io_context run by every worker.
//   Handlers of one connection may run on different workers (one at a time while they are
//   sequential), but handlers of different operations may run at once. Code written for
//   io_context(1) that shares state between handlers (it relies on that context's implicit
//   strand) needs a strand: `boost::asio::make_strand(rt.get_executor())` for the I/O objects
//   and co_spawns that share the state.
// - A function that throws while running on a worker terminates the program, as on an
//   asio::thread_pool. (Inline, from a task, the exception reaches the caller of dispatch.)
//
// Properties: mapping.thread; context: boost::asio::io_context&; blocking.possibly (default)
// or blocking.never; relationship.fork (default) or continuation (only recorded: both queue
// FIFO); outstanding_work.untracked (default) or tracked (only recorded: the workers run until
// shutdown whatever work is outstanding); allocator: std::allocator<void> (posted functions
// come from the workers' recycling allocator). Converts to boost::asio::any_io_executor.
// Two executors are equal when they belong to the same runtime and reactor and have the same
// blocking and relationship properties.
//
// Thread safety: an executor is a value (16 bytes); copies may be used from any thread.
// Lifetime: like an io_context's executor, it and the I/O objects built from it must not be
// used after the runtime shut down: functions given to it then are destroyed without running,
// and I/O objects must be destroyed before the runtime is. A post from another thread may be
// the runtime's last work: once the function ran, the thread that waited for it may destroy the
// runtime, even while the posting thread is still returning from post (it holds the runtime's
// core until it is out).

#include <cstdint>
#include <memory>
#include <type_traits>
#include <typeinfo>
#include <utility>

#include <boost/asio/execution.hpp>
#include <boost/asio/io_context.hpp>

#include <weft/asio/detail/io_driver.hpp>
#include <weft/detail/runtime_core.hpp>
#include <weft/detail/worker_context.hpp>
#include <weft/runtime.hpp>
#include <weft/sched/frame_allocator.hpp>
#include <weft/sched/job.hpp>

namespace weft {

class executor;

namespace detail {

/// The executor of `core`'s runtime, creating its reactor on first use (rt.get_executor(), and
/// the asio area's own I/O objects). Throws runtime_stopped after shutdown.
executor executor_for(runtime_core& core);
/// The runtime an executor belongs to (use_task tells the runtime's own operations by it).
const runtime_core* core_of(const executor& e) noexcept;
/// Which of its runtime's reactors (io_reactors::at) its I/O objects belong to.
std::uint32_t reactor_of(const executor& e) noexcept;

/// A function posted to the runtime: a heap-allocated job that runs the function once and frees
/// itself (run_), or frees it unrun at shutdown (discard_).
template <class F>
struct posted_function final : sched::job {
  explicit posted_function(F&& f) : fn(std::move(f)) {
    run_ = &run;
    discard_ = &discard;
  }
  F fn;

  // Posted from a worker (the common case: an Asio handler queued by a task) the block comes
  // from that worker's recycling cache, like a coroutine frame.
  static void* operator new(std::size_t n) { return sched::allocate_frame(n); }
  static void operator delete(void* p, std::size_t n) noexcept { sched::deallocate_frame(p, n); }

  static void run(sched::job* j) noexcept {
    auto* self = static_cast<posted_function*>(j);
    F f(std::move(self->fn));
    delete self;  // before the call, as Asio does: the function may post again into this memory
    worker_context* ctx = tls_ctx;
    ctx->current = nullptr;  // no task runs now: weft::spawn from here has no parent
    // Named in dumps and stall reports by its type (relaxed: the monitor reads it racily, as it
    // reads a task record's name; type_info objects live forever).
    ctx->callback.store(&typeid(F), std::memory_order_relaxed);
    struct clear {
      worker_context* ctx;
      ~clear() { ctx->callback.store(nullptr, std::memory_order_relaxed); }
    } cleared{ctx};
    f();
  }
  static void discard(sched::job* j) noexcept { delete static_cast<posted_function*>(j); }
};

}  // namespace detail

class executor {
 public:
  executor(const executor&) noexcept = default;
  executor& operator=(const executor&) noexcept = default;

  /// Runs `f` on a worker (see the header comment).
  template <class F>
  void execute(F&& f) const {
    using fn_type = std::decay_t<F>;
    if (core_->sched.stopping()) [[unlikely]] {
      fn_type discarded(std::forward<F>(f));  // shut down: destroyed without running
      return;
    }
    if (!(bits_ & blocking_never) && core_->sched.on_worker()) {
      fn_type tmp(std::forward<F>(f));
      tmp();
      return;
    }
    auto* job = new detail::posted_function<fn_type>(fn_type(std::forward<F>(f)));
    if (core_->sched.on_worker()) [[likely]]
      return core_->sched.schedule(job, sched::hint::fifo);
    // From another thread: the function may run, and the runtime end, before this thread is
    // out of the scheduler (runtime_core::post_from_outside).
    core_->post_from_outside(job);
  }

  /// True on one of this runtime's workers.
  bool running_in_this_thread() const noexcept { return core_->sched.on_worker(); }

  friend bool operator==(const executor& a, const executor& b) noexcept {
    return a.core_ == b.core_ && a.reactor_ == b.reactor_ && (a.bits_ & ~tracked) == (b.bits_ & ~tracked);
  }
  friend bool operator!=(const executor& a, const executor& b) noexcept { return !(a == b); }

  // ---- properties (called through boost::asio::query / require / prefer) ----

  static constexpr boost::asio::execution::mapping_t query(boost::asio::execution::mapping_t) noexcept {
    return boost::asio::execution::mapping.thread;
  }
  boost::asio::io_context& query(boost::asio::execution::context_t) const {
    detail::io_reactors* r = detail::find_io_reactors(*core_);
    if (!r) throw runtime_stopped();  // its runtime is gone
    return r->at(reactor_).context();
  }
  boost::asio::execution::blocking_t query(boost::asio::execution::blocking_t) const noexcept {
    return (bits_ & blocking_never) ? boost::asio::execution::blocking_t(boost::asio::execution::blocking.never)
                                    : boost::asio::execution::blocking_t(boost::asio::execution::blocking.possibly);
  }
  boost::asio::execution::relationship_t query(boost::asio::execution::relationship_t) const noexcept {
    return (bits_ & continuation)
               ? boost::asio::execution::relationship_t(boost::asio::execution::relationship.continuation)
               : boost::asio::execution::relationship_t(boost::asio::execution::relationship.fork);
  }
  boost::asio::execution::outstanding_work_t query(boost::asio::execution::outstanding_work_t) const noexcept {
    return (bits_ & tracked)
               ? boost::asio::execution::outstanding_work_t(boost::asio::execution::outstanding_work.tracked)
               : boost::asio::execution::outstanding_work_t(boost::asio::execution::outstanding_work.untracked);
  }
  template <class A>
  std::allocator<void> query(boost::asio::execution::allocator_t<A>) const noexcept {
    return {};
  }

  executor require(boost::asio::execution::blocking_t::possibly_t) const noexcept {
    return with(bits_ & ~blocking_never);
  }
  executor require(boost::asio::execution::blocking_t::never_t) const noexcept { return with(bits_ | blocking_never); }
  executor require(boost::asio::execution::relationship_t::fork_t) const noexcept {
    return with(bits_ & ~continuation);
  }
  executor require(boost::asio::execution::relationship_t::continuation_t) const noexcept {
    return with(bits_ | continuation);
  }
  executor require(boost::asio::execution::outstanding_work_t::tracked_t) const noexcept {
    return with(bits_ | tracked);
  }
  executor require(boost::asio::execution::outstanding_work_t::untracked_t) const noexcept {
    return with(bits_ & ~tracked);
  }

 private:
  friend executor detail::executor_for(detail::runtime_core& core);
  friend class runtime;
  friend const detail::runtime_core* detail::core_of(const executor& e) noexcept;
  friend std::uint32_t detail::reactor_of(const executor& e) noexcept;
  static constexpr std::uint32_t blocking_never = 1, continuation = 2, tracked = 4;

  executor(detail::runtime_core* core, std::uint32_t bits, std::uint32_t reactor) noexcept
      : core_(core), bits_(bits), reactor_(reactor) {}
  executor with(std::uint32_t bits) const noexcept { return executor(core_, bits, reactor_); }
  executor with_reactor(std::uint32_t reactor) const noexcept { return executor(core_, bits_, reactor); }

  detail::runtime_core* core_;
  std::uint32_t bits_;
  std::uint32_t reactor_;  // which of the runtime's reactors its I/O objects belong to
};

inline const detail::runtime_core* detail::core_of(const executor& e) noexcept { return e.core_; }
inline std::uint32_t detail::reactor_of(const executor& e) noexcept { return e.reactor_; }

}  // namespace weft
