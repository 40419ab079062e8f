#include <weft/asio/metrics_server.hpp>

#include <algorithm>
#include <array>
#include <atomic>
#include <charconv>
#include <exception>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <fmt/format.h>
#include <boost/asio/buffer.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>

#include <weft/asio/executor.hpp>
#include <weft/asio/use_task.hpp>
#include <weft/metrics/json.hpp>
#include <weft/metrics/registry.hpp>
#include <weft/runtime.hpp>
#include <weft/sched/worker.hpp>
#include <weft/task_group.hpp>
#include <weft/time.hpp>
#include <weft/timeout.hpp>

#include "dashboard.hpp"
#include "http_request.hpp"

namespace weft::metrics {

struct server::state {
  runtime* rt = nullptr;
  serve_options opts;
  cancel_source stop;
  std::atomic<std::uint16_t> port{0};
  std::atomic<std::size_t> open{0};
  std::atomic<std::uint64_t> requests{0};
  std::atomic<std::uint64_t> refused{0};
};

namespace {

using tcp = boost::asio::ip::tcp;

tcp::endpoint parse_endpoint(std::string_view text) {
  auto bad = [&](const char* why) {
    return std::invalid_argument(
        fmt::format("weft::metrics::serve: bad endpoint \"{}\": {} (expected host:port, "
                    "e.g. 127.0.0.1:9464 or [::1]:0)",
                    text, why));
  };
  std::size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) throw bad("no port");
  std::string_view host = text.substr(0, colon);
  std::string_view port_text = text.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') host = host.substr(1, host.size() - 2);
  unsigned port = 0;
  auto [end, ec] = std::from_chars(port_text.data(), port_text.data() + port_text.size(), port);
  if (ec != std::errc() || end != port_text.data() + port_text.size() || port > 65535) throw bad("bad port");
  boost::system::error_code aec;
  auto address = host.empty() ? boost::asio::ip::address(boost::asio::ip::address_v4::any())
                              : boost::asio::ip::make_address(std::string(host), aec);
  if (aec) throw bad("the host must be an IP address");
  return {address, static_cast<unsigned short>(port)};
}

// Options that cannot work fail here, by name, rather than as a server that drops every
// connection (a timeout of zero) or answers every request with 431 (a tiny head limit).
void check_options(const serve_options& opts) {
  auto bad = [](std::string_view field, std::string_view why) {
    return std::invalid_argument(fmt::format("weft::metrics::serve: serve_options::{} {}", field, why));
  };
  if (opts.idle_timeout <= std::chrono::milliseconds::zero())
    throw bad("idle_timeout", fmt::format("must be positive, not {} ms", opts.idle_timeout.count()));
  if (opts.max_request_bytes < serve_options::min_request_bytes)
    throw bad("max_request_bytes", fmt::format("must be at least {} (a request line and a Host header), not {}",
                                               serve_options::min_request_bytes, opts.max_request_bytes));
  if (opts.header_timeout <= std::chrono::milliseconds::zero())
    throw bad("header_timeout", fmt::format("must be positive, not {} ms", opts.header_timeout.count()));
  if (opts.max_connections < 1) throw bad("max_connections", "must be at least 1, not 0");
  if (opts.backlog < 1) throw bad("backlog", fmt::format("must be at least 1, not {}", opts.backlog));
}

/// rt.dump_tasks() as `{"tasks":[{...}, ...]}` (one line).
std::string tasks_json(const std::vector<task_info>& tasks) {
  std::string out = "{\"tasks\":[";
  bool first = true;
  for (const task_info& t : tasks) {
    if (!first) out += ',';
    first = false;
    out += fmt::format("{{\"id\":{},\"name\":", t.id);
    append_json_string(out, t.name);
    out += ",\"state\":";
    append_json_string(out, to_string(t.state));
    out += ",\"awaiting\":";
    append_json_string(out, t.awaiting);
    out += fmt::format(",\"in_state_seconds\":{}", std::chrono::duration<double>(t.in_state).count());
    if (t.worker != static_cast<std::size_t>(-1))
      out += fmt::format(",\"worker\":{}", t.worker);
    else
      out += ",\"worker\":null";
    out += ",\"spawn_site\":{\"file\":";
    append_json_string(out, t.spawn_site.file_name());
    out += fmt::format(",\"line\":{},\"function\":", t.spawn_site.line());
    append_json_string(out, t.spawn_site.function_name());
    out += "}}";
  }
  out += "]}\n";
  return out;
}

struct response {
  int status;
  const char* reason;
  const char* content_type;
  std::string body;
  bool close = false;
};

response route(server::state& st, const weft::detail::http::request& req) {
  if (req.method != "GET" && req.method != "HEAD")
    return {405, "Method Not Allowed", "text/plain; charset=utf-8", "only GET and HEAD are served\n"};
  if (req.path == "/metrics")
    return {200, "OK", "text/plain; version=0.0.4; charset=utf-8", st.rt->metrics().to_prometheus()};
  if (req.path == "/tasks") return {200, "OK", "application/json", tasks_json(st.rt->dump_tasks())};
  if (req.path == "/") return {200, "OK", "text/html; charset=utf-8", std::string(detail::dashboard_html)};
  return {404, "Not Found", "text/plain; charset=utf-8", "not found: try /, /metrics or /tasks\n"};
}

std::string head_of(const response& r, int minor_version) {
  std::string h = fmt::format("HTTP/1.1 {} {}\r\nContent-Type: {}\r\nContent-Length: {}\r\n", r.status, r.reason,
                              r.content_type, r.body.size());
  if (r.status == 405) h += "Allow: GET, HEAD\r\n";
  if (r.close)
    h += "Connection: close\r\n";
  else if (minor_version == 0)
    h += "Connection: keep-alive\r\n";
  h += "\r\n";
  return h;
}

task<std::size_t> read_some(tcp::socket& s, char* buf, std::size_t n) {
  co_return co_await s.async_read_some(boost::asio::buffer(buf, n), use_task);
}

task<void> write_all(tcp::socket& s, const std::string& head, const std::string& body) {
  std::array<boost::asio::const_buffer, 2> bufs{boost::asio::buffer(head), boost::asio::buffer(body)};
  co_await boost::asio::async_write(s, bufs, use_task);
}

task<void> send(server::state& st, tcp::socket& s, const response& r, bool head_only, int minor_version) {
  static const std::string empty;
  std::string head = head_of(r, minor_version);
  co_await with_timeout(st.opts.idle_timeout, write_all(s, head, head_only ? empty : r.body));
  st.requests.fetch_add(1, std::memory_order_relaxed);
}

/// Reads until `in` holds a whole request head or more than max_request_bytes: each read waits
/// at most idle_timeout, and all of them together at most header_timeout from the head's first
/// byte. npos: too large; nullopt: header_timeout passed.
task<std::optional<std::size_t>> read_head(server::state& st, tcp::socket& s, std::string& in,
                                           std::array<char, 4096>& chunk) {
  using clock = std::chrono::steady_clock;
  // A pipelined request already begun started its clock when its bytes arrived: close enough.
  std::optional<clock::time_point> head_deadline;
  if (!in.empty()) head_deadline = clock::now() + st.opts.header_timeout;
  std::size_t end;
  // Empty lines before a request line count toward max_request_bytes, so a client cannot keep
  // us reading them forever.
  while ((end = weft::detail::http::find_head_end(in)) == std::string::npos && in.size() <= st.opts.max_request_bytes) {
    auto wait = st.opts.idle_timeout;
    bool head_limited = false;
    if (head_deadline) {
      auto left = std::chrono::ceil<std::chrono::milliseconds>(*head_deadline - clock::now());
      if (left <= std::chrono::milliseconds::zero()) co_return std::nullopt;
      head_limited = left < wait;
      wait = std::min(wait, left);
    }
    std::size_t n;
    try {
      n = co_await with_timeout(wait, read_some(s, chunk.data(), chunk.size()));
    } catch (const timeout_error&) {
      if (head_limited) co_return std::nullopt;
      throw;  // idle: closed without a word
    }
    if (!head_deadline) head_deadline = clock::now() + st.opts.header_timeout;
    in.append(chunk.data(), n);
  }
  co_return end;
}

task<void> discard_until_eof(tcp::socket& s, std::array<char, 4096>& chunk) {
  for (std::size_t total = 0; total < 64 * 1024;) total += co_await read_some(s, chunk.data(), chunk.size());
}

/// After an error response that ends the connection: the write side is shut (the client sees the
/// response end) and what the client still sends is read and dropped, for at most a second (64
/// KiB), before the close. Closing with unread bytes makes the kernel answer them with a reset,
/// which can destroy the response before the client reads it (RFC 9112 §9.6). Never throws.
task<void> drain_before_close(server::state& st, tcp::socket& s, std::array<char, 4096>& chunk) {
  boost::system::error_code ec;
  s.shutdown(tcp::socket::shutdown_send, ec);
  if (ec) co_return;
  try {
    co_await with_timeout(std::min(st.opts.idle_timeout, std::chrono::milliseconds(1000)), discard_until_eof(s, chunk));
  } catch (...) {  // eof (the usual end), a reset, the time up, or the server stopping
  }
}

/// One connection: requests in, responses out, until either side ends it.
task<void> serve_connection(std::shared_ptr<server::state> st, tcp::socket s) {
  std::string in;
  std::array<char, 4096> chunk;
  bool drain = false;  // an error response: what the client still sends is read before closing
  try {
    for (bool open = true; open;) {
      std::optional<std::size_t> head = co_await read_head(*st, s, in, chunk);
      // (Responses are named locals, never temporaries inside a co_await expression: g++ 12
      // destroys such temporaries twice.)
      if (!head) {
        const response too_slow{408, "Request Timeout", "text/plain; charset=utf-8",
                                "request head not received within header_timeout\n", true};
        co_await send(*st, s, too_slow, false, 1);
        drain = true;
        break;
      }
      const std::size_t end = *head;
      if (end == std::string::npos || end + 4 > st->opts.max_request_bytes) {
        const response too_large{431, "Request Header Fields Too Large", "text/plain; charset=utf-8",
                                 "request head too large\n", true};
        co_await send(*st, s, too_large, false, 1);
        drain = true;
        break;
      }
      auto req = weft::detail::http::parse_request_head(std::string_view(in).substr(0, end));
      if (!req || req->has_body) {
        const response bad{400, "Bad Request", "text/plain; charset=utf-8",
                           req ? "request bodies are not accepted\n" : "malformed request\n", true};
        co_await send(*st, s, bad, false, 1);
        drain = true;
        break;
      }
      response r = route(*st, *req);
      r.close = !req->keep_alive;
      open = req->keep_alive;
      co_await send(*st, s, r, req->method == "HEAD", req->minor_version);
      in.erase(0, end + 4);  // a pipelined request may follow
    }
  } catch (const cancelled_error&) {              // idle timeout, or the server stopping
  } catch (const boost::system::system_error&) {  // the client went away (eof, reset)
  } catch (const std::exception& e) {
    fmt::print(stderr, "weft::metrics::serve: connection failed: {}\n", e.what());
  }
  if (drain) co_await drain_before_close(*st, s, chunk);
  boost::system::error_code ec;
  s.shutdown(tcp::socket::shutdown_both, ec);
  s.close(ec);
  st->open.fetch_sub(1, std::memory_order_relaxed);
  if (st->opts.on_connection_closed) st->opts.on_connection_closed();
}

/// A connection over max_connections: 503 written without waiting (a fresh socket's send
/// buffer holds it; if not, the client gets the close alone) and closed, with no task.
void refuse(server::state& st, tcp::socket& s) {
  static constexpr std::string_view busy =
      "HTTP/1.1 503 Service Unavailable\r\nContent-Type: text/plain; charset=utf-8\r\nContent-Length: 27\r\n"
      "Connection: close\r\nRetry-After: 1\r\n\r\ntoo many open connections\r\n";
  st.refused.fetch_add(1, std::memory_order_relaxed);  // counted before the client can see the answer
  boost::system::error_code ec;
  s.non_blocking(true, ec);
  if (!ec) s.write_some(boost::asio::buffer(busy), ec);
  // What the client sent already is read first: closing over unread bytes sends a reset, which
  // could destroy the answer before the client reads it (bytes still to come may yet do that).
  char sink[1024];
  for (int i = 0; i < 16 && !ec && s.available(ec) > 0; ++i) s.read_some(boost::asio::buffer(sink), ec);
  s.shutdown(tcp::socket::shutdown_both, ec);
  s.close(ec);
}

task<void> accept_loop(std::shared_ptr<server::state> st, tcp::acceptor acceptor) {
  task_group connections;  // children inherit our token: stop() cancels them all
  for (;;) {
    bool failed = false;
    try {
      tcp::socket s = co_await acceptor.async_accept(use_task);
      if (st->open.load(std::memory_order_relaxed) >= st->opts.max_connections) {
        refuse(*st, s);
        continue;
      }
      st->open.fetch_add(1, std::memory_order_relaxed);
      connections.spawn(serve_connection(st, std::move(s)), {.name = "metrics connection"});
    } catch (const cancelled_error&) {
      break;
    } catch (const std::exception&) {
      failed = true;  // out of descriptors, a connection reset before accept: retry shortly
    }
    if (failed) {
      try {
        co_await sleep_for(std::chrono::milliseconds(10));
      } catch (const cancelled_error&) {
        break;
      }
    }
  }
  boost::system::error_code ec;
  acceptor.close(ec);
  connections.cancel();
  try {
    co_await connections.join();
  } catch (...) {  // cancelled_error: we are being stopped, and the children have ended
  }
}

}  // namespace

