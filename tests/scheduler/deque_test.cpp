#include <weft/sched/deque.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

using weft::sched::deque;
using weft::sched::job;

TEST_CASE("the owner pops in LIFO order and thieves steal in FIFO order", "[deque]") {
  deque d(8);
  deque& o = d;
  deque::stealer s(d);
  job a, b, c;
  REQUIRE(o.push(&a));
  REQUIRE(o.push(&b));
  REQUIRE(o.push(&c));
  CHECK(s.steal() == &a);
  CHECK(o.pop() == &c);
  CHECK(o.pop() == &b);
  CHECK(o.pop() == nullptr);
  CHECK(s.steal() == nullptr);
}

TEST_CASE("a full deque refuses a push and keeps what it holds", "[deque]") {
  deque d(4);
  REQUIRE(d.capacity() == 4);
  deque& o = d;
  job j[5];
  for (int i = 0; i < 4; ++i) REQUIRE(o.push(&j[i]));
  CHECK_FALSE(o.push(&j[4]));
  CHECK(d.size_approx() == 4);
  for (int i = 3; i >= 0; --i) CHECK(o.pop() == &j[i]);
}

TEST_CASE("capacity is rounded up to a power of two", "[deque]") {
  CHECK(deque(3).capacity() == 4);
  CHECK(deque(0).capacity() == 2);
  CHECK(deque(1000).capacity() == 1024);
}

TEST_CASE("owner and thieves racing on a 4-slot deque take every job exactly once", "[deque][stress]") {
  constexpr int jobs = 200'000;
  constexpr int thieves = 3;
  deque d(4);
  std::vector<job> items(jobs);
  std::vector<std::atomic<int>> taken(jobs);
  auto index = [&](job* j) { return static_cast<std::size_t>(j - items.data()); };
  std::atomic<bool> done{false};
  std::atomic<long> stolen{0};

  std::vector<std::thread> ts;
  for (int t = 0; t < thieves; ++t)
    ts.emplace_back([&] {
      deque::stealer s(d);
      while (!done.load(std::memory_order_acquire)) {
        if (job* j = s.steal()) {
          taken[index(j)].fetch_add(1);
          stolen.fetch_add(1);
        }
      }
    });

  deque& o = d;
  long popped = 0;
  for (int i = 0; i < jobs; ++i) {
    while (!o.push(&items[i])) {  // full: help drain from the bottom
      if (job* j = o.pop()) {
        taken[index(j)].fetch_add(1);
        ++popped;
      }
    }
    if (i % 3 == 0)
      if (job* j = o.pop()) {
        taken[index(j)].fetch_add(1);
        ++popped;
      }
  }
  while (job* j = o.pop()) {
    taken[index(j)].fetch_add(1);
    ++popped;
  }
  // Thieves may still be mid-steal of the last items; wait until everything is accounted for.
  while (popped + stolen.load() < jobs) std::this_thread::yield();
  done.store(true, std::memory_order_release);
  for (auto& t : ts) t.join();

  long twice = 0, never = 0;
  for (auto& t : taken) {
    if (t.load() == 0) ++never;
    if (t.load() > 1) ++twice;
  }
  CHECK(never == 0);
  CHECK(twice == 0);
  CHECK(popped + stolen.load() == jobs);
}
