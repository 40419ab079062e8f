#include "blocking/blocking_pool.hpp"

#include <pthread.h>

#include <algorithm>
#include <iterator>
#include <stdexcept>
#include <utility>

#include <weft/detail/runtime_core.hpp>
#include <weft/errors.hpp>
#include <weft/metrics/buckets.hpp>
#include <weft/runtime.hpp>

namespace weft::detail {

namespace {

// The pools by runtime core: one entry per live runtime. A spawn_blocking looks its pool up
// under this lock (uncontended in practice; the thread hand-off that follows costs microseconds).
struct pool_table {
  std::mutex mu;
  std::vector<std::pair<const runtime_core*, std::shared_ptr<blocking_pool>>> pools;
};

pool_table& table() {
  static pool_table t;
  return t;
}

std::shared_ptr<blocking_pool> find_pool(const runtime_core& core) {
  pool_table& t = table();
  std::lock_guard lock(t.mu);
  for (const auto& [c, p] : t.pools)
    if (c == &core) return p;
  return nullptr;
}

// The pool whose thread this is (stop() called from one of its own calls must not wait for it).
constinit thread_local const blocking_pool* tls_pool = nullptr;

// The pool's part in the runtime's end (its area_hooks).
void stop_pool(runtime_core& core) noexcept {
  if (std::shared_ptr<blocking_pool> p = find_pool(core)) p->stop();
}

void join_pool(runtime_core& core) noexcept {
  if (std::shared_ptr<blocking_pool> p = find_pool(core)) p->join();
}

bool pool_busy(runtime_core& core) noexcept {
  std::shared_ptr<blocking_pool> p = find_pool(core);
  return p && p->busy();
}

void destroy_pool(runtime_core& core) noexcept {
  std::shared_ptr<blocking_pool> gone;  // freed here, after the table's lock
  pool_table& t = table();
  std::lock_guard lock(t.mu);
  auto it = std::find_if(t.pools.begin(), t.pools.end(), [&](const auto& e) { return e.first == &core; });
  if (it == t.pools.end()) return;
  gone = std::move(it->second);
  t.pools.erase(it);
}

std::string thread_name(const std::string& runtime_name) {
  std::string n = runtime_name + "-blk";
  if (n.size() > 15) n.resize(15);  // the kernel's limit for thread names
  return n;
}

}  // namespace

blocking_pool::blocking_pool(std::size_t max_threads, std::chrono::milliseconds keep_alive, metrics::registry& reg,
                             const std::string& runtime_name)
    : max_(max_threads), keep_alive_(keep_alive), thread_name_(thread_name(runtime_name)) {
  const metrics::labels rt{{"runtime", runtime_name}};
  tasks_ = reg.owned_counter("weft_blocking_tasks_total", "spawn_blocking calls run to their end", rt);
  // 1 us .. ~9 min in powers of two: a file read to a long batch job.
  seconds_ = reg.owned_histogram("weft_blocking_seconds", "Run time of spawn_blocking calls",
                                 metrics::buckets::exponential(1e-6, 2, 30), rt);
  gauges_.push_back(
      reg.gauge_callback("weft_blocking_threads", "Threads of the spawn_blocking pool, busy or idle", rt, [this] {
        std::lock_guard lock(mu_);
        return static_cast<double>(threads_.size());
      }));
  gauges_.push_back(
      reg.gauge_callback("weft_blocking_queue_depth", "spawn_blocking calls waiting for a thread", rt, [this] {
        std::lock_guard lock(mu_);
        return static_cast<double>(queue_.size());
      }));
}

blocking_pool::~blocking_pool() {
  stop();  // (both done by shutdown already)
  join();
  gauges_.clear();  // no collection reads us from here on
  const auto me = std::this_thread::get_id();
  for (auto& t : retired_)
    if (t.joinable()) {
      if (t.get_id() == me)
        t.detach();  // the last reference was this thread's own (a call that destroyed its runtime)
      else
        t.join();
    }
}

bool blocking_pool::submit(std::shared_ptr<blocking_call_base> call) {
  std::vector<std::thread> to_join;
  std::exception_ptr no_thread;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return false;
    queue_.push_back(call);
    if (queue_.size() <= idle_) {
      work_cv_.notify_one();  // an idle thread takes it
    } else if (threads_.size() < max_) {
      try {
        start_thread_locked();
      } catch (...) {
        if (threads_.empty()) {  // nobody would ever run it: the call ends with the error
          queue_.pop_back();
          no_thread = std::current_exception();
        }
      }
      to_join.swap(retired_);
    }  // else every thread is busy and the pool is full: the call waits its turn
  }
  if (no_thread) call->drop(no_thread);
  for (auto& t : to_join) t.join();  // retired threads, exiting or gone
  return true;
}

