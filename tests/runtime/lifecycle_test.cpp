// The lifecycle matrix (../shared/DESIGN.md, "Lifecycle"): every kind of suspension meets every
// lifecycle event. Each cell puts tasks to sleep at one await point, then ends them one way;
// it asserts that the cell returns (a watchdog aborts a hang, naming the cell), that every
// local of every frame is destroyed exactly once (constructed == destroyed), and, under ASan,
// that nothing leaks and nothing is touched after it was freed.
//
//   kinds   sleep, with_timeout, with_deadline, join, when_all, fork, fork_scope, when_any, task_group, channel
//           send and recv at capacity 0 and 1, mutex held and waited for, semaphore, event,
//           latch, join_set next, select over channels and a sleep, select with a task branch,
//           spawn_blocking join, broadcast recv, watch changed, Asio read with use_task, signal wait,
//           fiber await, pool submit waiting for room, for bytes of its memory budget and for its
//           store's write, pool job in flight
//   events  rt.shutdown() and ~runtime, each with the default grace (tasks unwind through
//           their cancellation) and with no grace (frames destroyed where they wait);
//           cancellation of the waiting task; pool.stop(0ms) and ~job_pool without stop()
//           with the kind running inside a pool job; and, after the runtime is gone, the
//           primitive used (from a new runtime too) and destroyed.

#include <atomic>
#include <chrono>
#include <csignal>
#include <cstdlib>
#include <functional>
#include <optional>
#include <string>
#include <thread>

#include <boost/asio/buffer.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <catch2/catch.hpp>

#include <weft/asio.hpp>
#include <weft/weft.hpp>

#include "../support/lifetime.hpp"
#include "../support/suspended.hpp"
#include "../support/watchdog.hpp"
#include "pool/memory_store.hpp"
#include "pool/pool_support.hpp"

using namespace std::chrono_literals;
using weft::task;
using weft::test::lifetime_counter;
using weft::test::tracked;
using weft::test::wait_suspended;

