#pragma once
// What the reactor tests share (reactor_test.cpp, reactor_per_worker_test.cpp): a one-byte read
// with use_task, and reads cancelled while their data arrives.

#include <thread>

#include <boost/asio/buffer.hpp>
#include <boost/asio/local/connect_pair.hpp>
#include <boost/asio/local/stream_protocol.hpp>
#include <boost/asio/write.hpp>

#include <weft/asio.hpp>
#include <weft/weft.hpp>

#include "../../support/suspended.hpp"

namespace weft::test {

/// Reads one byte from `s` (suspending until it comes), returns it.
inline weft::task<char> read_byte(boost::asio::local::stream_protocol::socket& s) {
  char c = 0;
  co_await s.async_read_some(boost::asio::buffer(&c, 1), weft::use_task);
  co_return c;
}

struct race_outcome {
  int completed = 0, cancelled = 0, other = 0;
};

/// `rounds` reads, each on a fresh socket pair made from `executor_for(i)`, cancelled while
/// another thread writes its byte; every other pair of rounds waits until the read is
/// suspended first. Counts how each read ended.
template <class ExecutorFor>
race_outcome cancel_racing_reads(weft::runtime& rt, int rounds, ExecutorFor executor_for) {
  using local = boost::asio::local::stream_protocol;
  race_outcome out;
  for (int i = 0; i < rounds; ++i) {
    local::socket a(executor_for(i)), b(executor_for(i));
    boost::asio::local::connect_pair(a, b);
    auto reader = rt.spawn(read_byte(a));
    if (i % 4 < 2) wait_suspended(rt, 1);  // half the time it waits already
    std::thread writer([&] { boost::asio::write(b, boost::asio::buffer("z", 1)); });
    reader.cancel();  // races the data's arrival
    writer.join();
    try {
      out.completed += rt.block_on(std::move(reader)) == 'z';
    } catch (const weft::cancelled_error&) {
      ++out.cancelled;
    } catch (...) {
      ++out.other;
    }
  }
  return out;
}

}  // namespace weft::test
