#include <weft/fiber.hpp>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <catch2/catch.hpp>

#include <weft/fiber/detail/fiber_stack.hpp>
#include <weft/runtime.hpp>
#include <weft/spawn.hpp>
#include <weft/stall.hpp>
#include <weft/sync/event.hpp>
#include <weft/this_task.hpp>
#include <weft/time.hpp>
#include <weft/timeout.hpp>
#include <weft/yield.hpp>

#include "../../support/lifetime.hpp"

extern char** environ;

using namespace std::chrono_literals;
using weft::task;

namespace {

task<int> twice(int v) {
  co_await weft::yield();
  co_return 2 * v;
}

task<std::string> slow_echo(std::string s, std::chrono::milliseconds d) {
  co_await weft::sleep_for(d);
  co_return s;
}

// Waits until `n` of the tasks named `name` are suspended, polling dump_tasks (no clock).
void wait_until_suspended(weft::runtime& rt, std::string_view name, std::size_t n = 1) {
  for (;;) {
    std::size_t seen = 0;
    for (const auto& t : rt.dump_tasks()) seen += t.name == name && t.state == weft::task_state::suspended;
    if (seen >= n) return;
    std::this_thread::yield();
  }
}

// Blocking-style code: plain functions that wait through this_fiber::await.
int legacy_sum(int n) {
  int sum = 0;
  for (int i = 1; i <= n; ++i) sum += weft::this_fiber::await(twice(i));
  return sum;
}

}  // namespace

TEST_CASE("a fiber returns a value through its join handle", "[fiber]") {
  weft::runtime rt({.workers = 2});
  int v = rt.block_on([]() -> task<int> {
    auto h = weft::spawn_fiber([] { return legacy_sum(10); });
    co_return co_await h;
  }());
  CHECK(v == 110);

  // From outside the runtime, and with a void function.
  std::atomic<bool> ran{false};
  auto h = weft::spawn_fiber(rt, [&] { ran = weft::this_fiber::await(twice(4)) == 8; }, {.name = "outside"});
  rt.block_on(std::move(h));
  CHECK(ran.load());
}

TEST_CASE("an exception thrown in a fiber reaches its joiner", "[fiber]") {
  weft::runtime rt({.workers = 2});
  auto h = weft::spawn_fiber(rt, []() -> int {
    weft::this_fiber::await(twice(1));
    throw std::runtime_error("legacy code failed");
  });
  CHECK_THROWS_WITH(rt.block_on(std::move(h)), "legacy code failed");

  // An awaited task's exception reaches the fiber, which may handle it.
  int v = rt.block_on(weft::spawn_fiber(rt, [] {
    try {
      weft::this_fiber::await([]() -> task<int> {
        co_await weft::yield();
        throw std::logic_error("inner");
      }());
    } catch (const std::logic_error& e) {
      return std::string(e.what()) == "inner" ? 1 : 0;
    }
    return 0;
  }));
  CHECK(v == 1);
}

TEST_CASE("a fiber awaiting an event suspends itself, not its worker", "[fiber]") {
  // One worker. The fiber spawns the task that sets the event, then waits for it: if the wait
  // blocked the worker, the setter could never run and this would never finish.
  weft::runtime rt({.workers = 1});
  weft::event ev;
  bool was_set_before_wait = true;
  rt.block_on(weft::spawn_fiber(rt, [&] {
    auto setter = weft::spawn([](weft::event& e) -> task<void> {
      e.set();
      co_return;
    }(ev));
    was_set_before_wait = ev.is_set();
    weft::this_fiber::await(ev.wait());
    weft::this_fiber::await(std::move(setter));
  }));
  CHECK_FALSE(was_set_before_wait);

  // Many fibers asleep at once on the one worker, all woken by one task spawned after them.
  weft::event go;
  std::atomic<int> done{0}, done_before_opening{-1};
  rt.block_on([&]() -> task<void> {
    std::vector<weft::join_handle<void>> fibers;
    for (int i = 0; i < 100; ++i)
      fibers.push_back(weft::spawn_fiber([&] {
        weft::this_fiber::await(go.wait());
        done.fetch_add(1);
      }));
    co_await weft::yield();  // every fiber runs up to its wait
    done_before_opening = done.load();
    auto opener = weft::spawn([](weft::event& e) -> task<void> {
      e.set();
      co_return;
    }(go));
    for (auto& f : fibers) co_await f;
    co_await opener;
  }());
  CHECK(done_before_opening.load() == 0);
  CHECK(done.load() == 100);
}

