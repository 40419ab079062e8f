// Manual mode (options::manual): the scheduler's members that let one controlling thread run
// the workers itself, with no thread of their own (scheduler.hpp, "Manual mode").
//
// The queues, pushes and timers are those of the threaded scheduler; what differs is who runs
// the loop. The controlling thread binds itself to a worker (the thread-locals a task reads:
// this_worker() and the frame cache), takes the queued jobs, runs one, and so on. Waiting for
// work from other threads uses worker 0's parker with the idle set's usual protocol (the
// controller counts as worker 0 gone to sleep), so inject() from any thread wakes it exactly as
// it would wake a parked worker: nothing on the push paths knows about manual mode.

#include <pthread.h>

#include <thread>

#include <weft/sched/barrier.hpp>
#include <weft/sched/scheduler.hpp>

namespace weft::sched {

scheduler::binding scheduler::bind(std::size_t i) {
  worker& w = *workers_[i];
  binding prev{detail::tls_worker, install_frame_cache(&w.frames_)};
  detail::tls_worker = &w;
  // Observers (the stall sampler, dumps) read these; the controlling thread may change between
  // binds (a sim driven from one thread, then another).
  w.thread_id_.store(std::this_thread::get_id(), std::memory_order_release);
  w.native_.store(static_cast<unsigned long>(pthread_self()), std::memory_order_release);
  if (!w.active_.load(std::memory_order_relaxed)) {
    w.active_.store(true, std::memory_order_release);
    if (opts_.on_thread_start) opts_.on_thread_start(i);
  }
  return prev;
}

void scheduler::unbind(binding previous) noexcept {
  detail::tls_worker = previous.w;
  install_frame_cache(previous.frames);
}

void scheduler::run_bound(job* j) noexcept { this_worker()->execute(j); }

void scheduler::set_virtual_now(std::int64_t ns) noexcept {
  if (ns <= virtual_ns_->load(std::memory_order_relaxed)) return;
  virtual_ns_->store(ns, std::memory_order_relaxed);
  coarse_ns_.store(ns, std::memory_order_relaxed);
}

void scheduler::wait_for_work() noexcept {
  worker& w = *workers_[0];
  // As worker::park(): count ourselves asleep, then look (the barrier pairs with the pushers'
  // light_barrier), so that an inject() either sees us asleep and unparks us, or we see its job.
  idle_.transition_to_parked(0, false);
  heavy_barrier();
  if (injector_.empty() && !stopping()) {
    if (park_driver* d = try_take_driver()) {
      // I/O objects built on the runtime's executor: their events are handled here, on the
      // controlling thread (and queue what they complete on the bound worker).
      worker* self = this_worker();
      if (self) self->in_driver_ = true;
      w.parker_.park_in(*d, std::nullopt);
      if (self) self->in_driver_ = false;
      release_driver();
    } else {
      w.parker_.park(std::nullopt);
    }
  }
  // A notifier that took us out counted us searching: give that back, nobody else searches.
  if (!idle_.unpark_self(0)) idle_.transition_from_searching();
}

void scheduler::wake_controller() noexcept { workers_[0]->parker_.unpark(); }

void scheduler::end_manual_workers() noexcept {
  // Each worker that ever ran has its stop hook run here, on the stopping thread, bound to it
  // for the call (the hook may read this_worker()).
  for (std::size_t i = 0; i < workers_.size(); ++i) {
    worker& w = *workers_[i];
    if (!w.active_.load(std::memory_order_acquire)) continue;
    binding prev = bind(i);
    if (opts_.on_thread_stop) opts_.on_thread_stop(i);
    unbind(prev);
    w.active_.store(false, std::memory_order_release);
  }
}

}  // namespace weft::sched
