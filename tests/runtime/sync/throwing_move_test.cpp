// Values whose move throws, through every path of weft::channel and weft::broadcast that moves
// a value under the primitive's lock: the operation that moved throws, and the primitive is
// left as it was, with no value lost (a waiting sender keeps its value and waits on; a waiting
// receiver waits on).
#include <optional>
#include <stdexcept>
#include <type_traits>

#include <catch2/catch.hpp>

#include <weft/runtime.hpp>
#include <weft/spawn.hpp>
#include <weft/sync/broadcast.hpp>
#include <weft/sync/channel.hpp>
#include <weft/sync/detail/channel_ring.hpp>
#include <weft/sync/watch.hpp>

#include "../../support/fragile.hpp"
#include "../../support/suspended.hpp"

using weft::task;
using weft::test::fragile;

namespace {

// Disarms fragile however the test ends.
struct disarm_at_exit {
  ~disarm_at_exit() { fragile::disarm(); }
};

task<int> recv_one(weft::channel<fragile>& ch) {
  auto v = co_await ch.recv();
  co_return v ? v->v : -1;
}

task<void> send_one(weft::channel<fragile>& ch, int v) { co_await ch.send(fragile(v)); }

int value_of(const std::optional<fragile>& v) { return v ? v->v : -1; }

}  // namespace

TEST_CASE("a value whose move may throw takes the locked path; a throw leaves the channel as it was",
          "[sync][channel][throwing_move]") {
  disarm_at_exit guard;
  STATIC_REQUIRE_FALSE(weft::detail::channel_ring<fragile>::lock_free);
  STATIC_REQUIRE(weft::detail::channel_ring<std::int64_t>::lock_free);
  weft::channel<fragile> ch(2);
  CHECK(ch.try_send(fragile(1)));
  fragile::arm(0);  // the move into the ring
  CHECK_THROWS_AS(ch.try_send(fragile(2)), std::runtime_error);
  CHECK(ch.size() == 1);
  CHECK(ch.try_send(fragile(3)));
  fragile::arm(0);  // the move out of the ring
  CHECK_THROWS_AS(ch.try_recv(), std::runtime_error);
  CHECK(ch.size() == 2);
  CHECK(value_of(ch.try_recv()) == 1);
  CHECK(value_of(ch.try_recv()) == 3);
  CHECK_FALSE(ch.try_recv());
}

TEST_CASE("a send whose move to a waiting receiver throws throws; the receiver waits on for the next value",
          "[sync][channel][throwing_move]") {
  disarm_at_exit guard;
  for (std::size_t capacity : {0, 1}) {
    weft::runtime rt({.workers = 2});
    weft::channel<fragile> ch(capacity);
    auto got = rt.spawn(recv_one(ch));
    weft::test::wait_suspended(rt, 1);
    fragile::arm(0);  // the move into the receiver's slot
    CHECK_THROWS_AS(ch.try_send(fragile(5)), std::runtime_error);
    CHECK(ch.size() == 0);
    CHECK(ch.try_send(fragile(6)));
    CHECK(rt.block_on(std::move(got)) == 6);
  }
}

TEST_CASE("a receive whose move out of a waiting sender throws throws; the sender waits on with its value",
          "[sync][channel][throwing_move]") {
  // A rendezvous: the value goes straight from the sender to the receiver.
  disarm_at_exit guard;
  weft::runtime rt({.workers = 2});
  weft::channel<fragile> ch(0);
  auto sent = rt.spawn(send_one(ch, 7));
  weft::test::wait_suspended(rt, 1);
  fragile::arm(0);
  CHECK_THROWS_AS(ch.try_recv(), std::runtime_error);
  CHECK(value_of(ch.try_recv()) == 7);
  CHECK_NOTHROW(rt.block_on(std::move(sent)));
  CHECK_FALSE(ch.try_recv());
}

TEST_CASE("a receive that makes room keeps its value when the waiting sender's move into the room throws",
          "[sync][channel][throwing_move]") {
  // The ring is full and a sender waits. The receive pops the oldest value, then moves the
  // sender's value into the room it made: that move throws. The receive still returns its value,
  // and the sender, still waiting, is served by the next receive.
  disarm_at_exit guard;
  weft::runtime rt({.workers = 2});
  weft::channel<fragile> ch(1);
  CHECK(ch.try_send(fragile(1)));
  auto sent = rt.spawn(send_one(ch, 2));
  weft::test::wait_suspended(rt, 1);
  fragile::arm(1);  // the pop's move out succeeds, the move of the sender's value in throws
  CHECK(value_of(ch.try_recv()) == 1);
  CHECK(value_of(ch.try_recv()) == 2);
  CHECK_NOTHROW(rt.block_on(std::move(sent)));
  CHECK_FALSE(ch.try_recv());
}

TEST_CASE("a broadcast send whose move throws throws and leaves the ring as it was",
          "[sync][broadcast][throwing_move]") {
  disarm_at_exit guard;
  weft::runtime rt({.workers = 1});
  weft::broadcast<fragile> bc(2);
  auto rx = bc.subscribe();
  bc.send(fragile(1));
  bc.send(fragile(2));  // full: the next send overwrites value 1
  auto next = [&]() -> int {
    return rt.block_on([](weft::broadcast<fragile>::receiver& r) -> task<int> {
      try {
        auto v = co_await r.recv();
        co_return v ? v->v : -1;
      } catch (const weft::lagged_error& e) {
        co_return -100 - static_cast<int>(e.missed());
      }
    }(rx));
  };
  SECTION("the move into the ring throws: value 1 is put back") {
    fragile::arm(1);  // value 1's move out succeeds, the new value's move in throws
    CHECK_THROWS_AS(bc.send(fragile(3)), std::runtime_error);
    CHECK(next() == 1);
    CHECK(next() == 2);
  }
  SECTION("putting value 1 back throws too: it is lost, and the receiver is told it missed one") {
    fragile::arm(1, 2);
    CHECK_THROWS_AS(bc.send(fragile(3)), std::runtime_error);
    CHECK(next() == -101);
    CHECK(next() == 2);
  }
  SECTION("the move of value 1 out of its slot throws: nothing changed") {
    fragile::arm(0);
    CHECK_THROWS_AS(bc.send(fragile(3)), std::runtime_error);
    CHECK(next() == 1);
    CHECK(next() == 2);
  }
  fragile::disarm();
  bc.send(fragile(4));
  CHECK(next() == 4);
}

TEST_CASE("a watch send whose move throws throws; the watch keeps its value and wakes nobody",
          "[sync][watch][throwing_move]") {
  disarm_at_exit guard;
  weft::runtime rt({.workers = 1});
  weft::watch<fragile> w(fragile(1));
  auto rx = w.subscribe();
  fragile::arm(1);  // the old value's move out succeeds, the move assignment of the new one throws
  CHECK_THROWS_AS(w.send(fragile(2)), std::runtime_error);
  CHECK(w.get().v == 1);
  CHECK_FALSE(rx.has_changed());
  fragile::disarm();
  w.send(fragile(3));
  CHECK(rx.has_changed());
  CHECK(rx.get().v == 3);
}
