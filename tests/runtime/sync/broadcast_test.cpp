#include <weft/sync/broadcast.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/runtime.hpp>
#include <weft/select.hpp>
#include <weft/spawn.hpp>
#include <weft/time.hpp>
#include <weft/yield.hpp>

#include "../../support/calls_back.hpp"
#include "../../support/suspended.hpp"
#include "../../support/watchdog.hpp"

using namespace std::chrono_literals;
using weft::task;
using receiver = weft::broadcast<int>::receiver;

namespace {

/// Receives until closed; returns the values (a lag shows as -missed).
task<std::vector<int>> drain(receiver rx) {
  std::vector<int> got;
  for (;;) {
    try {
      auto v = co_await rx.recv();
      if (!v) break;
      got.push_back(*v);
    } catch (const weft::lagged_error& e) {
      got.push_back(-static_cast<int>(e.missed()));
    }
  }
  co_return got;
}

}  // namespace

TEST_CASE("every receiver of a broadcast gets every value, in order", "[sync][broadcast]") {
  weft::runtime rt({.workers = 2});
  weft::broadcast<int> bc(8);
  auto a = rt.spawn(drain(bc.subscribe()));
  auto b = rt.spawn(drain(bc.subscribe()));
  CHECK(bc.receiver_count() == 2);
  weft::test::wait_suspended(rt, 2);
  for (int i = 1; i <= 5; ++i) CHECK(bc.send(i) == 2);  // from a plain thread
  bc.close();
  const std::vector<int> all{1, 2, 3, 4, 5};
  CHECK(rt.block_on(std::move(a)) == all);
  CHECK(rt.block_on(std::move(b)) == all);
  CHECK(bc.receiver_count() == 0);
}

TEST_CASE("a receiver gets the values sent after it subscribed", "[sync][broadcast]") {
  weft::runtime rt({.workers = 1});
  weft::broadcast<int> bc(8);
  CHECK(bc.send(1) == 0);  // nobody listens: kept in the ring all the same
  auto rx = bc.subscribe();
  bc.send(2);
  bc.close();
  CHECK(rt.block_on(drain(std::move(rx))) == std::vector<int>{2});
}

TEST_CASE("a receiver that fell behind gets lagged_error with the count missed, then the oldest value kept",
          "[sync][broadcast]") {
  weft::runtime rt({.workers = 1});
  weft::broadcast<int> bc(2);
  auto rx = bc.subscribe();
  for (int i = 1; i <= 5; ++i) bc.send(i);  // 1, 2, 3 overwritten
  bc.close();
  CHECK(rt.block_on(drain(std::move(rx))) == std::vector<int>{-3, 4, 5});
}

TEST_CASE("close: receivers drain what the ring holds for them, then get nullopt; send throws", "[sync][broadcast]") {
  weft::runtime rt({.workers = 1});
  weft::broadcast<std::string> bc(4);
  auto rx = bc.subscribe();
  bc.send("last words");
  bc.close();
  bc.close();  // idempotent
  CHECK(bc.closed());
  CHECK_THROWS_AS(bc.send("more"), weft::channel_closed);
  CHECK_THROWS_AS(bc.subscribe(), weft::channel_closed);
  rt.block_on([](weft::broadcast<std::string>::receiver& rx) -> task<void> {
    auto a = co_await rx.recv();
    auto b = co_await rx.recv();
    CHECK(a == std::optional<std::string>("last words"));
    CHECK_FALSE(b.has_value());
  }(rx));
}

TEST_CASE("a receiver outlives its broadcast: it drains, then gets nullopt", "[sync][broadcast][lifecycle]") {
  weft::runtime rt({.workers = 2});
  auto bc = std::make_unique<weft::broadcast<int>>(4);
  auto waiting = rt.spawn(drain(bc->subscribe()));
  auto later = bc->subscribe();
  weft::test::wait_suspended(rt, 1);
  bc->send(7);
  bc.reset();  // closes it: the waiting receiver wakes
  CHECK(rt.block_on(std::move(waiting)) == std::vector<int>{7});
  CHECK(rt.block_on(drain(std::move(later))) == std::vector<int>{7});
}

