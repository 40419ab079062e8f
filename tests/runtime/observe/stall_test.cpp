#include <weft/stall.hpp>

#include <atomic>
#include <chrono>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/metrics/registry.hpp>
#include <weft/observe/detail/backtrace.hpp>
#include <weft/runtime.hpp>
#include <weft/sched/worker.hpp>
#include <weft/spawn.hpp>
#include <weft/sync/event.hpp>
#include <weft/time.hpp>

#include "../../support/metric.hpp"
#include "../../support/stall_capture.hpp"
#include "../../support/suspended.hpp"

using namespace std::chrono_literals;
using weft::task;

// Spins until told to stop. Out of line and external, so that it shows by name in backtraces.
[[gnu::noinline]] void weft_test_spin_until(const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_acquire)) {
  }
}

namespace {

using weft::test::fake_clock;
using weft::test::metric;
using weft::test::report_box;

task<void> spinner(std::atomic<bool>& started, const std::atomic<bool>& stop) {
  started.store(true);
  weft_test_spin_until(stop);
  co_return;
}

// Moves the fake clock on, a millisecond at a time, until `done()` holds.
template <class Done>
void advance_until(fake_clock& clock, Done done) {
  while (!done()) {
    clock.advance(1ms);
    std::this_thread::yield();
  }
}

// One worker, turned into a zombie (and replaced) after 200 ms of the fake clock in one dispatch.
weft::runtime_options one_worker_that_can_be_replaced(fake_clock& clock, const char* name) {
  return {.workers = 1,
          .name = name,
          .stall = {.threshold = 100ms,
                    .sample_interval = 1ms,
                    .replace_after = 200ms,
                    .max_replacements = 1,
                    .capture_backtrace = false,
                    .on_stall = [](const weft::stall_report&) {},
                    .clock = [&clock] { return clock.now(); }}};
}

// The task named `name` in `tasks` (a dump), or null.
const weft::task_info* named(const std::vector<weft::task_info>& tasks, const char* name) {
  for (const auto& t : tasks)
    if (t.name == name) return &t;
  return nullptr;
}

}  // namespace

TEST_CASE("a spinning task is reported once with its name, spawn site and stack", "[stall]") {
  fake_clock clock;
  report_box box;
  weft::runtime rt({.workers = 2,
                    .name = "stalls",
                    .stall = {.threshold = 100ms,
                              .sample_interval = 1ms,
                              .replace_after = 1h,
                              .on_stall = [&](const weft::stall_report& r) { box.add(r); },
                              .clock = [&] { return clock.now(); }}});
  std::atomic<bool> started{false}, stop{false};
  const int spawn_line = __LINE__ + 1;
  auto h = rt.spawn(spinner(started, stop), {.name = "spinner"});
  const std::uint64_t spinner_id = h.id();
  while (!started.load()) std::this_thread::yield();
  advance_until(clock, [&] { return box.size() > 0; });
  // More samples while it still spins: still one report.
  clock.advance(500ms);
  double stalls = 0;
  advance_until(clock, [&] { return (stalls = metric(rt, "weft_stalls_total")) >= 1; });
  stop.store(true, std::memory_order_release);
  rt.block_on(std::move(h));

  REQUIRE(box.size() == 1);
  const auto& r = box.reports[0];
  CHECK(r.task_name == "spinner");
  CHECK(r.task_id == spinner_id);
  CHECK(std::string(r.spawn_site.file_name()).find("stall_test.cpp") != std::string::npos);
  CHECK(r.spawn_site.line() == spawn_line);
  CHECK(r.duration >= 100ms);
  CHECK(r.worker < rt.workers());
  INFO(r.backtrace);
  if (weft::detail::backtrace_capture_available())
    CHECK(r.backtrace.find("weft_test_spin_until") != std::string::npos);
  else
    WARN("no backtraces in this (ThreadSanitizer) build");
  CHECK(stalls == 1);
}

