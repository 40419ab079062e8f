// weft::detail::sqlite_journal (the header says what and why): the tables, the writer thread
// and its group commit.
//
//   weft_jobs(id INTEGER PRIMARY KEY AUTOINCREMENT, body BLOB, added_ms INTEGER)
//   weft_dead_letters(id INTEGER PRIMARY KEY, body BLOB, error TEXT, attempts INTEGER, failed_ms INTEGER)
//
// AUTOINCREMENT: ids are never reused, so a dead letter's id (the job's) never collides with a
// later job's.

#include <weft/pool/detail/sqlite_journal.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <condition_variable>
#include <limits>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <utility>

#include <fmt/format.h>

namespace weft::detail {

namespace {

std::int64_t now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

struct request {
  enum class kind { add, remove, dead_letter, clear_dead_letters } what;
  std::uint64_t id = 0;
  std::string body;  // add: the job; dead_letter: the error
  std::size_t attempts = 0;
  sqlite_journal::done_fn done;
  std::exception_ptr error;
};

// A prepared statement, reset after each use.
class statement {
 public:
  statement(sqlite3* db, const char* sql) {
    if (sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &s_, nullptr) != SQLITE_OK)
      throw std::runtime_error(fmt::format("weft::sqlite_store: cannot prepare \"{}\": {}", sql, sqlite3_errmsg(db)));
  }
  statement(const statement&) = delete;
  ~statement() { sqlite3_finalize(s_); }
  sqlite3_stmt* get() const noexcept { return s_; }

 private:
  sqlite3_stmt* s_ = nullptr;
};

}  // namespace

struct sqlite_journal::engine {
  engine(const std::string& path, bool sync_full, std::chrono::milliseconds busy_timeout,
         std::function<void(std::size_t)> commit_hook)
      : db(open(path)), on_commit(std::move(commit_hook)) {
    try {
      // SQLite takes an int of milliseconds: saturated, so that milliseconds::max() waits as long
      // as SQLite can (24 days) instead of wrapping to -1, which means no waiting at all.
      sqlite3_busy_timeout(db, static_cast<int>(std::min<std::chrono::milliseconds::rep>(
                                   busy_timeout.count(), std::numeric_limits<int>::max())));
      exec("PRAGMA journal_mode=WAL");
      exec(sync_full ? "PRAGMA synchronous=FULL" : "PRAGMA synchronous=NORMAL");
      exec(
          "CREATE TABLE IF NOT EXISTS weft_jobs (id INTEGER PRIMARY KEY AUTOINCREMENT, body BLOB NOT NULL, "
          "added_ms INTEGER NOT NULL)");
      exec(
          "CREATE TABLE IF NOT EXISTS weft_dead_letters (id INTEGER PRIMARY KEY, body BLOB NOT NULL, "
          "error TEXT NOT NULL, attempts INTEGER NOT NULL, failed_ms INTEGER NOT NULL)");
      insert.emplace(db, "INSERT INTO weft_jobs (body, added_ms) VALUES (?1, ?2)");
      erase.emplace(db, "DELETE FROM weft_jobs WHERE id = ?1");
      bury.emplace(db,
                   "INSERT OR REPLACE INTO weft_dead_letters (id, body, error, attempts, failed_ms) "
                   "SELECT id, body, ?2, ?3, ?4 FROM weft_jobs WHERE id = ?1");
    } catch (...) {
      close();
      throw;
    }
  }
  ~engine() { close(); }