TEST_CASE("a receiver destroyed while a task waits in its recv wakes that task with usage_error",
          "[sync][broadcast][lifecycle]") {
  weft::runtime rt({.workers = 2});
  weft::broadcast<int> bc(4);
  auto rx = std::make_unique<receiver>(bc.subscribe());
  auto waiting = rt.spawn([](receiver& rx) -> task<void> { (void)co_await rx.recv(); }(*rx));
  weft::test::wait_suspended(rt, 1);
  rx.reset();
  CHECK_THROWS_AS(rt.block_on(std::move(waiting)), weft::usage_error);
  CHECK(bc.receiver_count() == 0);
  CHECK(bc.send(1) == 0);
}

TEST_CASE("a receiver moved while a task waits on it keeps working", "[sync][broadcast]") {
  weft::runtime rt({.workers = 2});
  weft::broadcast<int> bc(4);
  receiver rx = bc.subscribe();
  auto waiting = rt.spawn([](receiver& rx) -> task<int> {
    auto v = co_await rx.recv();
    co_return v.value_or(-1);
  }(rx));
  weft::test::wait_suspended(rt, 1);
  receiver moved = std::move(rx);  // the task's await still refers to the subscription
  bc.send(9);
  CHECK(rt.block_on(std::move(waiting)) == 9);
  CHECK_THROWS_AS(rx.recv(), weft::usage_error);
  CHECK(bc.receiver_count() == 1);
}

TEST_CASE("broadcast recv is a cancellation point", "[sync][broadcast][cancel]") {
  weft::runtime rt({.workers = 2});
  weft::broadcast<int> bc(4);
  auto rx = bc.subscribe();
  auto waiting = rt.spawn([](receiver& rx) -> task<void> { (void)co_await rx.recv(); }(rx));
  weft::test::wait_suspended(rt, 1);
  waiting.cancel();
  CHECK_THROWS_AS(rt.block_on(std::move(waiting)), weft::cancelled_error);
  bc.send(3);  // the cancelled wait left the queue: the value is kept for the receiver
  bc.close();
  CHECK(rt.block_on(drain(std::move(rx))) == std::vector<int>{3});
}

TEST_CASE("a broadcast of capacity 0 is refused", "[sync][broadcast]") {
  CHECK_THROWS_AS(weft::broadcast<int>(0), std::invalid_argument);
}

TEST_CASE("at capacity 1, each of four receivers accounts for every value: received or missed",
          "[sync][broadcast][stress]") {
  weft::test::watchdog wd("broadcast at capacity 1");
  weft::runtime rt({.workers = 2});
  constexpr int n = 5000;
  weft::broadcast<int> bc(1);
  std::vector<weft::join_handle<std::vector<int>>> rs;
  for (int i = 0; i < 4; ++i) rs.push_back(rt.spawn(drain(bc.subscribe())));
  rt.block_on([](weft::broadcast<int>& bc) -> task<void> {
    for (int i = 1; i <= n; ++i) {
      bc.send(i);
      if (i % 16 == 0) co_await weft::yield();
    }
    bc.close();
  }(bc));
  int bad = 0;
  for (auto& r : rs) {
    int accounted = 0, last = 0;
    for (int v : rt.block_on(std::move(r))) {
      if (v < 0) {
        accounted -= v;
        last -= v;
      } else {
        accounted += 1;
        bad += v != last + 1;  // in order, nothing skipped without a lag saying so
        last = v;
      }
    }
    bad += accounted != n;
  }
  CHECK(bad == 0);
}

