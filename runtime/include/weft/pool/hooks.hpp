#pragma once
// weft::pool_hooks<Job>: the job-typed settings of a job_pool (functions of the job, and its
// store), the constructor's optional fourth argument; pool_options holds the plain numbers.
//
//   weft::job_pool<order> pool(rt, {.name = "orders", .max_queued_bytes = 64 << 20},
//                              process_order,
//                              {.type_of = [](const order& o) { return o.kind; },
//                               .size_of = [](const order& o) { return sizeof o + o.payload.size(); },
//                               .store = std::make_shared<weft::sqlite_store<order>>("orders.db", save, load)});
//
// Passing a plain type_of function there instead (`job_pool(rt, opts, processor, type_of)`)
// works as it always has.

#include <cstddef>
#include <functional>
#include <memory>
#include <string>

#include <weft/pool/job_store.hpp>

namespace weft {

template <class Job>
struct pool_hooks {
  /// The job's type, for its circuit breaker ("email", "report"). Empty: one type for all jobs.
  std::function<std::string(const Job&)> type_of{};
  /// The bytes a queued job holds, for pool_options::max_queued_bytes and stats().queued_bytes.
  /// Called once per job, at submission (and for jobs recovered from the store). Empty: 0.
  std::function<std::size_t(const Job&)> size_of{};
  /// Where accepted jobs are kept until they succeed or fail for good (job_store.hpp). Null:
  /// in memory only.
  std::shared_ptr<job_store<Job>> store{};
};

}  // namespace weft
