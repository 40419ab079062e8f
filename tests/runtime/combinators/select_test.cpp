#include <weft/select.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <variant>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/join_set.hpp>
#include <weft/runtime.hpp>
#include <weft/spawn.hpp>
#include <weft/sync/broadcast.hpp>
#include <weft/sync/channel.hpp>
#include <weft/sync/event.hpp>
#include <weft/sync/latch.hpp>
#include <weft/sync/mutex.hpp>
#include <weft/sync/semaphore.hpp>
#include <weft/sync/watch.hpp>
#include <weft/time.hpp>
#include <weft/timeout.hpp>
#include <weft/yield.hpp>

#include "../../support/lifetime.hpp"
#include "../../support/race.hpp"
#include "../../support/sleeper.hpp"
#include "../../support/suspended.hpp"
#include "../../support/watchdog.hpp"

using namespace std::chrono_literals;
using weft::task;
using weft::test::lifetime_counter;
using weft::test::sleeper;

namespace {

task<int> value(int v) { co_return v; }

}  // namespace

TEST_CASE("select yields the branch that is ready, with its value", "[select]") {
  weft::runtime rt({.workers = 2});
  weft::channel<int> a(1), b(1);
  CHECK(b.try_send(7));
  auto r = rt.block_on([&]() -> task<weft::select_result<std::optional<int>, std::optional<int>, std::monostate>> {
    co_return co_await weft::select(a.recv(), b.recv(), weft::sleep_for(1h));
  }());
  CHECK(r.index == 1);
  CHECK(std::get<1>(r.value) == std::optional<int>(7));
  CHECK(a.size() == 0);
  CHECK(b.size() == 0);
}

TEST_CASE("when several branches are ready, the lowest index wins and the others keep what they have", "[select]") {
  weft::runtime rt({.workers = 1});
  weft::channel<int> a(1), b(1);
  weft::event ev(true);
  weft::semaphore sem(1);
  CHECK(a.try_send(1));
  CHECK(b.try_send(2));
  auto [index, v] = rt.block_on(
      [&]() -> task<weft::select_result<std::monostate, std::optional<int>, std::monostate, std::optional<int>>> {
        co_return co_await weft::select(ev.wait(), a.recv(), sem.acquire(), b.recv());
      }());
  CHECK(index == 0);
  CHECK(a.try_recv() == std::optional<int>(1));  // the losers took nothing
  CHECK(sem.available() == 1);
  CHECK(b.try_recv() == std::optional<int>(2));
}

TEST_CASE("a select waiting on two channels takes the value of the first send; the other channel keeps its own",
          "[select][channel]") {
  weft::runtime rt({.workers = 2});
  for (std::size_t capacity : {0, 1}) {
    INFO("capacity " << capacity);
    weft::channel<int> a(capacity), b(capacity);
    auto selecting = rt.spawn([](weft::channel<int>& a, weft::channel<int>& b) -> task<int> {
      auto r = co_await weft::select(a.recv(), b.recv());
      co_return r.index == 1 ? std::get<1>(r.value).value_or(-1) : -2;
    }(a, b));
    weft::test::wait_suspended(rt, 1);
    CHECK(b.try_send(20));  // handed to the select (it claimed the select for branch 1 first)
    CHECK(rt.block_on(std::move(selecting)) == 20);
    CHECK(b.size() == 0);
    // The select left a's queue: a value sent now is not handed to a ghost receiver.
    CHECK(a.try_send(10) == (capacity == 1));
    if (capacity == 1) CHECK(a.try_recv() == std::optional<int>(10));
  }
}

