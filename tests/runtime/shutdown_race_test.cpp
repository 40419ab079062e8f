// The runtime's entry points from other threads racing its shutdown (../shared/DESIGN.md,
// "Lifecycle"): each call either runs (or has its frame ended by the shutdown) or throws
// runtime_stopped; none hangs, none leaks a frame. 3,000 rounds, each a fresh runtime, six
// threads calling spawn, block_on, spawn_fiber, get_executor + post, spawn_blocking + join and
// block_on of a task inside a weft::fork, in a loop, while the test thread shuts the runtime
// down at a different moment each round (half of the rounds with no grace, so frames are
// destroyed where they wait rather than unwound). And a plain thread that took a task out of a
// wait list, waking it once the runtime is destroyed; join handles dropped on other threads
// while the runtime's end counts the records they hold; and tasks awaiting another runtime's
// tasks while both runtimes end.

#include <array>
#include <atomic>
#include <chrono>
#include <cstdlib>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/post.hpp>
#include <catch2/catch.hpp>

#include <weft/asio/executor.hpp>
#include <weft/blocking.hpp>
#include <weft/fiber.hpp>
#include <weft/fork.hpp>
#include <weft/runtime.hpp>
#include <weft/sync/broadcast.hpp>
#include <weft/sync/event.hpp>
#include <weft/trace.hpp>
#include <weft/yield.hpp>

#include "../support/lifetime.hpp"
#include "../support/outcome.hpp"
#include "../support/race.hpp"
#include "../support/suspended.hpp"
#include "../support/watchdog.hpp"

using namespace std::chrono_literals;
using weft::task;
using weft::test::lifetime_counter;
using weft::test::outcome;
using weft::test::tracked;

namespace {

task<int> work(tracked) {
  co_await weft::yield();
  co_return 1;
}

// A weft::fork whose children yield: some run as part of their parent, some as tasks of their
// own (stolen, or run by the loop while their parent waits), when shutdown comes.
task<int> forker(tracked t) {
  auto [a, b, d] = co_await weft::fork(work(t), work(t), work(t));
  co_return a + b + d;
}

constexpr int kinds = 6;  // the entry points called, one thread each

int rounds() {
  if (const char* n = std::getenv("WEFT_RACE_ROUNDS")) return std::atoi(n);
  return 3000;
}

}  // namespace

TEST_CASE("spawn, block_on, spawn_fiber, get_executor, spawn_blocking and a fork from six threads race shutdown",
          "[lifecycle][race]") {
  const int n = rounds();
  weft::test::watchdog wd("entry points racing shutdown", std::chrono::seconds(1200));
  int leaked_rounds = 0, bad_outcomes = 0;
  long calls = 0, stopped = 0;
  for (int round = 0; round < n; ++round) {
    lifetime_counter c;
    std::atomic<long> round_calls{0}, round_stopped{0}, wrong{0};
    {
      weft::runtime rt({.workers = 2, .shutdown_grace = round % 2 ? 1000ms : 0ms});
      std::atomic<int> ready{0};
      std::atomic<bool> go{false}, shut{false};
      std::vector<std::thread> threads;
      for (int kind = 0; kind < kinds; ++kind)
        threads.emplace_back([&, kind] {
          ready.fetch_add(1);
          while (!go.load()) std::this_thread::yield();
          // At most `burst` calls while the runtime may still be up (a bounded amount of work per
          // round, however the threads are scheduled); then one more once it is surely down.
          constexpr int burst = 32;
          for (int call = 0;; ++call) {
            if (call == burst)
              while (!shut.load()) std::this_thread::yield();
            const outcome ended = weft::test::outcome_of([&] {
              switch (kind) {
                case 0:
                  rt.spawn(work(tracked(c))).detach();
                  break;
                case 1:
                  if (rt.block_on(work(tracked(c))) != 1) wrong.fetch_add(1);
                  break;
                case 2:
                  weft::spawn_fiber(rt, [t = tracked(c)] {
                    weft::this_fiber::yield();
                    return 1;
                  }).detach();
                  break;
                case 3:
                  boost::asio::post(rt.get_executor(), [t = tracked(c)] {});
                  break;
                case 4:  // a blocking call and its join: on the pool's thread, then back
                  if (rt.block_on(weft::spawn_blocking(rt, [t = tracked(c)] { return 1; })) != 1) wrong.fetch_add(1);
                  break;
                case 5:  // block_on of a task that is inside a weft::fork
                  if (rt.block_on(forker(tracked(c))) != 3) wrong.fetch_add(1);
                  break;
              }
            });
            if (ended != outcome::returned) {
              (ended == outcome::stopped ? round_stopped : wrong).fetch_add(1);
              return;
            }
            round_calls.fetch_add(1);
          }
        });
      while (ready.load() < kinds) std::this_thread::yield();
      go.store(true);
      for (int spin = 0; spin < round % 64; ++spin) std::this_thread::yield();  // a different moment each round
      rt.shutdown();
      shut.store(true);
      for (auto& t : threads) t.join();
    }
    leaked_rounds += c.alive() != 0;
    bad_outcomes += wrong.load() != 0;
    calls += round_calls.load();
    stopped += round_stopped.load();
  }
  INFO(calls << " calls landed, " << stopped << " refused with runtime_stopped over " << n << " rounds");
  CHECK(leaked_rounds == 0);          // every frame, posted function and fiber function destroyed once
  CHECK(bad_outcomes == 0);           // nothing but a result or runtime_stopped
  CHECK(stopped == long{kinds} * n);  // every thread was refused in the end: nothing hung
}

