#include <weft/timeout.hpp>

#include <weft/sched/scheduler.hpp>

namespace weft::detail {

deadline_scope::deadline_scope(std::int64_t deadline_ns) : me_(current_task("weft::with_timeout / with_deadline")) {
  if (deadline_ns == never_ns) return;  // no deadline: the task keeps its token
  outer_ = me_->token;
  // Linked to the task's token: a caller's cancellation reaches the scope too.
  source_.emplace(cancel_token::share(outer_));
  // The scope keeps the record's reference to the outer token; the record takes one on ours.
  me_->token = source_->token().release_state();

  this->deadline_ns = deadline_ns;
  fire = &on_fire;
  if (me_->rt->sched.add_timer(this) == sched::timer_result::due)
    on_fire(this);
  else
    armed_ = true;
}

void deadline_scope::on_fire(sched::timer_entry* e) noexcept {
  auto* self = static_cast<deadline_scope*>(e);
  self->fire_.store(1, std::memory_order_relaxed);
  self->me_->rt->timed_out.fetch_add(1, std::memory_order_relaxed);
  self->source_->cancel();
  // release: end() acquires this before the scope (and the source) may be destroyed.
  self->fire_.store(2, std::memory_order_release);
}

bool deadline_scope::end() noexcept {
  if (ended_) return fired_;
  ended_ = true;
  if (!source_) return false;
  // Taken out of the wheel: it never fired. Otherwise it fired, or is firing on another worker
  // right now: wait for it to be done with us. (A scope destroyed by shutdown finds its timer
  // still in the wheel: no thread fires timers once the workers have stopped.)
  if (!armed_ || !me_->rt->sched.cancel_timer(this)) {
    while (fire_.load(std::memory_order_acquire) != 2) {
    }
    fired_ = true;
  }
  cancel_state* mine = me_->token;
  me_->token = outer_;
  mine->release();
  // A cancellation our token delivered ends with the scope; the caller's own stays.
  me_->cancel_bits.fetch_and(~task_record::cancel_token_bit, std::memory_order_relaxed);
  return fired_;
}

}  // namespace weft::detail
