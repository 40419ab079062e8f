#include <weft/this_task.hpp>

#include <weft/detail/current.hpp>

namespace weft::this_task {

cancel_token token() {
  detail::worker_context* ctx = detail::tls_ctx;
  if (!ctx || !ctx->current) return {};
  return cancel_token::share(ctx->current->token);
}

bool cancelled() { return detail::current_task("weft::this_task::cancelled()")->cancelled(); }

void checkpoint() { detail::throw_if_cancelled(detail::current_task("weft::this_task::checkpoint()")); }

std::uint64_t id() { return detail::current_task("weft::this_task::id()")->id.load(std::memory_order_relaxed); }

}  // namespace weft::this_task