TEST_CASE("traces started and stopped from another thread race shutdown; the last outlives the runtime",
          "[lifecycle][race][trace]") {
  // Each round: one thread spawns tasks, another starts and stops traces, and the test thread
  // shuts the runtime down at a different moment. The trace left recording is kept outside the
  // runtime's scope, so the runtime's destructor stops it. Nothing hangs, no frame leaks, and
  // the last trace can be read.
  const int n = rounds() / 10;
  weft::test::watchdog wd("traces racing shutdown", std::chrono::seconds(600));
  int leaked_rounds = 0, bad_outcomes = 0;
  for (int round = 0; round < n; ++round) {
    lifetime_counter c;
    std::optional<weft::trace> last;
    std::atomic<long> wrong{0};
    {
      weft::runtime rt({.workers = 2, .shutdown_grace = round % 2 ? 1000ms : 0ms});
      std::atomic<bool> go{false}, shut{false};
      std::thread spawner([&] {
        while (!go.load()) std::this_thread::yield();
        const outcome ended = weft::test::outcome_of([&] {
          for (int i = 0; i < 64; ++i) rt.spawn(work(tracked(c))).detach();
          while (!shut.load()) std::this_thread::yield();
          rt.spawn(work(tracked(c))).detach();
        });
        if (ended != outcome::stopped) wrong.fetch_add(1);  // spawned after shutdown, or anything else thrown
      });
      std::thread tracer([&] {
        while (!go.load()) std::this_thread::yield();
        try {
          for (int i = 0; i < 8; ++i) {
            last.emplace(rt);
            last->stop();
          }
          last.emplace(rt);  // left recording
        } catch (...) {
          wrong.fetch_add(1);
        }
      });
      go.store(true);
      for (int spin = 0; spin < round % 64; ++spin) std::this_thread::yield();
      rt.shutdown();
      shut.store(true);
      spawner.join();
      tracer.join();
    }
    // The runtime stopped the last trace: it holds what it recorded, and stops no more.
    if (last) {
      last->stop();
      (void)last->summary();
    }
    last.reset();
    leaked_rounds += c.alive() != 0;
    bad_outcomes += wrong.load() != 0;
  }
  CHECK(leaked_rounds == 0);
  CHECK(bad_outcomes == 0);
}

namespace {

// A broadcast copies its value for each waiting receiver under its lock, after it took that
// receiver's task out of the wait list. The copy numbered `hold_at` waits until `go`: the
// sender (a plain thread) then holds tasks it has taken out but not yet woken.
struct held_copy {
  std::atomic<int>* copies;
  int hold_at;
  std::atomic<bool>* go;

  held_copy(std::atomic<int>& c, int at, std::atomic<bool>& g) : copies(&c), hold_at(at), go(&g) {}
  held_copy(const held_copy& o) : copies(o.copies), hold_at(o.hold_at), go(o.go) {
    if (copies->fetch_add(1) + 1 == hold_at)
      while (!go->load()) std::this_thread::yield();
  }
  held_copy(held_copy&&) noexcept = default;
};

}  // namespace