TEST_CASE("a stuck worker becomes a zombie and a replacement keeps the capacity", "[stall][zombie]") {
  fake_clock clock;
  weft::runtime rt(one_worker_that_can_be_replaced(clock, "zombies"));
  std::atomic<bool> started{false}, stop{false};
  auto stuck = rt.spawn(spinner(started, stop), {.name = "toxic"});
  while (!started.load()) std::this_thread::yield();
  advance_until(clock, [&] { return rt.zombie_workers() == 1; });
  CHECK(metric(rt, "weft_zombie_workers") == 1);
  CHECK(metric(rt, "weft_worker_replacements_total") == 1);
  CHECK(metric(rt, "weft_workers") == 2);
  // The only configured worker is stuck, yet new work still runs: on the replacement.
  CHECK(rt.block_on([]() -> task<int> { co_return 42; }()) == 42);

  stop.store(true, std::memory_order_release);
  rt.block_on(std::move(stuck));
  // The zombie came back: the replacement retires.
  advance_until(clock, [&] { return rt.zombie_workers() == 0 && metric(rt, "weft_workers") == 1; });
  CHECK(metric(rt, "weft_zombie_workers") == 0);
  CHECK(rt.block_on([]() -> task<int> { co_return 7; }()) == 7);
}

TEST_CASE("a replacement worker is a worker: block_on of another runtime from it throws usage_error",
          "[stall][zombie][misuse]") {
  fake_clock clock;
  weft::runtime rt(one_worker_that_can_be_replaced(clock, "replaced"));
  weft::runtime other({.workers = 1});
  std::atomic<bool> started{false}, stop{false};
  auto stuck = rt.spawn(spinner(started, stop), {.name = "toxic"});
  while (!started.load()) std::this_thread::yield();
  advance_until(clock, [&] { return rt.zombie_workers() == 1; });
  // The only configured worker is stuck: this task runs on the replacement.
  auto [index, refused] = rt.block_on([](weft::runtime& other) -> task<std::pair<std::size_t, bool>> {
    const std::size_t index = weft::sched::this_worker()->index();
    bool refused = false;
    try {
      (void)other.block_on([]() -> task<int> { co_return 1; }());
    } catch (const weft::usage_error&) {
      refused = true;
    }
    co_return std::pair{index, refused};
  }(other));
  CHECK(index >= rt.workers());  // a replacement's slot
  CHECK(refused);
  stop.store(true, std::memory_order_release);
  rt.block_on(std::move(stuck));
}

TEST_CASE("a task woken by a task that then gets stuck is rescued from its worker's LIFO slot", "[stall][zombie]") {
  // The woken task waits in the stuck worker's LIFO slot, which no other worker may take from:
  // only the stall detector's rescue (sched::scheduler::rescue_lifo, racing the worker's plain
  // stores to the slot) lets it run before the stuck task lets go.
  fake_clock clock;
  weft::runtime rt(one_worker_that_can_be_replaced(clock, "rescue"));
  weft::event ready;
  std::atomic<bool> woken_ran{false};
  auto woken = rt.spawn(
      [](weft::event& e, std::atomic<bool>& ran) -> task<void> {
        co_await e.wait();
        ran.store(true);
      }(ready, woken_ran),
      {.name = "woken"});
  weft::test::wait_suspended(rt, 1);
  std::atomic<bool> started{false}, stop{false};
  auto stuck = rt.spawn(
      [](weft::event& e, std::atomic<bool>& started, const std::atomic<bool>& stop) -> task<void> {
        e.set();  // "woken" goes to this worker's LIFO slot
        started.store(true);
        weft_test_spin_until(stop);
        co_return;
      }(ready, started, stop),
      {.name = "toxic"});
  while (!started.load()) std::this_thread::yield();
  advance_until(clock, [&] { return woken_ran.load(); });
  CHECK(rt.zombie_workers() == 1);  // it ran while "toxic" still held the only worker
  rt.block_on(std::move(woken));
  stop.store(true, std::memory_order_release);
  rt.block_on(std::move(stuck));
}

