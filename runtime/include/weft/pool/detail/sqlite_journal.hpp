#pragma once
// weft::detail::sqlite_journal: the untyped half of weft::sqlite_store (jobs as bytes), over one
// SQLite connection in WAL mode. Its .cpp is the only file that includes <sqlite3.h>; it is
// compiled when meson's `sqlite` feature is on.
//
// Group commit. Writes (add, remove, dead_letter) are requests on a queue; one writer thread
// takes *everything queued* and applies it in one transaction (BEGIN IMMEDIATE ... COMMIT),
// then runs the adds' completions. While a transaction commits, new requests pile up and go
// together into the next one: under load a commit carries as many jobs as arrived during the
// previous commit, so its cost is shared, and with no load a lone request commits at once
// (nothing waits for a batch to fill, unlike a timer-based flush). A WAL commit with
// synchronous=NORMAL is an append to the -wal file, without fsync: it survives the process being
// killed, not a power loss; synchronous=FULL (an fsync per commit, still one per batch) survives
// both.
//
// Reads (pending, dead_letters) first wait until every write queued before them is committed
// and completed (flush), then read under the connection's lock.
//
// Thread safety: every member from any thread. Completions run on the writer thread, with no
// lock of the journal held; they may destroy the journal (the writer then finishes the queue on
// its own and closes the connection), but must not call flush, pending or dead_letters.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <exception>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

namespace weft::detail {

class sqlite_journal {
 public:
  using done_fn = std::function<void(std::uint64_t id, std::exception_ptr error)>;
  struct record {
    std::uint64_t id = 0;
    std::string body;
  };
  struct dead_record {
    std::uint64_t id = 0;
    std::string body;
    std::string error;
    std::size_t attempts = 0;
    std::chrono::system_clock::time_point when{};
  };
  struct counts {
    std::uint64_t transactions = 0;  ///< committed (or rolled back) batches
    std::uint64_t requests = 0;      ///< writes they carried
    std::size_t waiting = 0;         ///< writes queued for the next one
  };

  /// Opens (creating if need be) the database at `path`; throws std::runtime_error naming the
  /// path and SQLite's message if it cannot. `on_commit(n)` (may be empty) runs on the writer
  /// thread after each transaction of `n` writes, before their completions.
  sqlite_journal(const std::string& path, bool sync_full, std::chrono::milliseconds busy_timeout,
                 std::function<void(std::size_t)> on_commit);
  sqlite_journal(const sqlite_journal&) = delete;
  sqlite_journal& operator=(const sqlite_journal&) = delete;
  /// Commits what is queued (waiting for it, unless called from a completion) and closes.
  ~sqlite_journal();

  void add(std::string body, done_fn done);
  void remove(std::uint64_t id);
  void dead_letter(std::uint64_t id, std::string error, std::size_t attempts);
  /// Waits until every write queued before the call is committed and its completion ran.
  void flush();
  std::vector<record> pending();
  std::vector<dead_record> dead_letters();
  void clear_dead_letters();
  counts stats() const;

  struct engine;

 private:
  std::shared_ptr<engine> e_;
  std::thread writer_;
};

}  // namespace weft::detail
