#pragma once
// weft::detail::task_record: the control block of one spawned task.
//
// A record is the scheduler's job for its task (the queues hold task_record*), the meeting point
// of the task and its join handle, the task's cancellation state, and the task's identity for
// dumps and stall reports. Records live in the runtime's task table (task_table.hpp): chunks
// that are never freed while the runtime lives, so a dump or the stall monitor can read any
// record at any time; a reused record is told apart by its id (ids are never reused).
//
// Lifetime: a record and its root frame are released by the last of two parties: the task's
// completion and its join handle (joined, detached or destroyed). The `join` word arbitrates;
// join_word.hpp owns it (its values, and with join.cpp every read and write of it).
//
// Cancellation: `cancel_bits` is set by a canceller; every weft awaitable checks it. A task that
// suspends arms `hook` with its awaitable's "unblock me" function. The arm/check pair is
// asymmetric (sched/barrier.hpp): the task pays plain stores, a canceller pays a membarrier,
// and `cancel_busy` makes a disarming task wait for a canceller that is running its hook.

#include <atomic>
#include <coroutine>
#include <cstdint>
#include <cstring>
#include <source_location>
#include <string_view>

#include <weft/detail/cancel_state.hpp>
#include <weft/metrics/utf8.hpp>
#include <weft/sched/barrier.hpp>
#include <weft/sched/cold_call.hpp>
#include <weft/sched/job.hpp>

namespace weft::detail {

class runtime_core;

/// What a hook is asked to do (suspension.hpp).
enum class hook_op : std::uint8_t {
  cancel,      ///< a canceller: take the waiter out of its resource if it is still there, and wake it
  cancel_all,  ///< as cancel, from a canceller of every task (shutdown): cancel no other task
  abandon,     ///< its frame is being destroyed: take it out if it is still there, wake nobody
};
/// Whether a hook asked to do `op` wakes the task it takes out.
constexpr bool wakes(hook_op op) noexcept { return op != hook_op::abandon; }

/// What a suspended awaitable registers so that a canceller can unblock it (suspension.hpp).
struct cancel_hook {
  void (*fn)(cancel_hook*, hook_op) noexcept = nullptr;
};

enum class record_state : std::uint8_t { runnable, running, suspended, completed };

/// What a suspended task waits for, for dumps.
enum class await_kind : std::uint8_t { none, join, sleep, other };

struct task_record : sched::job {
  static constexpr std::size_t name_words = 6;
  static constexpr std::size_t max_name = name_words * 8 - 1;

  // ---- scheduling (owned by whoever runs the task) ----
  std::coroutine_handle<> resume_point;  ///< where the task continues when next run
  std::coroutine_handle<> root;          ///< the spawned coroutine's frame
  runtime_core* rt = nullptr;
  /// Set by a joiner that runs this task inline. Atomic: another thread may read it while
  /// following who waits for whom (awaited_by, join_word.hpp).
  std::atomic<task_record*> inline_joiner{nullptr};
  /// The task that spawned this one (a hint: may be stale). For a record of weft::fork or of
  /// fork_scope (join_forked), the parent that waits for it. Atomic: read as awaited_by is.
  std::atomic<task_record*> spawner{nullptr};
  /// Set while the task runs as a child of when_all, when_any, a task_group, a select or a
  /// join_set: the task that made the group and waits for it (combinators/detail/scope_link.hpp).
  /// Null otherwise, also in a record taken from the free list (the child clears it as it ends).
  std::atomic<task_record*> scope_owner{nullptr};
  struct join_state* helping = nullptr;  ///< set while it runs inline to help a sibling's joiner
  /// The link of the wake list that holds the task between its waker's unlock and its wake
  /// (sync/detail/waiter.hpp). Not the job link: shutdown may end the task and free the record
  /// meanwhile, and a free record's job link links the table's free list.
  task_record* wake_next = nullptr;

  // ---- join ----
  std::atomic<std::uintptr_t> join{0};  ///< join_word.hpp (0: join_running)

