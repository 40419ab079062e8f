// The lock-free path of weft::channel (sync/detail/channel_ring.hpp): its ring alone under
// plain threads, and the channel at capacity 1 and 2 with lock-free and locked operations,
// selects and close racing each other. Run under TSan as well as in release.
#include <weft/sync/channel.hpp>

#include <atomic>
#include <cstdint>
#include <mutex>
#include <optional>
#include <thread>
#include <vector>

#include <catch2/catch.hpp>

#include <weft/errors.hpp>
#include <weft/runtime.hpp>
#include <weft/select.hpp>
#include <weft/spawn.hpp>
#include <weft/sync/detail/channel_ring.hpp>

using weft::task;

namespace {

constexpr std::int64_t stride = 1'000'000;  // value = producer * stride + sequence

// Each value received exactly once, and each consumer saw each producer's values in order.
struct ledger {
  explicit ledger(int producers, std::int64_t per_producer)
      : per(per_producer), seen(static_cast<std::size_t>(producers * per_producer)) {}

  struct consumer_view {
    ledger* l;
    std::vector<std::int64_t> last;  // per producer: the last sequence this consumer took
    int out_of_order = 0;
    void take(std::int64_t v) {
      const auto p = static_cast<std::size_t>(v / stride);
      const std::int64_t seq = v % stride;
      if (p >= last.size()) last.resize(p + 1, -1);
      if (seq <= last[p]) ++out_of_order;
      last[p] = seq;
      l->seen[p * static_cast<std::size_t>(l->per) + static_cast<std::size_t>(seq)].fetch_add(1);
    }
  };
  consumer_view view() { return {this, {}, 0}; }

  int wrong() const {
    int n = 0;
    for (const auto& s : seen) n += s.load() != 1;
    return n;
  }

  std::int64_t per;
  std::vector<std::atomic<int>> seen;
};

}  // namespace

TEST_CASE("the ring under plain threads gives every value once, each producer's in order", "[sync][channel][stress]") {
  for (std::size_t capacity : {1, 2, 3}) {
    INFO("capacity " << capacity);
    // Few threads and values: a thread that finds the ring full or empty yields, and on a
    // loaded machine each yield may cost a time slice.
    constexpr int producers = 2, consumers = 2;
    constexpr std::int64_t per_producer = 3000;
    weft::detail::channel_ring<std::int64_t> ring(capacity);
    ledger l(producers + 1, per_producer);
    std::mutex lock;  // the channel's lock, for the *_locked members
    std::atomic<int> producing{producers + 1};
    std::atomic<int> out_of_order{0};
    std::vector<std::thread> threads;
    for (int p = 0; p < producers; ++p)
      threads.emplace_back([&, p] {
        for (std::int64_t i = 0; i < per_producer; ++i) {
          std::int64_t v = p * stride + i;
          while (!ring.try_push(v)) std::this_thread::yield();
        }
        producing.fetch_sub(1);
      });
    threads.emplace_back([&] {  // one producer through the locked push
      for (std::int64_t i = 0; i < per_producer; ++i) {
        std::int64_t v = producers * stride + i;
        for (;;) {
          std::lock_guard g(lock);
          if (ring.push_locked(v)) break;
        }
      }
      producing.fetch_sub(1);
    });
    for (int c = 0; c <= consumers; ++c)
      threads.emplace_back([&, c] {
        auto view = l.view();
        for (;;) {
          const bool done = producing.load() == 0;  // read first: nothing is pushed after it
          std::optional<std::int64_t> v;
          if (c == consumers) {  // one consumer through the locked pop
            std::lock_guard g(lock);
            ring.pop_locked(v);
          } else {
            ring.try_pop(v);
          }
          if (v)
            view.take(*v);
          else if (done && ring.size() == 0)
            break;
          else
            std::this_thread::yield();
        }
        out_of_order.fetch_add(view.out_of_order);
      });
    for (auto& t : threads) t.join();
    CHECK(l.wrong() == 0);
    CHECK(out_of_order.load() == 0);
    CHECK(ring.size() == 0);
  }
}

TEST_CASE("lock-free and locked sends and receives at capacity 1 and 2 give every value once, in order",
          "[sync][channel][stress]") {
  for (std::size_t capacity : {1, 2}) {
    INFO("capacity " << capacity);
    weft::runtime rt({.workers = 2});
    constexpr int task_producers = 3, task_consumers = 3;
    constexpr std::int64_t per_producer = 10000;
    weft::channel<std::int64_t> ch(capacity);
    ledger l(task_producers + 1, per_producer);
    std::atomic<int> out_of_order{0};

    // A plain thread at each end, with try_send and try_recv.
    std::thread thread_producer([&] {
      for (std::int64_t i = 0; i < per_producer; ++i)
        while (!ch.try_send(task_producers * stride + i)) std::this_thread::yield();
    });
    std::thread thread_consumer([&] {
      auto view = l.view();
      for (;;) {
        const bool was_closed = ch.closed();  // read first: every send came before the close
        if (auto v = ch.try_recv())
          view.take(*v);
        else if (was_closed)
          break;
        else
          std::this_thread::yield();
      }
      out_of_order.fetch_add(view.out_of_order);
    });

    auto produce = [&](int p) -> task<void> {
      for (std::int64_t i = 0; i < per_producer; ++i) co_await ch.send(p * stride + i);
    };
    auto consume = [&]() -> task<void> {
      auto view = l.view();
      while (auto v = co_await ch.recv()) view.take(*v);
      out_of_order.fetch_add(view.out_of_order);
    };
    std::vector<weft::join_handle<void>> ps, cs;
    for (int c = 0; c < task_consumers; ++c) cs.push_back(rt.spawn(consume()));
    for (int p = 0; p < task_producers; ++p) ps.push_back(rt.spawn(produce(p)));
    for (auto& h : ps) rt.block_on(std::move(h));
    thread_producer.join();
    ch.close();
    thread_consumer.join();
    for (auto& h : cs) rt.block_on(std::move(h));
    CHECK(ch.size() == 0);
    CHECK(l.wrong() == 0);
    CHECK(out_of_order.load() == 0);
  }
}

