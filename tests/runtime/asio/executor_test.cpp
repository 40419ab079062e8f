// weft::executor: the runtime as an Asio executor (properties, post/dispatch/defer, co_spawn,
// timers, I/O objects and shutdown).
#include <weft/asio/executor.hpp>

#include <atomic>
#include <chrono>
#include <future>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/defer.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/dispatch.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/use_future.hpp>
#include <catch2/catch.hpp>

#include <weft/asio.hpp>
#include <weft/weft.hpp>

#include "net_support.hpp"

namespace net = boost::asio;
using tcp = net::ip::tcp;
using namespace std::chrono_literals;
using weft::task;
using weft::test::loopback;
using weft::test::open_fds;

static_assert(net::execution::is_executor<weft::executor>::value);
static_assert(std::is_convertible_v<weft::executor, net::any_io_executor>);
static_assert(std::is_nothrow_copy_constructible_v<weft::executor>);

namespace {

net::awaitable<int> answer_after_a_timer(std::atomic<bool>& on_worker, weft::runtime& rt) {
  auto ex = co_await net::this_coro::executor;
  net::steady_timer t(ex, 1ms);
  co_await t.async_wait(net::use_awaitable);
  on_worker = rt.scheduler().on_worker();
  co_return 42;
}

}  // namespace

TEST_CASE("the executor's properties are the ones Asio documents", "[asio]") {
  weft::runtime rt({.workers = 2});
  weft::executor ex = rt.get_executor();
  CHECK(ex == rt.get_executor());
  CHECK(net::query(ex, net::execution::blocking) == net::execution::blocking.possibly);
  auto never = net::require(ex, net::execution::blocking.never);
  CHECK(net::query(never, net::execution::blocking) == net::execution::blocking.never);
  CHECK(never != ex);
  CHECK(net::query(net::require(never, net::execution::blocking.possibly), net::execution::blocking) ==
        net::execution::blocking.possibly);
  CHECK(net::query(ex, net::execution::relationship) == net::execution::relationship.fork);
  CHECK(net::query(net::require(ex, net::execution::relationship.continuation), net::execution::relationship) ==
        net::execution::relationship.continuation);
  CHECK(net::query(ex, net::execution::outstanding_work) == net::execution::outstanding_work.untracked);
  auto tracked = net::prefer(ex, net::execution::outstanding_work.tracked);
  CHECK(net::query(tracked, net::execution::outstanding_work) == net::execution::outstanding_work.tracked);
  CHECK(tracked == ex);
  CHECK(net::query(ex, net::execution::mapping) == net::execution::mapping.thread);
  net::io_context& ctx = net::query(ex, net::execution::context);
  CHECK(&ctx == &net::query(rt.get_executor(), net::execution::context));
  CHECK_FALSE(ex.running_in_this_thread());

  weft::runtime other({.workers = 1});
  CHECK(ex != other.get_executor());
  CHECK(&ctx != &net::query(other.get_executor(), net::execution::context));

  net::any_io_executor any = ex;
  CHECK(any == net::any_io_executor(rt.get_executor()));
  CHECK(any.target<weft::executor>() != nullptr);
}

TEST_CASE("asio::post, dispatch and defer run the function on a worker", "[asio]") {
  weft::runtime rt({.workers = 2});
  auto ex = rt.get_executor();
  for (int kind = 0; kind < 3; ++kind) {
    std::promise<bool> ran;
    auto f = [&] { ran.set_value(rt.scheduler().on_worker()); };
    if (kind == 0) net::post(ex, f);
    if (kind == 1) net::dispatch(ex, f);
    if (kind == 2) net::defer(ex, f);
    CHECK(ran.get_future().get());
  }
}

TEST_CASE("dispatch from a worker runs inline; post from a worker queues", "[asio]") {
  weft::runtime rt({.workers = 1});  // one worker: nobody else can run what is queued
  auto ex = rt.get_executor();
  rt.block_on([](weft::executor ex) -> task<void> {
    bool ran = false;
    net::dispatch(ex, [&] { ran = true; });
    CHECK(ran);
    std::atomic<bool> posted{false};
    weft::event done;
    net::post(ex, [&] {
      posted = true;
      done.set();
    });
    CHECK_FALSE(posted.load());  // nothing ran inside post
    co_await done.wait();
    CHECK(posted.load());
  }(ex));
}

TEST_CASE("co_spawn of an Asio awaitable on the weft executor delivers its result from a worker", "[asio]") {
  weft::runtime rt({.workers = 2});
  std::atomic<bool> on_worker{false};
  auto fut = net::co_spawn(rt.get_executor(), answer_after_a_timer(on_worker, rt), net::use_future);
  CHECK(fut.get() == 42);
  CHECK(on_worker.load());

  // The same awaited from a weft task with use_task.
  on_worker = false;
  int v = rt.block_on([](weft::runtime& rt, std::atomic<bool>& on_worker) -> task<int> {
    co_return co_await net::co_spawn(rt.get_executor(), answer_after_a_timer(on_worker, rt), weft::use_task);
  }(rt, on_worker));
  CHECK(v == 42);
  CHECK(on_worker.load());
}

