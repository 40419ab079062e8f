#include <weft/detail/worker_context.hpp>

#include <weft/detail/runtime_core.hpp>

namespace weft::detail {

constinit thread_local worker_context* tls_ctx = nullptr;

task_record* worker_context::refill() {
  std::size_t n = 0;
  task_record* list = rt->table.take(64, n);
  free_ = static_cast<task_record*>(list->next_);
  free_count_ = n - 1;
  list->next_ = nullptr;
  return list;
}

void worker_context::spill() noexcept {
  // Keep half, give the rest back in one batch.
  std::size_t keep = max_free / 2;
  task_record* last_kept = free_;
  for (std::size_t i = 1; i < keep; ++i) last_kept = static_cast<task_record*>(last_kept->next_);
  task_record* give = static_cast<task_record*>(last_kept->next_);
  last_kept->next_ = nullptr;
  rt->table.give(give, free_count_ - keep);
  free_count_ = keep;
}

void worker_context::refill_ids() noexcept {
  next_id_ = rt->table.take_ids();
  id_end_ = next_id_ + task_table::id_block;
}

void worker_context::release_all() noexcept {
  rt->table.give(free_, free_count_);
  free_ = nullptr;
  free_count_ = 0;
}

}  // namespace weft::detail
