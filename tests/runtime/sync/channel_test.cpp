#include <weft/sync/channel.hpp>

#include <atomic>
#include <chrono>
#include <memory>
#include <numeric>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/cancel.hpp>
#include <weft/metrics/registry.hpp>
#include <weft/runtime.hpp>
#include <weft/spawn.hpp>
#include <weft/time.hpp>
#include <weft/timeout.hpp>
#include <weft/yield.hpp>

#include "../../support/lifetime.hpp"
#include "../../support/race.hpp"
#include "../../support/suspended.hpp"
#include "../../support/watchdog.hpp"

using namespace std::chrono_literals;
using weft::task;

TEST_CASE("a channel delivers in order and refuses try_send when full", "[sync][channel]") {
  weft::runtime rt({.workers = 1});
  weft::channel<int> ch(2);
  CHECK(ch.try_send(1));
  CHECK(ch.try_send(2));
  CHECK_FALSE(ch.try_send(3));
  CHECK(ch.size() == 2);
  CHECK(ch.try_recv() == 1);
  rt.block_on([&]() -> task<void> {
    co_await ch.send(3);
    auto a = co_await ch.recv();
    auto b = co_await ch.recv();
    CHECK(a == 2);
    CHECK(b == 3);
  }());
  CHECK(ch.try_recv() == std::nullopt);
}

TEST_CASE("a closed channel drains, then yields nullopt; sending to it throws", "[sync][channel]") {
  weft::runtime rt({.workers = 1});
  weft::channel<std::string> ch(4);
  ch.try_send("a");
  ch.close();
  CHECK_THROWS_AS(ch.try_send("b"), weft::channel_closed);
  rt.block_on([&]() -> task<void> {
    auto a = co_await ch.recv();
    auto end = co_await ch.recv();
    CHECK(a == std::optional<std::string>("a"));
    CHECK(end == std::nullopt);
    bool threw = false;
    try {
      co_await ch.send("c");
    } catch (const weft::channel_closed&) {
      threw = true;
    }
    CHECK(threw);
  }());
}

TEST_CASE("close wakes blocked receivers with nullopt and blocked senders with channel_closed", "[sync][channel]") {
  weft::runtime rt({.workers = 2});
  weft::channel<int> empty(1), full(1);
  full.try_send(0);
  rt.block_on([&]() -> task<void> {
    auto recv_body = [&]() -> task<bool> {
      auto v = co_await empty.recv();
      co_return !v.has_value();
    };
    auto send_body = [&]() -> task<bool> {
      try {
        co_await full.send(1);
      } catch (const weft::channel_closed&) {
        co_return true;
      }
      co_return false;
    };
    auto r = weft::spawn(recv_body());
    auto s = weft::spawn(send_body());
    // Wait until both are really blocked (the dump says what each task waits for).
    auto blocked = [&] {
      int n = 0;
      for (auto& t : rt.dump_tasks())
        n += t.state == weft::task_state::suspended && (t.awaiting == "channel recv" || t.awaiting == "channel send");
      return n;
    };
    while (blocked() < 2) co_await weft::yield();
    empty.close();
    full.close();
    bool receiver_saw_close = co_await r;
    bool sender_saw_close = co_await s;
    CHECK(receiver_saw_close);
    CHECK(sender_saw_close);
  }());
}

TEST_CASE("a rendezvous channel hands each value from sender to receiver", "[sync][channel]") {
  weft::runtime rt({.workers = 2});
  weft::channel<int> ch(0);
  long sum = rt.block_on([&]() -> task<long> {
    auto produce = [&]() -> task<void> {
      for (int i = 1; i <= 1000; ++i) co_await ch.send(i);
      ch.close();
    };
    auto producer = weft::spawn(produce());
    long total = 0;
    while (auto v = co_await ch.recv()) total += *v;
    co_await producer;
    co_return total;
  }());
  CHECK(sum == 500500);
}

