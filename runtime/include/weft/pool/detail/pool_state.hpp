#pragma once
// weft::detail::pool_state<Job>: the template half of a job_pool's state, shared by the pool
// object and its tasks (workers, scaler) and owned by whichever of them goes last: the queue,
// the dead letters, admission, queueing through the store, and the books kept when a task ends.
// The coroutines that use it are in pool.hpp.
//
// A job's way in: admission (stopping, circuit, too big for the whole budget), a queue slot
// (`room`), bytes of the budget (pool_core), then either straight into the queue or, with a
// store, into the store first: the store's completion queues it (store_write). The slot and the
// bytes travel with the job, so that whoever finishes its way in (the submitter, or the store's
// completion on another thread) queues it or gives both back.
//
// Thread safety: core.mu guards every member marked so, and the core's books.

#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <deque>
#include <exception>
#include <functional>
#include <iterator>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_set>
#include <utility>
#include <vector>

#include <weft/combinators/detail/oneshot.hpp>
#include <weft/detail/join_word.hpp>
#include <weft/detail/task_record.hpp>
#include <weft/errors.hpp>
#include <weft/pool/dead_letter.hpp>
#include <weft/pool/detail/pool_core.hpp>
#include <weft/pool/hooks.hpp>
#include <weft/pool/options.hpp>
#include <weft/sync/event.hpp>
#include <weft/task.hpp>

namespace weft::detail {

template <class Job>
struct pool_entry {
  Job job;
  std::string type;
  std::size_t attempts = 0;
  std::size_t bytes = 0;       // pool_hooks::size_of, once
  std::uint64_t store_id = 0;  // the store's id; 0: not stored
  pool_core::clock::time_point queued_at{};
};

/// A job being stored. The store's completion (any thread) settles it once; a submitter waits
/// on `finished` (a task) or blocks in wait() (try_submit). It outlives a submitter that is
/// destroyed or cancelled meanwhile: the completion still queues the job.
template <class Job>
struct store_write {
  explicit store_write(pool_entry<Job>&& e) : entry(std::move(e)) {}

  /// Settles the write (once: later calls change nothing).
  void complete(submit_status st, std::exception_ptr e) noexcept {
    {
      std::lock_guard lock(mu);
      if (done) return;
      done = true;
      status = st;
      error = std::move(e);
    }
    cv.notify_all();
    finished.set();
  }
  /// After `finished`: the outcome (rethrows the store's error, once: moved out, so that its last
  /// reference goes on the submitter's side, see blocking_call.hpp's take()).
  submit_status result() {
    std::lock_guard lock(mu);
    if (error) std::rethrow_exception(std::exchange(error, nullptr));
    return status;
  }
  /// Blocks the calling thread until the write is settled.
  submit_status wait() {
    {
      std::unique_lock lock(mu);
      cv.wait(lock, [&] { return done; });
    }
    return result();
  }

  pool_entry<Job> entry;
  event finished;
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  submit_status status = submit_status::accepted;
  std::exception_ptr error;
};

/// What a finished attempt tells the store, after the pool's lock is let go.
struct store_note {
  enum class kind { none, remove, dead_letter } what = kind::none;
  std::uint64_t id = 0;
  std::string error;
  std::size_t attempts = 0;
};

template <class Job>
struct pool_state : std::enable_shared_from_this<pool_state<Job>> {
  using entry = pool_entry<Job>;

  pool_state(runtime& rt, pool_options o, std::function<task<void>(Job)> p, pool_hooks<Job> h)
      : core(rt, std::move(o), static_cast<bool>(h.size_of)),
        processor(std::move(p)),
        hooks(std::move(h)),
        worker_name(core.opts.name + " worker"),
        scaler_name(core.opts.name + " scaler") {}
  pool_state(const pool_state&) = delete;
  // Before any member goes: the metric callbacks sample snapshot(), which reads the queue, and
  // they belong to the core, the member destroyed last. Unregistered first, no scrape racing
  // the pool's last task reads a destroyed queue.
  ~pool_state() { core.unregister_metrics(); }

