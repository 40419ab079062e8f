// The process sqlite_store_test.cpp kills with SIGKILL mid-run. It submits jobs forever, from
// four tasks at once, to a job_pool on an sqlite_store at argv[1], and reports on stdout, one
// line each, written straight to the pipe (no stdio buffer to lose):
//   accepted N   submit() returned accepted for job N (so N was committed)
//   ok N         the processor finished job N
// Jobs whose number is a multiple of 17 fail for good (dead letters). It never ends by itself.

#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include <weft/pool/pool.hpp>
#include <weft/pool/sqlite_store.hpp>
#include <weft/runtime.hpp>
#include <weft/time.hpp>

namespace {

void say(const char* what, long n) {
  char line[64];
  int len = std::snprintf(line, sizeof line, "%s %ld\n", what, n);
  for (int off = 0; off < len;) {
    ssize_t w = ::write(1, line + off, static_cast<std::size_t>(len - off));
    if (w <= 0) std::_Exit(3);  // the reader is gone
    off += static_cast<int>(w);
  }
}

weft::task<void> submitter(weft::job_pool<long>& pool, long first, long step) {
  for (long n = first;; n += step) {
    auto submitting = pool.submit(n);
    if (co_await std::move(submitting) == weft::submit_status::accepted) say("accepted", n);
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DATABASE\n", argv[0]);
    return 2;
  }
  weft::runtime rt({.workers = 2});
  auto store = std::make_shared<weft::sqlite_store<long>>(
      argv[1], [](const long& n) { return std::to_string(n); },
      [](std::string_view s) { return std::stol(std::string(s)); });
  weft::job_pool<long> pool(rt, {.name = "crash", .concurrency = 4, .queue_capacity = 64},
                            [](long n) -> weft::task<void> {
                              co_await weft::sleep_for(std::chrono::microseconds(200));
                              if (n % 17 == 0) throw std::invalid_argument("multiple of 17");
                              say("ok", n);
                            },
                            {.store = store});
  constexpr long tasks = 4;
  for (long t = 0; t < tasks; ++t) rt.spawn(submitter(pool, t + 1, tasks)).detach();
  for (;;) ::pause();  // until SIGKILL
}
