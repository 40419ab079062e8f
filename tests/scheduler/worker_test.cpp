// The worker loop's dispatch order (worker.hpp): the LIFO slot, the local deque (LIFO), the
// yield queue (FIFO), and the injector, checked every global_queue_interval dispatches so that
// local work cannot starve it. One worker, so the order is the loop's alone.
#include <weft/sched/scheduler.hpp>

#include <algorithm>
#include <functional>
#include <latch>
#include <mutex>
#include <vector>

#include <catch2/catch.hpp>

using namespace weft::sched;

namespace {

// A job that runs a function, recording its name in the shared order.
struct named_job : job {
  int name = 0;
  std::vector<int>* order = nullptr;
  std::function<void()> then;
  std::latch* done = nullptr;
  named_job() {
    run_ = [](job* j) noexcept {
      auto* self = static_cast<named_job*>(j);
      self->order->push_back(self->name);  // one worker: no race
      if (self->then) self->then();
      if (self->done) self->done->count_down();
    };
  }
};

}  // namespace

TEST_CASE("a worker runs a woken job next, spawns depth-first and yields first come first served", "[worker]") {
  scheduler s({.workers = 1});
  s.start();
  std::vector<int> order;
  std::latch done(7);
  named_job root, woken, y1, y2, sp1, sp2, sp3;
  for (auto* j : {&root, &woken, &y1, &y2, &sp1, &sp2, &sp3}) {
    j->order = &order;
    j->done = &done;
  }
  root.name = 0, woken.name = 1, y1.name = 2, y2.name = 3, sp1.name = 4, sp2.name = 5, sp3.name = 6;
  root.then = [&] {
    s.schedule(&y1, hint::fifo);
    s.schedule(&y2, hint::fifo);
    s.schedule(&sp1, hint::spawn);
    s.schedule(&sp2, hint::spawn);
    s.schedule(&sp3, hint::spawn);
    s.schedule(&woken, hint::wake);
  };
  s.inject(&root);
  done.wait();
  s.stop();
  // The woken job first; spawns newest first; then the yields, oldest first.
  CHECK(order == std::vector<int>{0, 1, 6, 5, 4, 2, 3});
}

TEST_CASE("an injected job is not starved by a worker's endless local work", "[worker][fairness]") {
  constexpr std::uint32_t interval = 61;
  scheduler s({.workers = 1, .global_queue_interval = interval});
  s.start();
  std::vector<int> order;
  std::latch done(1);
  constexpr int chain = 1000;
  std::vector<named_job> local(chain);
  named_job outsider;
  outsider.name = -1;
  outsider.order = &order;
  for (int i = 0; i < chain; ++i) {
    local[i].name = i;
    local[i].order = &order;
    if (i == 0) local[i].then = [&] { s.inject(&outsider); };  // arrives while the chain runs
    if (i + 1 < chain)
      local[i].then = [&, i, first = local[i].then] {
        if (first) first();
        s.schedule(&local[i + 1], hint::spawn);  // each job spawns the next: never empty locally
      };
    else
      local[i].done = &done;
  }
  s.inject(&local[0]);
  done.wait();
  s.stop();
  auto at = std::find(order.begin(), order.end(), -1);
  REQUIRE(at != order.end());
  // Within one global-queue interval (plus the dispatch that found it) of its arrival.
  CHECK(at - order.begin() <= static_cast<long>(interval) + 2);
}

TEST_CASE("two jobs waking each other do not starve a queued one past max_lifo_polls", "[worker][fairness]") {
  scheduler s({.workers = 1, .max_lifo_polls = 3});
  s.start();
  std::vector<int> order;
  std::latch done(1);
  named_job a, b, waiting;
  int rounds = 0;
  a.name = 1, b.name = 2, waiting.name = 9;
  for (auto* j : {&a, &b, &waiting}) j->order = &order;
  a.then = [&] {
    if (++rounds < 40)
      s.schedule(&b, hint::wake);
    else
      done.count_down();
  };
  b.then = [&] { s.schedule(&a, hint::wake); };
  named_job root;
  root.name = 0;
  root.order = &order;
  root.then = [&] {
    s.schedule(&waiting, hint::fifo);  // queued behind whatever wakes
    s.schedule(&a, hint::wake);
  };
  s.inject(&root);
  done.wait();
  s.stop();
  auto at = std::find(order.begin(), order.end(), 9);
  REQUIRE(at != order.end());
  CHECK(at - order.begin() <= 1 + 3 + 1);  // root, at most max_lifo_polls slot runs, then it
}
