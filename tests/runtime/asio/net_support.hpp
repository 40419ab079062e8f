#pragma once
// What the Asio tests share: the loopback address, and a count of the process's open file
// descriptors (to show that connections leave none behind; support/process.hpp).

#include <boost/asio/ip/tcp.hpp>

#include "../../support/process.hpp"

namespace weft::test {

inline boost::asio::ip::tcp::endpoint loopback(unsigned short port = 0) {
  return {boost::asio::ip::make_address("127.0.0.1"), port};
}

}  // namespace weft::test