TEST_CASE("a select send is taken by a waiting receiver; a send that lost sent nothing", "[select][channel]") {
  weft::runtime rt({.workers = 2});
  weft::channel<int> ch(0), full(1);
  CHECK(full.try_send(0));
  auto receiver =
      rt.spawn([](weft::channel<int>& ch) -> task<std::optional<int>> { co_return co_await ch.recv(); }(ch));
  weft::test::wait_suspended(rt, 1);
  auto r = rt.block_on([&]() -> task<std::size_t> {
    auto s = co_await weft::select(full.send(1), ch.send(5), weft::sleep_for(1h));
    co_return s.index;
  }());
  CHECK(r == 1);
  CHECK(rt.block_on(std::move(receiver)) == std::optional<int>(5));
  CHECK(full.size() == 1);
  CHECK(full.try_recv() == std::optional<int>(0));  // the send that lost left nothing behind
  CHECK_FALSE(full.try_recv().has_value());
}

TEST_CASE("a select receive takes the value of a sender waiting on a rendezvous channel", "[select][channel]") {
  weft::runtime rt({.workers = 2});
  weft::channel<int> ch(0), other(0);
  auto sender = rt.spawn([](weft::channel<int>& ch) -> task<void> { co_await ch.send(42); }(ch));
  weft::test::wait_suspended(rt, 1);
  auto r = rt.block_on([&]() -> task<std::optional<int>> {
    auto s = co_await weft::select(other.recv(), ch.recv());
    co_return std::get<1>(s.value);
  }());
  CHECK(r == std::optional<int>(42));
  rt.block_on(std::move(sender));
}

TEST_CASE("two selects meet on a rendezvous channel: one sends, the other receives", "[select][channel]") {
  weft::runtime rt({.workers = 2});
  weft::channel<int> ch(0), never_a(0), never_b(0);
  auto receiving = rt.spawn([](weft::channel<int>& ch, weft::channel<int>& n) -> task<int> {
    auto r = co_await weft::select(n.recv(), ch.recv());
    co_return r.index == 1 ? std::get<1>(r.value).value_or(-1) : -2;
  }(ch, never_a));
  weft::test::wait_suspended(rt, 1);
  auto sent = rt.block_on([](weft::channel<int>& ch, weft::channel<int>& n) -> task<std::size_t> {
    auto r = co_await weft::select(n.recv(), ch.send(3));
    co_return r.index;
  }(ch, never_b));
  CHECK(sent == 1);
  CHECK(rt.block_on(std::move(receiving)) == 3);
}

TEST_CASE("select on a closed channel: a receive yields nullopt, a send throws channel_closed", "[select][channel]") {
  weft::runtime rt({.workers = 1});
  weft::channel<int> closed(1), empty(1);
  closed.close();
  rt.block_on([&]() -> task<void> {
    auto r = co_await weft::select(empty.recv(), closed.recv());
    CHECK(r.index == 1);
    CHECK_FALSE(std::get<1>(r.value).has_value());
    bool threw = false;
    try {
      auto s = weft::select(empty.recv(), closed.send(1));
      (void)co_await std::move(s);
    } catch (const weft::channel_closed&) {
      threw = true;
    }
    CHECK(threw);
  }());
}

TEST_CASE("closing a channel wakes a select waiting on it", "[select][channel]") {
  weft::runtime rt({.workers = 2});
  weft::channel<int> ch(1);
  auto s = rt.spawn([](weft::channel<int>& ch) -> task<bool> {
    auto r = co_await weft::select(ch.recv(), weft::sleep_for(1h));
    co_return r.index == 0 && !std::get<0>(r.value).has_value();
  }(ch));
  weft::test::wait_suspended(rt, 1);
  ch.close();
  CHECK(rt.block_on(std::move(s)));
}

TEST_CASE("select yields the earliest sleep when nothing else is ready", "[select][time]") {
  weft::runtime rt({.workers = 2});
  weft::channel<int> ch(1);
  auto r = rt.block_on([&]() -> task<std::size_t> {
    auto s = co_await weft::select(ch.recv(), weft::sleep_for(1h), weft::sleep_for(1ms), weft::sleep_for(2h));
    co_return s.index;
  }());
  CHECK(r == 2);
  CHECK(ch.try_send(1));  // the select left the channel's queue
  CHECK(ch.try_recv() == std::optional<int>(1));
}

