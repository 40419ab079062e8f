// An io_context(1)-style Asio program (examples/chat_server: a chat room whose state is shared by
// every session's handlers, unlocked) on weft with a strand: 20 real clients on 127.0.0.1 each
// say 20 lines and hear all 400. Run under ThreadSanitizer too: with the strand, no race.
#include <boost/asio/strand.hpp>
#include <catch2/catch.hpp>

#include <weft/asio.hpp>
#include <weft/weft.hpp>

#include "../../../examples/chat_server/chat.hpp"
#include "../../support/watchdog.hpp"

namespace net = boost::asio;

TEST_CASE("Asio's chat room runs on weft with one strand, every client hearing every line", "[asio][chat]") {
  weft::test::watchdog wd("chat room");
  weft::runtime rt({.workers = 2});
  auto room_ex = net::make_strand(rt.get_executor());
  chat::room room;
  net::ip::tcp::acceptor acceptor(room_ex, {net::ip::make_address("127.0.0.1"), 0});
  net::co_spawn(room_ex, chat::listen(acceptor, room), net::detached);
  const int complete = chat::run_clients(room_ex, room, acceptor.local_endpoint().port(), 20, 20);
  CHECK(complete == 20);
  net::post(room_ex, [&] { acceptor.close(); });
  rt.shutdown();  // before the acceptor and the room go
}