  static sqlite3* open(const std::string& path) {
    sqlite3* db = nullptr;
    int rc =
        sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
    if (rc != SQLITE_OK) {
      std::string why = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
      sqlite3_close_v2(db);
      throw std::runtime_error(fmt::format("weft::sqlite_store: cannot open \"{}\": {}", path, why));
    }
    return db;
  }
  void close() noexcept {
    insert.reset();
    erase.reset();
    bury.reset();
    sqlite3_close_v2(db);
    db = nullptr;
  }
  void exec(const char* sql) {
    char* msg = nullptr;
    if (sqlite3_exec(db, sql, nullptr, nullptr, &msg) != SQLITE_OK) {
      std::string why = msg ? msg : sqlite3_errmsg(db);
      sqlite3_free(msg);
      throw std::runtime_error(fmt::format("weft::sqlite_store: \"{}\" failed: {}", sql, why));
    }
  }
  void step(const std::optional<statement>& st) {
    int rc = sqlite3_step(st->get());
    sqlite3_reset(st->get());
    sqlite3_clear_bindings(st->get());
    if (rc != SQLITE_DONE) throw std::runtime_error(fmt::format("weft::sqlite_store: {}", sqlite3_errmsg(db)));
  }

  void apply(request& r) {
    switch (r.what) {
      case request::kind::add:
        sqlite3_bind_blob64(insert->get(), 1, r.body.data(), r.body.size(), SQLITE_STATIC);
        sqlite3_bind_int64(insert->get(), 2, now_ms());
        step(insert);
        r.id = static_cast<std::uint64_t>(sqlite3_last_insert_rowid(db));
        break;
      case request::kind::remove:
        sqlite3_bind_int64(erase->get(), 1, static_cast<sqlite3_int64>(r.id));
        step(erase);
        break;
      case request::kind::dead_letter:
        sqlite3_bind_int64(bury->get(), 1, static_cast<sqlite3_int64>(r.id));
        sqlite3_bind_text64(bury->get(), 2, r.body.data(), r.body.size(), SQLITE_STATIC, SQLITE_UTF8);
        sqlite3_bind_int64(bury->get(), 3, static_cast<sqlite3_int64>(r.attempts));
        sqlite3_bind_int64(bury->get(), 4, now_ms());
        step(bury);
        sqlite3_bind_int64(erase->get(), 1, static_cast<sqlite3_int64>(r.id));
        step(erase);
        break;
      case request::kind::clear_dead_letters:
        exec("DELETE FROM weft_dead_letters");
        break;
    }
  }

  // One transaction for the whole batch. If any of it fails, all of it is rolled back and every
  // add in it completes with the error (a lost remove or dead letter only means the job is
  // still pending: it runs again, which at-least-once allows).
  void commit(std::vector<request>& batch) {
    std::lock_guard lock(db_mu);
    try {
      exec("BEGIN IMMEDIATE");
      try {
        for (auto& r : batch) apply(r);
        exec("COMMIT");
      } catch (...) {
        sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
        throw;
      }
    } catch (...) {
      auto error = std::current_exception();
      for (auto& r : batch) r.error = error;
    }
  }

  // The writer thread.
  void run() {
    for (;;) {
      std::vector<request> batch;
      {
        std::unique_lock lock(mu);
        work.wait(lock, [&] { return !queue.empty() || closing; });
        if (queue.empty()) return;  // closing, and nothing left to write
        batch.swap(queue);
      }
      commit(batch);
      if (on_commit) on_commit(batch.size());
      for (auto& r : batch) {
        if (!r.done) continue;
        try {
          r.done(r.error ? 0 : r.id, r.error);
        } catch (...) {  // a completion must not end the writer
        }
      }
      {
        std::lock_guard lock(mu);
        completed += batch.size();
        ++transactions;
        requests += batch.size();
      }
      flushed.notify_all();
    }
  }

  void push(request r) {
    {
      std::lock_guard lock(mu);
      queue.push_back(std::move(r));
      ++queued;
    }
    work.notify_one();
  }

  sqlite3* db;
  std::optional<statement> insert, erase, bury;
  std::mutex db_mu;  // the connection: the writer's transactions, the readers' selects
  std::function<void(std::size_t)> on_commit;
  std::thread::id writer_id;

  mutable std::mutex mu;  // guards what follows
  std::condition_variable work, flushed;
  std::vector<request> queue;
  bool closing = false;
  std::uint64_t queued = 0;     // writes ever queued
  std::uint64_t completed = 0;  // writes committed and completed
  std::uint64_t transactions = 0, requests = 0;
};

