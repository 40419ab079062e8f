#include <weft/time.hpp>

#include <weft/sched/parker.hpp>
#include <weft/sched/scheduler.hpp>

namespace weft::detail {

std::coroutine_handle<> sleep_awaiter::await_suspend(std::coroutine_handle<> h) {
  task_record* me = current_task("weft::sleep_for / sleep_until");
  me_ = me;
  me->resume_point = h;
  cancel_hook::fn = &on_cancel;
  if (me->arm(this)) {
    cancelled_ = true;
    return h;
  }
  deadline_ns = deadline_;
  fire = &on_fire;
  me->set_awaiting(await_kind::sleep, static_cast<std::uint64_t>(deadline_), me->rt->coarse_now());
  trace_wait(me, "sleep");
  join_state* helping = take_helping(me);  // before add_timer publishes the wait
  switch (me->rt->sched.add_timer(this, &me->cancel_bits)) {
    case sched::timer_result::armed:
      return after_suspend(helping);  // the timer or a canceller resumes us: touch nothing after this
    case sched::timer_result::cancelled:
      cancelled_ = true;
      [[fallthrough]];
    case sched::timer_result::due: {
      me->set_running();
      if (cancelled_) {
        restore_helping(me, helping);
        return h;
      }
      // Already due. Timers due before ours may not have been fired yet (a busy worker fires
      // them every few dozen dispatches): fire them now and queue behind them, so sleepers
      // still wake in deadline order. Otherwise carry on, budget permitting.
      sched::worker* w = tls_ctx->w;
      bool earlier = me->rt->sched.fire_due_timers(sched::now_ns()) > 0;
      if (earlier || !consume_budget()) {
        if (!earlier) w->note_budget_yield();
        me->set_state(record_state::runnable, me->rt->coarse_now());
        w->push_yield(me);
        return after_suspend(helping);
      }
      restore_helping(me, helping);
      return h;
    }
  }
  restore_helping(me, helping);
  return h;
}

void sleep_awaiter::on_fire(sched::timer_entry* e) noexcept {
  // FIFO: timers due together wake their tasks in deadline order.
  wake(static_cast<sleep_awaiter*>(e)->me_, sched::hint::fifo);
}

void sleep_awaiter::on_cancel(cancel_hook* h) noexcept {
  auto* self = static_cast<sleep_awaiter*>(h);
  // Only one of the timer and the canceller gets the entry out of the wheel; that one wakes us.
  if (self->me_->rt->sched.cancel_timer(self)) {
    self->cancelled_ = true;
    wake(self->me_);
  }
}

}  // namespace weft::detail
