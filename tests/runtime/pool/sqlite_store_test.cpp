// weft::sqlite_store: accepted means committed, success deletes, failure is a dead letter that
// never runs again, a new pool runs what was pending, group commit, rows parse cannot read, and
// a process killed with SIGKILL mid-run that loses no accepted job (store_crash_child.cpp).

#include <fcntl.h>
#include <signal.h>
#include <spawn.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <filesystem>
#include <memory>
#include <mutex>
#include <set>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/pool/pool.hpp>
#include <weft/pool/sqlite_store.hpp>
#include <weft/runtime.hpp>
#include <weft/sync/event.hpp>

#include "../../support/suspended.hpp"
#include "../../support/watchdog.hpp"

extern char** environ;

using namespace std::chrono_literals;
using weft::task;

namespace {

// A directory of its own for each test, removed at the end.
struct scratch_dir {
  scratch_dir() {
    std::string t = (std::filesystem::temp_directory_path() / "weft-store-XXXXXX").string();
    if (!::mkdtemp(t.data())) throw std::runtime_error("mkdtemp failed");
    path = t;
  }
  ~scratch_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
  std::string file(const char* name) const { return (path / name).string(); }
  std::filesystem::path path;
};

using store_t = weft::sqlite_store<long>;

std::shared_ptr<store_t> open_store(const std::string& path, weft::sqlite_store_options o = {}) {
  return std::make_shared<store_t>(
      path, [](const long& n) { return std::to_string(n); },
      [](std::string_view s) {
        if (s.empty() || s.find_first_not_of("-0123456789") != std::string_view::npos)
          throw std::invalid_argument("not a number: \"" + std::string(s) + "\"");
        return std::stol(std::string(s));
      },
      std::move(o));
}

std::vector<long> pending_of(store_t& s) {
  std::vector<long> out;
  for (auto& p : s.pending()) out.push_back(p.job);
  return out;
}

task<weft::submit_status> submit_one(weft::job_pool<long>& pool, long job) {
  auto submitting = pool.submit(job);
  co_return co_await std::move(submitting);
}

}  // namespace

TEST_CASE("sqlite_store: an accepted job is committed, as another connection sees", "[pool][store][sqlite]") {
  weft::test::watchdog wd("sqlite accepted means stored");
  scratch_dir dir;
  weft::runtime rt({.workers = 2});
  weft::event gate;
  auto store = open_store(dir.file("jobs.db"));
  weft::job_pool<long> pool(rt, {.concurrency = 1}, [&](long) -> task<void> { co_await gate.wait(); },
                            {.store = store});
  REQUIRE(pool.try_submit(41) == weft::submit_status::accepted);
  REQUIRE(rt.block_on(submit_one(pool, 42)) == weft::submit_status::accepted);
  // A second connection, which shares nothing with the first but the file.
  auto other = open_store(dir.file("jobs.db"));
  CHECK(pending_of(*other) == std::vector<long>{41, 42});
  gate.set();
  rt.block_on(pool.stop(10s));
  store->flush();                     // (deletions are not waited for: flush)
  CHECK(pending_of(*other).empty());  // both succeeded: deleted
}

TEST_CASE("sqlite_store: a job that fails for good is a dead letter, listed and never run again",
          "[pool][store][sqlite]") {
  weft::test::watchdog wd("sqlite dead letters");
  scratch_dir dir;
  weft::runtime rt({.workers = 2});
  std::atomic<int> runs_of_13{0};
  auto processor = [&](long n) -> task<void> {
    if (n == 13) {
      runs_of_13.fetch_add(1);
      throw weft::retryable_error("unlucky");
    }
    co_return;
  };
  auto store = open_store(dir.file("jobs.db"));
  {
    weft::job_pool<long> pool(rt, {.concurrency = 1, .retry = {.max_attempts = 2, .initial_backoff = 0ms}}, processor,
                              {.store = store});
    for (long n : {12, 13, 14}) REQUIRE(pool.try_submit(n) == weft::submit_status::accepted);
    rt.block_on(pool.stop(10s));
  }
  auto dead = store->dead_letters();
  REQUIRE(dead.size() == 1);
  CHECK(dead[0].job == 13);
  CHECK(dead[0].error == "unlucky");
  CHECK(dead[0].attempts == 2);
  CHECK(dead[0].when.time_since_epoch().count() > 0);
  CHECK(store->pending().empty());
  // A new pool on the store finds nothing to run: the dead letter stays one.
  weft::job_pool<long> again(rt, {.concurrency = 1}, processor, {.store = store});
  CHECK(again.stats().submitted == 0);
  rt.block_on(again.stop(10s));
  CHECK(runs_of_13.load() == 2);
  CHECK(store->dead_letters().size() == 1);
  store->clear_dead_letters();
  CHECK(store->dead_letters().empty());
}