TEST_CASE("a fiber can await tasks, join handles and other awaitables, and yield", "[fiber]") {
  weft::runtime rt({.workers = 2});
  auto h = weft::spawn_fiber(rt, [] {
    std::string s = weft::this_fiber::await(slow_echo("hi", 1ms));
    weft::this_fiber::await(weft::sleep_for(1ms));
    auto child = weft::spawn(twice(21));
    int c = weft::this_fiber::await(std::move(child));
    auto nested = weft::spawn_fiber([] { return legacy_sum(3); });
    int n = weft::this_fiber::await(std::move(nested));
    for (int i = 0; i < 10; ++i) weft::this_fiber::yield();
    return s + ":" + std::to_string(c) + ":" + std::to_string(n);
  });
  CHECK(rt.block_on(std::move(h)) == "hi:42:12");
}

TEST_CASE("a fiber is a task: this_task answers for it", "[fiber]") {
  weft::runtime rt({.workers = 2});
  std::atomic<std::uint64_t> seen{0};
  bool active = false;
  auto h = weft::spawn_fiber(rt, [&] {
    active = weft::this_fiber::active();
    weft::this_fiber::yield();
    seen = weft::this_task::id();
  });
  std::uint64_t id = h.id();
  rt.block_on(std::move(h));
  CHECK(active);
  CHECK(seen.load() == id);
  CHECK_FALSE(weft::this_fiber::active());
}

TEST_CASE("a fiber spawned by a busy worker is stolen by an idle one", "[fiber]") {
  // The spawner holds its worker until the fiber has run: only the other worker, by stealing
  // it, can run the fiber.
  weft::runtime rt({.workers = 2, .stall = {.threshold = 1h, .replace_after = 1h}});
  std::thread::id spawner_thread, fiber_thread;
  rt.block_on([&]() -> task<void> {
    spawner_thread = std::this_thread::get_id();
    std::atomic<bool> ran{false};
    auto h = weft::spawn_fiber([&] {
      fiber_thread = std::this_thread::get_id();
      ran.store(true, std::memory_order_release);
    });
    while (!ran.load(std::memory_order_acquire)) {
    }
    co_await h;
  }());
  CHECK(fiber_thread != std::thread::id{});
  CHECK(fiber_thread != spawner_thread);
}

TEST_CASE("a fiber gets the stack size it asks for, in whole pages", "[fiber]") {
  const std::size_t page = static_cast<std::size_t>(sysconf(_SC_PAGESIZE));
  CHECK(weft::detail::fiber_stack_usable(0) == weft::default_fiber_stack_size);
  CHECK(weft::detail::fiber_stack_usable(1) == 16 * 1024);
  CHECK(weft::detail::fiber_stack_usable(64 * 1024 + 1) == 64 * 1024 + page);
  // 192 KiB of locals: far past the default stack, within the 256 KiB asked for.
  weft::runtime rt({.workers = 1});
  int sum = rt.block_on(weft::spawn_fiber(rt,
                                          [] {
                                            volatile char big[192 * 1024];
                                            for (std::size_t i = 0; i < sizeof big; i += 512) big[i] = 1;
                                            int n = 0;
                                            for (std::size_t i = 0; i < sizeof big; i += 512) n += big[i];
                                            return n;
                                          },
                                          {.stack_size = 256 * 1024}));
  CHECK(sum == 192 * 2);
}

TEST_CASE("a million fiber switches leave no stack behind", "[fiber]") {
  weft::runtime rt({.workers = 2});
  constexpr int fibers = 4, yields = 250'000;
  std::atomic<long> switches{0};
  const auto before = weft::detail::fiber_stacks();
  rt.block_on([&]() -> task<void> {
    std::vector<weft::join_handle<void>> hs;
    for (int f = 0; f < fibers; ++f)
      hs.push_back(weft::spawn_fiber([&] {
        for (int i = 0; i < yields; ++i) weft::this_fiber::yield();
        switches.fetch_add(yields);
      }));
    for (auto& h : hs) co_await h;
    // And many short fibers, in waves: their stacks are reused, not mapped anew.
    for (int wave = 0; wave < 100; ++wave) {
      std::vector<weft::join_handle<int>> wave_handles;
      for (int i = 0; i < 50; ++i) wave_handles.push_back(weft::spawn_fiber([i] { return i; }));
      for (auto& h : wave_handles) co_await h;
    }
  }());
  CHECK(switches.load() == long{fibers} * yields);
  auto after = weft::detail::fiber_stacks();
  CHECK(after.in_use == 0);
  CHECK(after.pooled == after.mapped);
  CHECK(after.mapped <= before.mapped + 100);  // a wave's worth at most, not 5004
}

