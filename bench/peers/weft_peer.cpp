// weft in the peers' harness (../shared/peers/README.md): `weft_peer <bench> <N> <threads>` runs
// fib, skynet, nqueens or pingpong the way the peer programs do (one untimed warm-up, one timed
// run, the result checked) and prints `result: R` and `duration: D us`; exit 3 on a wrong
// result. List it in the harness's EXTRA_PEERS file as `weft <path to this binary>`, so that
// weft is measured in the same interleaved run as TooManyCooks, libfork and oneTBB.
//
// The workloads are the ones of bench/runtime (fib: spawn the first child, await the second
// inline; skynet: ten children per node; nqueens: a child per legal placement, with the board
// size a template parameter as in the peers' programs), each also written with weft::fork and
// with weft::fork_scope (the default; `spawn` or `fork` as a fourth argument chooses another),
// and, for pingpong, two tasks over two weft::channel<long> of capacity 1.
//
// WEFT_PEER_NO_MONITOR=1 turns the stall detector off (`stall.sample_interval = 0`): for
// instruction counts under callgrind, where a run is ~50x slower and the monitor would take the
// busy worker for stalled and sample its stack. WEFT_PEER_METRICS=1 prints the runtime's metrics
// (Prometheus text) to stderr at the end: steals, parks, wake-ups behind a run's time.
// WEFT_PEER_TIMING_METRICS=0 turns the sampled timing histograms off (`timing_metrics`), to
// measure what they cost.
#include <algorithm>
#include <array>
#include <chrono>
#include <cinttypes>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ranges>
#include <string>
#include <utility>

#include <weft/fork.hpp>
#include <weft/fork_scope.hpp>
#include <weft/weft.hpp>

namespace {

using weft::task;

task<std::uint64_t> fib(int n) {
  if (n < 2) co_return static_cast<std::uint64_t>(n);
  auto a = weft::spawn(fib(n - 1));
  std::uint64_t b = co_await fib(n - 2);
  co_return co_await a + b;
}

// The same three with weft::fork, structured fork-join (what the peers' programs write with
// libfork's fork/join). `weft_peer BENCH N THREADS spawn|fork|scope` chooses; main() says the default.
task<std::uint64_t> fib_fork(int n) {
  if (n < 2) co_return static_cast<std::uint64_t>(n);
  auto [a, b] = co_await weft::fork(fib_fork(n - 1), fib_fork(n - 2));
  co_return a + b;
}

// The same with weft::fork_scope: continuation stealing, as libfork's fork/join.
task<std::uint64_t> fib_scope(int n) {
  if (n < 2) co_return static_cast<std::uint64_t>(n);
  std::uint64_t a = 0, b = 0;
  weft::fork_scope scope;
  co_await scope.fork(a, fib_scope(n - 1));
  b = co_await fib_scope(n - 2);
  co_await scope.join();
  co_return a + b;
}

task<std::uint64_t> skynet_scope(std::uint64_t first, std::uint64_t span) {
  if (span == 1) co_return first;
  const std::uint64_t child = span / 10;
  std::array<std::uint64_t, 10> parts;
  weft::fork_scope scope;
  for (std::uint64_t i = 0; i < 9; ++i) co_await scope.fork(parts[i], skynet_scope(first + i * child, child));
  parts[9] = co_await skynet_scope(first + 9 * child, child);
  co_await scope.join();
  std::uint64_t sum = 0;
  for (std::uint64_t v : parts) sum += v;
  co_return sum;
}

task<std::uint64_t> skynet_fork(std::uint64_t first, std::uint64_t span) {
  if (span == 1) co_return first;
  const std::uint64_t child = span / 10;
  std::array<task<std::uint64_t>, 10> parts;
  for (std::uint64_t i = 0; i < 10; ++i) parts[i] = skynet_fork(first + i * child, child);
  std::uint64_t sum = 0;
  for (std::uint64_t v : co_await weft::fork(std::move(parts))) sum += v;
  co_return sum;
}

task<std::uint64_t> skynet(std::uint64_t first, std::uint64_t span) {
  if (span == 1) co_return first;
  const std::uint64_t child = span / 10;
  std::array<weft::join_handle<std::uint64_t>, 10> parts;
  for (std::uint64_t i = 0; i < 10; ++i) parts[i] = weft::spawn(skynet(first + i * child, child));
  std::uint64_t sum = 0;
  for (auto& p : parts) sum += co_await p;
  co_return sum;
}

// nqueens as the peers write it (runtime-benchmarks): the board size is a template parameter,
// so every program's placement check runs over a board of known size, and the binary
// instantiates N = 1..15 and picks one at run time. The legal columns are the peers' own
// filter view and lambda, token for token: the check is most of a node's work, and the same
// logic written as a plain loop compiled to 1.2x the instructions (callgrind, nqueens(10): 380
// against libfork's 311 per node) and ran nqueens(11) 9 % slower (runtime/README.md).
constexpr int max_queens = 16;

template <std::size_t N>
auto legal_columns(int xMax, const std::array<char, N>& buf) {
  return std::ranges::views::iota(0UL, N) | std::ranges::views::filter([xMax, &buf](int y) {
           char q = y;
           for (int x = 0; x < xMax; x++) {
             char p = buf[x];
             if (q == p || q == p - (xMax - x) || q == p + (xMax - x)) {
               return false;
             }
           }
           return true;
         });
}

template <std::size_t N>
task<std::uint64_t> nqueens(int row, std::array<char, N> b) {
  if (static_cast<std::size_t>(row) == N) co_return 1;
  std::array<weft::join_handle<std::uint64_t>, N> parts;
  std::size_t k = 0;
  for (auto y : legal_columns(row, b)) {
    b[row] = static_cast<char>(y);
    parts[k++] = weft::spawn(nqueens<N>(row + 1, b));
  }
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < k; ++i) sum += co_await parts[i];
  co_return sum;
}

