// The echo benchmark's client: one connection, ping-pong. It writes a 64-byte message, reads
// the 64 bytes back, and repeats for the given time; it prints the round trips per second.
// Plain blocking sockets on one thread, so that it costs every server the same.
//
//   echo_client <port> [seconds=5] [bytes=64]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <vector>

namespace {

bool write_all(int fd, const char* p, std::size_t n) {
  while (n) {
    ssize_t w = ::write(fd, p, n);
    if (w <= 0) return false;
    p += w;
    n -= static_cast<std::size_t>(w);
  }
  return true;
}

bool read_all(int fd, char* p, std::size_t n) {
  while (n) {
    ssize_t r = ::read(fd, p, n);
    if (r <= 0) return false;
    p += r;
    n -= static_cast<std::size_t>(r);
  }
  return true;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: echo_client <port> [seconds=5] [bytes=64]\n");
    return 2;
  }
  const int port = std::atoi(argv[1]);
  const double seconds = argc > 2 ? std::atof(argv[2]) : 5.0;
  const std::size_t bytes = argc > 3 ? static_cast<std::size_t>(std::atoi(argv[3])) : 64;

  int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<std::uint16_t>(port));
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    std::perror("echo_client: connect");
    return 1;
  }
  std::vector<char> out(bytes, 'x'), in(bytes);
  // Warm up, then count round trips in the timed window.
  for (int i = 0; i < 1000; ++i)
    if (!write_all(fd, out.data(), bytes) || !read_all(fd, in.data(), bytes)) return 1;
  using clock = std::chrono::steady_clock;
  const auto start = clock::now();
  const auto end = start + std::chrono::duration<double>(seconds);
  std::uint64_t trips = 0;
  auto now = start;
  while (now < end) {
    for (int i = 0; i < 64; ++i) {
      if (!write_all(fd, out.data(), bytes) || !read_all(fd, in.data(), bytes)) {
        std::fprintf(stderr, "echo_client: connection lost\n");
        return 1;
      }
    }
    trips += 64;
    now = clock::now();
  }
  ::close(fd);
  std::printf("%.0f\n", static_cast<double>(trips) / std::chrono::duration<double>(now - start).count());
  return 0;
}