TEST_CASE("select with a deadline already passed returns at once", "[select][time]") {
  weft::runtime rt({.workers = 1});
  weft::channel<int> ch(0);
  auto r = rt.block_on([&]() -> task<std::size_t> {
    auto s = co_await weft::select(ch.recv(), weft::sleep_until(std::chrono::steady_clock::time_point::min()));
    co_return s.index;
  }());
  CHECK(r == 1);
}

TEST_CASE("select is a cancellation point: a cancelled select takes nothing and leaves every queue",
          "[select][cancel]") {
  weft::runtime rt({.workers = 2});
  weft::channel<int> a(0), b(1);
  weft::semaphore sem(0);
  auto s = rt.spawn([](weft::channel<int>& a, weft::channel<int>& b, weft::semaphore& sem) -> task<void> {
    (void)co_await weft::select(a.recv(), b.recv(), sem.acquire(), weft::sleep_for(1h));
  }(a, b, sem));
  weft::test::wait_suspended(rt, 1);
  s.cancel();
  CHECK_THROWS_AS(rt.block_on(std::move(s)), weft::cancelled_error);
  CHECK_FALSE(a.try_send(1));  // no receiver left behind
  CHECK(b.try_send(2));
  CHECK(b.size() == 1);
  sem.release();
  CHECK(sem.available() == 1);  // no waiter took the permit
  CHECK(rt.scheduler().pending_timers() == 0);
}

TEST_CASE("with_timeout around a select gives timeout_error", "[select][cancel]") {
  weft::runtime rt({.workers = 2});
  weft::channel<int> ch(1);
  bool timed_out = rt.block_on([&]() -> task<bool> {
    try {
      (void)co_await weft::with_timeout(1ms, weft::select(ch.recv(), weft::sleep_for(1h)));
    } catch (const weft::timeout_error&) {
      co_return true;
    }
    co_return false;
  }());
  CHECK(timed_out);
  CHECK(ch.try_send(1));
  CHECK(ch.size() == 1);
}

TEST_CASE("select over an event, a latch, a semaphore and a mutex: only the winner takes its permit or lock",
          "[select][sync]") {
  weft::runtime rt({.workers = 2});
  weft::event ev;
  weft::latch l(1);
  weft::semaphore sem(0);
  weft::async_mutex m;
  CHECK(m.try_lock());
  auto s =
      rt.spawn([](weft::event& ev, weft::latch& l, weft::semaphore& sem, weft::async_mutex& m) -> task<std::size_t> {
        auto r = co_await weft::select(ev.wait(), l.wait(), sem.acquire(), m.lock());
        co_return r.index;
      }(ev, l, sem, m));
  weft::test::wait_suspended(rt, 1);
  sem.release();  // the select's waiter is the semaphore's only one: it takes the permit
  CHECK(rt.block_on(std::move(s)) == 2);
  CHECK(sem.available() == 0);
  m.unlock();  // the select left the mutex's queue: nobody gets the lock
  CHECK_FALSE(m.is_locked());

  auto locker = rt.spawn([](weft::event& ev, weft::async_mutex& m) -> task<bool> {
    auto r = co_await weft::select(ev.wait(), m.lock());
    if (r.index != 1) co_return false;
    auto& guard = std::get<1>(r.value);
    co_return guard.owns_lock();
  }(ev, m));
  CHECK(rt.block_on(std::move(locker)));
  CHECK_FALSE(m.is_locked());  // the guard let go
}