TEST_CASE("many producers and consumers on small channels deliver every value exactly once",
          "[sync][channel][stress]") {
  for (std::size_t capacity : {0, 1, 4, 64}) {
    weft::runtime rt({.workers = 2});
    constexpr int producers = 4, consumers = 4, per_producer = 5000;
    weft::channel<int> ch(capacity);
    std::vector<std::atomic<int>> seen(producers * per_producer);
    rt.block_on([&]() -> task<void> {
      auto produce = [&](int p) -> task<void> {
        for (int i = 0; i < per_producer; ++i) co_await ch.send(p * per_producer + i);
      };
      auto consume = [&]() -> task<void> {
        while (auto v = co_await ch.recv()) seen[static_cast<std::size_t>(*v)].fetch_add(1);
      };
      std::vector<weft::join_handle<void>> ps, cs;
      for (int p = 0; p < producers; ++p) ps.push_back(weft::spawn(produce(p)));
      for (int c = 0; c < consumers; ++c) cs.push_back(weft::spawn(consume()));
      for (auto& h : ps) co_await h;
      ch.close();
      for (auto& h : cs) co_await h;
    }());
    int wrong = 0;
    for (auto& s : seen) wrong += s.load() != 1;
    INFO("capacity " << capacity);
    CHECK(wrong == 0);
  }
}

TEST_CASE("a blocked send is cancelled without delivering its value", "[sync][channel][cancel]") {
  weft::runtime rt({.workers = 2});
  weft::channel<int> ch(0);
  CHECK_THROWS_AS(rt.block_on(weft::with_timeout(2ms, [&]() -> task<void> { co_await ch.send(1); }())),
                  weft::timeout_error);
  CHECK(ch.try_recv() == std::nullopt);
}

TEST_CASE("a named channel reports how long senders were blocked", "[sync][channel][metrics]") {
  weft::runtime rt({.workers = 2, .name = "chan"});
  rt.block_on([&]() -> task<void> {
    weft::channel<int> results(1, {.name = "results"});
    auto consume = [&]() -> task<void> {
      for (int i = 0; i < 20; ++i) {
        co_await weft::sleep_for(1ms);  // a slow consumer
        co_await results.recv();
      }
    };
    auto consumer = weft::spawn(consume());
    for (int i = 0; i < 20; ++i) co_await results.send(i);
    co_await consumer;
    auto snap = rt.metrics().snapshot();
    auto blocked = snap.histogram("weft_channel_send_blocked_seconds", {{"channel", "results"}});
    CHECK(blocked.count >= 1);
    CHECK(blocked.sum > 0);
    CHECK(snap.gauge_value("weft_channel_depth", {{"channel", "results"}}) >= 0);
  }());
  // The channel is gone: its depth series too.
  CHECK(rt.metrics().snapshot().find("weft_channel_depth", {{"channel", "results"}}) == nullptr);
}

TEST_CASE("two live channels of one name are an error naming it; the name is free once one is gone",
          "[sync][channel][metrics]") {
  weft::metrics::registry reg;
  std::string error;
  {
    weft::channel<int> first(1, {.name = "results", .registry = &reg});
    try {
      weft::channel<int> second(1, {.name = "results", .registry = &reg});
    } catch (const std::invalid_argument& e) {
      error = e.what();
    }
  }
  CHECK(error.find("\"results\"") != std::string::npos);
  weft::channel<int> again(1, {.name = "results", .registry = &reg});
  CHECK(again.name() == "results");
}

