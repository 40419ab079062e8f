// chat_server: Asio's chat room (chat.hpp: plain asio::awaitable coroutines) on a weft runtime.
//
//   chat_server [port]          serve on 127.0.0.1:port (default 5555) until Ctrl-C
//   chat_server --self-test     on a free port: 20 clients each say 20 lines; every client must
//                               hear all 400; exit 0 if so
//
// The port of an io_context(1) program to weft is one line: run the room's handlers on a strand,
// `boost::asio::make_strand(rt.get_executor())`, because weft's workers would otherwise run them
// at once (the room is not thread-safe, as it need not be on io_context(1)).
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include <boost/asio/post.hpp>
#include <boost/asio/strand.hpp>
#include <weft/asio.hpp>
#include <weft/weft.hpp>

#include "chat.hpp"

namespace net = boost::asio;
using tcp = net::ip::tcp;

int main(int argc, char** argv) {
  const std::string arg = argc > 1 ? argv[1] : "";
  const bool test = arg == "--self-test";
  const unsigned short port = test ? 0 : static_cast<unsigned short>(argc > 1 ? std::atoi(argv[1]) : 5555);

  weft::runtime rt({.workers = 2, .name = "chat"});
  auto room_ex = net::make_strand(rt.get_executor());  // the one line: the room on a strand
  chat::room room;
  tcp::acceptor acceptor(room_ex, {net::ip::make_address("127.0.0.1"), port});
  net::co_spawn(room_ex, chat::listen(acceptor, room), net::detached);
  const unsigned short bound = acceptor.local_endpoint().port();

  if (!test) {
    std::printf("chat_server: listening on 127.0.0.1:%u (Ctrl-C to stop)\n", bound);
    rt.run();  // until SIGINT or SIGTERM (runtime_options::stop_signals); it shuts the runtime down
    return 0;
  }
  constexpr int clients = 20, lines = 20;
  const int complete = chat::run_clients(room_ex, room, bound, clients, lines);
  net::post(room_ex, [&] { acceptor.close(); });
  rt.shutdown();  // before the acceptor and the room it serves go
  std::printf("self-test: %d of %d clients heard all %d lines\n", complete, clients, clients * lines);
  return complete == clients ? 0 : 1;
}
