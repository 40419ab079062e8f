// The hot path's side of tracing: what the runtime reports, while a trace records, to the
// trace_sink registered in runtime_core::tracer (the observe area's recorder behind weft::trace).

#include <weft/detail/current.hpp>
#include <weft/detail/runtime_core.hpp>
#include <weft/detail/trace_sink.hpp>

namespace weft::detail {
namespace {

std::size_t worker_of(worker_context* ctx, runtime_core* rt) {
  return ctx && ctx->rt == rt ? static_cast<std::size_t>(ctx - rt->contexts.data()) : rt->contexts.size();
}

}  // namespace

void run_record_traced(task_record* r, trace_sink* t) noexcept {
  runtime_core* rt = r->rt;
  const std::size_t w = worker_of(tls_ctx, rt);
  const std::int64_t start = sched::now_ns();
  if (r->trace_since) {
    t->blocked(w, r->id.load(std::memory_order_relaxed), r->trace_what, r->trace_since, start);
    r->trace_since = 0;
  }
  // Read what the event needs now: once resumed, the task may finish and its record be reused.
  const std::uint64_t id = r->id.load(std::memory_order_relaxed);
  char name[task_record::name_words * 8];
  const std::size_t len = r->copy_name(name);
  r->resume_point.resume();
  t->run(w, id, std::string_view(name, len), start, sched::now_ns());
}

void trace_wait(task_record* me, const char* what) noexcept {
  if (me->rt->tracer.load(std::memory_order_relaxed)) {
    me->trace_since = sched::now_ns();
    me->trace_what = what;
  }
}

void trace_spawn(task_record* r) noexcept {
  if (trace_sink* t = r->rt->tracer.load(std::memory_order_acquire)) {
    char name[task_record::name_words * 8];
    std::size_t len = r->copy_name(name);
    t->spawn(worker_of(tls_ctx, r->rt), r->id.load(std::memory_order_relaxed), std::string_view(name, len),
             sched::now_ns());
  }
}

void trace_complete(task_record* r) noexcept {
  if (trace_sink* t = r->rt->tracer.load(std::memory_order_acquire))
    t->complete(worker_of(tls_ctx, r->rt), r->id.load(std::memory_order_relaxed), sched::now_ns());
}

}  // namespace weft::detail
