#pragma once
// weft::detail::blocking_pool: the threads that run spawn_blocking calls (<weft/blocking.hpp>).
//
//   submit(call) --> queue --> an idle thread (cv), or a new one while fewer than `max` live
//                                |
//   thread: take a call, run it (metrics: time, count), repeat; idle past keep_alive: exit
//
// Elastic: no thread until the first call; a call that finds no idle thread starts one, up to
// `max`; beyond that calls wait in the queue. A thread idle for `keep_alive` exits and moves its
// std::thread to `retired_`, joined by the next submit() that starts a thread, or by stop().
//
// One pool per runtime, made by the runtime's constructor (install_blocking_pool) and found
// from the runtime's core (a small table: core cannot hold it, areas above core register with
// it instead). Its part in the runtime's end is a set of core hooks (runtime_core::add_hooks):
// `stop` at shutdown, after the tasks' grace and before the workers stop (drop the queue with
// runtime_stopped, cancel the running calls' tokens: the workers still run, so a call told to
// stop can hand its result to its task), `join` at shutdown's end, once the tasks left were
// ended (wait for the running calls and join the threads: a call waiting in block_on for a task
// that only that ending reaches gets runtime_stopped then, instead of holding shutdown forever),
// `destroy` in ~runtime (free the pool), and `outside_work` (a call queued or running: a sim
// waits for it before moving its clock).
//
// Thread safety: every member from any thread; `mu_` guards the queue, the threads and the
// counts. Metrics callbacks take `mu_` under the registry's lock; nothing here calls into the
// registry while holding `mu_`, and no user code (a call, or a call's destruction) runs under it.

#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <deque>
#include <list>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <weft/blocking/detail/blocking_call.hpp>
#include <weft/metrics/callback_handle.hpp>
#include <weft/metrics/owned.hpp>
#include <weft/metrics/registry.hpp>

namespace weft::detail {

class runtime_core;

class blocking_pool : public std::enable_shared_from_this<blocking_pool> {
 public:
  blocking_pool(std::size_t max_threads, std::chrono::milliseconds keep_alive, metrics::registry& reg,
                const std::string& runtime_name);
  blocking_pool(const blocking_pool&) = delete;
  blocking_pool& operator=(const blocking_pool&) = delete;
  ~blocking_pool();

  /// Queues `call`, starting a thread for it if none is idle and fewer than the maximum live.
  /// False once stopped. Throws std::system_error if no thread can be started and none runs.
  bool submit(std::shared_ptr<blocking_call_base> call);
  /// Shutdown: refuses new calls, ends the queued ones with runtime_stopped, cancels the
  /// running ones' tokens. Does not wait for them (join). Idempotent.
  void stop() noexcept;
  /// After stop(), once shutdown has ended the tasks: waits for every thread to exit (each
  /// finishes its call first). Idempotent. Called from one of the pool's own threads (a call
  /// shutting its runtime down), it does not wait for that one.
  void join() noexcept;
  /// Whether a call is queued or running (its task will be woken when it ends).
  bool busy() const noexcept;

 private:
  void run(std::list<std::thread>::iterator self);
  void start_thread_locked();

  const std::size_t max_;
  const std::chrono::milliseconds keep_alive_;
  const std::string thread_name_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;    // a call was queued, or stop
  std::condition_variable exited_cv_;  // a thread exited
  std::deque<std::shared_ptr<blocking_call_base>> queue_;
  std::vector<std::shared_ptr<blocking_call_base>> running_;  // for stop(): their tokens
  std::list<std::thread> threads_;                            // live
  std::vector<std::thread> retired_;                          // exited (or exiting): to join
  std::size_t idle_ = 0;                                      // live threads waiting for a call
  bool stopping_ = false;
  bool joined_ = false;  // join() has waited for the threads

  metrics::owned<metrics::counter> tasks_;
  metrics::owned<metrics::histogram> seconds_;
  std::vector<metrics::callback_handle> gauges_;
};

/// Whether the calling thread is one of the blocking threads of the runtime `core` (a sim's
/// block_on and advance refuse them: the sim's driver may be waiting for their call).
bool on_blocking_thread(const runtime_core& core) noexcept;

/// Makes the pool of the runtime `core` and registers its hooks with core (runtime.cpp).
void install_blocking_pool(runtime_core& core, std::size_t max_threads, std::chrono::milliseconds keep_alive,
                           metrics::registry& reg, const std::string& runtime_name);

}  // namespace weft::detail
