// The out-of-line half of the sync primitives' wait list (sync/detail/waiter.hpp): the one hook,
// the destruction of a primitive with waiters, its error, and the hazards that keep a primitive
// alive under whoever is about to take its lock.

#include <weft/sync/detail/waiter.hpp>

#include <algorithm>
#include <cstddef>
#include <cstdint>

namespace weft::detail {

constinit std::atomic<std::uint32_t> short_mutex_sleepers{0};

namespace {

// The slots of primitive_hazard (waiter.hpp): a hazard pointer per thread. Whoever looks at a
// waiter's flags and, finding it still in its primitive's lists, takes the primitive's lock (the
// hook, finish() of a waiter handed the lock or a permit, a select's unlink) first publishes the
// primitive it works on in its thread's slot (the address of the primitive's lock), then looks;
// orphan_all, after orphaning under the lock and letting go of it, waits until no slot names the
// primitive. So a destructor that orphans the waiter between the look and the lock (or a waker
// that completes it and then destroys the primitive) never frees the lock under them. A
// destructor waits only for those at work on its own primitive, and they wait for nothing but
// its lock, which it no longer holds.
//
// Slots are handed out to threads on first use and never taken back; threads past `max_slots`
// share a counter instead, which a destructor waits to see at zero. Hazards do not nest (none
// is held across anything that takes another); one that did would use the counter too.
constexpr std::size_t max_slots = 1024;
constinit std::atomic<const short_mutex*> hazard_slots[max_slots] = {};
constinit std::atomic<std::size_t> hazard_slots_used{0};
constinit std::atomic<std::uint32_t> hazard_overflow{0};

std::atomic<const short_mutex*>* my_slot() noexcept {
  thread_local std::atomic<const short_mutex*>* slot = [] {
    const std::size_t i = hazard_slots_used.fetch_add(1, std::memory_order_seq_cst);
    return i < max_slots ? &hazard_slots[i] : nullptr;
  }();
  return slot;
}

// After orphaning `mu`'s waiters (and unlocking): returns once no hazard names `mu`.
void wait_for_hazards(const short_mutex& mu) noexcept {
  // Pairs with primitive_hazard's seq_cst store (see there); the loads below are after it in the
  // single total order, so a hazard published after them saw our flags and leaves `mu` alone.
  std::atomic_thread_fence(std::memory_order_seq_cst);
  const std::size_t n = std::min(hazard_slots_used.load(std::memory_order_seq_cst), max_slots);
  for (std::size_t i = 0; i < n; ++i)
    while (hazard_slots[i].load(std::memory_order_acquire) == &mu) sched::spin_pause();
  while (hazard_overflow.load(std::memory_order_acquire) != 0) sched::spin_pause();
}

}  // namespace

primitive_hazard::primitive_hazard(const short_mutex* mu) noexcept : slot_(my_slot()) {
  // seq_cst (an exchange on x86: a full fence): published before the flags are loaded (seq_cst
  // too), pairing with the fence in wait_for_hazards: either the destructor sees the slot and
  // waits, or the loads see the flags the destructor set before its fence.
  if (slot_ && slot_->load(std::memory_order_relaxed) == nullptr) {  // (only this thread stores it)
    slot_->store(mu, std::memory_order_seq_cst);
    return;
  }
  slot_ = nullptr;  // no slot, or nested: counted instead
  hazard_overflow.fetch_add(1, std::memory_order_seq_cst);
}

primitive_hazard::~primitive_hazard() {
  // release: the last touch of the primitive happens-before a destructor that sees the slot
  // cleared (its acquire load) goes on to free it.
  if (slot_)
    slot_->store(nullptr, std::memory_order_release);
  else
    hazard_overflow.fetch_sub(1, std::memory_order_release);
}

void waiter::hook(cancel_hook* h, hook_op op) noexcept {
  auto& w = *static_cast<waiter*>(h);
  primitive_hazard hazard(w.mu);  // until the last touch of the primitive (the give-back included)
  // seq_cst: after the hazard's store in the single total order (waiter.hpp). They pair with
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
  // A hook (or a resuming waiter) that looked at its waiter before we orphaned it, or before a
  // waker took it out, may still be about to take our lock: our caller frees it next.
  wait_for_hazards(mu);
  wake.wake_all();
}

void waiter::throw_destroyed(const char* what) {
  throw usage_error(std::string(what) +
                    " was destroyed while a task waited on it: a primitive must outlive the tasks waiting on it");
}

}  // namespace weft::detail