server::server(server&& o) noexcept : state_(std::move(o.state_)), loop_(std::move(o.loop_)) {}

server& server::operator=(server&& o) noexcept {
  if (this != &o) {
    stop();
    state_ = std::move(o.state_);
    loop_ = std::move(o.loop_);
  }
  return *this;
}

server::~server() { stop(); }

std::uint16_t server::port() const noexcept { return state_ ? state_->port.load(std::memory_order_relaxed) : 0; }
std::size_t server::open_connections() const noexcept {
  return state_ ? state_->open.load(std::memory_order_relaxed) : 0;
}
std::uint64_t server::requests() const noexcept {
  return state_ ? state_->requests.load(std::memory_order_relaxed) : 0;
}
std::uint64_t server::refused_connections() const noexcept {
  return state_ ? state_->refused.load(std::memory_order_relaxed) : 0;
}

void server::stop() noexcept {
  if (!state_) return;
  state_->stop.cancel();
  state_->port.store(0, std::memory_order_relaxed);
  if (loop_) {
    if (sched::this_worker()) {
      // A worker, of any runtime, must not block (block_on refuses it): the tasks end on their own.
      loop_.detach();
    } else {
      try {
        state_->rt->block_on(std::move(loop_));
      } catch (...) {  // runtime_stopped: the shutdown ended the tasks already
      }
    }
  }
}

server serve(runtime& rt, std::string_view endpoint, serve_options opts) {
  check_options(opts);
  const tcp::endpoint ep = parse_endpoint(endpoint);
  tcp::acceptor acceptor(rt.get_executor());
  acceptor.open(ep.protocol());
  acceptor.set_option(tcp::acceptor::reuse_address(true));
  acceptor.bind(ep);
  acceptor.listen(opts.backlog);
  auto st = std::make_shared<server::state>();
  st->rt = &rt;
  st->opts = std::move(opts);
  st->port.store(acceptor.local_endpoint().port(), std::memory_order_relaxed);
  server s;
  s.state_ = st;
  s.loop_ = rt.spawn(accept_loop(st, std::move(acceptor)), {.name = "metrics accept loop", .token = st->stop.token()});
  return s;
}

}  // namespace weft::metrics