void blocking_pool::start_thread_locked() {
  threads_.emplace_back();
  auto self = std::prev(threads_.end());
  try {
    // The thread holds the pool (not the other way round): it may outlive the table's entry.
    *self = std::thread([pool = shared_from_this(), self] { pool->run(self); });
  } catch (...) {
    threads_.erase(self);
    throw;
  }
}

bool blocking_pool::busy() const noexcept {
  std::lock_guard lock(mu_);
  return !queue_.empty() || !running_.empty();
}

void blocking_pool::run(std::list<std::thread>::iterator self) {
  tls_pool = this;
  pthread_setname_np(pthread_self(), thread_name_.c_str());
  std::unique_lock lock(mu_);
  for (;;) {
    if (!queue_.empty()) {
      std::shared_ptr<blocking_call_base> call = std::move(queue_.front());
      queue_.pop_front();
      running_.push_back(call);
      lock.unlock();
      const auto start = std::chrono::steady_clock::now();
      if (call->run()) {
        seconds_->observe(std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
        tasks_->inc();
      }
      call->done.set();  // wakes the caller (who then sees the metrics counted)
      lock.lock();
      running_.erase(std::find(running_.begin(), running_.end(), call));
      lock.unlock();
      call.reset();  // possibly the last reference (the caller left): its value dies outside mu_
      lock.lock();
      continue;
    }
    if (stopping_) break;
    ++idle_;
    const bool work = work_cv_.wait_for(lock, keep_alive_, [&] { return !queue_.empty() || stopping_; });
    --idle_;
    if (!work) break;  // idle for keep_alive: retire
  }
  retired_.push_back(std::move(*self));  // joined by the next submit() that starts a thread, or stop()
  threads_.erase(self);
  exited_cv_.notify_all();
}

void blocking_pool::stop() noexcept {
  std::deque<std::shared_ptr<blocking_call_base>> dropped;
  std::vector<std::shared_ptr<blocking_call_base>> running;
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
    dropped.swap(queue_);
    running = running_;
  }
  work_cv_.notify_all();
  for (auto& c : dropped) c->drop(std::make_exception_ptr(runtime_stopped()));
  dropped.clear();
  for (auto& c : running) c->request_stop();
}

void blocking_pool::join() noexcept {
  // Wait for the threads: each finishes its call (however long it takes) and exits. After
  // stop(), so no thread starts meanwhile.
  const bool own_thread = tls_pool == this;
  std::vector<std::thread> to_join;
  {
    std::unique_lock lock(mu_);
    if (joined_) return;  // (shutdown did; this is the destructor)
    exited_cv_.wait(lock, [&] { return threads_.size() == (own_thread ? 1u : 0u); });
    to_join.swap(retired_);
    if (own_thread) threads_.front().detach();  // the caller's: it exits after its call returns
    joined_ = true;
  }
  for (auto& t : to_join) t.join();
}

void install_blocking_pool(runtime_core& core, std::size_t max_threads, std::chrono::milliseconds keep_alive,
                           metrics::registry& reg, const std::string& runtime_name) {
  if (max_threads == 0) throw std::invalid_argument("weft::runtime_options::max_blocking_threads must be at least 1");
  if (keep_alive < std::chrono::milliseconds::zero())
    throw std::invalid_argument("weft::runtime_options::blocking_keep_alive must not be negative");
  auto pool = std::make_shared<blocking_pool>(max_threads, keep_alive, reg, runtime_name);
  {
    pool_table& t = table();
    std::lock_guard lock(t.mu);
    t.pools.emplace_back(&core, std::move(pool));
  }
  try {
    core.add_hooks({.stop = &stop_pool, .join = &join_pool, .destroy = &destroy_pool, .outside_work = &pool_busy});
  } catch (...) {
    destroy_pool(core);
    throw;
  }
}

bool on_blocking_thread(const runtime_core& core) noexcept {
  if (!tls_pool) return false;  // the common case, without the table's lock
  const std::shared_ptr<blocking_pool> p = find_pool(core);
  return p.get() == tls_pool;
}

bool submit_blocking(runtime_core& core, std::shared_ptr<blocking_call_base> call) {
  std::shared_ptr<blocking_pool> p = find_pool(core);
  return p && p->submit(std::move(call));
}

}  // namespace weft::detail

namespace weft {

bool runtime::submit_blocking(std::shared_ptr<detail::blocking_call_base> call) {
  return detail::submit_blocking(*core_, std::move(call));
}

}  // namespace weft
