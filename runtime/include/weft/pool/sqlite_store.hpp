#pragma once
// weft::sqlite_store<Job>: a job_store (job_store.hpp) in an SQLite database, so that the jobs a
// job_pool accepted survive the process.
//
//   auto store = std::make_shared<weft::sqlite_store<order>>(
//       "/var/lib/orders/jobs.db",
//       [](const order& o) { return o.to_json(); },              // Job -> std::string
//       [](std::string_view s) { return order::from_json(s); });  // std::string_view -> Job
//   weft::job_pool<order> pool(rt, {.name = "orders"}, process, {.store = store});
//   ...                                      // after a crash: a new pool on the same file
//   for (auto& d : store->dead_letters()) log(d.id, d.error);
//
// What it promises, with a pool:
//   - Accepted means stored: try_submit returns `accepted` (and submit resumes with it) only
//     once the job's row is committed.
//   - A success deletes the row; a job that fails for good moves at once to the dead letters,
//     where dead_letters() shows it and from where it never runs again.
//   - A pool constructed on the store queues every job still pending (stored, not finished), in
//     the order they were accepted; jobs a stopped or crashed process left behind run there.
//   - At least once, not exactly once: a job that succeeded just before the process died, its
//     deletion not yet committed, runs again. Make processors idempotent.
// A stored job that `parse` cannot read (it throws) is moved to the dead letters by pending(),
// with the parse error, instead of stopping the pool from starting.
//
// How. WAL mode; one writer thread applies the writes in *group commits*: each transaction takes
// every write queued while the previous one committed, so concurrent submitters share one commit
// and a lone one waits for nobody (detail/sqlite_journal.hpp). With synchronous=NORMAL (the
// default) a committed job survives the process being killed, but not an OS crash or power loss;
// sqlite_store_options::sync_every_commit makes every commit fsync (synchronous=FULL).
// bench/pool measures the cost per job.
//
// Built when meson's `sqlite` feature is on (the default); weft.pc and the CMake package then
// carry sqlite3.
//
// Thread safety: every member may be called from any thread. Lifetime: may be destroyed while a
// pool still uses it only by dropping the last shared_ptr (pools hold it); its destructor
// commits what is queued. One pool per store at a time.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <weft/pool/detail/sqlite_journal.hpp>
#include <weft/pool/job_store.hpp>

namespace weft {

struct sqlite_store_options {
  /// fsync every commit (synchronous=FULL): also survive an OS crash or power loss, at the cost
  /// of an fsync per group commit. Off: synchronous=NORMAL (survives the process dying).
  bool sync_every_commit = false;
  /// How long a write waits for another connection's lock before failing (SQLITE_BUSY).
  std::chrono::milliseconds busy_timeout{5000};
  /// Called on the writer thread after each transaction with the number of writes it carried,
  /// before their submitters are told (a seam for tests and logs; must not call the store).
  std::function<void(std::size_t writes)> on_commit{};
};

/// What the writer did so far.
struct sqlite_store_stats {
  std::uint64_t transactions = 0;  ///< group commits
  std::uint64_t writes = 0;        ///< adds, removes and dead letters they carried
  std::size_t waiting = 0;         ///< writes queued for the next commit
};

template <class Job>
class sqlite_store final : public job_store<Job> {
 public:
  using serialize_fn = std::function<std::string(const Job&)>;
  using parse_fn = std::function<Job(std::string_view)>;
  using typename job_store<Job>::stored_fn;

  /// Opens or creates the database at `path`. Throws std::runtime_error (naming the path and
  /// SQLite's message) if it cannot, std::invalid_argument if a function is missing or
  /// busy_timeout is negative.
  sqlite_store(const std::string& path, serialize_fn serialize, parse_fn parse, sqlite_store_options opts = {})
      : serialize_(checked(std::move(serialize), "serialize")),
        parse_(checked(std::move(parse), "parse")),
        journal_(path, opts.sync_every_commit, checked_busy_timeout(opts.busy_timeout), std::move(opts.on_commit)) {}

  void add(const Job& job, stored_fn done) override { journal_.add(serialize_(job), std::move(done)); }
  void remove(std::uint64_t id) override { journal_.remove(id); }
  void dead_letter(std::uint64_t id, std::string_view error, std::size_t attempts) override {
    journal_.dead_letter(id, std::string(error), attempts);
  }

  std::vector<stored_job<Job>> pending() override {
    std::vector<stored_job<Job>> out;
    for (auto& r : journal_.pending()) {
      try {
        out.push_back(stored_job<Job>{r.id, parse_(r.body)});
      } catch (const std::exception& e) {
        journal_.dead_letter(r.id, std::string("cannot parse the stored job: ") + e.what(), 0);
      }
    }
    return out;
  }

  /// The dead letters, oldest first (those `parse` cannot read are left out).
  std::vector<stored_dead_letter<Job>> dead_letters() override {
    std::vector<stored_dead_letter<Job>> out;
    for (auto& d : journal_.dead_letters()) {
      try {
        out.push_back(stored_dead_letter<Job>{d.id, parse_(d.body), std::move(d.error), d.attempts, d.when});
      } catch (const std::exception&) {
      }
    }
    return out;
  }
  /// Deletes every dead letter.
  void clear_dead_letters() { journal_.clear_dead_letters(); }
  /// Waits until every write made before is committed.
  void flush() { journal_.flush(); }
  sqlite_store_stats stats() const {
    auto c = journal_.stats();
    return {c.transactions, c.requests, c.waiting};
  }

 private:
  template <class F>
  static F checked(F f, const char* what) {
    if (!f) throw std::invalid_argument(std::string("weft::sqlite_store: no ") + what + " function");
    return f;
  }
  // Checked before the database is opened (SQLite would take a negative one as "never wait").
  static std::chrono::milliseconds checked_busy_timeout(std::chrono::milliseconds busy_timeout) {
    if (busy_timeout < busy_timeout.zero())
      throw std::invalid_argument("weft::sqlite_store: sqlite_store_options::busy_timeout must not be negative");
    return busy_timeout;
  }

  serialize_fn serialize_;
  parse_fn parse_;
  detail::sqlite_journal journal_;
};

}  // namespace weft
