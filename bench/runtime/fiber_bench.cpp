// Boost.Fiber: the workloads as fibers (boost::fibers::fiber + join) on N threads.
//
// Configured as Boost.Fiber's own skynet benchmarks are (boostorg/fiber,
// performance/fiber/skynet_stealing_join.cpp): launch::dispatch (the child runs at once, the
// parent waits in the ready queue, where another thread may steal it) and a fixedsize_stack
// of two pages per fiber (the default stack is far larger, and the 1-thread round-robin
// scheduler keeps most fibers of a wide tree alive at once). pooled_fixedsize_stack is not an
// option: it is single-threaded, and with work stealing a fiber may end on another thread.
//
// Two limits of Boost.Fiber 1.81 shape the thread pool below:
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
#include <array>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include <boost/fiber/algo/work_stealing.hpp>
#include <boost/fiber/all.hpp>

#include "workloads.hpp"

namespace fibers = boost::fibers;

namespace {

// N threads running fibers; run(job) runs job() in thread 0's main fiber and blocks the caller
// until it returns. Threads 1..N-1 wait on a fiber condition variable meanwhile, which lets
// their schedulers steal. One job at a time.
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

  std::int64_t run(std::function<std::int64_t()> job) {
    std::unique_lock lk(m_);
    job_ = std::move(job);
    std::uint64_t e = ++epoch_;
    cv_.notify_all();
    done_cv_.wait(lk, [&] { return finished_ == e; });
    return result_;
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
        std::int64_t r = job_();
        {
          std::lock_guard<fibers::mutex> flk(fm_);
          job_done_ = e;
        }
        fcv_.notify_all();
        {
          std::lock_guard lk(m_);
          result_ = r;
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
  std::function<std::int64_t()> job_;
  std::uint64_t epoch_ = 0, finished_ = 0;
  std::int64_t result_ = 0;
  bool stop_ = false;
  fibers::mutex fm_;  // guards job_done_
  fibers::condition_variable fcv_;
  std::uint64_t job_done_ = 0;
  std::vector<std::thread> workers_;
};

using stack_allocator = fibers::fixedsize_stack;

template <class F>
fibers::fiber launch(F&& f) {
  static const std::size_t stack_size = 2 * stack_allocator::traits_type::page_size();
  return fibers::fiber(fibers::launch::dispatch, std::allocator_arg, stack_allocator(stack_size),
                       std::forward<F>(f));
}

std::int64_t fib(int n) {
  if (n < 2) return n;
  std::int64_t a = 0;
  fibers::fiber f = launch([&a, n] { a = fib(n - 1); });
  std::int64_t b = fib(n - 2);
  f.join();
  return a + b;
}

std::int64_t skynet(std::int64_t num, std::int64_t size) {
  if (size == 1) return num;
  std::int64_t sub = size / 10;
  std::array<std::int64_t, 10> r{};
  std::array<fibers::fiber, 10> children;
  for (int i = 0; i < 10; ++i) children[i] = launch([&r, i, num, sub] { r[i] = skynet(num + i * sub, sub); });
  std::int64_t sum = 0;
  for (int i = 0; i < 10; ++i) {
    children[i].join();
    sum += r[i];
  }
  return sum;
}

std::int64_t nqueens(int n, int row, bench::board b) {
  if (row == n) return 1;
  std::array<std::int64_t, bench::nqueens_max> r{};
  std::array<fibers::fiber, bench::nqueens_max> children;
  int k = 0;
  for (int col = 0; col < n; ++col) {
    if (!bench::queen_safe(b, row, col)) continue;
    b[row] = static_cast<char>(col);
    children[k] = launch([&r, i = k, n, row, b] { r[i] = nqueens(n, row + 1, b); });
    ++k;
  }
  std::int64_t sum = 0;
  for (int i = 0; i < k; ++i) {
    children[i].join();
    sum += r[i];
  }
  return sum;
}

std::int64_t ping_pong(std::int64_t n) {
  auto yielder = [n] {
    for (std::int64_t i = 0; i < n; ++i) boost::this_fiber::yield();
  };
  fibers::fiber a = launch(yielder), b = launch(yielder);
  a.join();
  b.join();
  return 2 * n;
}

fiber_pool& pool(const benchmark::State& state) {
  return fiber_pool::get(static_cast<unsigned>(bench::threads(state)));
}

void fib_fibers(benchmark::State& state) {
  int n = static_cast<int>(bench::size(state));
  fiber_pool& p = pool(state);
  bench::measure(state, [&] { return p.run([n] { return fib(n); }); }, bench::fib_value(n), bench::fib_calls(n));
}

void skynet_fibers(benchmark::State& state) {
  std::int64_t leaves = bench::size(state);
  fiber_pool& p = pool(state);
  bench::measure(state, [&] { return p.run([leaves] { return skynet(0, leaves); }); },
                 bench::skynet_expected(leaves), leaves);
}

void nqueens_fibers(benchmark::State& state) {
  int n = static_cast<int>(bench::size(state));
  auto want = bench::nqueens_counts(n);
  fiber_pool& p = pool(state);
  bench::measure(state, [&] { return p.run([n] { return nqueens(n, 0, bench::board{}); }); }, want.solutions,
                 want.placements);
}

void yield_fibers(benchmark::State& state) {
  std::int64_t n = bench::size(state);
  fiber_pool& p = pool(state);
  bench::measure(state, [&] { return p.run([n] { return ping_pong(n); }); }, 2 * n, 2 * n);
}

// Smaller sizes than the others: a fiber costs microseconds (a stack each), and the full sizes
// would take tens of seconds per iteration on one thread. table.py compares per unit.
[[maybe_unused]] const int registered =
    (bench::add("fib/fibers", fib_fibers, 22),
     bench::add("skynet/fibers", skynet_fibers, 100'000),
     bench::add("nqueens/fibers", nqueens_fibers, 9),
     bench::add("yield/fibers", yield_fibers, bench::yields_per_task));

}  // namespace
