#pragma once
// N threads running Boost.Fiber fibers; run(job) runs job() in thread 0's main fiber and blocks
// the caller until it returns. Threads 1..N-1 wait on a fiber condition variable meanwhile,
// which lets their schedulers steal. One job at a time.
//
// Shared by runtime_bench, sync_bench and fiber_bench (each a separate process, so each has its
// own pool). Shaped by two limits of Boost.Fiber 1.81:
//   * algo::work_stealing keeps its schedulers in statics sized by the first construction (a
//     static barrier and a call_once), so a process can set it up ONCE, for one thread count.
//     The 2-thread pool is therefore built once and kept for the whole process; the 1-thread
//     pool uses the default algo::round_robin (work stealing with one thread has no one to
//     steal from).
//   * work_stealing must not suspend its threads when idle (suspend = true parks a thread until
//     a fiber is scheduled to it remotely, and stealing never does that, so a parked helper
//     would never help again): its threads spin while they look for work. So that the spinning
//     does not take the cores from the other systems' benchmarks, a pool thread blocks on a
//     std::condition_variable between jobs and spins only while a job of ours runs.
// There is no spawn-from-outside: a fiber can only be launched from a thread of its scheduler.

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/fiber/algo/work_stealing.hpp>
#include <boost/fiber/all.hpp>

namespace bench {

class fiber_pool {
 public:
  explicit fiber_pool(unsigned threads) : threads_(threads) {
    for (unsigned i = 0; i < threads; ++i) workers_.emplace_back([this, i] { main(i); });
  }
  fiber_pool(const fiber_pool&) = delete;
  fiber_pool& operator=(const fiber_pool&) = delete;
  ~fiber_pool() {
    {
      std::lock_guard lk(m_);
      stop_ = true;
    }
    cv_.notify_all();
    for (auto& t : workers_) t.join();
  }

  void run(std::function<void()> job) {
    std::unique_lock lk(m_);
    job_ = std::move(job);
    std::uint64_t e = ++epoch_;
    cv_.notify_all();
    done_cv_.wait(lk, [&] { return finished_ == e; });
  }

  /// run() for a job with a result: returns what job() returned.
  template <class F>
  auto compute(F job) {
    decltype(job()) result{};
    run([&] { result = job(); });
    return result;
  }

  /// The process's pool of `threads` (1 or 2) threads, built on first use.
  static fiber_pool& get(unsigned threads) {
    if (threads == 1) {
      static fiber_pool one(1);
      return one;
    }
    static fiber_pool two(2);
    return two;
  }

 private:
  void main(unsigned i) {
    namespace fibers = boost::fibers;
    if (threads_ > 1) fibers::use_scheduling_algorithm<fibers::algo::work_stealing>(threads_);
    std::uint64_t seen = 0;
    for (;;) {
      std::uint64_t e;
      {
        std::unique_lock lk(m_);
        cv_.wait(lk, [&] { return stop_ || epoch_ != seen; });
        if (stop_) return;
        e = seen = epoch_;
      }
      if (i == 0) {
        job_();
        {
          std::lock_guard<fibers::mutex> flk(fm_);
          job_done_ = e;
        }
        fcv_.notify_all();
        {
          std::lock_guard lk(m_);
          finished_ = e;
        }
        done_cv_.notify_all();
      } else {
        // Suspends this main fiber; the scheduler steals until thread 0 ends the job.
        std::unique_lock<fibers::mutex> flk(fm_);
        fcv_.wait(flk, [&] { return job_done_ >= e; });
      }
    }
  }

  const unsigned threads_;
  std::mutex m_;  // guards the fields below, up to fm_
  std::condition_variable cv_, done_cv_;
  std::function<void()> job_;
  std::uint64_t epoch_ = 0, finished_ = 0;
  bool stop_ = false;
  boost::fibers::mutex fm_;  // guards job_done_
  boost::fibers::condition_variable fcv_;
  std::uint64_t job_done_ = 0;
  std::vector<std::thread> workers_;
};

}  // namespace bench
