#include <weft/time.hpp>

#include <weft/sched/parker.hpp>
#include <weft/sched/scheduler.hpp>

namespace weft::detail {

std::coroutine_handle<> sleep_awaiter::await_suspend(std::coroutine_handle<> h) {
  if (!enter(h, "weft::sleep_for / sleep_until") || !arm()) return h;
  deadline_ns = deadline_;  // never_ns waits on the wheel's list of timers that never fire
  fire = &on_fire;
  join_state* helping = publish(await_kind::sleep, static_cast<std::uint64_t>(deadline_), "sleep");
  sched::scheduler& sched = task_->rt->sched;
  switch (sched.add_timer(this, &task_->cancel_bits)) {
    case sched::timer_result::armed:
      return suspended(helping);  // the timer or a canceller resumes us: touch nothing after this
    case sched::timer_result::cancelled:
      mark_cancelled();
      return not_suspended(helping, h);
    case sched::timer_result::due:
      break;
  }
  // Already due. Timers due before ours may not have been fired yet (a busy worker fires them
  // every few dozen dispatches): fire them now and queue behind them, so sleepers still wake in
  // deadline order. Otherwise carry on, budget permitting.
  not_suspended(helping, h);
  const bool earlier = sched.fire_due_timers(sched.now()) > 0;
  if (earlier || !consume_budget()) {
    sched::worker* w = tls_ctx->w;
    if (!earlier) w->note_budget_yield();
    task_->set_state(record_state::runnable, task_->rt->coarse_now());
    join_state* again = take_helping(task_);
    w->requeue_current(task_);  // may be stolen and resumed at once: touch nothing after this
    return after_suspend(again);
  }
  return h;
}

void sleep_awaiter::on_fire(sched::timer_entry* e) noexcept {
  // FIFO: timers due together wake their tasks in deadline order.
  wake(static_cast<sleep_awaiter*>(e)->task_, sched::hint::fifo);
}

void sleep_awaiter::hook(cancel_hook* h, hook_op op) noexcept {
  auto* self = static_cast<sleep_awaiter*>(h);
  // Only one of the timer and the canceller gets the entry out of the wheel; that one wakes us.
  if (self->task_->rt->sched.cancel_timer(self) && wakes(op)) {
    self->mark_cancelled();
    wake(self->task_);
  }
}

void throw_negative_duration(const char* what, std::int64_t ns) {
  throw std::invalid_argument(std::string(what) + ": a negative or NaN duration (" +
                              (ns == never_ns ? std::string("NaN") : std::to_string(ns) + " ns") +
                              "); use the *_until form for deadlines that may have passed");
}

}  // namespace weft::detail