namespace {

net::awaitable<int> value_after(std::chrono::milliseconds d, std::atomic<int>& finished) {
  net::steady_timer t(co_await net::this_coro::executor, d);
  co_await t.async_wait(net::use_awaitable);
  finished.fetch_add(1);
  co_return 42;
}

}  // namespace

// co_spawn's cancellation handler re-dispatches its emission and points into itself: use_task
// gives co_spawn no slot, so a cancelled task waits for the awaitable instead of freeing the
// handler under a queued emission (a use-after-free under ASan before).
TEST_CASE("a task whose deadline passes in co_spawn(..., use_task) waits for the awaitable", "[asio]") {
  weft::runtime rt({.workers = 1});
  std::atomic<int> finished{0};
  for (int i = 0; i < 5; ++i) {
    int outcome = rt.block_on([](weft::runtime& rt, std::atomic<int>& finished) -> task<int> {
      auto op = [](weft::runtime& rt, std::atomic<int>& finished) -> task<int> {
        co_return co_await net::co_spawn(rt.get_executor(), value_after(20ms, finished), weft::use_task);
      };
      try {
        co_return co_await weft::with_timeout(1ms, op(rt, finished));
      } catch (const weft::timeout_error&) {
        co_return -1;
      }
    }(rt, finished));
    CHECK(outcome == -1);             // the deadline fired while it ran: timeout_error once it ended
    CHECK(finished.load() == i + 1);  // the awaitable ran to its end before the task went on
  }
}

TEST_CASE("an I/O object kept past rt.shutdown() closes safely; the executor then refuses", "[asio]") {
  weft::runtime rt({.workers = 1});
  std::optional<tcp::acceptor> acceptor;
  acceptor.emplace(rt.get_executor(), loopback());
  weft::executor ex = rt.get_executor();
  net::execution_context* context = &net::query(ex, net::execution::context);
  rt.shutdown();
  CHECK(acceptor->is_open());
  acceptor.reset();  // deregisters from the reactor, which lives until the runtime is destroyed
  CHECK_THROWS_AS(rt.get_executor(), weft::runtime_stopped);
  CHECK(&net::query(ex, net::execution::context) == context);  // a copied executor still names its context
}

TEST_CASE("a function posted from a plain thread may let the runtime end while that thread is still posting",
          "[asio][lifecycle]") {
  // The poster queues the function and goes on in the scheduler (waking a worker); the function
  // runs at once and this thread, seeing it ran, destroys the runtime. The post must hold the
  // runtime's core, and the workers' end must wait for it, until it is out of the scheduler.
  for (int round = 0; round < 2000; ++round) {
    std::optional<weft::runtime> rt;
    rt.emplace(weft::runtime_options{.workers = 2});
    weft::executor ex = rt->get_executor();
    std::promise<void> ran;
    std::thread poster([&] { net::post(ex, [&] { ran.set_value(); }); });
    ran.get_future().wait();
    rt.reset();
    poster.join();
  }
  SUCCEED("no data race or use after free (the sanitizer builds)");
}

TEST_CASE("a timer's completion handler runs on a worker", "[asio]") {
  weft::runtime rt({.workers = 2});
  net::steady_timer t(rt.get_executor(), 1ms);
  std::promise<bool> ran;
  t.async_wait([&](boost::system::error_code ec) { ran.set_value(!ec && rt.scheduler().on_worker()); });
  CHECK(ran.get_future().get());
}

namespace {
// A handler type with a name to look for.
struct weft_test_slow_handler {
  std::atomic<bool>* started;
  std::atomic<bool>* stop;
  void operator()() const {
    started->store(true);
    while (!stop->load()) std::this_thread::yield();
  }
};
}  // namespace

TEST_CASE("a handler posted to the executor is named by its type in dumps and stall reports", "[asio][stall]") {
  std::atomic<std::int64_t> fake_ns{1'000'000'000};
  std::mutex mu;
  std::vector<weft::stall_report> reports;
  // Declared before the runtime: the handler may still be reading `stop` while the test returns,
  // and only ~runtime waits for it to finish.
  std::atomic<bool> started{false}, stop{false};
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
  net::post(rt.get_executor(), weft_test_slow_handler{&started, &stop});
  while (!started.load()) std::this_thread::yield();
  bool listed = false;
  for (const auto& t : rt.dump_tasks())
    listed |= t.state == weft::task_state::running && t.name.find("weft_test_slow_handler") != std::string::npos;
  CHECK(listed);
  auto named = [&] {
    std::lock_guard lock(mu);
    for (const auto& r : reports)
      if (r.task_name.find("asio handler") == 0 && r.task_name.find("weft_test_slow_handler") != std::string::npos)
        return true;
    return false;
  };
  while (!named()) {
    fake_ns.fetch_add(std::chrono::nanoseconds(1ms).count());
    std::this_thread::yield();
  }
  stop.store(true);
  CHECK(named());
}