TEST_CASE("a plain thread that took a waiting task out of a wait list wakes it after its runtime is destroyed",
          "[lifecycle][race]") {
  // The sender takes out the receiver waiting in `ending` (copy 1), then one waiting in
  // `other` (copy 2, held). Meanwhile `ending` is destroyed: shutdown finds its task taken out
  // already (nothing to unlink), destroys its frame and frees the runtime. Then the sender wakes
  // both: the wake of the task `ending` ended must touch nothing of what was freed (ASan).
  weft::test::watchdog wd("a wake after the runtime's destruction");
  lifetime_counter c;
  std::atomic<int> copies{0};
  std::atomic<bool> go{false};
  weft::broadcast<held_copy> bc(1);
  auto rx_ending = bc.subscribe();
  auto rx_other = bc.subscribe();
  weft::runtime other({.workers = 1});
  auto recv = [](weft::broadcast<held_copy>::receiver& rx, tracked) -> task<bool> {
    co_return (co_await rx.recv()).has_value();
  };
  auto ending = std::make_unique<weft::runtime>(weft::runtime_options{.workers = 1, .shutdown_grace = 0ms});
  ending->spawn(recv(rx_ending, tracked(c))).detach();
  weft::test::wait_suspended(*ending, 1);
  auto got = other.spawn(recv(rx_other, tracked(c)));
  weft::test::wait_suspended(other, 1);
  std::thread sender([&] { bc.send(held_copy(copies, 2, go)); });
  while (copies.load() < 2) std::this_thread::yield();
  ending.reset();
  go.store(true);
  sender.join();
  CHECK(other.block_on([](weft::join_handle<bool>& h) -> task<bool> { co_return co_await h; }(got)));
  CHECK(c.alive() == 0);
}

TEST_CASE("join handles dropped on other threads while the runtime is destroyed free the core exactly once",
          "[lifecycle][race]") {
  // A finished task's record belongs to its handle: the runtime's end counts the records still
  // held, each of which keeps the core alive until its handle lets go. Threads dropping handles
  // while that count is taken must each be counted, or see the runtime not yet ended, never
  // both and never neither: a double release frees the core under the count (ASan), a missing
  // one leaks it (LeakSanitizer).
  constexpr int handles = 4;
  for (int round = 0; round < 500; ++round) {
    auto rt = std::make_unique<weft::runtime>(weft::runtime_options{.workers = 1});
    std::vector<weft::join_handle<int>> held;
    for (int i = 0; i < handles; ++i) held.push_back(rt->spawn([]() -> task<int> { co_return 1; }()));
    // Finished, not joined: the records stay for the handles.
    rt->block_on([]() -> task<void> { co_return; }());
    std::atomic<int> ready{0};
    std::atomic<bool> go{false};
    std::vector<std::thread> droppers;
    for (auto& h : held)
      droppers.emplace_back([&ready, &go, h = std::move(h)]() mutable {
        ready.fetch_add(1);
        while (!go.load(std::memory_order_acquire)) std::this_thread::yield();
        h = {};  // lets go of the record, and of the core once the runtime is gone
      });
    while (ready.load() != handles) std::this_thread::yield();
    rt->shutdown();  // what is left of ~runtime is the count, which the drops race
    go.store(true, std::memory_order_release);
    rt.reset();
    for (auto& t : droppers) t.join();
  }
  SUCCEED("every core freed once (the sanitizer builds)");
}

namespace {

task<int> after(weft::event& go, tracked) {
  co_await go.wait();
  co_return 7;
}

// Awaits a task of another runtime and says how the join ended: 1 with its value, 2 cancelled
// (the joiner, or the child by its own runtime's end), 4 runtime_stopped (the child's frame
// destroyed by its runtime's end), 3 anything else. 0 is left if the frame is destroyed where it
// waits.
task<void> far_joiner(weft::join_handle<int> child, std::atomic<int>& outcome, tracked) {
  try {
    outcome.store(co_await child == 7 ? 1 : 3);
  } catch (const weft::cancelled_error&) {
    outcome.store(2);
  } catch (const weft::runtime_stopped&) {
    outcome.store(4);
  } catch (...) {
    outcome.store(3);
  }
}

}  // namespace

