#pragma once
// weft::detail::io_driver: the runtime's Asio reactor. One boost::asio::io_context run by one
// thread of its own (named "<runtime>-io"), kept running by a work guard until shutdown.
//
//   I/O object (socket, acceptor, timer)          the reactor thread            weft workers
//   built from rt.get_executor() ------------>  io_context::run(): epoll, ----> handlers posted as
//   finds its services in this io_context       performs reads/writes,          sched::jobs, or the
//   (query(ex, execution::context))             completes operations            task woken by use_task
//
// The reactor thread runs no user code: a completion handler whose associated executor is the
// runtime's is posted to the workers (weft::executor::execute); weft::use_task's handler only
// stores the result and wakes its task; cancellation signals are emitted here, in line with
// the operations' own progress (use_task.hpp).
//
// Lifetime: created on the first rt.get_executor(); the runtime's shutdown stops the thread
// before the workers stop (so no completion can reach a task being destroyed); the runtime's
// destructor destroys the io_context, after the tasks are gone and after any I/O object a user
// kept past rt.shutdown() (sockets need its services while they close).
//
// Thread safety: context() from any thread; stop() from any thread but the reactor's.

#include <mutex>
#include <string>
#include <string_view>
#include <thread>

#include <boost/asio/detail/scheduler.hpp>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>

namespace weft::detail {

class runtime_core;

class io_driver {
 public:
  /// Creates the io_context and starts the reactor thread.
  explicit io_driver(std::string_view runtime_name);
  io_driver(const io_driver&) = delete;
  io_driver& operator=(const io_driver&) = delete;
  /// Stops the reactor thread (if still running), then destroys the io_context: the handlers of
  /// operations still pending are destroyed without being called.
  ~io_driver();

  boost::asio::io_context& context() noexcept { return ctx_; }
  /// The io_context's scheduler (Asio's detail::scheduler): use_task runs the completions an
  /// initiation queues at once on the initiating worker (use_task.cpp).
  boost::asio::detail::scheduler& scheduler() noexcept { return *scheduler_; }

  /// Stops the reactor thread and joins it. No completion runs after this returns; operations
  /// still pending stay in the io_context. Idempotent. Must not be called on the reactor thread.
  void stop() noexcept;

  /// True on this driver's reactor thread.
  bool on_reactor_thread() const noexcept;

 private:
  void run() noexcept;

  // Concurrency hint 1: only the reactor thread runs the context (workers start operations and
  // post to it, which the hint allows).
  boost::asio::io_context ctx_{1};
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> guard_;
  boost::asio::detail::scheduler* scheduler_;
  std::string name_;
  std::mutex stop_mu_;
  std::thread thread_;
};

/// The runtime's driver, created on first use. Throws runtime_stopped once the runtime has shut
/// down. `runtime_name` names the reactor thread.
io_driver& ensure_io_driver(runtime_core& core, std::string_view runtime_name);

/// The runtime's driver, or null if none was created (or it was destroyed at shutdown).
io_driver* find_io_driver(const runtime_core& core) noexcept;

}  // namespace weft::detail