namespace {

// What a kind's tasks wait on. Outlives the runtime: the last column uses it afterwards.
struct resources {
  weft::runtime* rt = nullptr;
  weft::channel<int> rendezvous{0};
  weft::channel<int> full{1};   // one value in it before the test: a send waits
  weft::channel<int> empty{1};  // a recv waits
  weft::async_mutex mutex;
  weft::semaphore sem{0};
  weft::event ev;
  weft::latch lat{1};
  weft::broadcast<int> bc{2};
  weft::watch<int> w{0};
  std::shared_ptr<weft::test::memory_store<int>> store;  // a pool's store (a kind's own)
  std::optional<weft::job_pool<int>> pool;
  std::atomic<int> submit_status{-1};  // what the waiting submitter got
};

task<void> sleeper(lifetime_counter& c) {
  tracked t(c);
  co_await weft::sleep_for(1h);
}

struct kind {
  const char* name;
  /// Tasks that end up suspended once the kind's task waits (children included).
  std::size_t suspended;
  /// The task that waits (spawned on the runtime, or run inside a pool job).
  std::function<task<void>(resources&, lifetime_counter&)> make;
  /// After the runtime is gone: use the primitive (null: nothing to use).
  std::function<void(resources&)> use_after = nullptr;
  /// The kind is a pool's own (it brings its pool; the pool events apply to that pool).
  bool own_pool = false;
};

// The pool a kind runs in (its own, or the pool events' host), processing jobs with `fn`.
void make_pool(resources& r, std::function<task<void>(int)> fn, std::size_t queue = 4, weft::pool_hooks<int> hooks = {},
               std::size_t max_bytes = 0) {
  r.pool.emplace(
      *r.rt,
      weft::pool_options{.name = "cell", .concurrency = 1, .queue_capacity = queue, .max_queued_bytes = max_bytes},
      std::move(fn), std::move(hooks));
}

bool balanced(const weft::pool_stats& s) { return s.submitted == s.processed + s.failed + s.in_flight + s.queue_depth; }

std::vector<kind> kinds() {
  std::vector<kind> k;
  k.push_back({"sleep", 1, [](resources&, lifetime_counter& c) -> task<void> {
                 tracked t(c);
                 co_await weft::sleep_for(1h);
               }});
  k.push_back({"with_timeout", 1, [](resources&, lifetime_counter& c) -> task<void> {
                 tracked t(c);
                 co_await weft::with_timeout(1h, sleeper(c));
               }});
  k.push_back({"with_deadline", 1, [](resources&, lifetime_counter& c) -> task<void> {
                 tracked t(c);
                 co_await weft::with_deadline(std::chrono::steady_clock::now() + 1h, sleeper(c));
               }});
  k.push_back({"join", 2, [](resources&, lifetime_counter& c) -> task<void> {
                 tracked t(c);
                 auto h = weft::spawn(sleeper(c));
                 co_await h;
               }});
  k.push_back({"when_all", 3, [](resources&, lifetime_counter& c) -> task<void> {
                 tracked t(c);
                 co_await weft::when_all(sleeper(c), sleeper(c));
               }});
  // weft::fork: the first child waits as part of its parent; the other two run as tasks of
  // their own (the worker runs their slots once the parent waits), whose records and frames
  // the parent's awaiter owns.
  k.push_back({"fork", 3, [](resources&, lifetime_counter& c) -> task<void> {
                 tracked t(c);
                 co_await weft::fork(sleeper(c), sleeper(c), sleeper(c));
               }});
  // weft::fork_scope: the first child sleeps under the task's own record; the worker then takes
  // the parent's continuation from its deque each time, so the others sleep under continuation
  // records, which the scope owns (and frees, or destroys with their children at shutdown).
  k.push_back({"fork_scope", 3, [](resources&, lifetime_counter& c) -> task<void> {
                 tracked t(c);
                 weft::fork_scope scope;
                 for (int i = 0; i < 3; ++i) co_await scope.fork(sleeper(c));
                 co_await scope.join();
               }});
  k.push_back({"when_any", 3, [](resources&, lifetime_counter& c) -> task<void> {
                 tracked t(c);
                 co_await weft::when_any(sleeper(c), sleeper(c));
               }});
  k.push_back({"task_group", 3, [](resources&, lifetime_counter& c) -> task<void> {
                 tracked t(c);
                 weft::task_group g;
                 g.spawn(sleeper(c));
                 g.spawn(sleeper(c));
                 co_await g.join();
               }});
  k.push_back({"channel send, capacity 0", 1,
               [](resources& r, lifetime_counter& c) -> task<void> {
                 tracked t(c);
                 co_await r.rendezvous.send(1);
               },
               [](resources& r) {
                 CHECK_FALSE(r.rendezvous.try_send(2));  // no receiver: the sender left no ghost
                 r.rendezvous.close();
                 CHECK_THROWS_AS(r.rendezvous.try_send(3), weft::channel_closed);
               }});
  k.push_back({"channel send, capacity 1", 1,
               [](resources& r, lifetime_counter& c) -> task<void> {
                 tracked t(c);
                 co_await r.full.send(1);
               },
               [](resources& r) {
                 CHECK(r.full.try_recv() == std::optional<int>(0));  // the value that was there
                 CHECK(r.full.try_send(7));
                 CHECK(r.full.try_recv() == std::optional<int>(7));
               }});
  k.push_back({"channel recv, capacity 0", 1,
               [](resources& r, lifetime_counter& c) -> task<void> {
                 tracked t(c);
                 (void)co_await r.rendezvous.recv();
               },
               [](resources& r) {
                 CHECK_FALSE(r.rendezvous.try_send(1));  // no receiver waits any more
                 CHECK_FALSE(r.rendezvous.try_recv().has_value());
               }});
  k.push_back({"channel recv, capacity 1", 1,
               [](resources& r, lifetime_counter& c) -> task<void> {
                 tracked t(c);
                 (void)co_await r.empty.recv();
               },
               [](resources& r) {
                 CHECK(r.empty.try_send(5));  // buffered, not handed to a receiver that is gone
                 CHECK(r.empty.size() == 1);
                 CHECK(r.empty.try_recv() == std::optional<int>(5));
               }});
  k.push_back({"mutex held and waited for", 2,
               [](resources& r, lifetime_counter& c) -> task<void> {
                 tracked t(c);
                 auto guard = co_await r.mutex.lock();
                 weft::spawn([](resources& r, lifetime_counter& c) -> task<void> {
                   tracked t(c);
                   auto g = co_await r.mutex.lock();
                   co_await weft::sleep_for(1h);
                 }(r, c))
                     .detach();
                 co_await weft::sleep_for(1h);
               },
               [](resources& r) {
                 // Unlocked: the holder's guard let go, and a hand-off to a waiter that never
                 // resumed was given back.
                 CHECK(r.mutex.try_lock());
                 r.mutex.unlock();
                 weft::runtime again({.workers = 1});
                 again.block_on([](weft::async_mutex& m) -> task<void> { auto g = co_await m.lock(); }(r.mutex));
                 CHECK_FALSE(r.mutex.is_locked());
               }});
  k.push_back({"semaphore", 1,
               [](resources& r, lifetime_counter& c) -> task<void> {
                 tracked t(c);
                 co_await r.sem.acquire();
               },
               [](resources& r) {
                 CHECK(r.sem.waiting() == 0);
                 r.sem.release();
                 CHECK(r.sem.available() == 1);
                 weft::runtime again({.workers = 1});
                 again.block_on([](weft::semaphore& s) -> task<void> { co_await s.acquire(); }(r.sem));
                 CHECK(r.sem.available() == 0);
               }});
  k.push_back({"event", 1,
               [](resources& r, lifetime_counter& c) -> task<void> {
                 tracked t(c);
                 co_await r.ev.wait();
               },
               [](resources& r) {
                 r.ev.set();
                 CHECK(r.ev.is_set());
               }});
  k.push_back({"latch", 1,
               [](resources& r, lifetime_counter& c) -> task<void> {
                 tracked t(c);
                 co_await r.lat.wait();
               },
               [](resources& r) {
                 r.lat.count_down();
                 CHECK(r.lat.try_wait());
               }});
  k.push_back({"join_set next", 3, [](resources&, lifetime_counter& c) -> task<void> {
                 tracked t(c);
                 weft::join_set<void> set;
                 set.spawn(sleeper(c));
                 set.spawn(sleeper(c));
                 (void)co_await set.next();
               }});
  k.push_back({"select over channels and a sleep", 1,
               [](resources& r, lifetime_counter& c) -> task<void> {
                 tracked t(c);
                 (void)co_await weft::select(r.empty.recv(), r.rendezvous.recv(), weft::sleep_for(1h));
               },
               [](resources& r) {
                 CHECK(r.empty.try_send(5));  // buffered: the select left the queue
                 CHECK(r.empty.size() == 1);
                 CHECK(r.empty.try_recv() == std::optional<int>(5));
                 CHECK_FALSE(r.rendezvous.try_send(1));  // no receiver waits any more
               }});
  k.push_back({"select with a task branch", 2,
               [](resources& r, lifetime_counter& c) -> task<void> {
                 tracked t(c);
                 (void)co_await weft::select(sleeper(c), r.ev.wait());
               },
               [](resources& r) {
                 r.ev.set();
                 CHECK(r.ev.is_set());
               }});
  k.push_back({"spawn_blocking join", 2, [](resources&, lifetime_counter& c) -> task<void> {
                 tracked t(c);
                 // The call returns when told: by its task leaving, or by the pool's stop.
                 auto h = weft::spawn_blocking([](weft::cancel_token stop) {
                   std::atomic<bool> stopped{false};
                   auto reg = stop.on_cancel([&stopped] {
                     stopped = true;
                     stopped.notify_all();
                   });
                   stopped.wait(false);
                 });
                 co_await h;
               }});
  k.push_back({"broadcast recv", 1,
               [](resources& r, lifetime_counter& c) -> task<void> {
                 tracked t(c);
                 auto rx = r.bc.subscribe();
                 (void)co_await rx.recv();
               },
               [](resources& r) {
                 CHECK(r.bc.receiver_count() == 0);  // the receiver went with its frame
                 CHECK(r.bc.send(1) == 0);
               }});
  k.push_back({"watch changed", 1,
               [](resources& r, lifetime_counter& c) -> task<void> {
                 tracked t(c);
                 auto rx = r.w.subscribe();
                 (void)co_await rx.changed();
               },
               [](resources& r) {
                 CHECK(r.w.receiver_count() == 0);
                 r.w.send(2);
                 CHECK(r.w.get() == 2);
               }});
  k.push_back({"asio read with use_task", 1, [](resources& r, lifetime_counter& c) -> task<void> {
                 tracked t(c);
                 boost::asio::local::stream_protocol::socket a(r.rt->get_executor()), b(r.rt->get_executor());
                 boost::asio::local::connect_pair(a, b);
                 char buf[16];
                 (void)co_await a.async_read_some(boost::asio::buffer(buf), weft::use_task);  // b never writes
               }});
  k.push_back({"signal wait", 1, [](resources&, lifetime_counter& c) -> task<void> {
                 tracked t(c);
                 auto wait = weft::wait_for_signal({SIGUSR2});  // never sent (named: g++ 12, signal.hpp)
                 (void)co_await std::move(wait);
               }});
  k.push_back({"fiber await", 2, [](resources&, lifetime_counter& c) -> task<void> {
                 tracked t(c);
                 auto fiber = weft::spawn_fiber([&c] {
                   tracked on_fiber(c);
                   weft::this_fiber::await(weft::sleep_for(1h));
                 });
                 co_await fiber;  // (a named handle: g++ 12 relocates temporaries inside co_await)
               }});
  k.push_back({"pool submit waiting for room", 2,
               [](resources& r, lifetime_counter& c) -> task<void> {
                 tracked t(c);
                 make_pool(r, [&c](int) -> task<void> { return sleeper(c); }, 1);
                 CHECK(r.pool->try_submit(1) == weft::submit_status::accepted);  // in flight
                 while (r.pool->stats().in_flight == 0) co_await weft::yield();
                 CHECK(r.pool->try_submit(2) == weft::submit_status::accepted);  // queued: full
                 auto submitting = r.pool->submit(3);
                 r.submit_status = static_cast<int>(co_await std::move(submitting));
               },
               [](resources& r) {
                 CHECK(r.pool->try_submit(4) == weft::submit_status::stopping);
                 auto s = r.pool->stats();
                 CHECK(s.in_flight == 0);
                 CHECK(s.submitted == s.processed + s.failed + s.in_flight + s.queue_depth);
                 r.pool.reset();
               },
               true});
  k.push_back({"pool submit waiting for bytes", 2,
               [](resources& r, lifetime_counter& c) -> task<void> {
                 tracked t(c);
                 make_pool(
                     r, [&c](int) -> task<void> { return sleeper(c); }, 4,
                     {.size_of = [](const int& j) { return static_cast<std::size_t>(j); }}, 10);
                 CHECK(r.pool->try_submit(1) == weft::submit_status::accepted);  // in flight
                 while (r.pool->stats().in_flight == 0) co_await weft::yield();
                 CHECK(r.pool->try_submit(9) == weft::submit_status::accepted);  // queued: 9 of 10 bytes
                 auto submitting = r.pool->submit(2);                            // 2 more: waits
                 r.submit_status = static_cast<int>(co_await std::move(submitting));
               },
               [](resources& r) {
                 CHECK(r.pool->try_submit(1) == weft::submit_status::stopping);
                 auto s = r.pool->stats();
                 CHECK(s.in_flight == 0);
                 CHECK(s.queued_bytes == 0);
                 CHECK(balanced(s));
                 r.pool.reset();
               },
               true});
  k.push_back({"pool submit waiting for the store's write", 2,
               [](resources& r, lifetime_counter& c) -> task<void> {
                 tracked t(c);
                 r.store = std::make_shared<weft::test::memory_store<int>>();
                 make_pool(r, [&c](int) -> task<void> { return sleeper(c); }, 4, {.store = r.store});
                 CHECK(r.pool->try_submit(1) == weft::submit_status::accepted);  // stored at once, in flight
                 while (r.pool->stats().in_flight == 0) co_await weft::yield();
                 r.store->hold();
                 auto submitting = r.pool->submit(2);  // waits for its write
                 r.submit_status = static_cast<int>(co_await std::move(submitting));
               },
               [](resources& r) {
                 r.store->release_held();            // the write lands after the end: refused and forgotten
                 auto pending = r.store->pending();  // the job cut short stays, for the next pool
                 REQUIRE(pending.size() == 1);
                 CHECK(pending[0].job == 1);
                 auto s = r.pool->stats();
                 CHECK(s.in_flight == 0);
                 CHECK(s.dropped == 1);
                 CHECK(balanced(s));
                 CHECK(r.pool->try_submit(3) == weft::submit_status::stopping);
                 r.pool.reset();
               },
               true});
  k.push_back({"pool job in flight", 1,
               [](resources& r, lifetime_counter& c) -> task<void> {
                 make_pool(r, [&c](int) -> task<void> { return sleeper(c); });
                 CHECK(r.pool->try_submit(1) == weft::submit_status::accepted);
                 co_return;
               },
               [](resources& r) {
                 CHECK(r.pool->try_submit(2) == weft::submit_status::stopping);
                 CHECK(r.pool->stats().in_flight == 0);
                 r.pool.reset();
               },
               true});
  return k;
}

enum class event { shutdown, destroy, cancel, pool_stop, pool_destroy };

const char* to_string(event e) {
  switch (e) {
    case event::shutdown:
      return "rt.shutdown()";
    case event::destroy:
      return "~runtime";
    case event::cancel:
      return "cancellation";
    case event::pool_stop:
      return "pool.stop(0ms)";
    case event::pool_destroy:
      return "~job_pool";
  }
  return "?";
}

struct cell_result {
  long constructed = 0;
  long destroyed = 0;
};

// One cell. Returns the lifetime counts after everything is gone.
cell_result run_cell(const kind& k, event ev, std::chrono::milliseconds grace) {
  const std::string name =
      std::string(k.name) + " x " + to_string(ev) + " (grace " + std::to_string(grace.count()) + " ms)";
  INFO(name);
  weft::test::watchdog wd(name);
  lifetime_counter c;
  {
    resources r;
    CHECK(r.full.try_send(0));
    {
      weft::runtime rt({.workers = 2, .shutdown_grace = grace});
      r.rt = &rt;
      const bool in_pool = (ev == event::pool_stop || ev == event::pool_destroy) && !k.own_pool;
      const bool submitter = k.own_pool && std::string(k.name).starts_with("pool submit");
      weft::join_handle<void> h;
      if (in_pool) {
        // The kind runs inside a pool job (the pool's one worker is the waiting task).
        make_pool(r, [&r, &c, make = k.make](int) -> task<void> { return make(r, c); });
        CHECK(r.pool->try_submit(1) == weft::submit_status::accepted);
      } else {
        h = rt.spawn(k.make(r, c));
        if (k.own_pool && !submitter) rt.block_on(std::move(h));  // it made its pool and queued a job
      }
      wait_suspended(rt, k.suspended);
      switch (ev) {
        case event::shutdown:
          rt.shutdown();
          if (h && grace > 0ms) CHECK(h.done());  // cancelled and unwound (with no grace: destroyed)
          break;
        case event::destroy:
          break;
        case event::cancel:
          h.cancel();
          CHECK_THROWS_AS(rt.block_on(std::move(h)), weft::cancelled_error);
          break;
        case event::pool_stop: {
          auto report = rt.block_on(r.pool->stop(0ms));
          CHECK(report.cancelled == 1);
          CHECK(r.pool->try_submit(9) == weft::submit_status::stopping);
          break;
        }
        case event::pool_destroy:
          r.pool.reset();
          // The pool's tasks end and free everything: its series leave the registry, and a
          // pool of the same name can be made again.
          while (rt.metrics().to_prometheus().find("pool=\"cell\"") != std::string::npos) std::this_thread::yield();
          weft::test::wait_pool_name_free(rt.metrics(), "cell");  // (the name goes after the series)
          make_pool(r, [](int) -> task<void> { co_return; });
          break;
      }
      if (submitter && (ev == event::pool_stop || ev == event::pool_destroy)) {
        rt.block_on(std::move(h));  // the waiting submitter was let go...
        CHECK(r.submit_status.load() == static_cast<int>(weft::submit_status::stopping));  // ...told why
      }
      if (ev == event::pool_stop || ev == event::pool_destroy)
        while (c.alive() != 0) std::this_thread::yield();  // the job's frames are gone before the runtime
    }
    if (k.use_after && (ev == event::shutdown || ev == event::destroy)) k.use_after(r);
  }
  return {c.constructed.load(), c.destroyed.load()};
}

}  // namespace