template <std::size_t N>
task<std::uint64_t> nqueens_fork(int row, std::array<char, N> b) {
  if (static_cast<std::size_t>(row) == N) co_return 1;
  std::array<task<std::uint64_t>, N> parts;
  std::size_t k = 0;
  for (auto y : legal_columns(row, b)) {
    b[row] = static_cast<char>(y);
    parts[k++] = nqueens_fork<N>(row + 1, b);
  }
  std::uint64_t sum = 0;
  for (std::uint64_t v : co_await weft::fork(std::move(parts))) sum += v;  // empty tasks give 0
  co_return sum;
}

template <std::size_t N>
task<std::uint64_t> nqueens_scope(int row, std::array<char, N> b) {
  if (static_cast<std::size_t>(row) == N) co_return 1;
  std::array<std::uint64_t, N> parts;
  std::size_t k = 0;
  weft::fork_scope scope;
  for (auto y : legal_columns(row, b)) {
    b[row] = static_cast<char>(y);
    co_await scope.fork(parts[k++], nqueens_scope<N>(row + 1, b));
  }
  co_await scope.join();
  std::uint64_t sum = 0;
  for (std::size_t i = 0; i < k; ++i) sum += parts[i];
  co_return sum;
}

template <std::size_t... I>
std::uint64_t run_nqueens_scope(weft::runtime& rt, int n, std::index_sequence<I...>) {
  using run_fn = std::uint64_t (*)(weft::runtime&);
  static constexpr run_fn with_scope[] = {[](weft::runtime& r) -> std::uint64_t {
    return r.block_on(nqueens_scope<I + 1>(0, std::array<char, I + 1>{}));
  }...};
  return with_scope[n - 1](rt);
}

template <std::size_t... I>
std::uint64_t run_nqueens(weft::runtime& rt, int n, bool spawn, std::index_sequence<I...>) {
  using run_fn = std::uint64_t (*)(weft::runtime&);
  static constexpr run_fn with_spawn[] = {
      [](weft::runtime& r) -> std::uint64_t { return r.block_on(nqueens<I + 1>(0, std::array<char, I + 1>{})); }...};
  static constexpr run_fn with_fork[] = {[](weft::runtime& r) -> std::uint64_t {
    return r.block_on(nqueens_fork<I + 1>(0, std::array<char, I + 1>{}));
  }...};
  return (spawn ? with_spawn : with_fork)[n - 1](rt);
}

task<void> ponger(weft::channel<long>& in, weft::channel<long>& out) {
  while (auto v = co_await in.recv()) co_await out.send(*v + 1);
  out.close();
}