TEST_CASE("dump_tasks lists running, suspended and joining tasks with what they wait for", "[stall][dump]") {
  weft::runtime rt({.workers = 2, .stall = {.sample_interval = 1ms, .on_stall = [](const weft::stall_report&) {}}});
  std::atomic<bool> started{false}, stop{false};
  auto spin = rt.spawn(spinner(started, stop), {.name = "busy"});
  std::atomic<std::uint64_t> sleeper_id{0};
  auto joiner = rt.spawn(
      [](std::atomic<std::uint64_t>& id) -> task<void> {
        auto s = weft::spawn([]() -> task<void> { co_await weft::sleep_for(1h); }(), {.name = "sleeper"});
        id.store(s.id());
        co_await s;
      }(sleeper_id),
      {.name = "joiner"});
  while (!started.load() || sleeper_id.load() == 0) std::this_thread::yield();

  std::vector<weft::task_info> tasks;
  auto find = [&](const char* name) -> const weft::task_info* {
    for (auto& t : tasks)
      if (t.name == name) return &t;
    return nullptr;
  };
  // Wait until the sleeper has reached its sleep and the joiner its join.
  for (;;) {
    tasks = rt.dump_tasks();
    auto* s = find("sleeper");
    auto* j = find("joiner");
    if (s && j && s->state == weft::task_state::suspended && j->state == weft::task_state::suspended) break;
    std::this_thread::yield();
  }
  auto* busy = find("busy");
  REQUIRE(busy);
  CHECK(busy->state == weft::task_state::running);
  CHECK(busy->worker < rt.workers());
  auto* s = find("sleeper");
  CHECK(s->awaiting.find("sleep until") == 0);
  CHECK(s->id == sleeper_id.load());
  auto* j = find("joiner");
  CHECK(j->awaiting == "join of task " + std::to_string(sleeper_id.load()));
  CHECK(std::string(j->spawn_site.file_name()).find("stall_test.cpp") != std::string::npos);

  stop.store(true);
  rt.block_on(std::move(spin));
  joiner.cancel();
  CHECK_THROWS_AS(rt.block_on(std::move(joiner)), weft::cancelled_error);
}

TEST_CASE("a task suspended past the hang threshold counts as hung", "[stall][dump]") {
  weft::runtime rt({.workers = 1, .name = "hangs", .stall = {.hang_threshold = 0s}});
  auto h = rt.spawn([]() -> task<void> { co_await weft::sleep_for(1h); }());
  // Poll the gauge until the sleeper is suspended (and thereby past a zero threshold).
  double hung = 0;
  while ((hung = metric(rt, "weft_hung_tasks")) < 1) std::this_thread::yield();
  CHECK(hung == 1);
  h.cancel();
  CHECK_THROWS_AS(rt.block_on(std::move(h)), weft::cancelled_error);
}

TEST_CASE("task names are cut on a UTF-8 character boundary and dumps are always valid UTF-8", "[stall][dump]") {
  weft::runtime rt({.workers = 1});
  // 20 three-byte characters (60 bytes): 47 bytes would cut the 16th in two; 45 keep 15 whole.
  std::string long_name;
  for (int i = 0; i < 20; ++i) long_name += "\xe2\x82\xac";  // U+20AC EURO SIGN
  const std::string invalid = "bad\xff\xfename";
  auto a = rt.spawn([]() -> task<void> { co_await weft::sleep_for(1h); }(), {.name = long_name});
  auto b = rt.spawn([]() -> task<void> { co_await weft::sleep_for(1h); }(), {.name = invalid});
  weft::test::wait_suspended(rt, 2);
  std::string euros, replaced;
  for (const auto& t : rt.dump_tasks()) {
    if (t.id == a.id()) euros = t.name;
    if (t.id == b.id()) replaced = t.name;
  }
  CHECK(euros == long_name.substr(0, 45));
  CHECK(replaced == "bad\xef\xbf\xbd\xef\xbf\xbdname");  // each invalid byte shown as U+FFFD
  a.cancel();
  b.cancel();
  CHECK_THROWS_AS(rt.block_on(std::move(a)), weft::cancelled_error);
  CHECK_THROWS_AS(rt.block_on(std::move(b)), weft::cancelled_error);
}