TEST_CASE("lifecycle matrix: every suspension survives shutdown, destruction, cancellation and pool stops",
          "[lifecycle]") {
  // WEFT_CELL=<text> runs only the cells whose name contains it (to look at one, or to run each
  // in a process of its own).
  const char* only = std::getenv("WEFT_CELL");
  std::size_t cells = 0;
  for (const kind& k : kinds()) {
    std::vector<std::pair<event, std::chrono::milliseconds>> events = {
        {event::shutdown, 1000ms}, {event::shutdown, 0ms},     {event::destroy, 1000ms},
        {event::destroy, 0ms},     {event::pool_stop, 1000ms}, {event::pool_destroy, 1000ms}};
    if (!k.own_pool) events.push_back({event::cancel, 1000ms});
    for (auto [ev, grace] : events) {
      const std::string cell =
          std::string(k.name) + " x " + to_string(ev) + " (grace " + std::to_string(grace.count()) + " ms)";
      if (only && cell.find(only) == std::string::npos) continue;
      INFO(k.name << " x " << to_string(ev) << " (grace " << grace.count() << " ms)");
      cell_result r = run_cell(k, ev, grace);
      CHECK(r.constructed > 0);
      CHECK(r.constructed == r.destroyed);
      ++cells;
    }
  }
  if (!only) CHECK(cells == 30 * 6 + 26);
}
