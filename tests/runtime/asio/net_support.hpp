#pragma once
// What the Asio tests share: the loopback address, and a count of the process's open file
// descriptors (to show that connections leave none behind).

#include <dirent.h>

#include <cstddef>

#include <boost/asio/ip/tcp.hpp>

namespace weft::test {

inline std::size_t open_fds() {
  std::size_t n = 0;
  if (DIR* d = ::opendir("/proc/self/fd")) {
    while (::readdir(d)) ++n;
    ::closedir(d);
  }
  return n;
}

inline boost::asio::ip::tcp::endpoint loopback(unsigned short port = 0) {
  return {boost::asio::ip::make_address("127.0.0.1"), port};
}

}  // namespace weft::test
