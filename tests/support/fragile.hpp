#pragma once
// weft::test::fragile: a value whose move throws when a test says so, for the paths of the
// channels and the broadcast that move a value under their lock. arm(n, k) lets the next n
// moves (constructions and assignments) through and then throws on k moves; copies never throw.
// A move that succeeds leaves `moved_from` behind; one that throws changes nothing.
// (std::is_nothrow_move_constructible_v<fragile> is false, as for any type whose move may throw.)

#include <atomic>
#include <stdexcept>
#include <utility>

namespace weft::test {

struct fragile {
  static constexpr int moved_from = -1;  ///< what a move leaves behind
  int v;

  explicit fragile(int x) noexcept : v(x) {}
  fragile(const fragile&) = default;
  fragile(fragile&& o) : v(o.v) {
    on_move();
    o.v = moved_from;
  }
  fragile& operator=(const fragile&) = default;
  fragile& operator=(fragile&& o) {
    on_move();  // (before the change: a move assignment that throws leaves both as they were)
    v = std::exchange(o.v, moved_from);
    return *this;
  }

  /// The next `pass` moves succeed, the `fail` after them throw std::runtime_error.
  static void arm(int pass, int fail = 1) noexcept {
    pass_.store(pass);
    fail_.store(fail);
  }
  static void disarm() noexcept { fail_.store(0); }

 private:
  static void on_move() {
    if (fail_.load() == 0) return;
    if (pass_.load() > 0) {
      pass_.fetch_sub(1);
      return;
    }
    fail_.fetch_sub(1);
    throw std::runtime_error("fragile: move");
  }

  static inline std::atomic<int> pass_{0}, fail_{0};
};

}  // namespace weft::test
