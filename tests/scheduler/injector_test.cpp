#include <weft/sched/injector.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

using weft::sched::injector;
using weft::sched::job;

TEST_CASE("the injector hands out jobs first in, first out, in batches", "[injector]") {
  injector q;
  job j[5];
  for (auto& x : j) REQUIRE(q.push(&x));
  CHECK(q.size() == 5);
  std::size_t n = 0;
  job* list = q.pop_batch(3, n);
  REQUIRE(n == 3);
  CHECK(list == &j[0]);
  CHECK(list->next_ == &j[1]);
  CHECK(list->next_->next_ == &j[2]);
  CHECK(list->next_->next_->next_ == nullptr);
  CHECK(q.pop() == &j[3]);
  CHECK(q.pop() == &j[4]);
  CHECK(q.pop() == nullptr);
  CHECK(q.empty());
}

TEST_CASE("concurrent producers and consumers of the injector lose nothing", "[injector][stress]") {
  constexpr int per_producer = 50'000, producers = 3, consumers = 3;
  injector q;
  std::vector<job> items(per_producer * producers);
  std::atomic<int> consumed{0}, refused{0};
  std::vector<std::atomic<int>> seen(items.size());
  std::vector<std::thread> ts;
  for (int p = 0; p < producers; ++p)
    ts.emplace_back([&, p] {
      for (int i = 0; i < per_producer; ++i)
        if (!q.push(&items[p * per_producer + i])) refused.fetch_add(1);  // never: the queue stays open
    });
  for (int c = 0; c < consumers; ++c)
    ts.emplace_back([&] {
      while (consumed.load() < static_cast<int>(items.size())) {
        std::size_t n = 0;
        for (job* j = q.pop_batch(7, n); j; j = j->next_) {
          seen[static_cast<std::size_t>(j - items.data())].fetch_add(1);
          consumed.fetch_add(1);
        }
      }
    });
  for (auto& t : ts) t.join();
  CHECK(refused.load() == 0);
  for (auto& s : seen) REQUIRE(s.load() == 1);
}

TEST_CASE("pushes racing close are each refused or drained, exactly once", "[injector][stress]") {
  // The close mark replaces the inbox's top while pushers compare-exchange it: a push that lost
  // the race must see the mark and refuse, and what was in the inbox must move to the poppers.
  constexpr int producers = 3, per_producer = 2'000, rounds = 50;
  for (int round = 0; round < rounds; ++round) {
    injector q;
    std::vector<job> items(per_producer * producers);
    std::vector<std::atomic<int>> refused(items.size());
    std::atomic<int> started{0};
    std::vector<std::thread> ts;
    for (int p = 0; p < producers; ++p)
      ts.emplace_back([&, p] {
        started.fetch_add(1);
        for (int i = 0; i < per_producer; ++i) {
          job* j = &items[static_cast<std::size_t>(p * per_producer + i)];
          if (!q.push(j)) refused[static_cast<std::size_t>(j - items.data())].fetch_add(1);
        }
      });
    std::vector<int> seen(items.size());
    while (started.load() < producers) std::this_thread::yield();
    // A consumer takes some before the close, as a worker would.
    std::size_t n = 0;
    for (job* j = q.pop_batch(100, n); j; j = j->next_) ++seen[static_cast<std::size_t>(j - items.data())];
    q.close();
    for (auto& t : ts) t.join();
    while (job* j = q.pop()) ++seen[static_cast<std::size_t>(j - items.data())];
    CHECK(q.empty());
    for (std::size_t i = 0; i < items.size(); ++i) REQUIRE(seen[i] + refused[i].load() == 1);
    // After the close every push is refused.
    job late;
    CHECK_FALSE(q.push(&late));
    CHECK(q.empty());
  }
}

TEST_CASE("jobs of one producer come out in its order across refills", "[injector]") {
  injector q;
  job j[6];
  REQUIRE(q.push(&j[0]));
  REQUIRE(q.push(&j[1]));
  CHECK(q.pop() == &j[0]);  // the refill took j[0] and j[1]
  REQUIRE(q.push(&j[2]));
  REQUIRE(q.push(&j[3]));
  CHECK(q.pop() == &j[1]);  // older than what waits in the inbox
  CHECK(q.size() == 2);
  q.close();
  CHECK_FALSE(q.push(&j[4]));
  CHECK(q.pop() == &j[2]);
  CHECK(q.pop() == &j[3]);
  CHECK(q.pop() == nullptr);
}