  pool_core core;
  std::function<task<void>(Job)> processor;
  const pool_hooks<Job> hooks;
  std::string worker_name, scaler_name;
  // Guarded by core.mu:
  std::deque<entry> queue;
  std::deque<dead_letter<Job>> dead;
  bool runtime_gone = false;  // the tasks ended without a stop: the runtime shut down
  bool stop_started = false;
  stop_report report;                            // the first stop's, for the others
  oneshot workers_exited;                        // set when the last task ended (awaited by the first stop)
  event stop_finished;                           // set when the first stop is done (awaited by the others)
  std::unordered_set<store_write<Job>*> writes;  // jobs being stored (kept alive by their completion)
  std::unordered_set<const void*> worker_tasks;  // the running workers' task records (stop() refuses them)

  std::string type(const Job& j) const { return hooks.type_of ? hooks.type_of(j) : std::string(); }
  std::size_t size(const Job& j) const { return hooks.size_of ? hooks.size_of(j) : 0; }

  /// Under core.mu: whether `t` (the running task) is one of the pool's workers, or is waited
  /// for by one through a chain of waits (awaited_by: joins, weft::fork and fork_scope parents,
  /// the owners of when_all, when_any, task_group, select and join_set children): a job of the
  /// pool waits for it.
  bool awaited_by_worker_locked(const task_record* t) const noexcept {
    const task_record* prev = nullptr;
    // (Bounded: a cycle of waits, a deadlock already, is not walked forever.)
    for (int depth = 0; t && depth < 1000; ++depth) {
      const task_record* next = awaited_by(t);
      // Still prev's joiner? Then it waited all along: its record is not a reused one, and
      // `next` is what it waits in.
      if (prev && awaited_by(prev) != t) return false;
      if (worker_tasks.contains(t)) return true;
      prev = std::exchange(t, next);
    }
    return false;
  }

  pool_stats snapshot() {
    std::lock_guard lock(core.mu);
    pool_stats s = core.counters;
    s.queue_depth = queue.size();
    s.workers = core.live_workers;
    s.circuits_open = core.breakers.open_types(core.now()).size();
    return s;
  }

  // ---- The way in ----

  /// The checks that need no room: stopping, the type's circuit, a job bigger than the budget.
  submit_status admit(const std::string& t, std::size_t bytes) {
    std::lock_guard lock(core.mu);
    submit_status st = core.stopping                            ? submit_status::stopping
                       : core.breakers.rejecting(t, core.now()) ? submit_status::circuit_open
                       : core.too_big(bytes)                    ? submit_status::memory_limit
                                                                : submit_status::accepted;
    if (st != submit_status::accepted) ++core.counters.dropped;
    return st;
  }
  /// Counts a rejection.
  submit_status refuse(submit_status st) {
    std::lock_guard lock(core.mu);
    ++core.counters.dropped;
    return st;
  }
  /// With a slot held: reserves the job's bytes. Not accepted: counts the rejection, unless
  /// `wait` (submit waits for room instead: it joins the byte waiters).
  submit_status reserve(std::size_t bytes, bool wait) {
    std::lock_guard lock(core.mu);
    submit_status st = core.reserve_locked(bytes);
    if (st == submit_status::memory_limit && wait && !core.stopping)
      ++core.byte_waiters;
    else if (st != submit_status::accepted)
      ++core.counters.dropped;
    return st;
  }
  /// The byte waiter holding the turn: reserved (and no longer a waiter), stopping (counted as
  /// dropped), or memory_limit: parked, wait on bytes_freed.
  submit_status reserve_turn(std::size_t bytes, bool& still_waiting) {
    std::lock_guard lock(core.mu);
    submit_status st = core.reserve_turn_locked(bytes);
    if (st == submit_status::memory_limit) return st;
    --core.byte_waiters;
    still_waiting = false;
    if (st != submit_status::accepted) ++core.counters.dropped;
    return st;
  }
  void leave_byte_waiters() {
    std::lock_guard lock(core.mu);
    --core.byte_waiters;
  }

  /// With a slot and the job's bytes reserved: queues it, or gives both back if the pool began
  /// stopping.
  submit_status enqueue(entry&& e) {
    std::lock_guard lock(core.mu);
    if (core.stopping) {
      ++core.counters.dropped;
      core.room.release();
      core.unreserve_locked(e.bytes);
      return submit_status::stopping;
    }
    core.queued_locked(e.bytes);
    e.queued_at = core.now();
    queue.push_back(std::move(e));
    ++core.counters.submitted;
    core.items.release();
    core.maybe_grow_locked(queue.size());
    return submit_status::accepted;
  }