TEST_CASE("a fiber awaiting a task that times out gets timeout_error", "[fiber][cancel]") {
  weft::runtime rt({.workers = 2});
  auto h = weft::spawn_fiber(rt, [] {
    try {
      weft::this_fiber::await(weft::with_timeout(5ms, slow_echo("late", 1h)));
    } catch (const weft::timeout_error&) {
      return std::string("timed out");
    }
    return std::string("finished");
  });
  CHECK(rt.block_on(std::move(h)) == "timed out");
}

TEST_CASE("a fiber cancelled through its join handle stops at its next await", "[fiber][cancel]") {
  weft::runtime rt({.workers = 2});
  std::atomic<bool> running{false}, go_on{false}, awaited_ran{false};
  auto h = weft::spawn_fiber(rt, [&] {
    running = true;
    while (!go_on.load()) std::this_thread::yield();  // plain code: not a cancellation point
    weft::this_fiber::await([](std::atomic<bool>& ran) -> task<void> {
      ran = true;
      co_return;
    }(awaited_ran));
  });
  while (!running.load()) std::this_thread::yield();
  h.cancel();
  go_on = true;
  CHECK_THROWS_AS(rt.block_on(std::move(h)), weft::cancelled_error);
  CHECK_FALSE(awaited_ran.load());

  // A fiber waiting inside an await is woken by the cancellation.
  auto sleeper = weft::spawn_fiber(rt, [] { weft::this_fiber::await(weft::sleep_for(1h)); }, {.name = "sleeper"});
  wait_until_suspended(rt, "sleeper");
  sleeper.cancel();
  CHECK_THROWS_AS(rt.block_on(std::move(sleeper)), weft::cancelled_error);
}

TEST_CASE("a fiber inherits its spawner's cancellation token", "[fiber][cancel]") {
  weft::runtime rt({.workers = 2});
  weft::cancel_source src;
  std::atomic<bool> waiting{false};
  // The spawner hands the fiber's handle out and finishes; the fiber keeps the token it
  // inherited, and only that token can cancel it.
  auto fiber = rt.block_on(
      [](std::atomic<bool>& w) -> task<weft::join_handle<void>> {
        co_return weft::spawn_fiber([&w] {
          w = true;
          weft::this_fiber::await(weft::sleep_for(1h));
        });
      }(waiting),
      {.token = src.token()});
  while (!waiting.load()) std::this_thread::yield();
  src.cancel();
  CHECK_THROWS_AS(rt.block_on(std::move(fiber)), weft::cancelled_error);
}

TEST_CASE("dump_tasks shows a fiber by its name", "[fiber][dump]") {
  weft::runtime rt({.workers = 2});
  weft::event release;
  std::atomic<bool> waiting{false};
  auto h = weft::spawn_fiber(rt,
                             [&] {
                               waiting = true;
                               weft::this_fiber::await(release.wait());
                             },
                             {.name = "legacy-report"});
  while (!waiting.load()) std::this_thread::yield();
  wait_until_suspended(rt, "legacy-report");
  std::vector<weft::task_info> tasks = rt.dump_tasks();
  const weft::task_info* mine = nullptr;
  for (auto& t : tasks)
    if (t.name == "legacy-report") mine = &t;
  REQUIRE(mine);
  CHECK(mine->id == h.id());
  CHECK(mine->state == weft::task_state::suspended);
  CHECK(std::string(mine->spawn_site.file_name()).find("fiber_test.cpp") != std::string::npos);
  CHECK(mine->spawn_site.line() > 0);
  // An unnamed fiber is listed as "fiber".
  auto unnamed = weft::spawn_fiber(rt, [&] { weft::this_fiber::await(release.wait()); });
  wait_until_suspended(rt, "fiber");
  release.set();
  rt.block_on(std::move(h));
  rt.block_on(std::move(unnamed));
}

// Spins until told to stop: plain code on a fiber's stack. Out of line and external, so that it
// shows by name in the stall report's backtrace.
[[gnu::noinline]] void weft_fiber_test_spin_until(const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_acquire)) {
  }
}