  // ---- cancellation ----
  /// cancel_handle: join_handle::cancel() (or inherited at spawn); cancel_token_bit: delivered
  /// by the task's token while the task was suspended (cleared when a with_timeout scope ends);
  /// cancel_shutdown: the runtime is shutting down (inherited at spawn, never cleared).
  static constexpr std::uint32_t cancel_handle = 1, cancel_token_bit = 2, cancel_shutdown = 4;
  std::atomic<std::uint32_t> cancel_bits{0};
  std::atomic<bool> cancel_busy{false};
  std::atomic<cancel_hook*> hook{nullptr};
  /// The task's token (one reference owned), or null: never cancelled by a token. Read and
  /// replaced only by the task itself (with_timeout scopes swap it while they run).
  cancel_state* token = nullptr;
  /// Registered on `token` while the task is suspended at a cancellation point.
  struct token_callback : cancel_callback {
    task_record* owner = nullptr;  ///< set once, when the task table carves the record
  } token_cb;
  bool token_registered = false;  ///< token_cb is on the token (the task's own field)

  // ---- identity and state, read racily by dumps and the stall monitor ----
  std::atomic<std::uint64_t> id{0};  ///< 0 while free; written last on spawn (release)
  std::atomic<std::source_location> site{};
  std::atomic<std::uint64_t> name[name_words] = {};
  std::atomic<record_state> state{record_state::runnable};
  std::atomic<await_kind> awaiting{await_kind::none};
  std::atomic<const char*> awaiting_what{nullptr};
  std::atomic<std::uint64_t> awaiting_arg{0};
  std::atomic<std::int64_t> since_ns{0};  ///< coarse clock at the last state change

  // ---- tracing (only while a weft::trace runs): the wait in progress ----
  std::int64_t trace_since = 0;
  const char* trace_what = nullptr;

  bool cancelled() const noexcept {
    return cancel_bits.load(std::memory_order_relaxed) != 0 || (token && token->requested());
  }

  /// Runnable, completed: the state and when it began.
  void set_state(record_state s, std::int64_t now) noexcept {
    state.store(s, std::memory_order_relaxed);
    since_ns.store(now, std::memory_order_relaxed);
  }
  /// Running: the worker's dispatch tells since when (the stall sampler), so only the state.
  void set_running() noexcept { state.store(record_state::running, std::memory_order_relaxed); }
  /// Suspended on `k` (a join: `arg` is the task id; a sleep: the deadline); `what` describes
  /// other waits ("channel results") and must outlive the wait.
  void set_awaiting(await_kind k, std::uint64_t arg, std::int64_t now, const char* what = nullptr) noexcept {
    awaiting.store(k, std::memory_order_relaxed);
    if (what) awaiting_what.store(what, std::memory_order_relaxed);
    awaiting_arg.store(arg, std::memory_order_relaxed);
    set_state(record_state::suspended, now);
  }

  /// Copies up to max_name bytes of `n`, cut on a UTF-8 character boundary. (Readers replace
  /// whatever else is not UTF-8: read_identity.) Out of line: most spawns have no name, and
  /// inlined it would cost every spawn the registers it needs.
  [[gnu::noinline]] void set_name(std::string_view n) noexcept {
    char buf[name_words * 8] = {};
    std::size_t len = n.size() <= max_name ? n.size() : metrics::utf8_prefix_length(n, max_name);
    std::memcpy(buf, n.data(), len);
    for (std::size_t i = 0; i < name_words; ++i) {
      std::uint64_t w;
      std::memcpy(&w, buf + 8 * i, 8);
      name[i].store(w, std::memory_order_relaxed);
    }
  }  /// set_name() from a spawn's inline path, leaving the spawner's registers alone (cold_call.hpp).
  WEFT_COLD_CALL static void WEFT_COLD_NAME(set_name_cold)(task_record* r, std::string_view n) noexcept {
    r->set_name(n);
  }

  std::size_t copy_name(char (&out)[name_words * 8]) const noexcept {
    for (std::size_t i = 0; i < name_words; ++i) {
      std::uint64_t w = name[i].load(std::memory_order_relaxed);
      std::memcpy(out + 8 * i, &w, 8);
    }
    out[max_name] = '\0';
    return std::strlen(out);
  }

