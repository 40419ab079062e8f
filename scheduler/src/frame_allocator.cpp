#include <weft/sched/frame_allocator.hpp>

namespace weft::sched {

constinit thread_local frame_cache* detail::tls_frame_cache = nullptr;

frame_cache* install_frame_cache(frame_cache* c) noexcept {
  frame_cache* prev = detail::tls_frame_cache;
  detail::tls_frame_cache = c;
  return prev;
}

void frame_cache::release_all() noexcept {
  for (std::size_t c = 0; c < classes; ++c) {
    while (block* b = free_[c]) {
      free_[c] = b->next;
      ::operator delete(b);
    }
    count_[c] = 0;
  }
}

std::size_t frame_cache::cached_blocks() const noexcept {
  std::size_t n = 0;
  for (auto k : count_) n += k;
  return n;
}

}  // namespace weft::sched