TEST_CASE("tasks awaiting another runtime's tasks while both runtimes end with no grace", "[join][lifecycle][race]") {
  // Tasks of `near` wait in the join words of tasks of `far`. A thread either lets the children
  // finish (even rounds: far's worker takes each joiner out of the join word and wakes it on
  // near) or destroys `far` (odd rounds: its end cancels the children, which may finish and wake
  // their joiners, or destroys their frames where they wait), while the test thread destroys
  // `near`, with no grace, at a different moment each round. near's end may find a joiner that
  // far's worker has taken out and not yet woken: it ends the joiner, and near's core must
  // outlive that wake (ASan: a use after free of the core or of the joiner's record); so may
  // far's end, which takes the joiner out of the word of a child whose frame it destroys and
  // wakes it. Every frame is destroyed exactly once, no core is leaked (LeakSanitizer), and each
  // join ends with the child's value, a cancellation, runtime_stopped, or its frame destroyed.
  constexpr int joiners = 4;
  const int n = rounds() / 3;
  weft::test::watchdog wd("joins across runtimes racing both runtimes' end", std::chrono::seconds(1200));
  int leaked_rounds = 0, bad_outcomes = 0;
  long got_value = 0, got_cancelled = 0, got_stopped = 0;
  for (int round = 0; round < n; ++round) {
    lifetime_counter c;
    std::array<std::atomic<int>, joiners> outcome{};
    {
      weft::event go;
      auto far = std::make_unique<weft::runtime>(weft::runtime_options{.workers = 2, .shutdown_grace = 0ms});
      auto near = std::make_unique<weft::runtime>(weft::runtime_options{.workers = 2, .shutdown_grace = 0ms});
      for (int i = 0; i < joiners; ++i)
        near->spawn(far_joiner(far->spawn(after(go, tracked(c))), outcome[i], tracked(c))).detach();
      weft::test::wait_suspended(*near, joiners);  // each in its child's join word (or about to be)
      std::atomic<bool> start{false};
      const bool end_far = round % 2 != 0;
      std::thread finisher([&] {
        while (!start.load()) std::this_thread::yield();
        if (end_far)
          far.reset();
        else
          go.set();
      });
      start.store(true);
      for (int spin = 0; spin < round % 64; ++spin) std::this_thread::yield();  // a different moment each round
      near.reset();
      finisher.join();
      far.reset();  // even rounds: the children finished, or finish now
    }
    leaked_rounds += c.alive() != 0;
    for (auto& o : outcome) {
      const int v = o.load();
      bad_outcomes += v == 3;
      got_value += v == 1;
      got_cancelled += v == 2;
      got_stopped += v == 4;
    }
  }
  INFO(got_value << " joins got the value, " << got_cancelled << " were cancelled, " << got_stopped
                 << " got runtime_stopped, of " << long{joiners} * n);
  CHECK(leaked_rounds == 0);  // every frame destroyed once
  CHECK(bad_outcomes == 0);   // the value, a cancellation, runtime_stopped, or the frame destroyed
}

namespace {

// Calls a.block_on from a task of another runtime, with a task and with a handle, until its
// own runtime's shutdown cancels it (at the yield): every call is refused with usage_error (a
// spawn on `a` may meet a's shutdown first: runtime_stopped).
task<void> refused_block_on(weft::runtime& a, lifetime_counter& c, std::atomic<int>& refused, std::atomic<int>& wrong) {
  auto tally = [&](outcome ended) { (ended == outcome::refused ? refused : wrong).fetch_add(1); };
  for (;;) {
    tally(weft::test::outcome_of([&] { return a.block_on(work(tracked(c))); }));
    try {
      weft::join_handle<int> h = a.spawn(work(tracked(c)));
      tally(weft::test::outcome_of([&] { return a.block_on(std::move(h)); }));
    } catch (const weft::runtime_stopped&) {
    }
    co_await weft::yield();
  }
}

// Calls a.block_on from a blocking call (a thread that is no worker: allowed) until `a` stops.
void block_on_until_stopped(weft::runtime& a, lifetime_counter& c, std::atomic<int>& ran, std::atomic<int>& wrong) {
  for (;;) {
    const outcome ended = weft::test::outcome_of([&] {
      if (a.block_on(work(tracked(c))) != 1) wrong.fetch_add(1);
    });
    if (ended != outcome::returned) {
      if (ended != outcome::stopped) wrong.fetch_add(1);
      return;
    }
    ran.fetch_add(1);
  }
}

}  // namespace