TEST_CASE("a value sent to a receiver cancelled at that moment is received or stays in the channel",
          "[sync][channel][cancel]") {
  weft::test::watchdog wd("channel hand-off racing a cancellation");
  for (std::size_t capacity : {0, 1}) {
    int received = 0, cancelled = 0, bad = 0;
    for (int round = 0; round < 300; ++round) {
      weft::runtime rt({.workers = 2});
      weft::channel<int> ch(capacity);
      std::atomic<int> outcome{0};  // the value received, or -1: cancelled
      auto receiver = [&]() -> task<void> {
        try {
          auto v = co_await ch.recv();
          outcome.store(v.value_or(-2));
        } catch (const weft::cancelled_error&) {
          outcome.store(-1);
        }
      };
      auto h = rt.spawn(receiver());
      weft::test::wait_suspended(rt, 1);
      bool sent = false;
      weft::test::race([&] { sent = ch.try_send(7); }, [&] { h.cancel(); });
      rt.block_on([&]() -> task<void> { co_await h; }());
      const std::optional<int> left = ch.try_recv();
      received += outcome.load() == 7;
      cancelled += outcome.load() == -1;
      // Sent: the receiver has it, or (cancelled first) the channel keeps it; a rendezvous
      // refuses a send nobody waits for.
      if (sent)
        bad += !(outcome.load() == 7 ? !left : outcome.load() == -1 && left == 7);
      else
        bad += capacity != 0 || outcome.load() != -1 || left.has_value();
    }
    INFO("capacity " << capacity);
    CHECK(bad == 0);
    CHECK(received + cancelled == 300);
  }
}

TEST_CASE("a rendezvous send cancelled while a plain thread takes its value either delivered it or did not",
          "[sync][channel][cancel]") {
  weft::test::watchdog wd("rendezvous take racing a cancellation");
  int bad = 0;
  for (int round = 0; round < 300; ++round) {
    weft::runtime rt({.workers = 2});
    weft::channel<int> ch(0);
    std::atomic<int> outcome{0};  // 1: sent, 2: cancelled
    auto sender = [&]() -> task<void> {
      try {
        co_await ch.send(7);
        outcome.store(1);
      } catch (const weft::cancelled_error&) {
        outcome.store(2);
      }
    };
    auto h = rt.spawn(sender());
    weft::test::wait_suspended(rt, 1);
    std::optional<int> got;
    weft::test::race([&] { got = ch.try_recv(); }, [&] { h.cancel(); });
    rt.block_on([&]() -> task<void> { co_await h; }());
    bad += (got == 7) != (outcome.load() == 1) || outcome.load() == 0 || (got && got != 7);
  }
  CHECK(bad == 0);
}

TEST_CASE("plain threads sending and receiving and closing race shutdown: every value is destroyed once",
          "[sync][channel][lifecycle][race]") {
  weft::test::watchdog wd("channel calls racing shutdown", std::chrono::seconds(600));
  for (int round = 0; round < 200; ++round) {
    weft::test::lifetime_counter values, frames;
    {
      weft::channel<weft::test::tracked> in(1), out(0);  // outlive the runtime
      {
        weft::runtime rt({.workers = 2, .shutdown_grace = round % 2 ? 1000ms : 0ms});
        auto receive = [&](weft::test::tracked) -> task<void> {
          try {
            while (co_await in.recv()) {
            }
          } catch (const weft::cancelled_error&) {  // (shutdown's cancellation)
          }
        };
        auto send = [&](weft::test::tracked) -> task<void> {
          try {
            for (;;) co_await out.send(weft::test::tracked(values));
          } catch (const weft::cancelled_error&) {  // (shutdown's cancellation)
          } catch (const weft::channel_closed&) {
          }
        };
        for (int i = 0; i < 2; ++i) {
          rt.spawn(receive(weft::test::tracked(frames))).detach();
          rt.spawn(send(weft::test::tracked(frames))).detach();
        }
        weft::test::wait_suspended(rt, 4);
        std::atomic<bool> go{false};
        std::thread producer([&] {
          while (!go.load()) {
          }
          for (int i = 0; i < 200; ++i) try {
              (void)in.try_send(weft::test::tracked(values));
            } catch (const weft::channel_closed&) {
              break;
            }
        });
        std::thread consumer([&] {
          while (!go.load()) {
          }
          for (int i = 0; i < 200; ++i) (void)out.try_recv();
          if (round % 3 == 0) {
            in.close();
            out.close();
          }
        });
        go.store(true);
        rt.shutdown();
        producer.join();
        consumer.join();
      }
      CHECK(frames.alive() == 0);
      // After the runtime: the channels still work, and hold no waiter.
      while (in.try_recv()) {
      }
      CHECK_FALSE(out.try_recv().has_value());
      if (!in.closed()) {
        CHECK(in.try_send(weft::test::tracked(values)));
        CHECK(in.try_recv().has_value());
      }
    }
    INFO("round " << round);
    REQUIRE(values.alive() == 0);
  }
}

