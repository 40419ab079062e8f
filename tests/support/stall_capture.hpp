#pragma once
// What a stall test needs: a clock the test moves by hand (stall durations are measured with it,
// so no test waits out a real threshold) and a box that keeps the reports.

#include <atomic>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <mutex>
#include <vector>

#include <weft/stall.hpp>

namespace weft::test {

struct fake_clock {
  std::atomic<std::int64_t> ns{1'000'000'000};
  std::chrono::steady_clock::time_point now() const {
    return std::chrono::steady_clock::time_point(std::chrono::nanoseconds(ns.load()));
  }
  void advance(std::chrono::nanoseconds d) { ns.fetch_add(d.count()); }
};

struct report_box {
  std::mutex mu;
  std::vector<weft::stall_report> reports;
  void add(const weft::stall_report& r) {
    std::lock_guard lock(mu);
    reports.push_back(r);
  }
  std::size_t size() {
    std::lock_guard lock(mu);
    return reports.size();
  }
  std::vector<weft::stall_report> copy() {
    std::lock_guard lock(mu);
    return reports;
  }
};

}  // namespace weft::test