TEST_CASE("block_on of a runtime from another runtime's task and from blocking calls while both shut down",
          "[runtime][misuse][lifecycle][race]") {
  // A task of `b` keeps calling a.block_on (refused: usage_error), and blocking calls of both
  // runtimes keep calling it too (allowed: they are not workers), while the two runtimes shut
  // down from two threads, half of the rounds with no grace. Nothing else is thrown, no block_on
  // hangs, and every frame is destroyed once.
  const int n = rounds() / 10;
  int leaked_rounds = 0;
  long wrong_calls = 0, refused_calls = 0, blocking_calls = 0;
  for (int round = 0; round < n; ++round) {
    lifetime_counter c;
    std::atomic<int> refused{0}, wrong{0}, ran{0};
    {
      const auto grace = round % 2 ? 0ms : 1000ms;
      auto a = std::make_unique<weft::runtime>(weft::runtime_options{.workers = 1, .shutdown_grace = grace});
      auto b = std::make_unique<weft::runtime>(weft::runtime_options{.workers = 1, .shutdown_grace = grace});
      b->spawn(refused_block_on(*a, c, refused, wrong)).detach();
      weft::spawn_blocking(*a, [&] { block_on_until_stopped(*a, c, ran, wrong); }).detach();
      weft::spawn_blocking(*b, [&] { block_on_until_stopped(*a, c, ran, wrong); }).detach();
      while (refused.load() < 2 || ran.load() < 2) std::this_thread::yield();
      weft::test::race([&] { a->shutdown(); }, [&] { b->shutdown(); });
    }
    leaked_rounds += c.alive() != 0;
    wrong_calls += wrong.load();
    refused_calls += refused.load();
    blocking_calls += ran.load();
  }
  INFO(refused_calls << " refused, " << blocking_calls << " block_on from blocking calls");
  CHECK(wrong_calls == 0);
  CHECK(leaked_rounds == 0);
}

TEST_CASE("a task waiting in a join word is cancelled from another thread while its runtime shuts down",
          "[join][cancel][lifecycle][race]") {
  // The join's cancel hook takes the joiner out of the child's join word and wakes it from the
  // canceller's thread, off the workers, while shutdown stops the workers and ends the tasks:
  // the wake queues the joiner or leaves it to the shutdown (workers stopping), and the frame is
  // destroyed once either way (ASan, LeakSanitizer: no core or record leaked or used after it is
  // freed). The child is of the same runtime in even rounds, of another (which ends last) in odd
  // ones; a quarter of the rounds have no grace, so frames are destroyed where they wait.
  const int n = rounds() / 10;
  int leaked_rounds = 0, bad_outcomes = 0;
  for (int round = 0; round < n; ++round) {
    lifetime_counter c;
    std::atomic<int> outcome{0};
    {
      weft::event never;
      const auto grace = round % 4 < 2 ? 1000ms : 0ms;
      auto far = std::make_unique<weft::runtime>(weft::runtime_options{.workers = 1});
      auto near = std::make_unique<weft::runtime>(weft::runtime_options{.workers = 2, .shutdown_grace = grace});
      const bool far_child = round % 2 != 0;
      weft::runtime& child_rt = far_child ? *far : *near;
      weft::join_handle<int> child = child_rt.spawn(after(never, tracked(c)));
      weft::test::wait_suspended(child_rt, 1);  // at its event: the joiner waits in its join word
      weft::join_handle<void> joiner = near->spawn(far_joiner(std::move(child), outcome, tracked(c)));
      weft::test::wait_suspended(*near, far_child ? 1 : 2);
      weft::test::race([&] { joiner.cancel(); }, [&] { near->shutdown(); });
      joiner = {};
      near.reset();
      far.reset();
    }
    leaked_rounds += c.alive() != 0;
    // 2: cancelled (by the canceller or the shutdown); 0: its frame destroyed where it waited.
    const int v = outcome.load();
    bad_outcomes += v != 0 && v != 2;
  }
  CHECK(leaked_rounds == 0);
  CHECK(bad_outcomes == 0);
}
