// Boost.Fiber: boost::fibers::buffered_channel throughput and ping-pong, fibers on 1 thread
// (algo::round_robin) and on 2 threads (algo::work_stealing); see bench/common/fiber_pool.hpp for why the
// pool is built as it is.
//
// buffered_channel's capacity must be a power of two, at least 2, and it holds one value
// fewer than its capacity (a ring that keeps one slot empty). The capacity asked for is
// rounded up to the next power of two, at least 2: 1 -> 2 (holds 1), 64 -> 64 (holds 63),
// 1024 -> 1024 (holds 1023). The fibers are launched with launch::post, so that at 2 threads
// the other thread may steal them from the ready queue; they get Boost.Fiber's default stack.
#include <cstddef>
#include <cstdint>
#include <vector>

#include <boost/fiber/all.hpp>

#include "../common/fiber_pool.hpp"
#include "workloads.hpp"

namespace {

namespace fibers = boost::fibers;
using chan = fibers::buffered_channel<std::int64_t>;

std::size_t fiber_capacity(std::int64_t capacity) {
  std::size_t c = 2;
  while (c < static_cast<std::size_t>(capacity)) c *= 2;
  return c;
}

struct alignas(64) padded_tally {
  bench::tally t;
};

bench::tally channel_once(bench::fiber_pool& pool, int producers, std::int64_t capacity, std::int64_t n) {
  bench::tally total;
  pool.run([&] {
    chan ch(fiber_capacity(capacity));
    std::vector<padded_tally> tallies(static_cast<std::size_t>(producers));
    std::vector<fibers::fiber> fs;
    for (int p = 0; p < producers; ++p)
      fs.emplace_back(fibers::launch::post, [&ch, &t = tallies[p].t, count = n / producers] {
        for (std::int64_t i = 0; i < count; ++i) {
          std::int64_t v;
          if (ch.pop(v) != fibers::channel_op_status::success) return;
          t.take(v);
        }
      });
    for (int p = 0; p < producers; ++p)
      fs.emplace_back(fibers::launch::post, [&ch, begin = n * p / producers, end = n * (p + 1) / producers] {
        for (std::int64_t i = begin; i < end; ++i) ch.push(bench::encode(i));
      });
    for (auto& f : fs) f.join();
    for (auto& t : tallies) total += t.t;
  });
  return total;
}

// ping sends i, pong answers n + i.
bench::tally pingpong_once(bench::fiber_pool& pool, std::int64_t n) {
  bench::tally total;
  pool.run([&] {
    chan a_to_b(2), b_to_a(2);  // one slot each
    padded_tally ta, tb;
    fibers::fiber a(fibers::launch::post, [&] {
      for (std::int64_t i = 0; i < n; ++i) {
        a_to_b.push(bench::encode(i));
        std::int64_t v;
        if (b_to_a.pop(v) != fibers::channel_op_status::success || bench::seq_of(v) != n + i) return;
        ta.t.take(v);
      }
    });
    fibers::fiber b(fibers::launch::post, [&] {
      for (std::int64_t i = 0; i < n; ++i) {
        std::int64_t v;
        if (a_to_b.pop(v) != fibers::channel_op_status::success) return;
        tb.t.take(v);
        b_to_a.push(bench::encode(n + bench::seq_of(v)));
      }
    });
    a.join();
    b.join();
    total = ta.t;
    total += tb.t;
  });
  return total;
}

void channel_fibers(benchmark::State& state) {
  auto cfg = bench::channel_config(state);
  auto& pool = bench::fiber_pool::get(static_cast<unsigned>(cfg.threads));
  bench::measure(
      state, [&](std::int64_t n) { return channel_once(pool, cfg.producers, cfg.capacity, n); }, cfg.messages,
      cfg.messages, cfg.messages);
}

void pingpong_fibers(benchmark::State& state) {
  auto& pool = bench::fiber_pool::get(static_cast<unsigned>(bench::threads(state)));
  const std::int64_t n = state.range(1);
  bench::measure(state, [&](std::int64_t size) { return pingpong_once(pool, size); }, n, n, 2 * n);
}

[[maybe_unused]] const int registered =
    (bench::add_channel("channel/fibers", channel_fibers, bench::peer_messages, bench::peer_messages_cross_thread),
     bench::add_sized("pingpong/fibers", pingpong_fibers, bench::peer_messages, bench::peer_messages_cross_thread));

}  // namespace
