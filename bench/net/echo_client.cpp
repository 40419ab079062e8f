// The echo benchmark's client: N connections, each a ping-pong. A connection writes a message
// (64 bytes by default), reads the echo back, and writes the next one; it never has more than
// one message in flight. Every connection is driven by one thread through one epoll set, so the
// client costs about two system calls per round trip (write, read; the epoll_wait is shared by
// the connections that became readable together) and no context switch of its own beyond
// waiting for the server. A thread per connection would add a context switch per round trip in
// the client, which on a two-core machine takes CPU from the server being measured.
//
//   echo_client --port P [--seconds 3] [--connections 1] [--bytes 64] [--warmup 0.5]
//
// After the warm-up it counts the round trips completed in the next `--seconds` and times each
// one, from just before its write to the read that completed its echo, into a log-linear
// histogram (32 buckets per power of two: a reported percentile is within 3% of the true one).
// It prints one line,
//
//   round_trips_per_s 41234 p50_us 23.1 p99_us 80.4 connections 50
//
// and exits 1 if a connection fails (the server died or closed it).
#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <array>
#include <bit>
#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>
#include <vector>

namespace {

using clock_type = std::chrono::steady_clock;

struct config {
  int port = 0;
  double seconds = 3.0;
  double warmup = 0.5;
  int connections = 1;
  std::size_t bytes = 64;
};

[[noreturn]] void usage() {
  std::fprintf(stderr, "usage: echo_client --port P [--seconds 3] [--connections 1] [--bytes 64] [--warmup 0.5]\n");
  std::exit(2);
}

config parse(int argc, char** argv) {
  config c;
  for (int i = 1; i < argc; ++i) {
    std::string_view a = argv[i];
    if (i + 1 >= argc) usage();
    const char* v = argv[++i];
    if (a == "--port")
      c.port = std::atoi(v);
    else if (a == "--seconds")
      c.seconds = std::atof(v);
    else if (a == "--warmup")
      c.warmup = std::atof(v);
    else if (a == "--connections")
      c.connections = std::atoi(v);
    else if (a == "--bytes")
      c.bytes = static_cast<std::size_t>(std::atoi(v));
    else
      usage();
  }
  // A message must fit the socket buffers whole: each one is written with a single send on a
  // connection whose previous message has been echoed, so the send buffer is empty.
  if (c.port <= 0 || c.seconds <= 0 || c.warmup < 0 || c.connections < 1 || c.bytes < 1 || c.bytes > 16384) usage();
  return c;
}

// Round-trip times in nanoseconds. Values below 64 have a bucket each; above, every power of
// two [2^e, 2^(e+1)) is cut into 32 equal buckets, so a bucket is at most 1/32 of its value wide.
class latency_histogram {
 public:
  void record(std::uint64_t ns) {
    ++counts_[index(ns)];
    ++total_;
  }
  void clear() {
    counts_.fill(0);
    total_ = 0;
  }
  /// The q-quantile (0 < q <= 1) in nanoseconds: the middle of the bucket holding the
  /// ceil(q * total)-th smallest value; 0 when nothing was recorded.
  double quantile(double q) const {
    if (total_ == 0) return 0;
    const auto rank = static_cast<std::uint64_t>(std::ceil(q * static_cast<double>(total_)));
    std::uint64_t seen = 0;
    for (std::size_t i = 0; i < counts_.size(); ++i) {
      seen += counts_[i];
      if (seen >= rank) return midpoint(i);
    }
    return midpoint(counts_.size() - 1);
  }

 private:
  static constexpr int sub_bits = 5;  // 32 buckets per power of two
  // The largest index: shift 63 - sub_bits, top bits 2^(sub_bits+1) - 1.
  static constexpr std::size_t bucket_count = (64 - sub_bits + 1) << sub_bits;

  static std::size_t index(std::uint64_t v) {
    if (v < (2u << sub_bits)) return static_cast<std::size_t>(v);
    const int e = static_cast<int>(std::bit_width(v)) - 1;  // 2^e <= v, e > sub_bits
    const int shift = e - sub_bits;
    return (static_cast<std::size_t>(shift) << sub_bits) + static_cast<std::size_t>(v >> shift);
  }
  static double midpoint(std::size_t i) {
    if (i < (2u << sub_bits)) return static_cast<double>(i);
    const std::size_t shift = (i >> sub_bits) - 1;
    const std::uint64_t low = static_cast<std::uint64_t>((i & ((1u << sub_bits) - 1)) | (1u << sub_bits)) << shift;
    return static_cast<double>(low) + static_cast<double>(std::uint64_t{1} << shift) / 2;
  }