sqlite_journal::sqlite_journal(const std::string& path, bool sync_full, std::chrono::milliseconds busy_timeout,
                               std::function<void(std::size_t)> on_commit)
    : e_(std::make_shared<engine>(path, sync_full, busy_timeout, std::move(on_commit))) {
  // The thread keeps the engine: if a completion destroys the journal, the writer detaches and
  // finishes on its own.
  writer_ = std::thread([e = e_] { e->run(); });
  e_->writer_id = writer_.get_id();
}

sqlite_journal::~sqlite_journal() {
  {
    std::lock_guard lock(e_->mu);
    e_->closing = true;
  }
  e_->work.notify_all();
  if (writer_.get_id() == std::this_thread::get_id())
    writer_.detach();  // destroyed by a completion, on the writer itself
  else
    writer_.join();
}

void sqlite_journal::add(std::string body, done_fn done) {
  e_->push(request{request::kind::add, 0, std::move(body), 0, std::move(done), nullptr});
}

void sqlite_journal::remove(std::uint64_t id) { e_->push(request{request::kind::remove, id, {}, 0, {}, nullptr}); }

void sqlite_journal::dead_letter(std::uint64_t id, std::string error, std::size_t attempts) {
  e_->push(request{request::kind::dead_letter, id, std::move(error), attempts, {}, nullptr});
}

void sqlite_journal::clear_dead_letters() {
  e_->push(request{request::kind::clear_dead_letters, 0, {}, 0, {}, nullptr});
}

void sqlite_journal::flush() {
  if (std::this_thread::get_id() == e_->writer_id) return;  // a completion: what it sees is committed
  std::unique_lock lock(e_->mu);
  const std::uint64_t target = e_->queued;
  e_->flushed.wait(lock, [&] { return e_->completed >= target; });
}

std::vector<sqlite_journal::record> sqlite_journal::pending() {
  flush();
  std::lock_guard lock(e_->db_mu);
  statement q(e_->db, "SELECT id, body FROM weft_jobs ORDER BY id");
  std::vector<record> out;
  while (sqlite3_step(q.get()) == SQLITE_ROW) {
    auto* data = static_cast<const char*>(sqlite3_column_blob(q.get(), 1));
    out.push_back({static_cast<std::uint64_t>(sqlite3_column_int64(q.get(), 0)),
                   std::string(data ? data : "", static_cast<std::size_t>(sqlite3_column_bytes(q.get(), 1)))});
  }
  return out;
}

std::vector<sqlite_journal::dead_record> sqlite_journal::dead_letters() {
  flush();
  std::lock_guard lock(e_->db_mu);
  statement q(e_->db, "SELECT id, body, error, attempts, failed_ms FROM weft_dead_letters ORDER BY failed_ms, id");
  std::vector<dead_record> out;
  while (sqlite3_step(q.get()) == SQLITE_ROW) {
    auto* data = static_cast<const char*>(sqlite3_column_blob(q.get(), 1));
    auto* error = reinterpret_cast<const char*>(sqlite3_column_text(q.get(), 2));
    dead_record d;
    d.id = static_cast<std::uint64_t>(sqlite3_column_int64(q.get(), 0));
    d.body.assign(data ? data : "", static_cast<std::size_t>(sqlite3_column_bytes(q.get(), 1)));
    d.error = error ? error : "";
    d.attempts = static_cast<std::size_t>(sqlite3_column_int64(q.get(), 3));
    d.when = std::chrono::system_clock::time_point(std::chrono::milliseconds(sqlite3_column_int64(q.get(), 4)));
    out.push_back(std::move(d));
  }
  return out;
}

sqlite_journal::counts sqlite_journal::stats() const {
  std::lock_guard lock(e_->mu);
  return {e_->transactions, e_->requests, e_->queue.size()};
}

}  // namespace weft::detail
