#pragma once
// weft::detail::scope_links: which task waits for a group's children, in the children's records,
// for the walks that follow "who waits for whom" (awaited_by, join_word.hpp; job_pool::stop).
//
// A child of when_all, when_any, task_group, select (a branch's task) or join_set runs in a
// wrapper task that is detached: its join word names nobody, yet the task that made the group
// waits for it (its join, next(), the select's end). While the child runs, its record's
// `scope_owner` names that task. The link is in the records, which are never freed while their
// runtime lives, so a walk on another thread reads nothing that can be freed under it; the
// group itself, which can, is never read by a walk.
//
// Lifetime: a child links itself as it starts (scope_child's constructor, on its own thread) and
// unlinks itself as it ends (the destructor: also when shutdown destroys its frame). A group
// dropped unjoined (task_group, join_set) waits no more: release() unlinks the children still
// running, and those that start later find no owner. `mu_` guards the owner and the list.
//
// Cost: a lock round trip as each group child starts and ends; spawn, fork and join are not
// touched.

#include <atomic>
#include <mutex>

#include <weft/detail/task_record.hpp>
#include <weft/detail/worker_context.hpp>

namespace weft::detail {

class scope_child;

class scope_links {
 public:
  /// The links of a group made by the running task (none off a runtime's tasks).
  scope_links() noexcept : owner_(tls_ctx ? tls_ctx->current : nullptr) {}
  scope_links(const scope_links&) = delete;
  scope_links& operator=(const scope_links&) = delete;

  /// The group is dropped unjoined: its owner waits for none of its children any more.
  void release() noexcept;

 private:
  friend class scope_child;
  std::mutex mu_;
  task_record* owner_;
  scope_child* head_ = nullptr;  // the children linked to owner_
};

/// Held by a group child's wrapper for as long as the child runs (see the top).
class scope_child {
 public:
  explicit scope_child(scope_links& l) noexcept : links_(l), record_(tls_ctx->current) {
    std::lock_guard lock(l.mu_);
    if (!l.owner_) return;
    // relaxed: a walk checks each link it followed again (awaited_by).
    record_->scope_owner.store(l.owner_, std::memory_order_relaxed);
    next_ = l.head_;
    if (next_) next_->prev_ = this;
    l.head_ = this;
    linked_ = true;
  }
  scope_child(const scope_child&) = delete;
  scope_child& operator=(const scope_child&) = delete;
  ~scope_child() {
    std::lock_guard lock(links_.mu_);
    if (!linked_) return;
    record_->scope_owner.store(nullptr, std::memory_order_relaxed);
    (prev_ ? prev_->next_ : links_.head_) = next_;
    if (next_) next_->prev_ = prev_;
  }

 private:
  friend class scope_links;
  scope_links& links_;
  task_record* record_;
  scope_child* prev_ = nullptr;
  scope_child* next_ = nullptr;
  bool linked_ = false;
};

inline void scope_links::release() noexcept {
  std::lock_guard lock(mu_);
  owner_ = nullptr;
  for (scope_child* c = head_; c; c = c->next_) {
    c->record_->scope_owner.store(nullptr, std::memory_order_relaxed);
    c->linked_ = false;
  }
  head_ = nullptr;
}

}  // namespace weft::detail