TEST_CASE("a value overwritten by send() is destroyed after the lock: its destructor may read the broadcast and send",
          "[sync][broadcast]") {
  weft::test::watchdog wd("a broadcast value whose destructor uses the broadcast", 30s);
  using weft::test::calls_back;
  weft::broadcast<calls_back> bc(1);
  auto rx = bc.subscribe();
  std::size_t receivers_seen = 0;
  bc.send(calls_back(1, [&] {
    receivers_seen = bc.receiver_count();
    bc.send(calls_back(3));
  }));
  bc.send(calls_back(2));  // overwrites value 1 (capacity 1), whose destructor sends value 3
  CHECK(receivers_seen == 1);
  // The receiver missed values 1 and 2; the ring holds value 3.
  weft::runtime rt({.workers = 1});
  auto missed = rt.block_on([](weft::broadcast<calls_back>::receiver& r) -> task<std::uint64_t> {
    try {
      (void)co_await r.recv();
    } catch (const weft::lagged_error& e) {
      co_return e.missed();
    }
    co_return 0;
  }(rx));
  CHECK(missed == 2);
  auto last = rt.block_on([](weft::broadcast<calls_back>::receiver& r) -> task<int> {
    auto v = co_await r.recv();
    co_return v ? v->n() : -1;
  }(rx));
  CHECK(last == 3);
}

namespace {

// A value whose copies numbered `first_bad` to `last_bad` (counted from 1) throw.
struct copy_fails {
  std::atomic<int>* copies;
  int first_bad, last_bad;
  copy_fails(std::atomic<int>& c, int first, int last) : copies(&c), first_bad(first), last_bad(last) {}
  copy_fails(const copy_fails& o) : copies(o.copies), first_bad(o.first_bad), last_bad(o.last_bad) {
    const int n = copies->fetch_add(1) + 1;
    if (n >= first_bad && n <= last_bad) throw std::runtime_error("copy " + std::to_string(n));
  }
  copy_fails(copy_fails&&) noexcept = default;
};

// 1: a value; 2: the copy's error; 0: anything else.
task<int> receive_once(weft::broadcast<copy_fails>::receiver& rx, bool in_select) {
  try {
    if (in_select) {
      auto r = co_await weft::select(rx.recv(), weft::sleep_for(1h));
      co_return r.index == 0 && std::get<0>(r.value).has_value() ? 1 : 0;
    }
    co_return (co_await rx.recv()).has_value() ? 1 : 0;
  } catch (const std::runtime_error&) {
    co_return 2;
  }
}

}  // namespace

TEST_CASE("a copy that throws for one waiting receiver is that receiver's error; the others get the value",
          "[sync][broadcast]") {
  weft::test::watchdog wd("a broadcast copy that throws", 30s);
  weft::runtime rt({.workers = 2});
  std::atomic<int> copies{0};
  weft::broadcast<copy_fails> bc(4);
  auto ok = bc.subscribe(), failing = bc.subscribe(), selecting = bc.subscribe();
  // Each waits in turn, so send() copies for them in that order: the 2nd and 3rd copies throw.
  auto got_ok = rt.spawn(receive_once(ok, false));
  weft::test::wait_suspended(rt, 1);
  auto got_failing = rt.spawn(receive_once(failing, false));
  weft::test::wait_suspended(rt, 2);
  auto got_selecting = rt.spawn(receive_once(selecting, true));
  weft::test::wait_suspended(rt, 3);
  std::size_t receivers = 0;
  CHECK_NOTHROW(receivers = bc.send(copy_fails(copies, 2, 3)));
  CHECK(receivers == 3);
  CHECK(rt.block_on(std::move(got_ok)) == 1);
  CHECK(rt.block_on(std::move(got_failing)) == 2);
  CHECK(rt.block_on(std::move(got_selecting)) == 2);
  // The value stays theirs to receive: the next recv() copies it again.
  CHECK(rt.block_on(receive_once(failing, false)) == 1);
  CHECK(rt.block_on(receive_once(selecting, true)) == 1);
}