TEST_CASE("sqlite_store: a new pool runs what a pool stopped before the jobs finished left pending",
          "[pool][store][sqlite]") {
  weft::test::watchdog wd("sqlite pending across pools");
  scratch_dir dir;
  weft::runtime rt({.workers = 2});
  {
    auto store = open_store(dir.file("jobs.db"));
    weft::job_pool<long> pool(rt, {.concurrency = 1}, [](long) -> task<void> { co_await weft::sleep_for(1h); },
                              {.store = store});
    for (long n = 1; n <= 5; ++n) REQUIRE(pool.try_submit(n) == weft::submit_status::accepted);
    rt.block_on(pool.stop(0ms));
  }  // the store is closed with the pool
  auto store = open_store(dir.file("jobs.db"));
  std::mutex mu;
  std::vector<long> ran;
  weft::job_pool<long> pool(rt, {.concurrency = 1},
                            [&](long n) -> task<void> {
                              std::lock_guard lock(mu);
                              ran.push_back(n);
                              co_return;
                            },
                            {.store = store});
  rt.block_on(pool.stop(10s));
  CHECK(ran == std::vector<long>{1, 2, 3, 4, 5});  // in the order they were accepted
  CHECK(store->pending().empty());
}

TEST_CASE("sqlite_store: writes queued while a commit runs go together in the next one (group commit)",
          "[pool][store][sqlite]") {
  weft::test::watchdog wd("sqlite group commit");
  scratch_dir dir;
  weft::runtime rt({.workers = 2});
  std::mutex mu;
  std::condition_variable cv;
  bool hold_first = true;
  std::vector<std::size_t> batches;
  auto store = open_store(dir.file("jobs.db"), {.on_commit = [&](std::size_t n) {
                            std::unique_lock lock(mu);
                            batches.push_back(n);
                            cv.notify_all();
                            cv.wait(lock, [&] { return !hold_first; });
                          }});
  weft::event gate;
  weft::job_pool<long> pool(rt, {.concurrency = 1, .queue_capacity = 64},
                            [&](long) -> task<void> { co_await gate.wait(); }, {.store = store});
  std::vector<weft::join_handle<weft::submit_status>> submits;
  submits.push_back(rt.spawn(submit_one(pool, 0)));
  {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return !batches.empty(); });  // the first write is being committed
  }
  for (long n = 1; n <= 10; ++n) submits.push_back(rt.spawn(submit_one(pool, n)));
  while (store->stats().waiting < 10) std::this_thread::yield();  // all queued behind the commit
  {
    std::lock_guard lock(mu);
    hold_first = false;
  }
  cv.notify_all();
  for (auto& h : submits) CHECK(rt.block_on(std::move(h)) == weft::submit_status::accepted);
  {
    std::lock_guard lock(mu);
    REQUIRE(batches.size() >= 2);
    CHECK(batches[0] == 1);
    CHECK(batches[1] == 10);  // ten submits, one transaction
  }
  gate.set();
  rt.block_on(pool.stop(10s));
  CHECK(store->pending().empty());
}

TEST_CASE("sqlite_store: a stored job parse cannot read becomes a dead letter and the pool starts anyway",
          "[pool][store][sqlite]") {
  scratch_dir dir;
  weft::runtime rt({.workers = 1});
  {
    weft::sqlite_store<std::string> raw(
        dir.file("jobs.db"), [](const std::string& s) { return s; }, [](std::string_view s) { return std::string(s); });
    for (const char* body : {"7", "garbage", "8"}) raw.add(body, [](std::uint64_t, std::exception_ptr) {});
    raw.flush();
  }
  auto store = open_store(dir.file("jobs.db"));
  std::atomic<long> sum{0};
  weft::job_pool<long> pool(rt, {.concurrency = 1},
                            [&](long n) -> task<void> {
                              sum.fetch_add(n);
                              co_return;
                            },
                            {.store = store});
  rt.block_on(pool.stop(10s));
  CHECK(sum.load() == 15);
  auto dead = store->dead_letters();  // (a row parse cannot read is left out of the list...)
  CHECK(dead.empty());
  weft::sqlite_store<std::string> raw(
      dir.file("jobs.db"), [](const std::string& s) { return s; }, [](std::string_view s) { return std::string(s); });
  auto raw_dead = raw.dead_letters();  // (...but kept, with why)
  REQUIRE(raw_dead.size() == 1);
  CHECK(raw_dead[0].job == "garbage");
  CHECK(raw_dead[0].error.find("cannot parse the stored job: not a number") != std::string::npos);
}