TEST_CASE("select over a broadcast receive and a watch change", "[select][sync]") {
  weft::runtime rt({.workers = 2});
  weft::broadcast<int> bc(4);
  weft::watch<std::string> w("a");
  auto brx = bc.subscribe();
  auto wrx = w.subscribe();
  auto s = rt.spawn([](weft::broadcast<int>::receiver& brx, weft::watch<std::string>::receiver& wrx) -> task<int> {
    int got = 0;
    for (int i = 0; i < 2; ++i) {
      auto r = co_await weft::select(brx.recv(), wrx.changed());
      if (r.index == 0) got += std::get<0>(r.value).value_or(0);
      if (r.index == 1 && std::get<1>(r.value) && wrx.get() == "b") got += 100;
    }
    co_return got;
  }(brx, wrx));
  weft::test::wait_suspended(rt, 1);
  bc.send(5);
  w.send("b");
  CHECK(rt.block_on(std::move(s)) == 105);
}

TEST_CASE("select over a join_set's next: a child's outcome is taken only when that branch wins",
          "[select][join_set]") {
  weft::runtime rt({.workers = 2});
  auto [first, second, left] = rt.block_on([]() -> task<std::tuple<std::size_t, int, std::size_t>> {
    weft::event stop(true), go;
    weft::join_set<int> set;
    set.spawn(value(11));
    set.spawn([](weft::event& go) -> task<int> {
      co_await go.wait();
      co_return 12;
    }(go));
    co_await weft::yield();  // value(11) may finish meanwhile: stop still wins (lower index)
    auto a = co_await weft::select(stop.wait(), set.next());
    int got = 0;
    for (int i = 0; i < 2; ++i) {
      go.set();
      auto b = co_await weft::select(set.next(), weft::sleep_for(std::chrono::hours(1)));
      got += std::get<0>(b.value).value_or(100);
    }
    co_return std::tuple{a.index, got, set.size()};
  }());
  CHECK(first == 0);
  CHECK(second == 23);  // both children's outcomes were still in the set
  CHECK(left == 0);
}

TEST_CASE("a task branch runs in a child; when another branch wins the child is cancelled and awaited",
          "[select][fallback]") {
  weft::runtime rt({.workers = 2});
  lifetime_counter c;
  std::atomic<int> cancelled{0};
  weft::channel<int> ch(1);
  CHECK(ch.try_send(3));
  auto r = rt.block_on([&]() -> task<std::size_t> {
    auto s = co_await weft::select(sleeper(cancelled, c), ch.recv());
    co_return s.index;
  }());
  CHECK(r == 1);
  CHECK(cancelled.load() == 1);  // before select returned
  CHECK(c.alive() == 0);

  auto t = rt.block_on([&]() -> task<int> {
    weft::channel<int> empty(1);
    auto s = co_await weft::select(empty.recv(), value(8));
    co_return s.index == 1 ? std::get<1>(s.value) : -1;
  }());
  CHECK(t == 8);
}

TEST_CASE("a task branch's exception is select's", "[select][fallback]") {
  weft::runtime rt({.workers = 2});
  weft::channel<int> ch(1);
  CHECK_THROWS_WITH(rt.block_on([&]() -> task<void> {
    (void)co_await weft::select(ch.recv(), []() -> task<int> {
      throw std::runtime_error("branch failed");
      co_return 0;
    }());
  }()),
                    "branch failed");
}

TEST_CASE("a channel destroyed under a waiting select wakes it with usage_error", "[select][lifecycle]") {
  weft::runtime rt({.workers = 2});
  auto ch = std::make_unique<weft::channel<int>>(1);
  weft::channel<int> other(1);
  auto s = rt.spawn([](weft::channel<int>& ch, weft::channel<int>& other) -> task<void> {
    (void)co_await weft::select(other.recv(), ch.recv());
  }(*ch, other));
  weft::test::wait_suspended(rt, 1);
  ch.reset();
  CHECK_THROWS_AS(rt.block_on(std::move(s)), weft::usage_error);
  CHECK(other.try_send(1));  // the select left the other channel too
  CHECK(other.size() == 1);
}

