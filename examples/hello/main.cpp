// The README's first example: fork-join on the work-stealing workers.
#include <cstdio>

#include <weft/weft.hpp>

weft::task<long> fib(int n) {
  if (n < 2) co_return n;
  weft::join_handle<long> a = weft::spawn(fib(n - 1));  // may be stolen by another worker
  long b = co_await fib(n - 2);                         // runs inline, symmetric transfer
  co_return co_await a + b;
}

int main() {
  weft::runtime rt;  // one worker per hardware thread
  long r = rt.block_on(fib(30));
  std::printf("fib(30) = %ld on %zu workers\n", r, rt.workers());
  return r == 832040 ? 0 : 1;
}
