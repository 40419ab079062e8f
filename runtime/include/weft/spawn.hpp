#pragma once
// weft::spawn and weft::join_handle<T>: run a task concurrently and collect its result.
//
//   weft::join_handle<int> h = weft::spawn(work(7), {.name = "work"});
//   ...                                  // runs meanwhile, perhaps stolen by another worker
//   int v = co_await h;                  // its value, or its exception rethrown
//
// weft::spawn pushes the task on the calling worker's own deque (no lock, no allocation beyond
// the frame in the steady state) and captures the call site for dumps and stall reports.

#include <coroutine>
#include <cstdint>
#include <source_location>
#include <string_view>
#include <utility>

#include <weft/cancel.hpp>
#include <weft/detail/current.hpp>
#include <weft/detail/join.hpp>
#include <weft/detail/runtime_core.hpp>
#include <weft/errors.hpp>
#include <weft/task.hpp>

namespace weft {

/// Options for one spawn.
struct spawn_options {
  /// Names the task in dumps, stall reports and traces. Copied (up to 47 bytes, cut on a UTF-8
  /// character boundary) before spawn returns, so any string that lives through the call will
  /// do. Bytes that are not UTF-8 are shown as U+FFFD.
  std::string_view name{};
  /// The task's cancellation token. Empty (the default): it inherits the spawning task's.
  cancel_token token{};
};

namespace detail {
/// The token a new task gets: the one given, else its spawner's (one reference, or null).
inline cancel_state* token_for_spawn(const spawn_options& opts, const task_record* parent) noexcept {
  cancel_state* s = opts.token.state();
  if (!s && parent) s = parent->token;
  if (s) s->add_ref();
  return s;
}
}  // namespace detail

/// The handle of a spawned task.
///
/// `co_await h` suspends until the task finishes and yields its value or rethrows its
/// exception; it is a cancellation point (the awaiting task's cancellation throws
/// cancelled_error and leaves the handle joinable). Awaiting consumes the handle: awaiting it
/// again, or awaiting an empty handle, throws usage_error.
///
/// A handle destroyed (or detach()ed) before the task finishes lets the task run on alone and
/// free itself when done. cancel() requests the task's cancellation: its current or next
/// cancellation point throws cancelled_error inside it.
///
/// A task that its runtime's shutdown ended before it finished (its frame destroyed where it
/// waited) has no result: a join of its handle, waiting already or later, from a task of another
/// runtime or a thread in block_on, throws runtime_stopped; done() stays false.
///
/// Thread safety: a handle is a move-only owner; use one from one thread at a time. It may be
/// awaited from any worker and destroyed on any thread, including after its runtime shut down.
template <class T = void>
class [[nodiscard]] join_handle {
 public:
  join_handle() noexcept = default;
  explicit join_handle(detail::task_record* r) noexcept : r_(r) {}
  join_handle(join_handle&& o) noexcept : r_(std::exchange(o.r_, nullptr)) {}
  join_handle& operator=(join_handle&& o) noexcept {
    if (this != &o) {
      detach();
      r_ = std::exchange(o.r_, nullptr);
    }
    return *this;
  }
  join_handle(const join_handle&) = delete;
  join_handle& operator=(const join_handle&) = delete;
  ~join_handle() { detach(); }

  /// True while the handle refers to a task (not empty, moved from, detached or joined).
  bool valid() const noexcept { return r_ != nullptr; }
  explicit operator bool() const noexcept { return valid(); }

  /// The task's id, as in dumps and stall reports (0 for an empty handle).
  std::uint64_t id() const noexcept { return r_ ? r_->id.load(std::memory_order_relaxed) : 0; }

  /// Whether the task has finished (its result is ready). False for a task that its runtime's
  /// shutdown ended unfinished.
  bool done() const noexcept { return r_ && detail::join_finished(r_); }

  /// Lets the task run on without a handle; it frees itself when it finishes.
  void detach() noexcept {
    if (r_) detail::release_handle(std::exchange(r_, nullptr));
  }

  /// Requests cancellation of the task. No effect once it has finished.
  void cancel() noexcept {
    if (r_ && !done()) r_->request_cancel();
  }

  auto operator co_await() & { return detail::join_awaiter<T>(checked()); }
  auto operator co_await() && { return detail::join_awaiter<T>(checked()); }

  /// Gives up the record without detaching (used by the runtime).
  detail::task_record* release_record() noexcept { return std::exchange(r_, nullptr); }

 private:
  detail::task_record*& checked() {
    if (!r_)
      throw usage_error(
          "weft: co_await on an empty join_handle (default-constructed, moved from, detached, or already joined)");
    return r_;
  }
  detail::task_record* r_ = nullptr;
};

/// Spawns `t` on the calling worker. Must be called from a task running on a weft runtime
/// (throws usage_error otherwise: off the workers, use runtime::spawn). The new task inherits
/// the caller's cancellation.
namespace detail {
[[noreturn, gnu::cold]] void throw_spawn_off_runtime();

/// The one spawn path inside the runtime. `token`: given (one reference the record adopts), or
/// null to inherit the spawner's.
template <class T>
task_record* spawn_here(task<T>& t, std::string_view name, std::source_location site, cancel_state* token) {
  worker_context* ctx = tls_ctx;
  if (!ctx) [[unlikely]]
    throw_spawn_off_runtime();
  auto h = t.release();
  task_record* r = ctx->alloc_record();
  task_record* parent = ctx->current;
  std::uint32_t inherited = 0;
  if (parent) {
    // A task spawned by a cancelled task starts cancelled; it shares its spawner's token.
    inherited = parent->cancel_bits.load(std::memory_order_relaxed);
    if (!token && (token = parent->token)) token->add_ref();
  }
  init_record(r, h, name, site, ctx->next_id(), inherited, token, ctx->rt->coarse_now(), parent);
  h.promise().record_ = r;
  if (ctx->tracing->load(std::memory_order_relaxed)) [[unlikely]]
    WEFT_COLD_NAME(trace_spawn_cold)(r);
  ctx->w->push(r);
  return r;
}
}  // namespace detail

template <class T>
join_handle<T> spawn(task<T> t, std::source_location site = std::source_location::current()) {
  return join_handle<T>(detail::spawn_here(t, {}, site, nullptr));
}

/// As above, with options: a name for dumps and traces, or a token instead of the inherited one.
template <class T>
join_handle<T> spawn(task<T> t, const spawn_options& opts,
                     std::source_location site = std::source_location::current()) {
  detail::cancel_state* token = opts.token.state();
  if (token) token->add_ref();
  try {
    return join_handle<T>(detail::spawn_here(t, opts.name, site, token));
  } catch (...) {
    if (token) token->release();
    throw;
  }
}

}  // namespace weft
