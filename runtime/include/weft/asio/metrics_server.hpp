#pragma once
// weft::metrics::serve: an HTTP/1.1 endpoint for the runtime's metrics, served on the runtime
// itself (its reactor and its workers; no thread of its own).
//
//   weft::runtime rt;
//   auto endpoint = weft::metrics::serve(rt, "127.0.0.1:9464");
//   // curl http://127.0.0.1:9464/metrics   Prometheus text 0.0.4 of rt.metrics()
//   // curl http://127.0.0.1:9464/tasks     rt.dump_tasks() as JSON
//   // http://127.0.0.1:9464/ in a browser  a live page of both
//
// Routes: `GET /metrics` (and HEAD) answers 200 with `Content-Type: text/plain; version=0.0.4;
// charset=utf-8`; `GET /tasks` answers 200 with a JSON object `{"tasks":[...]}`, one entry per
// task_info; `GET /` answers 200 with `Content-Type: text/html; charset=utf-8`: one
// self-contained page (no external request) that polls /metrics and /tasks every 1.5 s and shows
// workers (busy, zombie), stalls, tasks by state and the longest-stuck ones with their spawn
// sites, the schedule-delay histogram, and per pool its queue, in flight, rates, shedding,
// circuits open and job-duration histogram; any other path 404; another method 405. A malformed request gets 400, a
// request head larger than serve_options::max_request_bytes gets 431, and the connection is closed after either. Empty
// lines before a request line are skipped (RFC 9112 §2.2). Connections are kept alive (HTTP/1.1 default, or
// `Connection: keep-alive`) until the client closes them, sends `Connection: close`, or stays idle for idle_timeout.
// Request bodies are not accepted (400). A client that disconnects mid-request costs nothing:
// its connection task ends and its socket is closed.
//
// Slow and numerous clients: a request head must arrive whole within header_timeout of its
// first byte (a client trickling bytes just under idle_timeout gets 408 and is closed), and at
// most max_connections connections are served at once; one more is answered 503 and closed at
// once, without a task (refused_connections() counts them), so scrapers keep getting through
// while idle or hostile connections hold their slots until their timeouts free them.
//
// Each connection is a task of the runtime (named "metrics connection"), a child of the
// accept loop's task group; stopping the server cancels them all.
//
// Thread safety: serve() may be called from any thread, including a worker. A server's members
// may be called from one thread at a time. Lifetime: stop or destroy the server before its
// runtime is destroyed (a runtime shut down first has already ended the server's tasks).

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string_view>

#include <weft/spawn.hpp>

namespace weft {
class runtime;
}

namespace weft::metrics {

/// serve()'s options; values outside the ranges given make serve() throw std::invalid_argument.
struct serve_options {
  /// The smallest max_request_bytes accepted.
  static constexpr std::size_t min_request_bytes = 64;

  /// The largest request head (request line and headers, and any empty lines before them)
  /// accepted; larger gets 431. At least min_request_bytes.
  std::size_t max_request_bytes = 8192;
  /// A connection idle (or a request arriving) for longer than this is closed. Positive.
  std::chrono::milliseconds idle_timeout{30'000};
  /// The longest a request head may take to arrive, from its first byte; longer gets 408 and
  /// the connection is closed (slowloris). Positive.
  std::chrono::milliseconds header_timeout{10'000};
  /// Most connections served at once; one more is answered 503 and closed. At least 1.
  std::size_t max_connections = 256;
  /// Listen backlog. At least 1.
  int backlog = 128;
  /// Called (on a worker) each time a connection has ended and its socket is closed. A seam
  /// for tests and logs; must not block.
  std::function<void()> on_connection_closed;
};

/// A running endpoint; see serve(). Stops when destroyed.
class server {
 public:
  server() noexcept = default;
  server(server&&) noexcept;
  server& operator=(server&&) noexcept;
  ~server();

  /// The port the server listens on (the ephemeral port chosen for port 0). 0 once stopped.
  std::uint16_t port() const noexcept;
  /// Connections open right now.
  std::size_t open_connections() const noexcept;
  /// Requests answered so far (any status).
  std::uint64_t requests() const noexcept;
  /// Connections answered 503 because max_connections were open.
  std::uint64_t refused_connections() const noexcept;

  /// Stops accepting and cancels every connection. Off the workers it waits until the accept
  /// loop and all connections have ended and the listening socket is closed; on a worker (of any
  /// runtime: in a task) it only requests that (the tasks end on their own, promptly).
  /// Idempotent; never throws.
  void stop() noexcept;

  struct state;

 private:
  friend server serve(runtime& rt, std::string_view endpoint, serve_options opts);
  std::shared_ptr<state> state_;
  join_handle<void> loop_;
};

/// Listens on `endpoint` ("127.0.0.1:9464", "[::1]:9464", "0.0.0.0:0" for an ephemeral port)
/// and serves the runtime's metrics there until the returned server is stopped or destroyed.
/// Throws std::invalid_argument for a malformed endpoint or an option out of range (the message
/// names the field), boost::system::system_error if it cannot listen (address in use, say),
/// runtime_stopped after shutdown.
[[nodiscard]] server serve(runtime& rt, std::string_view endpoint, serve_options opts = {});

}  // namespace weft::metrics
