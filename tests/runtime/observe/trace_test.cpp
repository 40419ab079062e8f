#include <weft/trace.hpp>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <optional>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include <catch2/catch.hpp>

#include <weft/fork.hpp>
#include <weft/runtime.hpp>
#include <weft/sched/parker.hpp>
#include <weft/spawn.hpp>
#include <weft/sync/channel.hpp>
#include <weft/sync/event.hpp>
#include <weft/time.hpp>
#include <weft/yield.hpp>

#include "../../support/suspended.hpp"

using namespace std::chrono_literals;
using weft::task;

TEST_CASE("a trace shows senders blocked on a full channel, by await site", "[trace]") {
  weft::runtime rt({.workers = 2, .name = "traced"});
  weft::trace t(rt);
  rt.block_on([]() -> task<void> {
    weft::channel<int> results(1, {.name = "results"});
    auto consume = [&]() -> task<void> {
      for (int i = 0; i < 10; ++i) {
        co_await weft::sleep_for(1ms);
        co_await results.recv();
      }
    };
    auto consumer = weft::spawn(consume(), {.name = "consumer"});
    for (int i = 0; i < 10; ++i) co_await results.send(i);
    co_await consumer;
  }());
  t.stop();

  const weft::trace::site* send = nullptr;
  for (const auto& s : t.by_await_site())
    if (s.what == "send on channel results") send = &s;
  REQUIRE(send != nullptr);
  CHECK(send->count >= 1);
  CHECK(send->total > 0ns);
  CHECK(t.summary().find("blocked in send on channel results") != std::string::npos);

  std::ostringstream json;
  t.write_chrome_json(json);
  CHECK(json.str().find("\"traceEvents\"") != std::string::npos);
  CHECK(json.str().find("consumer") != std::string::npos);
  CHECK(json.str().find("\"ph\":\"X\"") != std::string::npos);

  // Stopped: nothing more is recorded.
  auto events = t.events().size();
  rt.block_on([]() -> task<void> { co_await weft::sleep_for(1ms); }());
  CHECK(t.events().size() == events);
}

TEST_CASE("only one trace records a runtime at a time", "[trace][misuse]") {
  weft::runtime rt({.workers = 1});
  weft::trace first(rt);
  CHECK_THROWS_AS(weft::trace(rt), weft::usage_error);
  first.stop();
  weft::trace second(rt);  // fine once the first stopped
  second.stop();
  CHECK(second.by_await_site().empty());
}

TEST_CASE("a trace shows a child of weft::fork that ran as a task of its own: spawned, run, completed",
          "[trace][fork]") {
  // The first child waits for `go`, and its parent with it, so the worker runs the second
  // child's slot as a task of its own (as in fork_test.cpp). Every task that completes in the
  // trace was spawned and ran in it.
  weft::runtime rt({.workers = 1});
  weft::trace t(rt);
  weft::event go;
  auto first = [&]() -> task<long> {
    co_await go.wait();
    co_return 1;
  };
  auto second = [&]() -> task<long> {
    go.set();
    co_return 2;
  };
  auto parent = [&]() -> task<long> {
    auto [a, b] = co_await weft::fork(first(), second());
    co_return a + b;
  };
  CHECK(rt.block_on(parent()) == 3);
  t.stop();

  std::set<std::uint64_t> spawned, ran, completed;
  for (const auto& e : t.events()) {
    using kind = weft::detail::trace_event::kind;
    if (e.k == kind::spawn) spawned.insert(e.task);
    if (e.k == kind::run) ran.insert(e.task);
    if (e.k == kind::complete) completed.insert(e.task);
  }
  CHECK(completed.size() == 2);  // the root and the second child
  for (std::uint64_t id : completed) {
    CHECK(spawned.count(id) == 1);
    CHECK(ran.count(id) == 1);
  }
}

TEST_CASE("a trace reports only waits it saw begin", "[trace]") {
  weft::runtime rt({.workers = 1});
  SECTION("a wait that began under an earlier trace, and ended after it") {
    // The task waits on `first` while the first trace records, and on `second` between the two
    // traces; the second trace sees it dispatched, but saw neither wait begin.
    weft::event first, second;
    std::atomic<int> step{0};
    auto waiter = [&]() -> task<void> {
      co_await first.wait();
      step.store(1);
      co_await second.wait();
    };
    std::optional<weft::trace> earlier(std::in_place, rt);
    auto h = rt.spawn(waiter());
    weft::test::wait_suspended(rt, 1);
    earlier->stop();
    first.set();
    while (step.load() != 1) std::this_thread::yield();
    weft::test::wait_suspended(rt, 1);
    const std::int64_t before = weft::sched::now_ns();
    earlier.reset();
    weft::trace t(rt);
    second.set();
    rt.block_on(std::move(h));
    t.stop();
    for (const auto& e : t.events()) CHECK(e.start_ns >= before);
    CHECK(t.by_await_site().empty());
  }
  SECTION("a wait that did not happen: a sleep already due, then a yield") {
    weft::trace t(rt);
    rt.block_on([]() -> task<void> {
      co_await weft::sleep_until(std::chrono::steady_clock::now() - std::chrono::seconds(1));
      co_await weft::yield();  // a dispatch of its own: no wait ends there
    }());
    t.stop();
    CHECK(t.by_await_site().empty());
  }
}

TEST_CASE("a trace that outlives its runtime is stopped by it and keeps its events", "[trace][lifecycle]") {
  std::optional<weft::trace> t;
  {
    weft::runtime rt({.workers = 2});
    t.emplace(rt);
    rt.block_on([]() -> task<void> { co_await weft::yield(); }());
  }  // the runtime goes first (a member declared after the trace, say)
  bool ran = false;
  for (const auto& e : t->events()) ran |= e.k == weft::detail::trace_event::kind::run;
  CHECK(ran);
  t->stop();  // stopped already: nothing to do
  std::ostringstream json;
  t->write_chrome_json(json);
  CHECK(json.str().find("\"traceEvents\"") != std::string::npos);
  t.reset();
}
