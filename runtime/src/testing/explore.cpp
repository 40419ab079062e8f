#include <weft/testing/explore.hpp>

#include <fmt/format.h>

namespace weft::testing {
namespace {

std::string what_of(const std::exception_ptr& e) {
  try {
    std::rethrow_exception(e);
  } catch (const std::exception& x) {
    return x.what();
  } catch (...) {
    return "an exception that is not a std::exception";
  }
}

}  // namespace

void explore(const explore_options& opts, const std::function<void(sim&)>& body) {
  for (std::size_t run = 0; run < opts.runs; ++run) {
    const std::uint64_t seed = opts.first_seed + run;
    std::string kind;
    std::exception_ptr error;
    try {
      sim s{{.seed = seed, .workers = opts.workers, .wait_for_outside = opts.wait_for_outside}};
      kind = s.schedule();
      body(s);
    } catch (...) {  // the sim is gone (its tasks ended) before we report
      error = std::current_exception();
    }
    if (!error) continue;
    throw schedule_failure(
        seed, run,
        fmt::format("weft::testing::explore: run {} of {} failed under seed {} (a {} schedule): {}. Replay it with "
                    "weft::testing::sim{{{{.seed = {}, .workers = {}}}}}",
                    run + 1, opts.runs, seed, kind.empty() ? "not yet chosen" : kind, what_of(error), seed,
                    opts.workers),
        error);
  }
}

}  // namespace weft::testing
