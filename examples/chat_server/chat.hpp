#pragma once
// A chat room in plain Boost.Asio C++20 coroutines (asio::awaitable, use_awaitable), the shape of
// Asio's own chat example, served on a weft runtime. Every client's lines go to every client.
//
// The room is shared by every session's handlers. On an io_context run by one thread that is
// safe without a lock (that context is an implicit strand). weft's executor is run by every
// worker, so the room's handlers would run on several threads at once: give the sessions and
// the room one strand, `asio::make_strand(rt.get_executor())`, and they run one at a time, as on
// io_context(1). That one line is the whole port.

#include <cstddef>
#include <deque>
#include <future>
#include <istream>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/read_until.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/streambuf.hpp>
#include <boost/asio/this_coro.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/asio/write.hpp>

namespace chat {

namespace net = boost::asio;
using tcp = net::ip::tcp;

class participant {
 public:
  virtual ~participant() = default;
  virtual void deliver(const std::string& line) = 0;
};

/// Who is in the room. Not thread-safe, as in Asio's example: its handlers must run one at a
/// time (a strand).
class room {
 public:
  void join(std::shared_ptr<participant> p) { members_.insert(std::move(p)); }
  void leave(const std::shared_ptr<participant>& p) { members_.erase(p); }
  void deliver(const std::string& line) {
    ++delivered_;
    for (const auto& p : members_) p->deliver(line);
  }
  std::size_t size() const { return members_.size(); }
  std::size_t delivered() const { return delivered_; }

 private:
  std::set<std::shared_ptr<participant>> members_;
  std::size_t delivered_ = 0;
};

/// One client: a reader (lines in -> the room) and a writer (the room's lines -> the client).
class session : public participant, public std::enable_shared_from_this<session> {
 public:
  session(tcp::socket socket, room& r) : socket_(std::move(socket)), timer_(socket_.get_executor()), room_(r) {
    timer_.expires_at(net::steady_timer::time_point::max());
  }

  void start() {
    room_.join(shared_from_this());
    net::co_spawn(socket_.get_executor(), [self = shared_from_this()] { return self->reader(); }, net::detached);
    net::co_spawn(socket_.get_executor(), [self = shared_from_this()] { return self->writer(); }, net::detached);
  }

  void deliver(const std::string& line) override {
    outbox_.push_back(line);
    timer_.cancel_one();
  }

 private:
  net::awaitable<void> reader() {
    try {
      for (std::string buffer;;) {
        std::size_t n =
            co_await net::async_read_until(socket_, net::dynamic_buffer(buffer, 1024), "\n", net::use_awaitable);
        room_.deliver(buffer.substr(0, n));
        buffer.erase(0, n);
      }
    } catch (const std::exception&) {
      stop();
    }
  }

  net::awaitable<void> writer() {
    try {
      while (socket_.is_open()) {
        if (outbox_.empty()) {
          boost::system::error_code ec;
          co_await timer_.async_wait(net::redirect_error(net::use_awaitable, ec));
        } else {
          co_await net::async_write(socket_, net::buffer(outbox_.front()), net::use_awaitable);
          outbox_.pop_front();
        }
      }
    } catch (const std::exception&) {
      stop();
    }
  }

  void stop() {
    room_.leave(shared_from_this());
    boost::system::error_code ec;
    socket_.close(ec);
    timer_.cancel();
  }

  tcp::socket socket_;
  net::steady_timer timer_;
  room& room_;
  std::deque<std::string> outbox_;
};

/// Accepts clients on `acceptor` into `r` until the acceptor is closed. Every session gets the
/// acceptor's executor: with a strand there, the whole room runs on it.
inline net::awaitable<void> listen(tcp::acceptor& acceptor, room& r) {
  for (;;) {
    boost::system::error_code ec;
    tcp::socket socket = co_await acceptor.async_accept(net::redirect_error(net::use_awaitable, ec));
    if (ec) co_return;  // closed
    std::make_shared<session>(std::move(socket), r)->start();
  }
}

/// A test of the room with real clients on plain blocking sockets (the example's --self-test and
/// the test suite's): each of `clients` says `lines` lines once everyone is in, then reads until
/// it heard everybody's. Returns how many clients heard all of them.
inline int run_clients(net::any_io_executor room_ex, room& r, unsigned short port, int clients, int lines) {
  net::io_context io;
  std::vector<tcp::socket> sockets;
  for (int i = 0; i < clients; ++i) {
    sockets.emplace_back(io);
    sockets.back().connect({net::ip::make_address("127.0.0.1"), port});
  }
  // Everyone in the room before anyone speaks (asked on the room's own executor).
  for (;;) {
    std::packaged_task<std::size_t()> ask([&r] { return r.size(); });
    auto answer = ask.get_future();
    net::post(room_ex, std::move(ask));
    if (answer.get() == static_cast<std::size_t>(clients)) break;
    std::this_thread::yield();
  }
  std::vector<std::thread> threads;
  std::vector<int> heard(static_cast<std::size_t>(clients), 0);
  for (int i = 0; i < clients; ++i)
    threads.emplace_back([&, i] {
      auto& s = sockets[static_cast<std::size_t>(i)];
      for (int l = 0; l < lines; ++l) {
        std::string line = "client " + std::to_string(i) + " line " + std::to_string(l) + "\n";
        net::write(s, net::buffer(line));
      }
      net::streambuf in;
      boost::system::error_code ec;
      while (heard[static_cast<std::size_t>(i)] < clients * lines) {
        net::read_until(s, in, '\n', ec);
        if (ec) break;
        std::istream text(&in);
        std::string got;
        std::getline(text, got);
        ++heard[static_cast<std::size_t>(i)];
      }
    });
  for (auto& t : threads) t.join();
  int complete = 0;
  for (int h : heard) complete += h == clients * lines;
  return complete;
}

}  // namespace chat