// The hot paths skip work for tasks that never leave their worker (a child joined inline runs on
// its joiner's stack); these pin down that such a task is still named wherever it is seen.
TEST_CASE("a child joined inline that spins is reported by its own name and site, its joiner as waiting for it",
          "[stall][dump]") {
  fake_clock clock;
  report_box box;
  weft::runtime rt({.workers = 1,
                    .stall = {.threshold = 100ms,
                              .sample_interval = 1ms,
                              .replace_after = 1h,
                              .capture_backtrace = false,
                              .on_stall = [&](const weft::stall_report& r) { box.add(r); },
                              .clock = [&] { return clock.now(); }}});
  std::atomic<bool> started{false}, stop{false};
  std::atomic<std::uint64_t> child_id{0};
  std::atomic<int> child_line{0};
  auto parent = rt.spawn(
      [](std::atomic<bool>& started, std::atomic<bool>& stop, std::atomic<std::uint64_t>& id,
         std::atomic<int>& line) -> task<void> {
        line.store(__LINE__ + 1);
        auto child = weft::spawn(spinner(started, stop), {.name = "inline-child"});
        id.store(child.id());
        co_await child;  // one worker: the child is at the bottom of its deque and runs inline
      }(started, stop, child_id, child_line),
      {.name = "parent"});
  while (!started.load()) std::this_thread::yield();

  const std::vector<weft::task_info> tasks = rt.dump_tasks();
  const weft::task_info* c = named(tasks, "inline-child");
  const weft::task_info* p = named(tasks, "parent");
  REQUIRE(c);
  REQUIRE(p);
  CHECK(c->id == child_id.load());
  CHECK(c->state == weft::task_state::running);
  CHECK(c->worker == 0);
  CHECK(c->spawn_site.line() == static_cast<std::uint_least32_t>(child_line.load()));
  CHECK(p->state == weft::task_state::suspended);
  CHECK(p->awaiting == "join of task " + std::to_string(child_id.load()));

  advance_until(clock, [&] { return box.size() > 0; });
  stop.store(true, std::memory_order_release);
  rt.block_on(std::move(parent));
  REQUIRE(box.size() == 1);
  CHECK(box.reports[0].task_name == "inline-child");
  CHECK(box.reports[0].task_id == child_id.load());
  CHECK(box.reports[0].spawn_site.line() == static_cast<std::uint_least32_t>(child_line.load()));
}

TEST_CASE("a task stolen by another worker keeps its name, id and site in dumps", "[stall][dump]") {
  weft::runtime rt({.workers = 2, .stall = {.sample_interval = 1ms, .on_stall = [](const weft::stall_report&) {}}});
  std::atomic<bool> started{false}, stop{false};
  std::atomic<std::uint64_t> child_id{0};
  std::atomic<int> child_line{0};
  // The parent spawns and then spins without an await: its worker never takes the child back,
  // so the child runs only if the other worker steals it.
  auto parent = rt.spawn(
      [](std::atomic<bool>& started, std::atomic<bool>& stop, std::atomic<std::uint64_t>& id,
         std::atomic<int>& line) -> task<void> {
        line.store(__LINE__ + 1);
        auto child = weft::spawn(spinner(started, stop), {.name = "stolen"});
        id.store(child.id());
        weft_test_spin_until(stop);
        co_await child;
      }(started, stop, child_id, child_line),
      {.name = "spawner"});
  while (!started.load()) std::this_thread::yield();

  const std::vector<weft::task_info> tasks = rt.dump_tasks();
  const weft::task_info* c = named(tasks, "stolen");
  const weft::task_info* p = named(tasks, "spawner");
  REQUIRE(c);
  REQUIRE(p);
  CHECK(c->id == child_id.load());
  CHECK(c->state == weft::task_state::running);
  CHECK(p->state == weft::task_state::running);
  CHECK(c->worker != p->worker);  // running on the thief
  CHECK(c->spawn_site.line() == static_cast<std::uint_least32_t>(child_line.load()));
  stop.store(true, std::memory_order_release);
  rt.block_on(std::move(parent));
}
