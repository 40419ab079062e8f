// weft::testing::sim, its schedule: a seed replays one order of task steps, and names the
// schedule it picks.
#include <weft/testing/sim.hpp>

#include <cstddef>
#include <cstdint>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/sched/worker.hpp>
#include <weft/spawn.hpp>
#include <weft/yield.hpp>

using weft::task;
using weft::testing::sim;

namespace {

// The order in which `tasks` tasks, each taking `rounds` steps (a yield between steps), run
// their steps, with the logical worker of each step: a schedule, as the sim chose it.
std::vector<std::pair<int, std::size_t>> step_order(std::uint64_t seed, std::size_t workers, int tasks = 6,
                                                    int rounds = 5) {
  sim s{{.seed = seed, .workers = workers}};
  std::vector<std::pair<int, std::size_t>> order;  // one thread runs every task: no data race
  s.block_on([&]() -> task<void> {
    std::vector<weft::join_handle<void>> hs;
    for (int t = 0; t < tasks; ++t)
      hs.push_back(weft::spawn([](int t, int rounds, std::vector<std::pair<int, std::size_t>>& out) -> task<void> {
        for (int r = 0; r < rounds; ++r) {
          out.emplace_back(t, weft::sched::this_worker()->index());
          co_await weft::yield();
        }
      }(t, rounds, order)));
    for (auto& h : hs) co_await h;
  }());
  return order;
}

}  // namespace

TEST_CASE("the same seed replays the same order of task steps, and different seeds give different orders", "[sim]") {
  for (std::size_t workers : {1u, 3u}) {
    INFO("workers: " << workers);
    const auto a = step_order(42, workers);
    const auto b = step_order(42, workers);
    REQUIRE(a.size() == 30);
    CHECK(a == b);
    std::set<std::vector<std::pair<int, std::size_t>>> distinct;
    for (std::uint64_t seed = 1; seed <= 10; ++seed) distinct.insert(step_order(seed, workers));
    CHECK(distinct.size() >= 9);  // 10 seeds, 30 steps of 6 tasks: collisions would be a bug
    CHECK(step_order(1, workers) != step_order(2, workers));
  }
  // With several workers, steps run on several of them (steals included).
  std::set<std::size_t> used;
  for (auto& [t, w] : step_order(42, 3)) used.insert(w);
  CHECK(used.size() == 3);
}

TEST_CASE("a sim names its schedule and counts its steps", "[sim]") {
  sim even{{.seed = 4}};
  sim odd{{.seed = 5}};
  CHECK(std::string(even.schedule()) == "random");
  CHECK(std::string(odd.schedule()).find("PCT") == 0);
  even.block_on([]() -> task<void> {
    for (int i = 0; i < 3; ++i) co_await weft::yield();
  }());
  CHECK(even.steps() == 4);  // the first dispatch and one after each yield
}