  /// With a slot and the bytes reserved: stores the job; the store's completion queues it.
  std::shared_ptr<store_write<Job>> persist(entry&& e) {
    auto w = std::make_shared<store_write<Job>>(std::move(e));
    {
      std::lock_guard lock(core.mu);
      if (core.stopping) {  // nothing is stored for a pool that takes nothing
        ++core.counters.dropped;
        core.room.release();
        core.unreserve_locked(w->entry.bytes);
        w->complete(submit_status::stopping, nullptr);
        return w;
      }
      writes.insert(w.get());
    }
    std::weak_ptr<pool_state> self = this->weak_from_this();
    try {
      // Weak references: a store that keeps completions (queued, or never called) holds
      // neither the pool nor itself through them.
      std::weak_ptr<job_store<Job>> store = hooks.store;
      hooks.store->add(w->entry.job, [self, w, store](std::uint64_t id, std::exception_ptr error) {
        if (auto s = self.lock()) {
          s->stored(*w, id, std::move(error));
        } else {  // the pool is gone (it stopped first): refused after all, and forgotten
          if (auto st = store.lock(); st && !error) st->remove(id);
          w->complete(submit_status::stopping, nullptr);
        }
      });
    } catch (...) {  // not stored (serialisation failed, say): nothing to settle later
      std::lock_guard lock(core.mu);
      writes.erase(w.get());
      ++core.counters.dropped;
      core.room.release();
      core.unreserve_locked(w->entry.bytes);
      throw;
    }
    return w;
  }

  /// The store's completion of a write: queues the job, or, if the write failed or the pool
  /// began stopping meanwhile, gives its slot and bytes back (and forgets a stored job).
  void stored(store_write<Job>& w, std::uint64_t id, std::exception_ptr error) noexcept {
    submit_status st = submit_status::accepted;
    {
      std::lock_guard lock(core.mu);
      writes.erase(&w);
      if (error || core.stopping) {
        if (!error) st = submit_status::stopping;
        ++core.counters.dropped;
        core.room.release();
        core.unreserve_locked(w.entry.bytes);
      } else {
        w.entry.store_id = id;
        core.queued_locked(w.entry.bytes);
        w.entry.queued_at = core.now();
        queue.push_back(std::move(w.entry));
        ++core.counters.submitted;
        core.items.release();
        core.maybe_grow_locked(queue.size());
      }
    }
    if (st == submit_status::stopping) hooks.store->remove(id);
    w.complete(st, std::move(error));
  }

  /// Under core.mu: nothing more is taken in (pool_core::begin_stopping_locked), and submitters
  /// waiting for a store's write are told `stopping` now: whenever the write completes, the
  /// job is refused and forgotten (stored() sees the flag).
  void begin_stopping_locked() {
    core.begin_stopping_locked();
    for (auto* w : writes) w->complete(submit_status::stopping, nullptr);
  }

  /// A new pool on a store queues what the store holds (past the capacity and the budget, if
  /// need be: those jobs were accepted already).
  void recover() {
    std::vector<entry> found;
    for (auto& j : hooks.store->pending()) {
      std::string t = type(j.job);
      std::size_t b = size(j.job);
      found.push_back(entry{std::move(j.job), std::move(t), 0, b, j.id, {}});
    }
    std::lock_guard lock(core.mu);
    for (auto& e : found) {
      if (!core.room.try_acquire()) ++core.overflow;
      core.reserved_bytes += e.bytes;
      core.queued_locked(e.bytes);
      e.queued_at = core.now();
      queue.push_back(std::move(e));
      ++core.counters.submitted;
    }
    core.items.release(found.size());
  }

  // ---- The way out ----

  /// Under core.mu: a worker takes the next job (false: the queue is empty).
  bool take_locked(entry& e) {
    if (queue.empty()) return false;
    e = std::move(queue.front());
    queue.pop_front();
    ++core.counters.in_flight;
    core.dequeued_locked(e.bytes);
    core.maybe_grow_locked(queue.size());
    return true;
  }

