// A user's test of a retrying client, in virtual time (weft::testing::sim).
//
// The code under test is what an application would have: fetch() asks an upstream service for a
// value, gives each attempt 2 s, and retries failures with exponential backoff (1 s, 2 s, 4 s,
// capped at 8 s) until 30 s are spent; a small cache makes concurrent fetches of one key share
// one call. Against the real clock each test case below would take up to half a minute; in a
// sim they take no wall time, and they check the exact moment of every attempt. The last case
// runs the cache under 500 seeded schedules with weft::testing::explore.
//
// Built and run by the test suite (examples/meson.build) like the other examples; Catch2 is the
// test framework here, as it would be in the user's project.

#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

#include <algorithm>
#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include <weft/weft.hpp>

using namespace std::chrono_literals;

// ---- The application's code ---------------------------------------------------------------

/// What a failed call that is worth retrying throws (a 503, a reset connection).
struct transient_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

/// The service the client calls (an HTTP API in the real program).
class upstream {
 public:
  virtual ~upstream() = default;
  virtual weft::task<std::string> get(std::string key) = 0;
};

struct retry_policy {
  std::chrono::milliseconds attempt_timeout = 2s;
  std::chrono::milliseconds first_backoff = 1s;
  std::chrono::milliseconds max_backoff = 8s;
  std::chrono::milliseconds budget = 30s;
};

/// Asks `up` for `key`, retrying transient failures and slow attempts within the budget.
weft::task<std::string> fetch(upstream& up, std::string key, retry_policy p = {}) {
  const auto give_up_at = weft::now() + p.budget;  // the runtime's clock: virtual in a sim
  auto backoff = p.first_backoff;
  for (int attempt = 1;; ++attempt) {
    try {
      co_return co_await weft::with_timeout(p.attempt_timeout, up.get(key));
    } catch (const weft::timeout_error&) {  // this attempt was too slow
    } catch (const transient_error&) {
    }
    if (weft::now() + backoff > give_up_at)
      throw std::runtime_error("fetch " + key + ": gave up after " + std::to_string(attempt) + " attempts");
    co_await weft::sleep_for(backoff);
    backoff = std::min(backoff * 2, p.max_backoff);
  }
}

/// Concurrent fetches of one key share one call to the upstream.
class cache {
 public:
  explicit cache(upstream& up) : up_(up) {}
  weft::task<std::string> get(std::string key) {
    auto& e = entries_[key];
    if (!e) {  // the first caller fetches; the others wait for its result
      e = std::make_shared<entry>();
      auto mine = e;
      try {
        mine->value = co_await fetch(up_, key);
      } catch (...) {
        mine->error = std::current_exception();
      }
      mine->ready.set();
    }
    auto mine = e;
    co_await mine->ready.wait();
    if (mine->error) std::rethrow_exception(mine->error);
    co_return mine->value;
  }

 private:
  struct entry {
    weft::event ready;
    std::string value;
    std::exception_ptr error;
  };
  upstream& up_;
  std::map<std::string, std::shared_ptr<entry>> entries_;
};

// ---- The test ------------------------------------------------------------------------------

/// A scripted upstream: each call does the next step ("fail", "hang" or a value) and records
/// when it came, on the sim's clock.
class fake_upstream : public upstream {
 public:
  fake_upstream(weft::testing::sim& s, std::vector<std::string> script) : sim_(s), script_(std::move(script)) {}
  weft::task<std::string> get(std::string key) override {
    calls.push_back(std::chrono::duration_cast<std::chrono::milliseconds>(weft::now() - sim_.start()));
    const std::string step = calls.size() <= script_.size() ? script_[calls.size() - 1] : script_.back();
    if (step == "fail") throw transient_error("503 from upstream");
    if (step == "hang") co_await weft::sleep_for(1h);  // until the attempt's deadline cancels it
    co_await weft::sleep_for(100ms);                   // a normal reply takes 100 ms
    co_return step + ":" + key;
  }
  std::vector<std::chrono::milliseconds> calls;  // one thread runs a sim: no data race

 private:
  weft::testing::sim& sim_;
  std::vector<std::string> script_;
};

using ms = std::chrono::milliseconds;

TEST_CASE("two failures, then the value: attempts at 0 s, 1 s and 3 s") {
  weft::testing::sim sim{{.seed = 1}};
  fake_upstream up(sim, {"fail", "fail", "v1"});
  CHECK(sim.block_on(fetch(up, "user/7")) == "v1:user/7");
  CHECK(up.calls == std::vector<ms>{0s, 1s, 3s});
  CHECK(sim.now() - sim.start() == 3100ms);  // the third call's 100 ms reply
}

TEST_CASE("a hanging upstream: each attempt is cut at 2 s, and the client gives up within its budget") {
  weft::testing::sim sim{{.seed = 2}};
  fake_upstream up(sim, {"hang"});
  // 0 (+2 s timeout, +1 s) 3 (+2, +2) 7 (+2, +4) 13 (+2, +8) 23 (+2): a next wait of 8 s would
  // pass the 30 s budget, so it gives up at 25 s.
  CHECK_THROWS_WITH(sim.block_on(fetch(up, "user/7")), "fetch user/7: gave up after 5 attempts");
  CHECK(up.calls == std::vector<ms>{0s, 3s, 7s, 13s, 23s});
  CHECK(sim.now() - sim.start() == 25s);
}

TEST_CASE("the caller's own deadline wins over the retries") {
  weft::testing::sim sim{{.seed = 3}};
  fake_upstream up(sim, {"hang"});
  CHECK_THROWS_AS(sim.block_on(weft::with_timeout(10s, fetch(up, "user/7"))), weft::timeout_error);
  CHECK(up.calls == std::vector<ms>{0s, 3s, 7s});
  CHECK(sim.now() - sim.start() == 10s);
}

TEST_CASE("concurrent fetches of one key share one upstream call, under 500 schedules") {
  weft::testing::explore({.runs = 500, .workers = 2}, [](weft::testing::sim& sim) {
    fake_upstream up(sim, {"fail", "v1"});
    cache c(up);
    auto values = sim.block_on([](cache& c) -> weft::task<std::vector<std::string>> {
      std::vector<weft::task<std::string>> gets;
      for (int i = 0; i < 4; ++i) gets.push_back(c.get("user/7"));
      co_return co_await weft::when_all(std::move(gets));
    }(c));
    for (auto& v : values)
      if (v != "v1:user/7") throw std::logic_error("a caller got " + v);
    if (up.calls != std::vector<ms>{0s, 1s}) throw std::logic_error("the upstream was called more than twice");
  });
}