TEST_CASE("the stall detector reports a spinning fiber by its name", "[fiber][stall]") {
  // A clock the test moves by hand (as in stall_test.cpp): no real threshold is waited out.
  std::atomic<std::int64_t> fake_ns{1'000'000'000};
  std::mutex mu;
  std::vector<weft::stall_report> reports;
  weft::runtime rt(
      {.workers = 2,
       .stall = {
           .threshold = 100ms,
           .sample_interval = 1ms,
           .replace_after = 1h,
           .on_stall =
               [&](const weft::stall_report& r) {
                 std::lock_guard lock(mu);
                 reports.push_back(r);
               },
           .clock = [&] { return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(fake_ns.load())); }}});
  std::atomic<bool> started{false}, stop{false};
  auto h = weft::spawn_fiber(rt,
                             [&] {
                               weft::this_fiber::yield();
                               started = true;
                               weft_fiber_test_spin_until(stop);
                             },
                             {.name = "spinning-fiber"});
  while (!started.load()) std::this_thread::yield();
  // The fake clock runs much faster than the real one, so another dispatch that is merely slow
  // (a first allocation under ASan, say) may be reported too: only the fiber's reports count.
  auto fiber_reports = [&] {
    std::vector<weft::stall_report> mine;
    for (const auto& r : reports)
      if (r.task_name == "spinning-fiber") mine.push_back(r);
    return mine;
  };
  for (;;) {
    {
      std::lock_guard lock(mu);
      if (!fiber_reports().empty()) break;
    }
    fake_ns.fetch_add(std::chrono::nanoseconds(1ms).count());
    std::this_thread::yield();
  }
  stop.store(true, std::memory_order_release);
  rt.block_on(std::move(h));
  std::lock_guard lock(mu);
  reports = fiber_reports();
  REQUIRE(reports.size() == 1);
  CHECK(reports[0].task_name == "spinning-fiber");
  CHECK(std::string(reports[0].spawn_site.file_name()).find("fiber_test.cpp") != std::string::npos);
  // The backtrace (where captured: not under TSan) is the fiber's own stack.
  INFO(reports[0].backtrace);
  if (reports[0].backtrace.find("weft_fiber_test") != std::string::npos ||
      reports[0].backtrace.rfind("(no backtrace", 0) != 0)
    CHECK(reports[0].backtrace.find("weft_fiber_test_spin_until") != std::string::npos);
}

TEST_CASE("shutdown unwinds suspended fibers: their locals are destroyed, their stacks returned", "[fiber]") {
  weft::test::lifetime_counter counter;
  weft::event never;
  std::atomic<bool> yielding{false};
  {
    weft::runtime rt({.workers = 2});
    // Waiting for an event, a few frames down, with a heap-owning local on the stack.
    auto waits = weft::spawn_fiber(rt,
                                   [&] {
                                     weft::test::tracked on_stack(counter);
                                     std::vector<std::string> held(10, std::string(100, 'x'));
                                     legacy_sum(2);
                                     weft::this_fiber::await(never.wait());
                                   },
                                   {.name = "waits"});
    // Waiting for a fiber it spawned, which waits in turn.
    auto joins = weft::spawn_fiber(rt,
                                   [&] {
                                     weft::test::tracked on_stack(counter);
                                     auto inner = weft::spawn_fiber(
                                         [&] {
                                           weft::test::tracked inner_local(counter);
                                           weft::this_fiber::await(never.wait());
                                         },
                                         {.name = "waits"});
                                     weft::this_fiber::await(std::move(inner));
                                   },
                                   {.name = "joins"});
    // Yielding for ever: runnable, not suspended, when the runtime stops.
    auto spins = weft::spawn_fiber(rt, [&] {
      weft::test::tracked on_stack(counter);
      yielding = true;
      for (;;) weft::this_fiber::yield();
    });
    wait_until_suspended(rt, "waits", 2);
    wait_until_suspended(rt, "joins");
    while (!yielding.load()) std::this_thread::yield();
    CHECK(counter.alive() == 4);
    CHECK(weft::detail::fiber_stacks().in_use == 4);
  }  // the handles detach; the runtime shuts down with all four fibers mid-function
  CHECK(counter.alive() == 0);
  const auto after = weft::detail::fiber_stacks();
  CHECK(after.in_use == 0);
  CHECK(after.pooled == after.mapped);
}