// The property select is for: across racing senders and selecting receivers, at capacity 0 and
// 1, every value sent is received exactly once -- none is handed to a select that then drops it.
TEST_CASE("selects racing on channels at capacity 0 and 1 lose no value and duplicate none",
          "[select][channel][stress]") {
  weft::test::watchdog wd("selects racing on channels");
  for (std::size_t capacity : {0, 1}) {
    INFO("capacity " << capacity);
    weft::runtime rt({.workers = 2});
    constexpr int per_sender = 2000;
    weft::channel<int> a(capacity), b(capacity);
    std::atomic<long> received{0};
    std::atomic<int> count{0};
    rt.block_on([&]() -> task<void> {
      std::vector<weft::join_handle<void>> hs;
      for (int s = 0; s < 2; ++s)
        hs.push_back(weft::spawn([](weft::channel<int>& ch, int base) -> task<void> {
          for (int i = 1; i <= per_sender; ++i) co_await ch.send(base + i);
        }(s == 0 ? a : b, s * per_sender)));
      for (int r = 0; r < 3; ++r)
        hs.push_back(weft::spawn([](weft::channel<int>& a, weft::channel<int>& b, std::atomic<long>& sum,
                                    std::atomic<int>& n) -> task<void> {
          bool a_open = true, b_open = true;
          while (a_open || b_open) {
            // A short sleep branch too: the timer races the senders. (A closed channel stays
            // ready: after it closes, select on the other one alone.)
            std::optional<int> v;
            if (a_open && b_open) {
              auto sel = weft::select(a.recv(), b.recv(), weft::sleep_for(100us));
              auto res = co_await std::move(sel);
              if (res.index == 2) continue;
              v = res.index == 0 ? std::get<0>(res.value) : std::get<1>(res.value);
              if (!v) (res.index == 0 ? a_open : b_open) = false;
            } else {
              weft::channel<int>& open = a_open ? a : b;
              auto sel = weft::select(open.recv(), weft::sleep_for(100us));
              auto res = co_await std::move(sel);
              if (res.index == 1) continue;
              v = std::get<0>(res.value);
              if (!v) (a_open ? a_open : b_open) = false;
            }
            if (v) {
              sum.fetch_add(*v);
              n.fetch_add(1);
            }
          }
        }(a, b, received, count)));
      for (int s = 0; s < 2; ++s) co_await hs[s];
      a.close();
      b.close();
      for (std::size_t i = 2; i < hs.size(); ++i) co_await hs[i];
    }());
    const long n = 2 * per_sender;
    CHECK(count.load() == n);
    CHECK(received.load() == n * (n + 1) / 2);
  }
}

TEST_CASE("selects that send race selects that receive on a rendezvous channel", "[select][channel][stress]") {
  weft::test::watchdog wd("select senders against select receivers");
  weft::runtime rt({.workers = 2});
  constexpr int n = 3000;
  weft::channel<int> ch(0), idle(0);
  std::atomic<long> sum{0};
  rt.block_on([&]() -> task<void> {
    auto sender = weft::spawn([](weft::channel<int>& ch, weft::channel<int>& idle) -> task<void> {
      for (int i = 1; i <= n;) {
        auto sel = weft::select(idle.recv(), ch.send(i), weft::sleep_for(50us));
        auto r = co_await std::move(sel);
        if (r.index == 1) ++i;  // sent; otherwise the timer won and nothing was sent
      }
    }(ch, idle));
    auto receiver =
        weft::spawn([](weft::channel<int>& ch, weft::channel<int>& idle, std::atomic<long>& sum) -> task<void> {
          for (int got = 0; got < n;) {
            auto sel = weft::select(ch.recv(), idle.recv(), weft::sleep_for(70us));
            auto r = co_await std::move(sel);
            if (r.index == 0) {
              sum.fetch_add(std::get<0>(r.value).value_or(0));
              ++got;
            }
          }
        }(ch, idle, sum));
    co_await sender;
    co_await receiver;
  }());
  CHECK(sum.load() == long{n} * (n + 1) / 2);
}