TEST_CASE("a channel capacity no memory could hold (a negative count converted) is refused", "[sync][channel]") {
  // -1 and -2 as a std::size_t: the count a caller's arithmetic went below zero with.
  CHECK_THROWS_AS(weft::channel<int>(static_cast<std::size_t>(-1)), std::invalid_argument);
  CHECK_THROWS_AS(weft::channel<int>(static_cast<std::size_t>(-2)), std::invalid_argument);
  CHECK_THROWS_AS(weft::channel<int>(std::size_t{1} << 63), std::invalid_argument);
  CHECK_THROWS_AS(weft::channel<int>(weft::channel<int>::max_capacity + 1), std::invalid_argument);
  weft::channel<int> rendezvous(0);  // 0 is a rendezvous, not an error
  CHECK(rendezvous.capacity() == 0);
}

TEST_CASE("a channel destroyed as another thread cancels its waiters: each wakes once, nothing freed is touched",
          "[sync][channel][cancel][lifecycle]") {
  weft::test::watchdog wd("channel destruction racing a cancellation");
  constexpr int waiters = 64, rounds = 500;
  int bad = 0;
  long destroyed = 0, cancelled = 0;
  for (int round = 0; round < rounds; ++round) {
    weft::runtime rt({.workers = 2});
    auto ch = std::make_unique<weft::channel<int>>(round % 2);
    weft::cancel_source stop;
    std::atomic<int> woke_destroyed{0}, woke_cancelled{0};
    auto receiver = [&](weft::channel<int>& c) -> task<void> {
      try {
        (void)co_await c.recv();
      } catch (const weft::usage_error&) {
        woke_destroyed.fetch_add(1);
      } catch (const weft::cancelled_error&) {
        woke_cancelled.fetch_add(1);
      }
    };
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < waiters; ++i) hs.push_back(rt.spawn(receiver(*ch), {.token = stop.token()}));
    weft::test::wait_suspended(rt, waiters);
    // The cancellation's hooks lock the channel to take their waiters out, while its destructor
    // takes them out itself and then frees the channel.
    weft::test::race([&] { ch.reset(); }, [&] { stop.cancel(); });
    rt.block_on([&]() -> task<void> {
      for (auto& h : hs) co_await h;
    }());
    destroyed += woke_destroyed.load();
    cancelled += woke_cancelled.load();
    bad += woke_destroyed.load() + woke_cancelled.load() != waiters;
  }
  CHECK(bad == 0);
  CHECK(destroyed + cancelled == long{waiters} * rounds);
}

TEST_CASE("a named channel destroyed right after handing values to blocked receivers that have not resumed yet",
          "[sync][channel][metrics][lifecycle]") {
  weft::test::watchdog wd("a named channel's hand-offs racing its destruction");
  constexpr int receivers = 16, rounds = 200;
  int bad = 0;
  for (int round = 0; round < rounds; ++round) {
    weft::metrics::registry reg;
    weft::runtime rt({.workers = 2, .registry = &reg});
    auto ch =
        std::make_unique<weft::channel<int>>(round % 2, weft::channel_options{.name = "handoff", .registry = &reg});
    std::atomic<int> got{0};
    auto receiver = [&](weft::channel<int>& c) -> task<void> {
      if (co_await c.recv()) got.fetch_add(1);
    };
    std::vector<weft::join_handle<void>> hs;
    for (int i = 0; i < receivers; ++i) hs.push_back(rt.spawn(receiver(*ch)));
    weft::test::wait_suspended(rt, receivers);
    // Each value goes straight to a blocked receiver, which records how long it was blocked as
    // it resumes; the channel (and its metrics) is destroyed meanwhile.
    for (int i = 0; i < receivers; ++i) bad += !ch->try_send(i);
    ch.reset();
    rt.block_on([&]() -> task<void> {
      for (auto& h : hs) co_await h;
    }());
    bad += got.load() != receivers;
  }
  CHECK(bad == 0);
}
