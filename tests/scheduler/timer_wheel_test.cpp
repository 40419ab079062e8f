#include <weft/sched/timer_wheel.hpp>

#include <algorithm>
#include <random>
#include <vector>

#include <catch2/catch.hpp>

using weft::sched::timer_entry;
using weft::sched::timer_wheel;

namespace {
constexpr std::int64_t ms = 1'000'000;

std::vector<timer_entry*> drain(timer_entry* list) {
  std::vector<timer_entry*> out;
  for (; list; list = list->next_) out.push_back(list);
  return out;
}
}  // namespace

TEST_CASE("a timer never fires before its deadline and fires once it passed", "[timer]") {
  timer_wheel w(0);
  timer_entry e;
  e.deadline_ns = 5 * ms + 1;  // rounds up to tick 6
  REQUIRE(w.insert(&e));
  CHECK(w.advance(5 * ms) == nullptr);
  CHECK(w.advance(6 * ms - 1) == nullptr);
  auto fired = drain(w.advance(6 * ms));
  REQUIRE(fired.size() == 1);
  CHECK(fired[0] == &e);
  CHECK_FALSE(e.linked_);
  CHECK(w.size() == 0);
}

TEST_CASE("a timer already due is refused by insert", "[timer]") {
  timer_wheel w(0);
  w.advance(10 * ms);
  timer_entry e;
  e.deadline_ns = 3 * ms;
  CHECK_FALSE(w.insert(&e));
  CHECK(w.size() == 0);
}

TEST_CASE("timers across every level fire in deadline order and never early", "[timer]") {
  timer_wheel w(0);
  std::mt19937_64 rng(42);
  // Deadlines from 1 ms to about 20 days: levels 0 through 5.
  std::vector<timer_entry> es(2000);
  for (auto& e : es) {
    int magnitude = static_cast<int>(rng() % 31);
    e.deadline_ns = static_cast<std::int64_t>((rng() % (std::uint64_t{1} << magnitude)) + 1) * ms;
    REQUIRE(w.insert(&e));
  }
  std::vector<std::int64_t> seen;
  std::int64_t now = 0;
  while (w.size() > 0) {
    auto next = w.next_wake();
    REQUIRE(next.has_value());
    REQUIRE(*next > now - ms);
    now = std::max(now + ms, *next);
    for (timer_entry* e : drain(w.advance(now))) {
      CHECK(e->deadline_ns <= now);  // never early
      seen.push_back(e->deadline_ns);
    }
  }
  CHECK(seen.size() == es.size());
  // Advancing tick by tick to each next_wake fires every timer in the tick it is due.
  auto sorted = seen;
  std::sort(sorted.begin(), sorted.end());
  std::vector<std::int64_t> tick_of_seen, tick_of_sorted;
  for (auto d : seen) tick_of_seen.push_back((d + ms - 1) / ms);
  for (auto d : sorted) tick_of_sorted.push_back((d + ms - 1) / ms);
  CHECK(tick_of_seen == tick_of_sorted);
}

TEST_CASE("next_wake is never later than the earliest deadline", "[timer]") {
  timer_wheel w(0);
  timer_entry a, b;
  a.deadline_ns = 300 * ms;
  b.deadline_ns = 70 * ms;
  w.insert(&a);
  w.insert(&b);
  REQUIRE(w.next_wake().has_value());
  CHECK(*w.next_wake() <= 70 * ms);
}

TEST_CASE("a removed timer never fires", "[timer]") {
  timer_wheel w(0);
  timer_entry a, b;
  a.deadline_ns = 10 * ms;
  b.deadline_ns = 10 * ms;
  w.insert(&a);
  w.insert(&b);
  CHECK(w.remove(&a));
  CHECK_FALSE(w.remove(&a));
  auto fired = drain(w.advance(20 * ms));
  REQUIRE(fired.size() == 1);
  CHECK(fired[0] == &b);
}

TEST_CASE("clear unlinks every timer without firing", "[timer]") {
  timer_wheel w(0);
  timer_entry es[10];
  for (int i = 0; i < 10; ++i) {
    es[i].deadline_ns = (i + 1) * 1000 * ms;
    w.insert(&es[i]);
  }
  CHECK(w.clear() == 10);
  CHECK(w.size() == 0);
  for (auto& e : es) CHECK_FALSE(e.linked_);
  CHECK(w.advance(100000 * ms) == nullptr);
}

TEST_CASE("deadlines at the ends of int64 neither overflow nor fire early", "[timer]") {
  timer_wheel w(1000 * ms);
  timer_entry past, never, far;
  past.deadline_ns = INT64_MIN;
  CHECK_FALSE(w.insert(&past));  // already due
  never.deadline_ns = INT64_MAX;
  REQUIRE(w.insert(&never));
  // Past the wheel's span (64^6 ticks, about 2.2 years): placed at its far end meanwhile.
  constexpr std::int64_t year = 365LL * 24 * 3600 * 1000 * ms;
  far.deadline_ns = 1000 * ms + 3 * year;
  REQUIRE(w.insert(&far));
  // Walk time forward a few months at a time (as a busy runtime would, in larger steps).
  std::int64_t now = 1000 * ms;
  std::vector<timer_entry*> fired;
  while (now < far.deadline_ns - 30LL * 24 * 3600 * 1000 * ms) {
    now += 60LL * 24 * 3600 * 1000 * ms;
    if (now >= far.deadline_ns) break;
    for (auto* e : drain(w.advance(now))) fired.push_back(e);
  }
  CHECK(fired.empty());  // neither fired before its deadline
  auto at_deadline = drain(w.advance(far.deadline_ns));
  REQUIRE(at_deadline.size() == 1);
  CHECK(at_deadline[0] == &far);
  CHECK(drain(w.advance(far.deadline_ns + 5 * year)).empty());  // "never" still waits
  CHECK(w.remove(&never));
}

TEST_CASE("a timer due never is kept apart: it never fires, never wakes, and can be removed", "[timer]") {
  timer_wheel w(0);
  timer_entry never, soon;
  never.deadline_ns = timer_wheel::never;
  soon.deadline_ns = 3 * ms;
  REQUIRE(w.insert(&never));
  CHECK(w.size() == 1);
  CHECK_FALSE(w.next_wake().has_value());  // nothing to wake (or, in virtual time, jump) for
  REQUIRE(w.insert(&soon));
  CHECK(w.next_wake() == 3 * ms);
  CHECK(drain(w.advance(3 * ms)) == std::vector<timer_entry*>{&soon});
  CHECK(w.advance(std::int64_t{1} << 62) == nullptr);  // about 146 years later: still not due
  CHECK(never.linked_);
  CHECK(w.remove(&never));
  CHECK_FALSE(w.remove(&never));
  CHECK(w.size() == 0);
  REQUIRE(w.insert(&never));
  CHECK(w.clear() == 1);
  CHECK_FALSE(never.linked_);
}
