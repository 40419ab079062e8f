#pragma once
// weft::cancel_source and weft::cancel_token: request and observe cancellation.
//
//   weft::cancel_source src;
//   auto h = weft::spawn(work(), {.token = src.token()});   // or: inherited from the spawner
//   src.cancel();                                            // every task holding the token stops
//                                                            // at its next cancellation point
//
// A task holds one token (inherited from the task that spawned it; with_timeout, task_group and
// when_all/when_any put a child token in scope). Every weft awaitable is a cancellation point:
// once the token is cancelled it resumes promptly with cancelled_error, and a task suspended at
// one is woken at once. A source can be linked to a parent token: cancelling the parent cancels
// it too.
//
// Thread safety: all members of both classes may be called from any thread. Tokens are cheap to
// copy (one atomic increment).

#include <functional>
#include <memory>
#include <utility>

#include <weft/detail/cancel_state.hpp>

namespace weft {

class cancel_token;

/// Keeps a callback registered on a token; unregisters it when destroyed (waiting for it if it
/// is running on another thread).
class cancel_registration {
 public:
  cancel_registration() noexcept = default;
  cancel_registration(cancel_registration&&) noexcept;
  cancel_registration& operator=(cancel_registration&&) noexcept;
  ~cancel_registration();

 private:
  friend class cancel_token;
  struct node : detail::cancel_callback {
    std::function<void()> fn;
    detail::cancel_state* state = nullptr;
  };
  std::unique_ptr<node> node_;
};

class cancel_token {
 public:
  /// A token that is never cancelled.
  cancel_token() noexcept = default;
  cancel_token(const cancel_token& o) noexcept : s_(o.s_) {
    if (s_) s_->add_ref();
  }
  cancel_token(cancel_token&& o) noexcept : s_(std::exchange(o.s_, nullptr)) {}
  cancel_token& operator=(cancel_token o) noexcept {
    std::swap(s_, o.s_);
    return *this;
  }
  ~cancel_token() {
    if (s_) s_->release();
  }

  /// Whether cancellation was requested.
  bool cancelled() const noexcept { return s_ && s_->requested(); }
  /// Whether this token can ever be cancelled.
  bool can_be_cancelled() const noexcept { return s_ != nullptr; }

  /// Calls `fn` once when cancellation is requested (on the requesting thread), or right now if
  /// it already was. The callback must not throw and should be short.
  [[nodiscard]] cancel_registration on_cancel(std::function<void()> fn) const;

  friend bool operator==(const cancel_token& a, const cancel_token& b) noexcept { return a.s_ == b.s_; }

  /// Internal: a token adopting a reference to `s`; a token taking a new reference to `s`; the
  /// state; giving up the token's reference to the caller.
  static cancel_token adopt(detail::cancel_state* s) noexcept {
    cancel_token t;
    t.s_ = s;
    return t;
  }
  static cancel_token share(detail::cancel_state* s) noexcept {
    if (s) s->add_ref();
    return adopt(s);
  }
  detail::cancel_state* state() const noexcept { return s_; }
  detail::cancel_state* release_state() noexcept { return std::exchange(s_, nullptr); }

 private:
  detail::cancel_state* s_ = nullptr;
};

class cancel_source {
 public:
  /// A new, independent source.
  cancel_source();
  /// A source cancelled when `parent` is (or at once, if it already is).
  explicit cancel_source(const cancel_token& parent);
  cancel_source(cancel_source&&) noexcept;
  cancel_source& operator=(cancel_source&&) noexcept;
  cancel_source(const cancel_source&) = delete;
  cancel_source& operator=(const cancel_source&) = delete;
  ~cancel_source();

  /// Requests cancellation: every holder of the token sees it. Returns false if it was already
  /// requested. Runs the registered callbacks on the calling thread.
  bool cancel();
  bool cancelled() const noexcept { return s_ && s_->requested(); }
  /// A token observing this source (an empty token for a moved-from source).
  cancel_token token() const noexcept {
    if (!s_) return {};
    s_->add_ref();
    return cancel_token::adopt(s_);
  }

 private:
  detail::cancel_state* s_;
  cancel_registration link_;
};

}  // namespace weft
