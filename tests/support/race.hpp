#pragma once
// Runs two actions on two threads released at the same moment (the caller's thread is one of
// them), so that what each does races the other. Repeat the round to find the interleavings.

#include <atomic>
#include <thread>

namespace weft::test {

template <class A, class B>
void race(A a, B b) {
  std::atomic<int> ready{0};
  auto start = [&] {
    ready.fetch_add(1);
    while (ready.load() < 2) {
    }
  };
  std::thread other([&] {
    start();
    a();
  });
  start();
  b();
  other.join();
}

}  // namespace weft::test
