#pragma once
// weft::job_store<Job>: where a job_pool keeps its jobs so that accepted work survives the
// process (pool_hooks::store). weft::sqlite_store<Job> (sqlite_store.hpp) is the one weft ships;
// this interface is what another (a table in the service's own database, say) implements.
//
// What the pool asks of a store, and when:
//
//   add(job, done)        try_submit / submit, after the job passed admission (open circuit,
//                         room in the queue, memory budget): store it, then call done(id) once
//                         it is durable. The pool says "accepted" only after that call.
//   remove(id)            the job succeeded (or was refused after all: the pool began stopping
//                         while it was being stored). Forget it.
//   dead_letter(id, ...)  the job failed for good (every attempt, or a failure not worth a
//                         retry). Keep it as a dead letter: never pending again.
//   pending()             a pool being constructed on this store queues what this returns.
//
// A job that ends because its pool or runtime stopped (the drain timeout of stop(), a pool
// destroyed without stop(), the runtime shutting down) is neither removed nor dead-lettered: it
// stays pending, and the next pool on the store runs it. So delivery is **at least once**: a job
// whose success was not yet recorded when the process died runs again. Processors must tolerate
// that (idempotent jobs, or a check of their own).
//
// One pool uses a store at a time (a second pool would queue the first one's pending jobs too).
//
// Thread safety: the pool calls add, remove and dead_letter from any thread (its workers,
// submitters), concurrently, and never while holding its own lock; an implementation makes them
// thread-safe. remove and dead_letter must not wait for the write (they are called from the
// pool's workers): queue it. add may complete inline or later, from any thread, but must call
// `done` exactly once, and not from inside the call to add while holding a lock of its own that
// add or done take again.

#include <chrono>
#include <cstdint>
#include <exception>
#include <functional>
#include <string>
#include <string_view>
#include <vector>

namespace weft {

/// A job a store holds, with the id it gave it (never 0).
template <class Job>
struct stored_job {
  std::uint64_t id = 0;
  Job job;
};

/// A dead letter a store keeps: the job, why it failed and when.
template <class Job>
struct stored_dead_letter {
  std::uint64_t id = 0;
  Job job;
  std::string error;
  std::size_t attempts = 0;
  std::chrono::system_clock::time_point when{};
};

template <class Job>
class job_store {
 public:
  /// Called once the job is durable, with its id (not 0), or with the error that kept it from
  /// being stored (then id is 0).
  using stored_fn = std::function<void(std::uint64_t id, std::exception_ptr error)>;

  virtual ~job_store() = default;

  /// Stores `job` durably, then calls `done`. See the top of this file.
  virtual void add(const Job& job, stored_fn done) = 0;
  /// Forgets job `id` (it succeeded). Does not wait for the write.
  virtual void remove(std::uint64_t id) = 0;
  /// Moves job `id` to the dead letters with its last error and attempt count. Does not wait.
  virtual void dead_letter(std::uint64_t id, std::string_view error, std::size_t attempts) = 0;
  /// The jobs stored and neither removed nor dead-lettered, oldest first, as of every call made
  /// before this one.
  virtual std::vector<stored_job<Job>> pending() = 0;
  /// The dead letters, oldest first, as of every call made before this one.
  virtual std::vector<stored_dead_letter<Job>> dead_letters() = 0;
};

}  // namespace weft