TEST_CASE("a select cancelled just as a branch completes either takes what the branch won or leaves it there",
          "[select][sync][cancel]") {
  weft::test::watchdog wd("select racing a cancellation");
  for (int kind = 0; kind < 3; ++kind) {  // the branch that completes: a receive, a permit, the lock
    int won = 0, cancelled = 0, bad = 0;
    for (int round = 0; round < 300; ++round) {
      weft::runtime rt({.workers = 2});
      weft::channel<int> ch(1), never(1);
      weft::semaphore sem(0);
      weft::async_mutex m;
      REQUIRE(m.try_lock());         // held by the test thread until the race
      std::atomic<int> outcome{-2};  // the branch that won, or -1: cancelled
      std::atomic<int> value{0};
      auto selecting = [&]() -> task<void> {
        try {
          auto [index, v] = co_await weft::select(never.recv(), ch.recv(), sem.acquire(), m.lock());
          if (index == 1) value.store(std::get<1>(v).value_or(-1));
          if (index == 2) sem.release();  // the permit back (the guard of branch 3 unlocks)
          outcome.store(static_cast<int>(index));
        } catch (const weft::cancelled_error&) {
          outcome.store(-1);
        }
      };
      auto h = rt.spawn(selecting());
      weft::test::wait_suspended(rt, 1);
      bool sent = true;
      weft::test::race(
          [&] {
            if (kind == 0) sent = ch.try_send(7);
            if (kind == 1) sem.release();
            if (kind == 2) m.unlock();
          },
          [&] { h.cancel(); });
      rt.block_on([&]() -> task<void> { co_await h; }());
      const int o = outcome.load();
      won += o == kind + 1;
      cancelled += o == -1;
      // What the branch completed with went to the select or is still there; nothing else moved.
      const std::optional<int> left = ch.try_recv();
      bad += !sent;
      if (kind == 0) bad += o == 1 ? value.load() != 7 || left.has_value() : o != -1 || left != 7;
      if (kind != 0) bad += (o != -1 && o != kind + 1) || left.has_value();
      bad += sem.available() != (kind == 1 ? 1u : 0u) || sem.waiting() != 0 || m.is_locked() != (kind != 2);
      if (kind != 2) m.unlock();
    }
    INFO("kind " << kind);
    CHECK(bad == 0);
    CHECK(won + cancelled == 300);
  }
}

TEST_CASE("a channel destroyed as the selects waiting on it win another branch: none touches it once freed",
          "[select][lifecycle]") {
  weft::test::watchdog wd("select unlinking racing a channel's destruction");
  constexpr int selects = 64, rounds = 300;
  int bad = 0;
  for (int round = 0; round < rounds; ++round) {
    weft::runtime rt({.workers = 2});
    weft::channel<int> a(0);
    auto b = std::make_unique<weft::channel<int>>(round % 2);
    std::atomic<int> won_a{0}, destroyed{0};
    auto selecting = [&](weft::channel<int>& other) -> task<void> {
      try {
        auto [index, v] = co_await weft::select(a.recv(), other.recv());
        if (index == 0) won_a.fetch_add(1);
      } catch (const weft::usage_error&) {
        destroyed.fetch_add(1);
      }
    };
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < selects; ++i) hs.push_back(rt.spawn(selecting(*b)));
    weft::test::wait_suspended(rt, selects);
    // Closing `a` wins every select there, and each then takes its waiter out of `b`, while `b`'s
    // destructor takes out those it finds first and frees `b`.
    weft::test::race([&] { a.close(); }, [&] { b.reset(); });
    rt.block_on([&]() -> task<void> {
      for (auto& h : hs) co_await h;
    }());
    bad += won_a.load() + destroyed.load() != selects;
  }
  CHECK(bad == 0);
}
