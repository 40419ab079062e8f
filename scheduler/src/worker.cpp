#include <weft/sched/worker.hpp>

#include <climits>
#include <string>

#include <pthread.h>
#include <sched.h>

#include <weft/metrics/histogram.hpp>
#include <weft/sched/barrier.hpp>
#include <weft/sched/scheduler.hpp>
#include <weft/sched/spin.hpp>

namespace weft::sched {

constinit thread_local worker* detail::tls_worker = nullptr;

worker::worker(scheduler& s, std::size_t index)
    : sched_(&s),
      index_(index),
      sample_mask_(s.opts().sample_every - 1),
      sample_delay_(s.opts().schedule_delay != nullptr),
      until_stamp_(sample_mask_),
      rng_(0x9E3779B97F4A7C15ull * (index + 1)),
      symmetric_fences_(!detail::asymmetric_fences.load(std::memory_order_relaxed)),  // (init_barriers(): scheduler)
      own_slot_(index < s.size() ? s.slot_of(index) : 0),
      local_(s.opts().deque_capacity),
      yield_(s.opts().deque_capacity) {}

std::uint64_t worker::next_random() noexcept {
  // xorshift64*: victim selection only needs to be cheap and spread out.
  rng_ ^= rng_ >> 12;
  rng_ ^= rng_ << 25;
  rng_ ^= rng_ >> 27;
  return rng_ * 0x2545F4914F6CDD1Dull;
}

void worker::notify_slow() noexcept {
  if (sched_->notify_one()) stats_.notifies.inc();
}

void worker::overflow(job* j) noexcept {
  stats_.overflows.inc();
  sched_->push_global(j);
}

void worker::push_wake(job* j) noexcept {
  // In the park driver, one turn may complete many operations (a poll runs every ready event):
  // the first task woken takes the slot and the others queue behind it, FIFO, in the order the
  // events came. Displacing each by the next would leave the earliest ready last, behind every
  // later one (the deque's owner end is LIFO): that is a connection's tail latency.
  if (in_driver_ && lifo_.load(std::memory_order_relaxed)) [[unlikely]]
    return push_yield(j);
  stamp(j);
  if (job* prev = lifo_put(j)) {
    if (!local_.push(prev)) overflow(prev);
    notify_if_idle();  // the displaced job is stealable now
  }
}

job* worker::lifo_settle(job* held) noexcept {
  std::uint32_t e;
  // acquire: pairs with the rescuer's release of the even epoch (its `rescued_` is visible).
  while ((e = rescue_epoch_.load(std::memory_order_acquire)) & 1u) {
    spin_pause();
  }
  lifo_seen_ = e;
  job* taken = rescued_.load(std::memory_order_relaxed);
  if (!taken) return held;
  rescued_.store(nullptr, std::memory_order_relaxed);  // settled: the rescuer may come again
  if (taken != held) return held;
  stats_.rescue_races.inc();  // the race the protocol is for: the rescuer has it, we do not
  return nullptr;
}

job* worker::take_lifo_for_transfer(job::run_fn kind) noexcept {
  job* j = lifo_.load(std::memory_order_relaxed);
  if (!j || j->run_ != kind || j->enqueued_ns_ || sched_->manual()) return nullptr;
  const options& o = sched_->opts();
  if (until_fair_ == 1) return nullptr;  // find_work's fairness round is next
  const bool turns_left = lifo_polls_ < o.max_lifo_polls;
  if (!turns_left && (local_.size_approx() || yield_.size_approx() || !sched_->injector_.empty())) return nullptr;
  // As find_work does: the stall detector may have rescued the job meanwhile.
  j = lifo_take();
  if (!j) return nullptr;
  // What execute() and find_work() would have counted for this dispatch.
  --until_fair_;
  lifo_polls_ = turns_left ? lifo_polls_ + 1 : 1;
  budget_ = o.budget;
  stats_.lifo_hits.inc();
  stats_.polls.inc();
  dispatches_.store(dispatches_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  current_.store(j, std::memory_order_release);  // pairs with the stall sampler's acquire
  return j;
}

void worker::push_yield(job* j) noexcept {
  stamp(j);
  if (!yield_.push(j)) overflow(j);
  notify_if_idle();
}

void worker::run() {
  detail::tls_worker = this;
  install_frame_cache(&frames_);
  thread_id_.store(std::this_thread::get_id(), std::memory_order_release);
  native_.store(static_cast<unsigned long>(pthread_self()), std::memory_order_release);
  std::string name = sched_->opts().name + "-w" + std::to_string(index_);
  if (name.size() > 15) name.resize(15);
  pthread_setname_np(pthread_self(), name.c_str());
  if (sched_->opts().on_thread_start) sched_->opts().on_thread_start(index_);

  while (!sched_->stopping() && !retire_.load(std::memory_order_relaxed)) {
    if (job* j = find_work())
      execute(j);
    else
      park();
  }
  if (retire_.load(std::memory_order_relaxed) && !sched_->stopping()) leave_for_retirement();
  leave_gate();  // stopped in the middle of a search

  if (sched_->opts().on_thread_stop) sched_->opts().on_thread_stop(index_);
  install_frame_cache(nullptr);
  frames_.release_all();
  detail::tls_worker = nullptr;
  active_.store(false, std::memory_order_release);
}

void worker::leave_for_retirement() noexcept {
  // A replacement that is no longer needed: hand everything queued here to the others.
  if (sched_->idle_.is_parked(index_)) sched_->idle_.unpark_self(index_);
  if (searching_) stop_searching();
  if (job* j = lifo_.exchange(nullptr, std::memory_order_acq_rel)) sched_->push_global(j);
  while (job* j = local_.pop()) sched_->push_global(j);
  while (job* j = yield_.pop()) sched_->push_global(j);
  sched_->idle_.remove_active();
  if (sched_->notify_one()) stats_.notifies.inc();
}

void worker::execute(job* j) noexcept {
  if (searching_) stop_searching();
  budget_ = sched_->opts().budget;
  stats_.polls.inc();
  dispatches_.store(dispatches_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  // release: pairs with the stall sampler's acquire load in current().
  current_.store(j, std::memory_order_release);

  const options& o = sched_->opts();
  std::int64_t start = 0;
  if (j->enqueued_ns_) [[unlikely]] {
    start = now_ns();
    if (o.schedule_delay) o.schedule_delay->observe(static_cast<double>(start - j->enqueued_ns_) * 1e-9);
    j->enqueued_ns_ = 0;
  }
  const bool timed = o.poll_duration && (stats_.polls.load() & sample_mask_) == 0;
  if (timed && !start) start = now_ns();
  stats_.busy.store(true, std::memory_order_relaxed);

  j->run_(j);

  stats_.busy.store(false, std::memory_order_relaxed);
  current_.store(nullptr, std::memory_order_release);
  if (timed) o.poll_duration->observe(static_cast<double>(now_ns() - start) * 1e-9);
}

void worker::after_driver() noexcept {
  if (local_.size_approx() + yield_.size_approx() == 0) return;  // at most the LIFO slot: ours
  light_barrier();
  if (idle_should_wakeup()) notify_slow();
}

void worker::maintenance() noexcept {
  std::int64_t now = sched_->now();
  // Every worker reads the coarse clock on each task state change: write it only when it moved
  // by a millisecond, or its cache line would bounce between the workers.
  if (now - sched_->coarse_ns_.load(std::memory_order_relaxed) >= 1'000'000)
    sched_->coarse_ns_.store(now, std::memory_order_relaxed);
  stats_.timers_fired.inc(sched_->fire_due_timers(now));
  // Events (I/O) are handled while every worker is busy too: a poll, if nobody holds the driver.
  poll_driver();
}

bool worker::has_own_driver() const noexcept {
  return own_slot_ && sched_->drivers_[own_slot_].d.load(std::memory_order_relaxed);
}

park_driver* worker::take_driver(std::size_t& slot) noexcept {
  // With a reactor per worker the own slot holds one; otherwise it is empty (one load).
  if (has_own_driver()) {
    slot = own_slot_;
    return sched_->try_take_slot(slot);
  }
  slot = 0;
  return sched_->try_take_slot(0);
}

void worker::poll_driver() noexcept {
  if (sched_->rescue_.load(std::memory_order_relaxed)) [[unlikely]]
    rescue_drivers();
  std::size_t slot;
  if (park_driver* d = take_driver(slot)) {
    in_driver_ = true;
    d->poll();
    in_driver_ = false;
    sched_->release_slot(slot);
    after_driver();
  }
}

void worker::rescue_drivers() noexcept {
  if (!sched_->rescue_.exchange(false, std::memory_order_relaxed)) return;  // another worker does it
  for (std::size_t slot = 1; slot <= sched_->size(); ++slot) {
    if (slot == own_slot_) continue;
    if (park_driver* d = sched_->try_take_slot(slot)) {
      stats_.driver_rescues.inc();
      in_driver_ = true;
      d->poll();
      in_driver_ = false;
      sched_->release_slot(slot);
      after_driver();
    }
  }
}

bool worker::spin_for_work() noexcept {
  const std::int64_t spin = sched_->opts().idle_spin_ns;
  if (spin <= 0) return false;
  stats_.idle_spins.inc();
  const std::int64_t shared = sched_->opts().idle_spin_shared_ns;
  const std::int64_t until = now_ns() + spin;
  auto found = [this] {
    stats_.idle_spin_finds.inc();
    return true;
  };
  for (;;) {
    if (work_visible()) return found();
    if (sched_->stopping() || retire_.load(std::memory_order_relaxed)) return true;
    poll_driver();  // what its events complete is queued here, and seen above
    const std::int64_t before = now_ns();
    if (before >= until) return work_visible() && found();
    // Not a pause loop: a thread that waits for this cpu (the client of a server, another
    // program) runs meanwhile. Measured in bench/net: with x86's pause instead, two server
    // threads pinned beside their client served 0.74x as many HTTP requests as without a spin.
    sched_yield();
    // A yield that took long ran another thread: this cpu is shared, and spinning on it slows
    // whoever shares it. Park instead (one-connection echo with two server threads, one of them
    // beside the client: 80,000 round trips/s with the spin to the end, 118,000 with this). Not
    // skipping the next spins as well: with that back-off (no spin the next 1, 3, 7 ... 63 times
    // after a shared one) the same cell reached 160,000, but HTTP at two pinned threads fell from
    // 1.34x Asio to 1.06x and 50-connection echo at two threads from 1.22x to 0.94-1.07x.
    if (shared > 0 && now_ns() - before > shared) return work_visible() && found();
  }
}

job* worker::find_work() {
  const options& o = sched_->opts();
  if (--until_fair_ == 0) {
    until_fair_ = o.global_queue_interval;
    // Fairness: the shared queues first, now and then, whatever the local deque holds.
    maintenance();
    if (job* j = take_injector()) return j;
    if (job* j = deque::stealer(yield_).steal()) return j;  // FIFO, as below
  }
  if (lifo_.load(std::memory_order_relaxed)) {
    if (job* j = lifo_take()) {
      if (lifo_polls_ < o.max_lifo_polls) {
        ++lifo_polls_;
        stats_.lifo_hits.inc();
        return j;
      }
      // The slot has had its turns: back of the line, unless nothing waits in line here (a
      // ping-pong between two tasks), where it would come straight back after a push, a pop,
      // a steal and a wake-up of an idle worker to steal it.
      if (local_.size_approx() == 0 && yield_.size_approx() == 0 && sched_->injector_.empty()) {
        lifo_polls_ = 1;
        stats_.lifo_hits.inc();
        return j;
      }
      push_yield(j);
    }
  }
  lifo_polls_ = 0;
  if (job* j = pop_local()) return j;
  // The yield queue is FIFO: the owner takes from its top, like a thief.
  if (job* j = deque::stealer(yield_).steal()) return j;
  if (job* j = take_injector()) return j;
  return search();
}

job* worker::take_injector() {
  if (sched_->injector_.empty()) return nullptr;
  // Take a batch, but leave room in the deque and some for the other workers.
  std::size_t room = local_.capacity() - local_.size_approx();
  std::size_t want = std::min<std::size_t>({room / 2, 32, sched_->injector_.size() / sched_->size() + 1});
  if (want == 0) want = 1;
  std::size_t n = 0;
  job* list = sched_->injector_.pop_batch(want, n);
  if (!list) return nullptr;
  stats_.injector_pops.inc(n);
  job* first = list;
  job* rest = list->next_;
  first->next_ = nullptr;
  bool pushed = false;
  while (rest) {
    job* next = rest->next_;
    rest->next_ = nullptr;
    if (!local_.push(rest)) overflow(rest);
    pushed = true;
    rest = next;
  }
  if (pushed) notify_if_idle();
  return first;
}

job* worker::search() {
  if (!searching_) {
    if (!sched_->idle_.transition_to_searching()) return nullptr;
    searching_ = true;
  }
  const std::size_t n = sched_->slots();
  const std::size_t start = static_cast<std::size_t>(next_random() % n);
  for (std::size_t k = 0; k < n; ++k) {
    std::size_t v = (start + k) % n;
    if (v == index_) continue;
    worker& victim = *sched_->workers_[v];
    stats_.steal_attempts.inc();
    // Through the steal gate, which costs a membarrier once per search, and only when there
    // is something to take: an owner pops without a fence unless a thief is inside.
    if (victim.local_.size_approx() && !in_gate_) {
      sched_->steal_gate_.enter();
      in_gate_ = true;
    }
    deque::stealer thief(victim.local_);
    if (job* first = in_gate_ ? thief.steal() : nullptr) {
      // Take about half of what is left, into our own deque.
      std::size_t more = victim.local_.size_approx() / 2;
      std::uint64_t taken = 1;
      for (; more > 0; --more) {
        job* j = thief.steal();
        if (!j || !local_.push(j)) {
          if (j) overflow(j);
          break;
        }
        ++taken;
      }
      stats_.stolen.inc(taken);
      return first;
    }
    if (job* j = deque::stealer(victim.yield_).steal()) {
      stats_.stolen.inc();
      return j;
    }
  }
  return take_injector();
}

void worker::leave_gate() noexcept {
  if (in_gate_) {
    in_gate_ = false;
    sched_->steal_gate_.leave();
  }
}

void worker::stop_searching() {
  searching_ = false;
  leave_gate();
  // The last searcher to find work wakes another, so a burst spreads one worker at a time.
  if (sched_->idle_.transition_from_searching() && sched_->notify_one()) stats_.notifies.inc();
}

bool worker::work_visible() const noexcept {
  if (!sched_->injector_.empty()) return true;
  if (sched_->next_timer_ns_.load(std::memory_order_relaxed) <= sched_->now()) return true;
  for (auto& w : sched_->workers_)
    if (w->local_.size_approx() || w->yield_.size_approx()) return true;
  return lifo_.load(std::memory_order_relaxed) != nullptr;
}

void worker::park() {
  // A short spin first (options::idle_spin_ns): work that arrives meanwhile is picked up without
  // a wake-up, and the membarrier below is not paid. The worker stays counted awake meanwhile,
  // so pushers wake nobody: it sees their work itself.
  if (sched_->rescue_.load(std::memory_order_relaxed)) [[unlikely]]
    rescue_drivers();
  if (spin_for_work()) return;
  sched_->idle_.transition_to_parked(index_, searching_);
  searching_ = false;
  leave_gate();
  // Pairs with light_barrier() in every push: after this, either the pusher sees us asleep and
  // wakes someone, or we see its job below.
  heavy_barrier();
  if (work_visible() || sched_->stopping() || retire_.load(std::memory_order_relaxed) ||
      sched_->rescue_.load(std::memory_order_relaxed)) {
    if (!sched_->idle_.unpark_self(index_)) searching_ = true;  // a notifier got here first
    return;
  }
  stats_.parks.inc();
  while (!sched_->stopping() && !retire_.load(std::memory_order_relaxed)) {
    std::optional<std::int64_t> deadline;
    int none = -1;
    // seq_cst claim, then read the deadline: pairs with add_timer()'s exchange-then-load.
    bool keeper =
        sched_->timer_keeper_.compare_exchange_strong(none, static_cast<int>(index_), std::memory_order_seq_cst);
    if (keeper) {
      std::int64_t next = sched_->next_timer_ns_.load(std::memory_order_seq_cst);
      if (next != INT64_MAX) deadline = next;
    }
    // One idle worker waits in the shared driver (handling I/O as it comes), or each in its own;
    // the others sleep.
    std::size_t slot;
    if (park_driver* d = take_driver(slot)) {
      in_driver_ = true;
      parker_.park_in(*d, deadline);
      in_driver_ = false;
      sched_->release_slot(slot);
    } else {
      // Our own driver is held by another worker polling it for a moment (a rescue): come back
      // for it soon rather than sleep on the futex while its events wait.
      if (has_own_driver()) {
        const std::int64_t soon = now_ns() + 1'000'000;
        if (!deadline || *deadline > soon) deadline = soon;
      }
      parker_.park(deadline);
    }
    sched_->refresh_coarse_now();
    if (keeper) sched_->timer_keeper_.store(-1, std::memory_order_seq_cst);
    std::size_t fired = sched_->fire_due_timers(sched_->now());
    stats_.timers_fired.inc(fired);
    if (!sched_->idle_.is_parked(index_)) {  // a notifier took us out: we search
      searching_ = true;
      break;
    }
    if (fired || work_visible()) {
      if (!sched_->idle_.unpark_self(index_)) searching_ = true;
      after_driver();  // what the driver's events (or the timers) queued beyond the next job
      break;
    }
  }
  stats_.unparks.inc();
}

}  // namespace weft::sched
