// weft::sched::idle_set: who searches, who sleeps, whom to wake (Tokio's protocol, idle.hpp).
#include <weft/sched/idle.hpp>

#include <atomic>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

using weft::sched::idle_set;

TEST_CASE("a push wakes a sleeper only when nobody searches and somebody sleeps", "[idle]") {
  idle_set s(2, 2);
  CHECK_FALSE(s.notify_should_wakeup());  // everybody is awake
  CHECK_FALSE(s.transition_to_parked(1, false));
  CHECK(s.is_parked(1));
  CHECK(s.notify_should_wakeup());
  auto woken = s.worker_to_notify();
  REQUIRE(woken);
  CHECK(*woken == 1);
  CHECK_FALSE(s.is_parked(1));
  // The woken worker is counted unparked and searching: the next push wakes nobody.
  CHECK(s.num_unparked() == 2);
  CHECK(s.num_searching() == 1);
  CHECK_FALSE(s.notify_should_wakeup());
  CHECK_FALSE(s.worker_to_notify());  // nobody sleeps any more
}

TEST_CASE("at most half of the workers search at once", "[idle]") {
  idle_set s(4, 4);
  CHECK(s.transition_to_searching());
  CHECK(s.transition_to_searching());
  CHECK_FALSE(s.transition_to_searching());
  CHECK(s.num_searching() == 2);
  CHECK_FALSE(s.transition_from_searching());
  CHECK(s.transition_from_searching());  // the last searcher is told: it wakes another
  CHECK(s.num_searching() == 0);
}

TEST_CASE("a parking searcher that was the last one says so", "[idle]") {
  idle_set s(2, 2);
  REQUIRE(s.transition_to_searching());
  CHECK(s.transition_to_parked(0, true));
  CHECK(s.num_searching() == 0);
  CHECK(s.num_unparked() == 1);
}

TEST_CASE("a worker that wakes by itself takes itself out; one a notifier took out is told so", "[idle]") {
  idle_set s(2, 2);
  s.transition_to_parked(0, false);
  CHECK(s.unpark_self(0));  // a timeout, or work seen in the pre-sleep check
  CHECK_FALSE(s.is_parked(0));
  CHECK(s.num_unparked() == 2);
  s.transition_to_parked(0, false);
  REQUIRE(s.worker_to_notify() == 0u);
  CHECK_FALSE(s.unpark_self(0));  // the notifier counted it searching already
  CHECK(s.num_searching() == 1);
}

TEST_CASE("replacement workers join and leave the active count", "[idle]") {
  idle_set s(1, 3);
  s.transition_to_parked(0, false);
  CHECK(s.notify_should_wakeup());
  s.add_active();  // a replacement starts unparked
  CHECK(s.num_unparked() == 1);
  CHECK(s.notify_should_wakeup());  // worker 0 still sleeps
  s.remove_active();
  CHECK(s.num_unparked() == 0);
}

TEST_CASE("parking and waking from many threads keeps the counts exact", "[idle][stress]") {
  constexpr std::size_t workers = 4;
  idle_set s(workers, workers);
  std::atomic<bool> stop{false};
  std::atomic<long> wakes{0};
  std::vector<std::thread> threads;
  for (std::size_t i = 0; i < workers; ++i)
    threads.emplace_back([&, i] {
      for (int round = 0; round < 20'000; ++round) {
        bool searching = s.transition_to_searching();
        s.transition_to_parked(i, searching);
        // Back up: by ourselves, or because a notifier took us out (then we search).
        if (!s.unpark_self(i) && s.transition_from_searching()) {
        }
      }
    });
  std::thread notifier([&] {
    while (!stop.load())
      if (auto w = s.worker_to_notify()) {
        wakes.fetch_add(1);
        (void)w;
      }
  });
  for (auto& t : threads) t.join();
  stop.store(true);
  notifier.join();
  INFO(wakes.load() << " wake-ups");
  CHECK(s.num_unparked() == workers);  // everybody is awake again, counted once
  CHECK(s.num_searching() == 0);
  CHECK(s.sleepers().empty());
}
