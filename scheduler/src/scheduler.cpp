#include <weft/sched/scheduler.hpp>

#include <climits>
#include <stdexcept>
#include <thread>

#include <weft/sched/barrier.hpp>

namespace weft::sched {

namespace {
std::size_t resolve_workers(std::size_t w) { return w ? w : std::max(1u, std::thread::hardware_concurrency()); }
}  // namespace

scheduler::scheduler(options opts)
    : opts_(std::move(opts)),
      manual_(opts_.manual),
      base_workers_(resolve_workers(opts_.workers)),
      idle_(base_workers_, base_workers_ + (manual_ ? 0 : opts_.max_replacements)),
      wheel_(coarse_ns_.load(std::memory_order_relaxed)),
      next_timer_ns_(INT64_MAX),
      drivers_(std::make_unique<driver_slot[]>(1 + base_workers_)) {
  opts_.workers = base_workers_;
  if (manual_) opts_.max_replacements = 0;  // no threads, so no replacement threads either
  if (opts_.sample_every == 0 || (opts_.sample_every & (opts_.sample_every - 1)))
    throw std::invalid_argument("weft: sample_every must be a power of two");
  init_barriers();
  const std::size_t slots = base_workers_ + opts_.max_replacements;
  workers_.reserve(slots);
  for (std::size_t i = 0; i < slots; ++i) {
    workers_.push_back(std::make_unique<worker>(*this, i));
    workers_.back()->replacement_ = i >= base_workers_;
  }
}

std::size_t scheduler::active_workers() const noexcept {
  std::size_t n = 0;
  for (auto& w : workers_) n += w->active();
  return n;
}

bool scheduler::all_workers_busy() const noexcept {
  for (auto& w : workers_)
    if (w->active() && !w->stats().busy.load(std::memory_order_relaxed)) return false;
  return true;
}

std::optional<std::size_t> scheduler::start_replacement() {
  if (stopping() || manual_) return std::nullopt;
  for (std::size_t i = base_workers_; i < workers_.size(); ++i) {
    worker& w = *workers_[i];
    if (w.active()) continue;
    if (w.thread_.joinable()) w.thread_.join();  // a retired replacement's old thread
    w.retire_.store(false, std::memory_order_relaxed);
    w.active_.store(true, std::memory_order_release);
    idle_.add_active();
    worker* raw = &w;
    w.thread_ = std::thread([raw] { raw->run(); });
    return i;
  }
  return std::nullopt;
}

bool scheduler::retire_replacement() {
  for (std::size_t i = workers_.size(); i-- > base_workers_;) {
    worker& w = *workers_[i];
    if (!w.active() || w.retire_.load(std::memory_order_relaxed)) continue;
    w.retire_.store(true, std::memory_order_relaxed);
    w.parker_.unpark();
    return true;
  }
  return false;
}

bool scheduler::rescue_lifo(std::size_t i) noexcept {
  // The rescuer's side of the slot's protocol (worker.hpp, "the LIFO slot").
  worker& w = *workers_[i];
  std::lock_guard lock(rescue_mu_);                              // one rescue at a time: the epoch has one writer
  if (w.rescued_.load(std::memory_order_acquire)) return false;  // the last one is not settled: empty
  const std::uint32_t e = w.rescue_epoch_.load(std::memory_order_relaxed);
  w.rescue_epoch_.store(e + 1, std::memory_order_relaxed);
  heavy_barrier();  // pairs with the owner's light_barrier() between its slot store and epoch load
  job* j = w.lifo_.load(std::memory_order_acquire);
  if (j && !w.lifo_.compare_exchange_strong(j, nullptr, std::memory_order_acq_rel)) j = nullptr;
  w.rescued_.store(j, std::memory_order_relaxed);
  w.rescue_epoch_.store(e + 2, std::memory_order_release);
  if (!j) return false;
  inject(j);
  return true;
}

scheduler::~scheduler() { stop(); }

void scheduler::start() {
  if (started_.exchange(true) || manual_) return;  // manual: workers start when first bound
  for (std::size_t i = 0; i < base_workers_; ++i) {
    worker* raw = workers_[i].get();
    raw->active_.store(true, std::memory_order_release);
    raw->thread_ = std::thread([raw] { raw->run(); });
  }
}

void scheduler::stop() {
  if (on_worker()) std::terminate();  // joining ourselves would deadlock; the runtime checks first
  stop_.store(true, std::memory_order_release);
  for (auto& w : workers_) w->parker_.unpark();
  for (auto& w : workers_)
    if (w->thread_.joinable()) w->thread_.join();

  // No worker runs now. A job pushed before this line waits for drain(); one pushed after it
  // (a wake from another thread) is refused and disposed of by inject().
  injector_.close();
}

void scheduler::schedule(job* j, hint h) noexcept {
  worker* w = this_worker();
  if (!w || &w->owner() != this) return inject(j);
  switch (h) {
    case hint::spawn:
      w->push(j);
      break;
    case hint::wake:
      w->push_wake(j);
      break;
    case hint::fifo:
      w->push_yield(j);
      break;
  }
}

void scheduler::inject(job* j) noexcept {
  // Which pushes carry a schedule-delay stamp: every sample_every-th of each thread. A count
  // shared by the pushing threads cost a cache miss per push (bench/runtime `external`).
  thread_local std::uint32_t pushes = 0;
  if (opts_.schedule_delay && (pushes++ & (opts_.sample_every - 1)) == 0) j->enqueued_ns_ = now_ns();
  if (!push_global(j)) return;
  light_barrier();
  notify_one();
}

bool scheduler::push_global(job* j) noexcept {
  if (injector_.push(j)) return true;
  // Stopped: nobody will run it. Its owner disposes of it (a task is ended from the runtime's
  // task table; a posted function is destroyed).
  if (j->discard_) j->discard_(j);
  return false;
}

bool scheduler::notify_one() noexcept {
  auto w = idle_.worker_to_notify();
  if (w) workers_[*w]->parker_.unpark();
  return w.has_value();
}

timer_result scheduler::add_timer(timer_entry* e, const std::atomic<std::uint32_t>* cancel_flag) noexcept {
  bool armed;
  bool earlier = false;
  {
    std::lock_guard lock(timer_mu_);
    if (cancel_flag && cancel_flag->load(std::memory_order_relaxed)) return timer_result::cancelled;
    armed = wheel_.insert(e);
    if (armed) {
      std::int64_t next = wheel_.next_wake().value_or(INT64_MAX);
      // seq_cst: the adder's half of the Dekker pair with a parking worker that claims
      // timer_keeper_ and then reads next_timer_ns_ (worker::park).
      earlier = next < next_timer_ns_.exchange(next, std::memory_order_seq_cst);
    }
  }
  if (!armed) return timer_result::due;
  if (earlier) {
    int keeper = timer_keeper_.load(std::memory_order_seq_cst);
    if (keeper >= 0)
      workers_[static_cast<std::size_t>(keeper)]->parker_.unpark();  // re-arm its deadline
    else
      notify_one();
  }
  return timer_result::armed;
}

bool scheduler::cancel_timer(timer_entry* e) noexcept {
  std::lock_guard lock(timer_mu_);
  bool was = wheel_.remove(e);
  if (was) next_timer_ns_.store(wheel_.next_wake().value_or(INT64_MAX), std::memory_order_seq_cst);
  return was;
}

std::size_t scheduler::fire_due_timers(std::int64_t now) noexcept {
  if (next_timer_ns_.load(std::memory_order_relaxed) > now) return 0;
  timer_entry* due;
  {
    std::lock_guard lock(timer_mu_);
    due = wheel_.advance(now);
    next_timer_ns_.store(wheel_.next_wake().value_or(INT64_MAX), std::memory_order_seq_cst);
  }
  // Deadline order: a worker that comes late to several due timers still wakes their tasks in
  // the order they were due (insertion sort; due lists are short).
  timer_entry* sorted = nullptr;
  while (due) {
    timer_entry* e = due;
    due = due->next_;
    timer_entry** at = &sorted;
    while (*at && (*at)->deadline_ns <= e->deadline_ns) at = &(*at)->next_;
    e->next_ = *at;
    *at = e;
  }
  due = sorted;
  // Fire outside the lock: a fire function schedules a job, which may take other locks. Once
  // fired, an entry belongs to its owner again; read `next_` first.
  std::size_t n = 0;
  while (due) {
    timer_entry* next = due->next_;
    due->next_ = nullptr;
    due->fire(due);
    due = next;
    ++n;
  }
  return n;
}

void scheduler::set_park_driver(park_driver* d, std::size_t worker) noexcept {
  drivers_[slot_of(worker)].d.store(d, std::memory_order_seq_cst);
  // A worker asleep on its futex would not take it before its next park: wake them.
  if (worker == npos) {
    for (auto& w : workers_) w->parker_.unpark();
  } else {
    workers_[worker]->parker_.unpark();
  }
}

void scheduler::remove_park_driver(park_driver* d, std::size_t worker) noexcept {
  driver_slot& s = drivers_[slot_of(worker)];
  if (!s.d.compare_exchange_strong(d, nullptr, std::memory_order_seq_cst)) return;
  // Wait for a holder to let go (one waiting in the driver is interrupted first). Any worker
  // may hold an own driver (the rescue of an unattended one).
  for (auto& w : workers_) w->parker_.unpark();
  while (s.held.load(std::memory_order_acquire)) std::this_thread::yield();
}

park_driver* scheduler::try_take_slot(std::size_t slot) noexcept {
  driver_slot& s = drivers_[slot];
  park_driver* d = s.d.load(std::memory_order_acquire);
  if (!d || s.held.load(std::memory_order_relaxed) || s.held.exchange(true, std::memory_order_acquire)) return nullptr;
  // Re-read under the hold: remove_park_driver() waits for holders, so a driver read now stays
  // valid until release_slot().
  d = s.d.load(std::memory_order_acquire);
  if (!d) s.held.store(false, std::memory_order_release);
  return d;
}

std::size_t scheduler::check_drivers() noexcept {
  std::size_t unattended = 0;
  for (std::size_t i = 1; i <= base_workers_; ++i) {
    driver_slot& s = drivers_[i];
    if (!s.d.load(std::memory_order_relaxed)) continue;
    // Held now: waited in or polled right now. Turns moved: held at some point since last time.
    const std::uint64_t turns = s.turns.load(std::memory_order_relaxed);
    if (!s.held.load(std::memory_order_relaxed) && turns == s.seen) ++unattended;
    s.seen = turns;
  }
  if (unattended) {
    rescue_.store(true, std::memory_order_relaxed);
    light_barrier();  // as a push: an idle worker is either seen asleep here, or sees the flag
    if (idle_.notify_should_wakeup()) notify_one();
  }
  return unattended;
}

std::size_t scheduler::clear_timers() noexcept {
  std::lock_guard lock(timer_mu_);
  next_timer_ns_.store(INT64_MAX, std::memory_order_relaxed);
  return wheel_.clear();
}

std::size_t scheduler::pending_timers() const {
  std::lock_guard lock(timer_mu_);
  return wheel_.size();
}

}  // namespace weft::sched