  // ---- cancel hook protocol ----

  /// Task side: registers `h`, then tells whether cancellation was already requested (in which
  /// case the caller must not suspend; it disarms and throws).
  /// `with_token`: also subscribe to the task's token (a blocking wait must be woken by it; an
  /// inline join need not, its child sees the token itself). See also register_token().
  bool arm(cancel_hook* h, bool with_token = true) noexcept {
    // release: publishes the hook's fields (its fn, the awaitable) to the canceller's acquire
    // load in request_cancel(). A plain store on x86.
    hook.store(h, std::memory_order_release);
    sched::light_barrier();  // pairs with heavy_barrier() in request_cancel()
    if (cancelled()) return true;
    return with_token && register_token();
  }
  /// Task side, armed: subscribes to the token so that its cancellation reaches this suspended
  /// task. Returns true (not subscribed) if the token is already cancelled.
  bool register_token() noexcept {
    if (!token || token_registered) return false;
    // add() refuses once the token is cancelled: we are cancelled then.
    token_cb.fn = &on_token_cancelled;
    if (!token->add(&token_cb)) return true;
    token_registered = true;
    return false;
  }
  /// Task side: unregisters the hook; waits for a canceller that is running it to finish.
  void disarm() noexcept {
    hook.store(nullptr, std::memory_order_relaxed);
    sched::light_barrier();  // pairs with heavy_barrier() in request_cancel()
    // acquire: pairs with the canceller's release of cancel_busy, so its last touch of our
    // awaitable happens-before we go on and destroy it.
    while (cancel_busy.load(std::memory_order_acquire)) {
    }
    if (token_registered) {
      token->remove(&token_cb);
      token_registered = false;
    }
  }
  static void on_token_cancelled(cancel_callback* cb) noexcept {
    static_cast<token_callback*>(cb)->owner->request_cancel(cancel_token_bit);
  }
  /// Any thread: requests cancellation and unblocks the task if it is suspended at a hook.
  void request_cancel(std::uint32_t bit = cancel_handle) noexcept {
    begin_cancel(bit);
    // Between our store of cancel_busy and our load of the hook: a task that disarms (stores a
    // null hook, then reads cancel_busy) either sees us busy and waits, or we see its null hook.
    sched::heavy_barrier();
    end_cancel(hook_op::cancel);
  }
  /// request_cancel() in halves, for a canceller of many tasks at once (shutdown): begin_cancel()
  /// on each, one heavy_barrier() for all, then end_cancel(hook_op::cancel_all) on each. Between
  /// the halves the canceller holds each task's cancel_busy (a disarming task waits), so a hook
  /// run then must not cancel another task: cancel_all tells it so.
  void begin_cancel(std::uint32_t bit) noexcept {
    cancel_bits.fetch_or(bit, std::memory_order_seq_cst);
    bool expected = false;
    while (!cancel_busy.compare_exchange_weak(expected, true, std::memory_order_acquire)) expected = false;
  }
  /// begin_cancel() without the wait: false, with the bit set, if another canceller is in this
  /// task's hook. For a canceller that holds other tasks' cancel_busy already: it must not wait
  /// for this one then. That canceller's hook may be cancelling other tasks (fork_scope's
  /// cancel_strands: an owner's hook cancels its continuation records, whose hooks cancel theirs),
  /// each a wait for a cancel_busy while holding one, and one of those may be among ours.
  bool try_begin_cancel(std::uint32_t bit) noexcept {
    cancel_bits.fetch_or(bit, std::memory_order_seq_cst);
    bool expected = false;
    return cancel_busy.compare_exchange_strong(expected, true, std::memory_order_acquire);
  }
  void end_cancel(hook_op op) noexcept {
    if (cancel_hook* h = hook.load(std::memory_order_acquire)) h->fn(h, op);
    cancel_busy.store(false, std::memory_order_release);
  }
};

}  // namespace weft::detail