  /// Under core.mu: a job that failed for good, or that ended because the pool or runtime
  /// stopped (a store keeps that one pending: see job_store.hpp).
  void dead_letter_locked(entry&& e, std::exception_ptr error) {
    ++core.counters.failed;
    ++core.counters.dead_lettered;
    if (core.opts.dead_letter_capacity == 0) return;  // counted, not kept
    if (dead.size() >= core.opts.dead_letter_capacity) dead.pop_front();
    dead.push_back(dead_letter<Job>{std::move(e.job), pool_core::describe(error), error, e.attempts,
                                    std::chrono::system_clock::now()});
  }

  /// Dead letters taken out (oldest first) and not resubmitted: back in front of those that came
  /// since, the oldest dropped past dead_letter_capacity as in dead_letter_locked. They are not
  /// counted again.
  void put_back_dead_letters(std::vector<dead_letter<Job>>&& letters) {
    std::lock_guard lock(core.mu);
    dead.insert(dead.begin(), std::make_move_iterator(letters.begin()), std::make_move_iterator(letters.end()));
    while (dead.size() > core.opts.dead_letter_capacity) dead.pop_front();
  }

  /// Under core.mu: every job still queued becomes a dead letter for `why`; returns how many.
  std::size_t drop_queued_locked(const std::exception_ptr& why) {
    std::size_t n = queue.size();
    for (; !queue.empty(); queue.pop_front()) {
      core.counters.queued_bytes -= queue.front().bytes;
      dead_letter_locked(std::move(queue.front()), why);
    }
    core.overflow = 0;
    return n;
  }

  /// Under core.mu: a job left in flight; tells a stopping pool when it has gone idle.
  void finished_locked() {
    --core.counters.in_flight;
    if (core.stopping && queue.empty() && core.counters.in_flight == 0) core.idle.set();
  }

  void tell_store(const store_note& n) {
    if (!hooks.store || n.id == 0) return;
    if (n.what == store_note::kind::remove) hooks.store->remove(n.id);
    if (n.what == store_note::kind::dead_letter) hooks.store->dead_letter(n.id, n.error, n.attempts);
  }

  // ---- The end ----

  /// The last act of every task of the pool (a worker: `worker`, unless it retired and was
  /// counted out already), also of one whose frame shutdown destroyed, started or not
  /// (exit_ticket).
  /// `record`: a worker's entry in worker_tasks, if it ran.
  void task_exited(bool worker, const void* record) noexcept {
    bool last;
    {
      std::lock_guard lock(core.mu);
      if (record) worker_tasks.erase(record);
      if (worker) --core.live_workers;
      last = --core.live_tasks == 0;
      if (last && !core.stopping) {  // not stopped by us: the runtime ended the tasks
        runtime_gone = true;
        begin_stopping_locked();
      }
      // Nobody will run what is still queued: it becomes dead letters (to resubmit elsewhere);
      // a store keeps it pending for the next pool. Also when a stop had begun: the runtime may
      // have ended its drain before the drain's timeout dropped the queue.
      if (last && !queue.empty())
        drop_queued_locked(
            std::make_exception_ptr(runtime_stopped("weft::job_pool: the runtime shut down before the job started")));
      if (last && queue.empty() && core.counters.in_flight == 0) core.idle.set();
    }
    if (last) workers_exited.set();
  }

  /// ~job_pool without stop(): cancel everything; the tasks free the state as they end.
  void abandon() noexcept {
    {
      std::lock_guard lock(core.mu);
      if (!core.stopping) begin_stopping_locked();
    }
    core.cancel.cancel();
  }
};

/// A pool task's place in live_tasks (and live_workers), given back when its frame goes: a
/// parameter of the task's coroutine, not a local, so that a frame destroyed before its first
/// resume (the runtime's shutdown, a spawn refused) counts out too. The frame's copy holds it.
template <class Job>
struct exit_ticket {
  exit_ticket(std::shared_ptr<pool_state<Job>> state, bool is_worker) noexcept
      : s(std::move(state)), worker(is_worker) {}
  exit_ticket(exit_ticket&& o) noexcept : s(std::move(o.s)), worker(o.worker), record(o.record) {}
  exit_ticket& operator=(exit_ticket&&) = delete;
  ~exit_ticket() {
    if (s) s->task_exited(worker, record);
  }

  std::shared_ptr<pool_state<Job>> s;  // null once moved from
  bool worker;                         // one of live_workers (false once a retiring worker counted itself out)
  const void* record = nullptr;        // a worker's task record once it runs (pool_state::worker_tasks)
};

}  // namespace weft::detail
