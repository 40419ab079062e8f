#pragma once
// weft::detail::io_driver: the runtime's Asio reactor, driven by the workers themselves. No
// thread of its own: it is the scheduler's park driver (sched/park_driver.hpp).
//
//   I/O object (socket, acceptor, timer)        a worker with nothing to run         its own queues
//   built from rt.get_executor() ---------->  takes the driver (one at a time) --->  the task that
//   finds its services in this io_context     and waits in io_context::run_one      use_task woke
//   (query(ex, execution::context))           until its next timer or a wake-up;    (LIFO slot:
//                                             busy workers poll it now and then     runs next)
//
// So a read that becomes ready is handled by the worker that waited for it, and the task it
// completes runs there next: no thread hand-off. At most one thread runs the io_context at any
// moment (the scheduler's driver lock), which Asio's per-operation cancellation slots need: the
// cancellation signals use_task emits are queued on the io_context and run by its holder, in
// line with the operations' own progress (use_task.hpp). Waking the worker that waits in the
// reactor (another task became runnable) interrupts its run_one: a no-op operation queued on
// the io_context, allocated once.
//
// Lifetime: created on the first rt.get_executor(); the runtime's shutdown, after the grace,
// takes the driver back from the scheduler and stops the io_context (no completion runs after
// that); the runtime's destructor destroys the io_context, after the tasks are gone and after
// any I/O object a user kept past rt.shutdown() (sockets need its services while they close).
//
// Thread safety: context() from any thread; wait()/poll() by the scheduler's driver holder;
// interrupt() from any thread; stop() from the controlling thread, off the workers.

#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string_view>
#include <vector>

#include <boost/asio/detail/scheduler.hpp>
#include <boost/asio/detail/scheduler_operation.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

#include <weft/sched/park_driver.hpp>
#include <weft/sched/scheduler.hpp>

namespace weft::detail {

class runtime_core;

class io_driver final : public sched::park_driver {
 public:
  /// Creates the io_context; install() makes it `sched`'s park driver: the shared one (`worker`
  /// npos), or worker `worker`'s own.
  io_driver(sched::scheduler& sched, std::size_t worker);
  io_driver(const io_driver&) = delete;
  io_driver& operator=(const io_driver&) = delete;
  /// Stops (if not done yet), then destroys the io_context: the handlers of operations still
  /// pending are destroyed without being called.
  ~io_driver();

  boost::asio::io_context& context() noexcept { return ctx_; }
  /// The io_context's scheduler (Asio's detail::scheduler): use_task runs the completions an
  /// initiation queues at once on the initiating worker (use_task.cpp).
  boost::asio::detail::scheduler& scheduler() noexcept { return *scheduler_; }

  // sched::park_driver
  void wait(std::optional<std::int64_t> deadline_ns) noexcept override;
  void poll() noexcept override;
  void interrupt() noexcept override;

  /// Takes the driver back from the scheduler (waiting for a worker inside it) and stops the
  /// io_context: no completion runs after this returns; operations still pending stay in the
  /// io_context. Idempotent. Not on a worker.
  void stop() noexcept;
  void install() noexcept { sched_->set_park_driver(this, worker_); }

 private:
  // The wake-up: an operation that does nothing, queued at most once at a time.
  struct interrupt_op : boost::asio::detail::scheduler_operation {
    interrupt_op() : scheduler_operation(&complete) {}
    static void complete(void* owner, scheduler_operation* base, const boost::system::error_code&, std::size_t);
    std::atomic<bool> queued{false};
  };

  // Runs `run` (a run_one/poll of the io_context) on the calling worker: no task is current,
  // and an exception from a handler is reported and does not take the worker down.
  template <class Run>
  void drive(Run run) noexcept;

  sched::scheduler* sched_;
  std::size_t worker_;      // whose own driver it is (npos: the shared one)
  interrupt_op interrupt_;  // before ctx_: the io_context may hold it queued until destroyed
  // Concurrency hint 1: one thread runs the context at a time (the driver holder).
  boost::asio::io_context ctx_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  boost::asio::detail::scheduler* scheduler_;
  std::mutex stop_mu_;
  bool stopped_ = false;
};

/// The runtime's reactors: one that every worker may drive, or one per worker, which that
/// worker drives (runtime_options::reactors). Made together on first use, never added to.
class io_reactors {
 public:
  io_reactors(runtime_core& core, std::size_t n);
  io_reactors(const io_reactors&) = delete;
  io_reactors& operator=(const io_reactors&) = delete;

  std::size_t size() const noexcept { return items_.size(); }
  io_driver& at(std::size_t i) noexcept { return *items_[i]; }
  /// The index of the calling thread's reactor: its own on a worker of this runtime that has
  /// one, else 0.
  std::size_t home_index() const noexcept;
  io_driver& home() noexcept { return at(home_index()); }
  /// The reactor whose io_context is `ctx`, or null (another program's context).
  io_driver* find(const boost::asio::execution_context& ctx) noexcept;
  /// Makes them the scheduler's park drivers; stops them all (io_driver::stop).
  void install() noexcept;
  void stop() noexcept;

 private:
  const runtime_core* core_;
  std::vector<std::unique_ptr<io_driver>> items_;
};

/// The runtime's reactors, created on first use. Throws runtime_stopped once the runtime has
/// shut down.
io_reactors& ensure_io_reactors(runtime_core& core);

/// The runtime's reactors, or null if none were created (or they were destroyed at shutdown).
io_reactors* find_io_reactors(const runtime_core& core) noexcept;

}  // namespace weft::detail