TEST_CASE("a select's receive that loses takes no value, with lock-free sends racing it",
          "[sync][channel][select][stress]") {
  for (std::size_t capacity : {1, 2}) {
    INFO("capacity " << capacity);
    weft::runtime rt({.workers = 2});
    constexpr std::int64_t per_producer = 10000;
    weft::channel<std::int64_t> a(capacity), b(capacity);
    ledger l(4, per_producer);
    std::atomic<int> out_of_order{0};
    auto produce = [&](weft::channel<std::int64_t>& ch, int p) -> task<void> {
      for (std::int64_t i = 0; i < per_producer; ++i) co_await ch.send(p * stride + i);
    };
    // Selects on both channels; once one is closed and drained, receives from the other alone.
    auto select_both = [&]() -> task<void> {
      auto view = l.view();
      for (;;) {
        auto r = co_await weft::select(a.recv(), b.recv());
        std::optional<std::int64_t> v = r.index == 0 ? std::get<0>(r.value) : std::get<1>(r.value);
        if (!v) break;
        view.take(*v);
      }
      for (auto* ch : {&a, &b})
        while (auto v = co_await ch->recv()) view.take(*v);
      out_of_order.fetch_add(view.out_of_order);
    };
    auto consume = [&](weft::channel<std::int64_t>& ch) -> task<void> {
      auto view = l.view();
      while (auto v = co_await ch.recv()) view.take(*v);
      out_of_order.fetch_add(view.out_of_order);
    };
    std::thread thread_producer([&] {
      for (std::int64_t i = 0; i < per_producer; ++i)
        while (!a.try_send(3 * stride + i)) std::this_thread::yield();
    });
    std::vector<weft::join_handle<void>> ps, cs;
    for (int c = 0; c < 2; ++c) cs.push_back(rt.spawn(select_both()));
    cs.push_back(rt.spawn(consume(a)));
    cs.push_back(rt.spawn(consume(b)));
    ps.push_back(rt.spawn(produce(a, 0)));
    ps.push_back(rt.spawn(produce(b, 1)));
    ps.push_back(rt.spawn(produce(b, 2)));
    for (auto& h : ps) rt.block_on(std::move(h));
    thread_producer.join();
    a.close();
    b.close();
    for (auto& h : cs) rt.block_on(std::move(h));
    CHECK(l.wrong() == 0);
    CHECK(out_of_order.load() == 0);
  }
}

TEST_CASE("a close racing lock-free sends loses no value: each send that returned is received once",
          "[sync][channel][stress]") {
  for (std::size_t capacity : {1, 2}) {
    INFO("capacity " << capacity);
    weft::runtime rt({.workers = 2});
    constexpr int producers = 3;
    constexpr std::int64_t most = 100000, close_after = 5000;
    weft::channel<std::int64_t> ch(capacity);
    ledger l(producers, most);
    std::atomic<std::int64_t> sent{0}, received{0};
    std::atomic<int> out_of_order{0};
    auto produce = [&](int p) -> task<void> {
      try {
        for (std::int64_t i = 0; i < most; ++i) {
          co_await ch.send(p * stride + i);
          sent.fetch_add(1);
        }
      } catch (const weft::channel_closed&) {
      }
    };
    auto consume = [&]() -> task<void> {
      auto view = l.view();
      while (auto v = co_await ch.recv()) {
        view.take(*v);
        if (received.fetch_add(1) + 1 == close_after) ch.close();  // (one consumer does)
      }
      out_of_order.fetch_add(view.out_of_order);
    };
    std::vector<weft::join_handle<void>> hs;
    hs.push_back(rt.spawn(consume()));
    hs.push_back(rt.spawn(consume()));
    for (int p = 0; p < producers; ++p) hs.push_back(rt.spawn(produce(p)));
    for (auto& h : hs) rt.block_on(std::move(h));
    CHECK(sent.load() == received.load());
    CHECK(received.load() >= close_after);
    CHECK(out_of_order.load() == 0);
    int twice = 0;
    for (const auto& s : l.seen) twice += s.load() > 1;
    CHECK(twice == 0);
  }
}

TEST_CASE("a task whose sends and receives all complete lock-free still yields to others by its budget",
          "[sync][channel][fairness]") {
  // Such an operation completes in its await_ready, without suspending; its budget unit must
  // still hand the worker over (and the value it got must survive the yield).
  weft::runtime rt({.workers = 1, .budget = 16});
  std::atomic<bool> other_ran{false};
  constexpr long most = 1'000'000;
  struct outcome {
    long rounds = 0;
    long wrong_values = 0;
  };
  const outcome got = rt.block_on([](std::atomic<bool>& flag) -> task<outcome> {
    weft::channel<long> ch(4);
    auto other = weft::spawn([](std::atomic<bool>& f) -> task<void> {
      f.store(true);
      co_return;
    }(flag));
    outcome o;
    while (!flag.load() && o.rounds < most) {
      co_await ch.send(o.rounds);
      const std::optional<long> v = co_await ch.recv();
      o.wrong_values += !v || *v != o.rounds;
      ++o.rounds;
    }
    co_await other;
    co_return o;
  }(other_ran));
  CHECK(other_ran.load());
  CHECK(got.rounds < most);  // the other task ran while the loop went on
  CHECK(got.rounds > 0);
  CHECK(got.wrong_values == 0);
}
