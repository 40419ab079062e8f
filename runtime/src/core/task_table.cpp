#include <weft/detail/task_table.hpp>

#include <weft/detail/runtime_core.hpp>

namespace weft::detail {

task_record* task_table::take(std::size_t max, std::size_t& count) {
  std::lock_guard lock(mu_);
  if (!free_) {
    auto chunk = std::make_unique<task_record[]>(chunk_size);
    for (std::size_t i = 0; i < chunk_size; ++i) {
      // Fixed for the record's whole life; init_record() leaves them alone.
      chunk[i].run_ = &run_record;
      chunk[i].rt = owner_;
      chunk[i].token_cb.owner = &chunk[i];
      chunk[i].next_ = free_;
      free_ = &chunk[i];
    }
    free_count_ += chunk_size;
    chunks_.push_back(std::move(chunk));
  }
  task_record* first = free_;
  task_record* last = free_;
  count = 1;
  while (count < max && last->next_) {
    last = static_cast<task_record*>(last->next_);
    ++count;
  }
  free_ = static_cast<task_record*>(last->next_);
  last->next_ = nullptr;
  free_count_ -= count;
  return first;
}

void task_table::give(task_record* list, std::size_t count) noexcept {
  if (!list) return;
  task_record* last = list;
  while (last->next_) last = static_cast<task_record*>(last->next_);
  std::lock_guard lock(mu_);
  last->next_ = free_;
  free_ = list;
  free_count_ += count;
}

}  // namespace weft::detail
