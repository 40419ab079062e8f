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
  for (auto& x : j) q.push(&x);
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
  std::atomic<int> consumed{0};
  std::vector<std::atomic<int>> seen(items.size());
  std::vector<std::thread> ts;
  for (int p = 0; p < producers; ++p)
    ts.emplace_back([&, p] {
      for (int i = 0; i < per_producer; ++i) q.push(&items[p * per_producer + i]);
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
  for (auto& s : seen) REQUIRE(s.load() == 1);
}