TEST_CASE("this_fiber refuses to run off a fiber or inside a catch handler", "[fiber]") {
  CHECK_THROWS_AS(weft::this_fiber::yield(), weft::usage_error);
  CHECK_THROWS_AS(weft::this_fiber::await(twice(1)), weft::usage_error);
  weft::runtime rt({.workers = 1});
  // Inside a task (not a fiber) too.
  CHECK_THROWS_AS(rt.block_on([]() -> task<void> {
    weft::this_fiber::yield();
    co_return;
  }()),
                  weft::usage_error);
  bool refused = rt.block_on(weft::spawn_fiber(rt, [] {
    try {
      throw std::runtime_error("x");
    } catch (const std::runtime_error&) {
      try {
        weft::this_fiber::yield();
      } catch (const weft::usage_error&) {
        return true;
      }
    }
    return false;
  }));
  CHECK(refused);
}

namespace {

[[gnu::noinline]] int recurse(int depth) {
  if (depth < 0) return 0;  // never: keeps the compiler from calling this a mistake
  volatile char pad[256];
  pad[0] = static_cast<char>(depth);
  return recurse(depth + 1) + pad[0];
}

}  // namespace

// Run in a child process by the test below: overflows a fiber's stack.
TEST_CASE("(child) a fiber overflows its stack", "[.][fiber-overflow-child]") {
  if (!std::getenv("WEFT_FIBER_OVERFLOW_CHILD")) return;
  weft::runtime rt({.workers = 1});
  rt.block_on(weft::spawn_fiber(rt, [] { return recurse(0); }, {.stack_size = 32 * 1024, .name = "deep-recursion"}));
}

namespace {

struct child_result {
  int status = 0;
  std::string err;  // what it wrote to stderr
};

// Runs this test binary again with only the hidden test `tag`, `env_var`=1 in its environment.
child_result run_child(std::string tag, const std::string& env_var) {
  int err[2];
  REQUIRE(pipe(err) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, err[1], STDERR_FILENO);
  posix_spawn_file_actions_addclose(&actions, err[0]);
  posix_spawn_file_actions_addopen(&actions, STDOUT_FILENO, "/dev/null", O_WRONLY, 0);
  std::vector<std::string> env_strings = {env_var + "=1"};
  for (char** e = environ; *e; ++e) env_strings.emplace_back(*e);
  std::vector<char*> envp;
  for (auto& s : env_strings) envp.push_back(s.data());
  envp.push_back(nullptr);
  std::string exe = "/proc/self/exe";
  char* argv[] = {exe.data(), tag.data(), nullptr};
  pid_t pid;
  REQUIRE(posix_spawn(&pid, exe.c_str(), &actions, nullptr, argv, envp.data()) == 0);
  posix_spawn_file_actions_destroy(&actions);
  close(err[1]);
  child_result r;
  char buf[4096];
  for (ssize_t n; (n = read(err[0], buf, sizeof buf)) > 0;) r.err.append(buf, static_cast<std::size_t>(n));
  close(err[0]);
  REQUIRE(waitpid(pid, &r.status, 0) == pid);
  return r;
}

}  // namespace

TEST_CASE("a fiber's stack overflow ends the process with a report naming the fiber", "[fiber]") {
  auto [status, out] = run_child("[fiber-overflow-child]", "WEFT_FIBER_OVERFLOW_CHILD");
  INFO(out);
  CHECK(WIFSIGNALED(status));
  if (WIFSIGNALED(status)) CHECK(WTERMSIG(status) == SIGSEGV);
  CHECK(out.find("weft: stack overflow in fiber ") != std::string::npos);
  CHECK(out.find("\"deep-recursion\" (spawned at ") != std::string::npos);
  CHECK(out.find("fiber_test.cpp:") != std::string::npos);
  CHECK(out.find("stack size 32768 bytes") != std::string::npos);
}

// Run in a child process by the test below: once the fiber guard's SIGSEGV handler is
// installed (a fiber ran), a SIGSEGV sent with raise() must still end the process.
TEST_CASE("(child) raise(SIGSEGV) after a fiber ran", "[.][fiber-raise-child]") {
  if (!std::getenv("WEFT_FIBER_RAISE_CHILD")) return;
  weft::runtime rt({.workers = 1});
  rt.block_on(weft::spawn_fiber(rt, [] { return 1; }));
  ::raise(SIGSEGV);
  std::fputs("SURVIVED raise(SIGSEGV)\n", stderr);
}

TEST_CASE("a SIGSEGV sent to the process is not swallowed by the fiber guard", "[fiber]") {
  auto [status, out] = run_child("[fiber-raise-child]", "WEFT_FIBER_RAISE_CHILD");
  INFO(out);
  CHECK(out.find("SURVIVED") == std::string::npos);
  CHECK_FALSE((WIFEXITED(status) && WEXITSTATUS(status) == 0));
  CHECK(out.find("stack overflow") == std::string::npos);
}
