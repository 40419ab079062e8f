// The out-of-line half of the sync primitives' wait list (sync/detail/waiter.hpp): the one hook,
// the destruction of a primitive with waiters, and its error.

#include <weft/sync/detail/waiter.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace weft::detail {

constinit std::atomic<std::uint32_t> short_mutex_sleepers{0};

namespace {

// Hooks at work on a primitive, so that its destructor can wait for them. A hook looks at its
// waiter's flags and, finding it still in the primitive's lists, takes the primitive's lock: a
// destructor that orphans the waiter between the look and the lock (or a waker that completes
// it and then destroys the primitive) must not free the lock under the hook. So a hook first
// publishes the primitive it works on in its thread's slot (a hazard pointer: the address of the
// primitive's lock), then looks; orphan_all, after orphaning under the lock and letting go of it,
// waits until no slot names the primitive. A destructor waits only for hooks on its own
// primitive, and those wait for nothing but its lock, which it no longer holds.
//
// Slots are handed out to threads on their first hook and never taken back; threads past
// `max_slots` share a counter instead, which a destructor waits to see at zero. Hooks do not nest
// (a hook gives back a hand-off and wakes a task: neither runs a hook); one that did would
// count in the shared counter too.
constexpr std::size_t max_slots = 1024;
constinit std::atomic<const short_mutex*> hook_slots[max_slots] = {};
constinit std::atomic<std::size_t> hook_slots_used{0};
constinit std::atomic<std::uint32_t> hook_overflow{0};

std::atomic<const short_mutex*>* my_slot() noexcept {
  thread_local std::atomic<const short_mutex*>* slot = [] {
    const std::size_t i = hook_slots_used.fetch_add(1, std::memory_order_seq_cst);
    return i < max_slots ? &hook_slots[i] : nullptr;
  }();
  return slot;
}

class hook_section {
 public:
  explicit hook_section(const short_mutex* mu) noexcept : slot_(my_slot()) {
    // seq_cst (an exchange on x86: a full fence): published before the hook loads its waiter's
    // flags, pairing with the fence in wait_for_hooks: either the destructor sees the slot and
    // waits, or the hook sees the flags the destructor set before its fence.
    if (slot_ && slot_->load(std::memory_order_relaxed) == nullptr) {  // (only this thread stores it)
      slot_->store(mu, std::memory_order_seq_cst);
      return;
    }
    slot_ = nullptr;  // no slot, or nested: counted instead
    hook_overflow.fetch_add(1, std::memory_order_seq_cst);
  }
  hook_section(const hook_section&) = delete;
  hook_section& operator=(const hook_section&) = delete;
  ~hook_section() {
    // release: the hook's last touch of the primitive happens-before a destructor that sees the
    // slot cleared (its acquire load) goes on to free it.
    if (slot_)
      slot_->store(nullptr, std::memory_order_release);
    else
      hook_overflow.fetch_sub(1, std::memory_order_release);
  }

 private:
  std::atomic<const short_mutex*>* slot_;
};

// After orphaning `mu`'s waiters (and unlocking): returns once no hook works on `mu`.
void wait_for_hooks(const short_mutex& mu) noexcept {
  // Pairs with hook_section's seq_cst store (see there); the loads below are after it in the single
  // total order, so a hook that published after them saw our flags and leaves `mu` alone.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const std::size_t n = std::min(hook_slots_used.load(std::memory_order_seq_cst), max_slots);
  for (std::size_t i = 0; i < n; ++i)
    while (hook_slots[i].load(std::memory_order_acquire) == &mu) sched::spin_pause();
  while (hook_overflow.load(std::memory_order_acquire) != 0) sched::spin_pause();
}

}  // namespace

void waiter::hook(cancel_hook* h, hook_op op) noexcept {
  auto& w = *static_cast<waiter*>(h);
  hook_section busy(w.mu);  // until the last touch of the primitive (the give-back included)
  // seq_cst: after our slot's store in the single total order (see hook_section). They pair with
  // orphan_all's release (an orphaned waiter's primitive is gone) and waiter_queue::remove's (a
  // released waiter's primitive may be gone: nothing left to undo).
  if (w.orphaned.load(std::memory_order_seq_cst) || w.released.load(std::memory_order_seq_cst)) return;
  task_record* to_wake = nullptr;
  bool give_back = false;
  {
    std::lock_guard lock(*w.mu);
    if (!w.linked) return;  // a waker took it out first and resumes it
    if (w.result == outcome::waiting) {
      w.queue->remove(&w);
      w.result = outcome::cancelled;
      if (wakes(op)) to_wake = w.task_;
    } else if (op == hook_op::abandon) {
      // Handed the lock or a permit and destroyed before it resumed: give it back.
      w.queue->remove(&w);
      give_back = w.undo != nullptr;
    }
    // (cancel of a handed waiter: its waker resumes it; its next await sees the cancellation)
  }
  if (to_wake) wake(to_wake);
  if (give_back) w.undo(w);
}

void orphan_all(short_mutex& mu, waiter_queue& waiting, waiter_queue* handed) noexcept {
  wake_list wake;
  {
    std::lock_guard lock(mu);
    while (waiter* w = waiting.front()) {
      if (!w->select || w->select->claim(w->branch))
        wake.add(w->complete(waiter::outcome::destroyed));
      else
        waiting.remove(w);  // its select took another branch: only unlinked
      // release: a hook that sees the flag sees the waiter unlinked, and leaves it alone.
      w->orphaned.store(true, std::memory_order_release);
    }
    if (handed)
      for (waiter* w = handed->front(); w; w = w->next) w->orphaned.store(true, std::memory_order_release);
  }
  // A hook that looked at its waiter before we orphaned it (or before a waker took it out) may
  // still be about to take our lock: our caller frees it next.
  wait_for_hooks(mu);
  wake.wake_all();
}

void waiter::throw_destroyed(const char* what) {
  throw usage_error(std::string(what) +
                    " was destroyed while a task waited on it: a primitive must outlive the tasks waiting on it");
}

}  // namespace weft::detail