  std::array<std::uint64_t, bucket_count> counts_{};
  std::uint64_t total_ = 0;
};

struct connection {
  int fd = -1;
  std::size_t received = 0;  // bytes of the current echo read so far
  clock_type::time_point sent;
};

int connect_to(int port) {
  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return -1;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    ::close(fd);
    return -1;
  }
  // Non-blocking from here on: the loop reads only what epoll says is there, and a read that
  // finds less than a whole echo returns to epoll_wait instead of stalling other connections.
  ::fcntl(fd, F_SETFL, ::fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

bool send_message(connection& c, const std::vector<char>& msg, clock_type::time_point now) {
  c.sent = now;
  c.received = 0;
  // MSG_NOSIGNAL: a server that died shows up as an error here, not as SIGPIPE.
  return ::send(c.fd, msg.data(), msg.size(), MSG_NOSIGNAL) == static_cast<ssize_t>(msg.size());
}

}  // namespace

int main(int argc, char** argv) {
  const config cfg = parse(argc, argv);
  std::vector<char> msg(cfg.bytes, 'x'), in(cfg.bytes);

  const int ep = ::epoll_create1(0);
  std::vector<connection> conns(static_cast<std::size_t>(cfg.connections));
  for (std::size_t i = 0; i < conns.size(); ++i) {
    conns[i].fd = connect_to(cfg.port);
    if (conns[i].fd < 0) {
      std::perror("echo_client: connect");
      return 1;
    }
    // Level-triggered: a connection whose echo arrived in pieces is reported again until read.
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    ::epoll_ctl(ep, EPOLL_CTL_ADD, conns[i].fd, &ev);
  }

  const auto start = clock_type::now();
  const auto measure_from =
      start + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(cfg.warmup));
  const auto end =
      measure_from + std::chrono::duration_cast<clock_type::duration>(std::chrono::duration<double>(cfg.seconds));
  for (auto& c : conns)
    if (!send_message(c, msg, clock_type::now())) {
      std::perror("echo_client: send");
      return 1;
    }

  latency_histogram hist;
  std::uint64_t trips = 0;
  bool measuring = false;
  std::vector<epoll_event> events(conns.size());
  for (;;) {
    const auto before = clock_type::now();
    if (before >= end) break;
    if (!measuring && before >= measure_from) {
      // Round trips in flight now started in the warm-up; counting them is at most one per
      // connection out of tens of thousands.
      measuring = true;
      hist.clear();
      trips = 0;
    }
    const auto wait_ms = std::chrono::ceil<std::chrono::milliseconds>((measuring ? end : measure_from) - before);
    const int n = ::epoll_wait(ep, events.data(), static_cast<int>(events.size()), static_cast<int>(wait_ms.count()));
    if (n < 0 && errno != EINTR) {
      std::perror("echo_client: epoll_wait");
      return 1;
    }
    for (int k = 0; k < n; ++k) {
      connection& c = conns[events[static_cast<std::size_t>(k)].data.u64];
      const ssize_t r = ::read(c.fd, in.data() + c.received, cfg.bytes - c.received);
      if (r < 0 && (errno == EAGAIN || errno == EINTR)) continue;
      if (r <= 0) {
        std::fprintf(stderr, "echo_client: connection lost (%s)\n",
                     r == 0 ? "closed by the server" : std::strerror(errno));
        return 1;
      }
      c.received += static_cast<std::size_t>(r);
      if (c.received < cfg.bytes) continue;
      // One clock read ends this round trip and starts the next: the write follows at once.
      const auto now = clock_type::now();
      if (measuring) {
        hist.record(static_cast<std::uint64_t>(std::chrono::nanoseconds(now - c.sent).count()));
        ++trips;
      }
      if (!send_message(c, msg, now)) {
        std::fprintf(stderr, "echo_client: connection lost (%s)\n", std::strerror(errno));
        return 1;
      }
    }
  }

  const double elapsed = std::chrono::duration<double>(clock_type::now() - measure_from).count();
  for (auto& c : conns) ::close(c.fd);
  ::close(ep);
  std::printf("round_trips_per_s %.0f p50_us %.1f p99_us %.1f connections %d\n", static_cast<double>(trips) / elapsed,
              hist.quantile(0.50) / 1000, hist.quantile(0.99) / 1000, cfg.connections);
  return 0;
}
