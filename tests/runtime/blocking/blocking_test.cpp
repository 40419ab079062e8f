#include <weft/blocking.hpp>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <coroutine>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/metrics/registry.hpp>
#include <weft/runtime.hpp>
#include <weft/spawn.hpp>
#include <weft/time.hpp>

#include "../../support/lifetime.hpp"
#include "../../support/metric.hpp"
#include "../../support/outcome.hpp"
#include "../../support/race.hpp"
#include "../../support/suspended.hpp"
#include "../../support/watchdog.hpp"

using namespace std::chrono_literals;
using weft::task;
using weft::test::metric;
using weft::test::outcome;

namespace {

/// A gate plain threads wait at until it opens.
class gate {
 public:
  void open() {
    {
      std::lock_guard lock(mu_);
      open_ = true;
    }
    cv_.notify_all();
  }
  void wait() {
    std::unique_lock lock(mu_);
    cv_.wait(lock, [&] { return open_; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
};

/// Blocks until `stop` is cancelled.
void wait_for_stop(const weft::cancel_token& stop) {
  gate g;
  auto reg = stop.on_cancel([&g] { g.open(); });
  g.wait();
}

void wait_metric(weft::runtime& rt, const char* name, double v) {
  while (metric(rt, name) != v) std::this_thread::yield();
}

}  // namespace

TEST_CASE("spawn_blocking runs the function on a thread that is not a worker, and yields its value", "[blocking]") {
  std::mutex mu;
  std::set<std::thread::id> workers;
  weft::runtime rt({.workers = 2, .on_thread_start = [&](std::size_t) {
                      std::lock_guard lock(mu);
                      workers.insert(std::this_thread::get_id());
                    }});
  auto [v, on] = rt.block_on([]() -> task<std::pair<int, std::thread::id>> {
    auto h = weft::spawn_blocking([] { return std::pair{6 * 7, std::this_thread::get_id()}; });
    co_return co_await h;
  }());
  CHECK(v == 42);
  std::lock_guard lock(mu);
  CHECK_FALSE(workers.empty());  // (a worker that has not started yet cannot have run it)
  CHECK(workers.count(on) == 0);
}

TEST_CASE("spawn_blocking rethrows the function's exception", "[blocking]") {
  weft::runtime rt({.workers = 1});
  CHECK_THROWS_WITH(rt.block_on([]() -> task<void> {
    auto h = weft::spawn_blocking([] { throw std::runtime_error("disk on fire"); });
    co_await h;
  }()),
                    "disk on fire");
}

TEST_CASE("spawn_blocking(rt, fn) works from a plain thread; spawn_blocking(fn) there is a usage error", "[blocking]") {
  weft::runtime rt({.workers = 1});
  auto h = weft::spawn_blocking(rt, [] { return std::string("from outside"); });
  CHECK(rt.block_on(std::move(h)) == "from outside");
  CHECK_THROWS_AS(weft::spawn_blocking([] {}), weft::usage_error);
}

TEST_CASE("a spawn_blocking function may block_on tasks of its own runtime and of another", "[blocking]") {
  // Its thread is no worker: it is there to block (runtime::block_on refuses workers only).
  weft::runtime rt({.workers = 1});
  weft::runtime other({.workers = 1});
  const int v = rt.block_on([](weft::runtime& rt, weft::runtime& other) -> task<int> {
    auto h = weft::spawn_blocking([&rt, &other] {
      auto seven = []() -> task<int> { co_return 7; };
      return rt.block_on(seven()) + other.block_on(other.spawn(seven())) + rt.block_on(rt.spawn(seven()));
    });
    co_return co_await h;
  }(rt, other));
  CHECK(v == 21);
}

TEST_CASE("the pool grows to max_blocking_threads; later calls wait in the queue; metrics say so",
          "[blocking][metrics]") {
  weft::test::watchdog wd("blocking pool growth");
  weft::runtime rt({.workers = 1, .name = "blk", .max_blocking_threads = 2});
  gate release;
  std::atomic<int> running{0}, most{0};
  std::vector<weft::join_handle<int>> hs;
  for (int i = 0; i < 5; ++i)
    hs.push_back(weft::spawn_blocking(rt, [&, i] {
      int now = running.fetch_add(1) + 1;
      for (int m = most.load(); now > m && !most.compare_exchange_weak(m, now);) {
      }
      release.wait();
      running.fetch_sub(1);
      return i;
    }));
  wait_metric(rt, "weft_blocking_threads", 2);
  wait_metric(rt, "weft_blocking_queue_depth", 3);
  release.open();
  int sum = 0;
  for (auto& h : hs) sum += rt.block_on(std::move(h));
  CHECK(sum == 0 + 1 + 2 + 3 + 4);
  CHECK(most.load() == 2);
  CHECK(metric(rt, "weft_blocking_tasks_total") == 5);
  CHECK(metric(rt, "weft_blocking_queue_depth") == 0);
  auto snap = rt.metrics().snapshot();
  CHECK(snap.histogram("weft_blocking_seconds", {{"runtime", "blk"}}).count == 5);
}

TEST_CASE("a blocking thread idle for the keep-alive exits", "[blocking]") {
  weft::test::watchdog wd("idle blocking threads exit");
  weft::runtime rt({.workers = 1, .blocking_keep_alive = 1ms});
  CHECK(rt.block_on(weft::spawn_blocking(rt, [] { return 1; })) == 1);
  wait_metric(rt, "weft_blocking_threads", 0);                          // (a hang here is the failure)
  CHECK(rt.block_on(weft::spawn_blocking(rt, [] { return 2; })) == 2);  // a new one starts
}

TEST_CASE("cancelling a spawn_blocking task detaches it; a function that takes a token sees it cancelled",
          "[blocking][cancel]") {
  weft::test::watchdog wd("spawn_blocking cancellation");
  weft::runtime rt({.workers = 2});
  std::atomic<bool> started{false}, saw_stop{false};
  auto h = weft::spawn_blocking(rt, [&](weft::cancel_token stop) {
    started = true;
    wait_for_stop(stop);
    saw_stop = true;
    return 5;
  });
  while (!started.load()) std::this_thread::yield();  // running (not merely queued)
  weft::test::wait_suspended(rt, 1);                  // and the driver waits for it
  h.cancel();
  CHECK_THROWS_AS(rt.block_on(std::move(h)), weft::cancelled_error);
  while (!saw_stop.load()) std::this_thread::yield();  // the call was told, and returned
}

TEST_CASE("a spawn_blocking call cancelled before it started never runs", "[blocking][cancel]") {
  weft::test::watchdog wd("queued blocking call cancelled");
  weft::runtime rt({.workers = 2, .max_blocking_threads = 1});
  gate release;
  std::atomic<bool> second_ran{false};
  auto first = weft::spawn_blocking(rt, [&] { release.wait(); });
  auto second = weft::spawn_blocking(rt, [&] { second_ran = true; });
  weft::test::wait_suspended(rt, 2);
  second.cancel();
  CHECK_THROWS_AS(rt.block_on(std::move(second)), weft::cancelled_error);
  auto third = weft::spawn_blocking(rt, [] { return 3; });  // behind the second in the one thread's queue
  release.open();
  rt.block_on(std::move(first));
  CHECK(rt.block_on(std::move(third)) == 3);
  CHECK_FALSE(second_ran.load());
  CHECK(metric(rt, "weft_blocking_tasks_total") == 2);
}

TEST_CASE("shutdown drops queued blocking calls and stops the running ones through their token",
          "[blocking][lifecycle]") {
  weft::test::watchdog wd("shutdown with blocking calls");
  std::atomic<bool> queued_ran{false}, running_stopped{false};
  {
    weft::runtime rt({.workers = 1, .shutdown_grace = 0ms, .max_blocking_threads = 1});
    auto running = weft::spawn_blocking(rt, [&](weft::cancel_token stop) {
      wait_for_stop(stop);
      running_stopped = true;
    });
    auto queued = weft::spawn_blocking(rt, [&] { queued_ran = true; });
    weft::test::wait_suspended(rt, 2);
    while (metric(rt, "weft_blocking_queue_depth") != 1) std::this_thread::yield();
    rt.shutdown();  // returns: the running call saw its token and returned
    CHECK(running_stopped.load());
    CHECK_THROWS_AS(weft::spawn_blocking(rt, [] { return 1; }), weft::runtime_stopped);
  }
  CHECK_FALSE(queued_ran.load());
}

namespace {

/// An await weft does not know (a callback API wrapped by hand): not a cancellation point, and
/// never resumed. Shutdown's cancellation does not reach it; only its last step, which destroys
/// the frames still alive, ends a task waiting here.
struct never_resumed {
  bool await_ready() const noexcept { return false; }
  void await_suspend(std::coroutine_handle<>) const noexcept {}
  void await_resume() const noexcept {}
};

/// Waits (block_on) for a task that reaches `never_resumed` once it has set `started`: how the
/// block_on ended.
outcome block_on_never_resumed(weft::runtime& rt, std::atomic<bool>& started, weft::test::lifetime_counter& c) {
  return weft::test::outcome_of([&] {
    rt.block_on([](std::atomic<bool>& started, weft::test::tracked) -> task<void> {
      started.store(true);
      started.notify_all();
      co_await never_resumed{};
    }(started, weft::test::tracked(c)));
  });
}

}  // namespace

TEST_CASE("shutdown ends a task a running blocking call waits for before it waits for that call",
          "[blocking][lifecycle]") {
  // The call waits in block_on for a task that no cancellation reaches. Shutdown must end that
  // task (its last step) before it waits for the pool's threads: the other way round, the call
  // waits for the task and shutdown for the call, forever.
  weft::test::watchdog wd("shutdown with a blocking call waiting for a task");
  weft::test::lifetime_counter c;
  std::atomic<bool> started{false}, stopped{false};
  {
    weft::runtime rt({.workers = 1, .shutdown_grace = 0ms});
    weft::spawn_blocking(rt, [&] { stopped = block_on_never_resumed(rt, started, c) == outcome::stopped; }).detach();
    started.wait(false);  // the task runs: the call is registered as its waiter (block_on did that first)
    rt.shutdown();
    CHECK(stopped.load());  // the call returned before shutdown did, with runtime_stopped
    CHECK(c.alive() == 0);  // the task's frame was destroyed
  }
}

TEST_CASE("a blocking call waiting for a task races shutdown", "[blocking][lifecycle][race]") {
  // Each round a fresh runtime, shut down from another thread while a blocking call starts a
  // block_on of a task that no cancellation reaches (half of the rounds: the shutdown waits
  // until the call is about to block_on; the others race spawn_blocking itself):
  // spawn_blocking throws runtime_stopped, or the call is dropped unrun, or it runs and its
  // block_on throws runtime_stopped (refused at once, or its task ended by the shutdown). Never
  // anything else, no hang, every frame destroyed.
  weft::test::watchdog wd("blocking calls waiting for tasks race shutdown");
  int wrong = 0, leaked_rounds = 0, ran = 0;
  for (int round = 0; round < 200; ++round) {
    weft::test::lifetime_counter c;
    std::atomic<bool> calling{false}, started{false};
    std::atomic<bool> ended_wrong{false};  // spawn_blocking or the call's block_on: not runtime_stopped
    {
      weft::runtime rt({.workers = 1, .shutdown_grace = round / 2 % 2 ? 0ms : 10ms});
      const bool at_block_on = round % 2 == 0;
      weft::test::race(
          [&] {
            if (at_block_on)
              while (!calling.load()) std::this_thread::yield();
            rt.shutdown();
          },
          [&] {
            const outcome submitted = weft::test::outcome_of([&] {
              weft::spawn_blocking(rt, [&] {
                calling = true;
                ended_wrong = block_on_never_resumed(rt, started, c) != outcome::stopped;
              }).detach();
            });
            if (submitted == outcome::returned) return;
            ended_wrong = submitted != outcome::stopped;
            calling = true;
          });
      rt.shutdown();  // (waits for the racing one)
      ran += started.load();
    }
    // The call ran and returned within the shutdown, or was dropped, or never submitted.
    wrong += ended_wrong.load();
    leaked_rounds += c.alive() != 0;
  }
  INFO(ran << " rounds with the task started");
  CHECK(wrong == 0);
  CHECK(leaked_rounds == 0);
}

TEST_CASE("a blocking call may shut its own runtime down", "[blocking][lifecycle]") {
  weft::test::watchdog wd("shutdown from a blocking call");
  std::atomic<bool> done{false};
  {
    weft::runtime rt({.workers = 1});
    weft::spawn_blocking(rt, [&] {
      rt.shutdown();
      done = true;
    }).detach();
    while (!done.load()) std::this_thread::yield();
  }
  CHECK(done.load());
}

TEST_CASE("max_blocking_threads 0 and a negative keep-alive are refused", "[blocking]") {
  CHECK_THROWS_AS(weft::runtime({.max_blocking_threads = 0}), std::invalid_argument);
  CHECK_THROWS_AS(weft::runtime({.blocking_keep_alive = -1ms}), std::invalid_argument);
}

TEST_CASE("2,000 blocking calls from tasks on two workers all complete", "[blocking][stress]") {
  weft::test::watchdog wd("2,000 blocking calls");
  weft::runtime rt({.workers = 2, .max_blocking_threads = 4});
  long sum = rt.block_on([]() -> task<long> {
    std::vector<weft::join_handle<int>> hs;
    for (int i = 0; i < 2000; ++i) hs.push_back(weft::spawn_blocking([i] { return i; }));
    long total = 0;
    for (auto& h : hs) total += co_await h;
    co_return total;
  }());
  CHECK(sum == 2000L * 1999 / 2);
}