task<std::uint64_t> pingpong(int n) {
  weft::channel<long> to(1), from(1);
  auto p = weft::spawn(ponger(to, from));
  std::uint64_t sum = 0;
  for (long i = 0; i < n; ++i) {
    co_await to.send(i);
    sum += static_cast<std::uint64_t>(*co_await from.recv());
  }
  to.close();
  co_await p;
  co_return sum;
}

std::uint64_t expected(const std::string& bench, int n) {
  if (bench == "fib") {
    std::uint64_t a = 0, b = 1;
    for (int i = 0; i < n; ++i) b = std::exchange(a, b) + b;
    return a;
  }
  if (bench == "skynet") {
    std::uint64_t leaves = 1;
    for (int i = 0; i < n; ++i) leaves *= 10;
    return leaves * (leaves - 1) / 2;
  }
  if (bench == "nqueens") {
    static constexpr std::uint64_t solutions[] = {1,  1,   0,   0,    2,     10,    4,      40,
                                                  92, 352, 724, 2680, 14200, 73712, 365596, 2279184};
    return n >= 0 && n < max_queens ? solutions[n] : 0;
  }
  return static_cast<std::uint64_t>(n) * (static_cast<std::uint64_t>(n) + 1) / 2;  // pingpong
}

}  // namespace

int main(int argc, char** argv) {
  const std::string how = argc == 5 ? argv[4] : "";
  if (argc != 4 && !(argc == 5 && (how == "spawn" || how == "fork" || how == "scope"))) {
    std::fprintf(stderr, "usage: %s fib|skynet|nqueens|pingpong N THREADS [spawn|fork|scope]\n", argv[0]);
    return 64;
  }
  const std::string bench = argv[1];
  // By default every workload uses fork_scope, the fastest of the three for each
  // (runtime/README.md, "weft::fork_scope").
  const bool spawn = how == "spawn";
  const bool scope = how == "scope" || how.empty();
  const int n = std::atoi(argv[2]);
  const int threads = std::max(1, std::atoi(argv[3]));
  if (bench != "fib" && bench != "skynet" && bench != "nqueens" && bench != "pingpong") return 64;
  if (bench == "nqueens" && (n < 1 || n >= max_queens)) return 64;
  weft::runtime_options options{.workers = static_cast<std::size_t>(threads)};
  if (const char* v = std::getenv("WEFT_PEER_NO_MONITOR"); v && std::string(v) == "1")
    options.stall.sample_interval = std::chrono::milliseconds(0);
  if (const char* v = std::getenv("WEFT_PEER_TIMING_METRICS"); v && std::string(v) == "0")
    options.timing_metrics = false;
  weft::runtime rt(options);
  auto run = [&](int size) -> std::uint64_t {
    if (scope) {
      if (bench == "fib") return rt.block_on(fib_scope(size));
      if (bench == "skynet") {
        std::uint64_t leaves = 1;
        for (int i = 0; i < size; ++i) leaves *= 10;
        return rt.block_on(skynet_scope(0, leaves));
      }
      if (bench == "nqueens") return run_nqueens_scope(rt, size, std::make_index_sequence<max_queens - 1>{});
    }
    if (bench == "fib") return rt.block_on(spawn ? fib(size) : fib_fork(size));
    if (bench == "skynet") {
      std::uint64_t leaves = 1;
      for (int i = 0; i < size; ++i) leaves *= 10;
      return rt.block_on(spawn ? skynet(0, leaves) : skynet_fork(0, leaves));
    }
    if (bench == "nqueens") return run_nqueens(rt, size, spawn, std::make_index_sequence<max_queens - 1>{});
    return rt.block_on(pingpong(size));
  };
  (void)run(bench == "fib" ? std::min(n, 30) : n);  // warm-up, untimed
  const auto t0 = std::chrono::steady_clock::now();
  const std::uint64_t r = run(n);
  const auto t1 = std::chrono::steady_clock::now();
  std::printf("result: %" PRIu64 "\n", r);
  std::printf("duration: %lld us\n",
              static_cast<long long>(std::chrono::duration_cast<std::chrono::microseconds>(t1 - t0).count()));
  if (const char* v = std::getenv("WEFT_PEER_METRICS"); v && std::string(v) == "1")
    std::fputs(rt.metrics().to_prometheus().c_str(), stderr);
  if (r != expected(bench, n)) {
    std::fprintf(stderr, "WRONG RESULT for %s(%d): %" PRIu64 "\n", bench.c_str(), n, r);
    return 3;
  }
  return 0;
}