TEST_CASE("sqlite_store: a database it cannot open is an error naming the path", "[pool][store][sqlite]") {
  scratch_dir dir;
  std::string bad = dir.file("no/such/dir/jobs.db");
  try {
    open_store(bad);
    FAIL("opened " << bad);
  } catch (const std::runtime_error& e) {
    CHECK(std::string(e.what()).find(bad) != std::string::npos);
  }
}

TEST_CASE("sqlite_store: a negative busy_timeout is refused, naming it", "[pool][store][sqlite][misuse]") {
  scratch_dir dir;
  std::string error = "(no std::invalid_argument)";
  try {
    open_store(dir.file("jobs.db"), {.busy_timeout = -1ms});
  } catch (const std::invalid_argument& e) {
    error = e.what();
  }
  CHECK(error.find("busy_timeout") != std::string::npos);
}

#ifdef WEFT_STORE_CRASH_CHILD
TEST_CASE("sqlite_store: after a SIGKILL mid-run, every accepted job succeeds at least once and none is lost",
          "[pool][store][sqlite][crash]") {
  weft::test::watchdog wd("sqlite SIGKILL");
  scratch_dir dir;
  const std::string db = dir.file("jobs.db");
  std::set<long> accepted, succeeded;

  // The child: submits forever; we read what it says until it has accepted plenty and finished
  // some, so that jobs are queued, in flight and done when it dies.
  int out[2];
  REQUIRE(::pipe(out) == 0);
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_adddup2(&actions, out[1], 1);
  posix_spawn_file_actions_addclose(&actions, out[0]);
  std::string child_path = WEFT_STORE_CRASH_CHILD;
  char* args[] = {child_path.data(), const_cast<char*>(db.c_str()), nullptr};
  pid_t pid = 0;
  REQUIRE(::posix_spawn(&pid, child_path.c_str(), &actions, nullptr, args, environ) == 0);
  posix_spawn_file_actions_destroy(&actions);
  ::close(out[1]);
  std::string buffer;
  auto take_lines = [&] {
    for (std::size_t nl; (nl = buffer.find('\n')) != std::string::npos; buffer.erase(0, nl + 1)) {
      std::istringstream line(buffer.substr(0, nl));
      std::string what;
      long n = 0;
      line >> what >> n;
      (what == "accepted" ? accepted : succeeded).insert(n);
    }
  };
  char chunk[4096];
  bool killed = false;
  for (;;) {
    ssize_t n = ::read(out[0], chunk, sizeof chunk);
    if (n <= 0) break;  // the child is gone (killed below, or died on its own: checked)
    buffer.append(chunk, static_cast<std::size_t>(n));
    take_lines();
    if (!killed && accepted.size() >= 400 && succeeded.size() >= 100) {
      ::kill(pid, SIGKILL);
      killed = true;
    }
  }
  ::close(out[0]);
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(killed);
  REQUIRE(WIFSIGNALED(status));
  REQUIRE(WTERMSIG(status) == SIGKILL);

  // The next process (here): a pool on the same store runs what was pending.
  weft::runtime rt({.workers = 2});
  auto store = open_store(db);
  std::mutex mu;
  weft::job_pool<long> pool(rt, {.concurrency = 4, .queue_capacity = 64},
                            [&](long n) -> task<void> {
                              if (n % 17 == 0) throw std::invalid_argument("multiple of 17");
                              std::lock_guard lock(mu);
                              succeeded.insert(n);
                              co_return;
                            },
                            {.store = store});
  const auto recovered = pool.stats().submitted;
  rt.block_on(pool.stop(60s));
  std::set<long> dead;
  for (auto& d : store->dead_letters()) dead.insert(d.job);

  std::vector<long> lost;
  for (long n : accepted)
    if (n % 17 == 0 ? !dead.count(n) : !succeeded.count(n)) lost.push_back(n);
  INFO("accepted " << accepted.size() << ", recovered " << recovered << ", dead letters " << dead.size());
  CHECK(recovered > 0);  // it did die with work pending
  CHECK(lost.empty());
  CHECK(store->pending().empty());
  for (long n : dead) CHECK(n % 17 == 0);  // only the jobs that fail are dead letters
}
#endif
