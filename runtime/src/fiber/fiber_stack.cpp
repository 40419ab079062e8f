// The fiber stack pool (fiber/detail/fiber_stack.hpp): mmap + a PROT_NONE guard, per-thread caches
// in front of one global pool.
#include <weft/fiber/detail/fiber_stack.hpp>

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <mutex>
#include <new>
#include <vector>

#include <sys/mman.h>
#include <unistd.h>

namespace weft::detail {
namespace {

constexpr std::size_t min_usable = 16 * 1024;
constexpr std::size_t default_usable = 64 * 1024;
// Guard bytes below each stack. More than one page, so that a frame a little larger than a page
// (a `char buf[8192]` near the bottom) still lands in the guard instead of in the memory below.
// PROT_NONE pages cost address space only.
constexpr std::size_t min_guard = 16 * 1024;
// The global pool keeps at most this much; the rest is unmapped on release.
constexpr std::size_t max_pooled_bytes = 64 * 1024 * 1024;

std::size_t page_size() noexcept {
  static const std::size_t p = static_cast<std::size_t>(::sysconf(_SC_PAGESIZE));
  return p;
}
std::size_t round_to_pages(std::size_t n) noexcept {
  std::size_t p = page_size();
  return (n + p - 1) / p * p;
}

fiber_stack* map_stack(std::size_t usable) {
  std::size_t guard = round_to_pages(min_guard);
  void* m = ::mmap(nullptr, guard + usable, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_STACK, -1, 0);
  if (m == MAP_FAILED) throw std::bad_alloc();
  if (::mprotect(m, guard, PROT_NONE) != 0) {
    ::munmap(m, guard + usable);
    throw std::bad_alloc();
  }
  return new fiber_stack{static_cast<std::byte*>(m), guard, usable, nullptr};
}

void unmap_stack(fiber_stack* s) noexcept {
  ::munmap(s->base, s->guard + s->usable);
  delete s;
}

struct thread_cache;

// The process-wide pool. Immortal (never destroyed), so thread caches flushing at thread exit
// never outlive it.
struct global_pool {
  struct bucket {
    std::size_t usable;
    fiber_stack* head;
  };
  std::mutex mu;
  std::vector<bucket> buckets;  // one per usable size seen (programs use one or two)
  std::size_t pooled = 0;
  std::size_t pooled_bytes = 0;
  std::size_t mapped = 0;
  std::vector<thread_cache*> caches;  // live thread caches, for stats

  fiber_stack* take(std::size_t usable) {
    std::lock_guard lock(mu);
    for (auto& b : buckets)
      if (b.usable == usable && b.head) {
        fiber_stack* s = b.head;
        b.head = s->next;
        --pooled;
        pooled_bytes -= usable;
        return s;
      }
    ++mapped;  // the caller maps one; counted first so that stats never see in_use < 0
    return nullptr;
  }
  void give(fiber_stack* s) noexcept {
    {
      std::lock_guard lock(mu);
      if (pooled_bytes + s->usable <= max_pooled_bytes) {
        auto it = std::find_if(buckets.begin(), buckets.end(), [&](const bucket& b) { return b.usable == s->usable; });
        if (it == buckets.end()) {
          buckets.push_back({s->usable, nullptr});
          it = buckets.end() - 1;
        }
        s->next = it->head;
        it->head = s;
        ++pooled;
        pooled_bytes += s->usable;
        return;
      }
      --mapped;
    }
    unmap_stack(s);
  }
  void unmapped_on_failure() noexcept {
    std::lock_guard lock(mu);
    --mapped;
  }
};

global_pool& pool() noexcept {
  static global_pool* p = new global_pool;
  return *p;
}

// A few free stacks per thread. Only the owner touches `slots`; `count` is also read by stats
// (relaxed: a racy count is all stats promise while fibers come and go).
struct thread_cache {
  static constexpr std::size_t capacity = 8;
  fiber_stack* slots[capacity] = {};
  std::size_t n = 0;
  std::atomic<std::size_t> count{0};

  thread_cache() {
    global_pool& g = pool();
    std::lock_guard lock(g.mu);
    g.caches.push_back(this);
  }
  ~thread_cache() {
    global_pool& g = pool();
    {
      std::lock_guard lock(g.mu);
      std::erase(g.caches, this);
    }
    for (std::size_t i = 0; i < n; ++i) g.give(slots[i]);
  }

  fiber_stack* take(std::size_t usable) noexcept {
    for (std::size_t i = n; i-- > 0;)
      if (slots[i]->usable == usable) {
        fiber_stack* s = slots[i];
        slots[i] = slots[--n];
        count.store(n, std::memory_order_relaxed);
        return s;
      }
    return nullptr;
  }
  bool give(fiber_stack* s) noexcept {
    if (n == capacity) return false;
    slots[n++] = s;
    count.store(n, std::memory_order_relaxed);
    return true;
  }
};

thread_cache& local_cache() {
  thread_local thread_cache c;
  return c;
}

}  // namespace

std::size_t fiber_stack_usable(std::size_t requested) noexcept {
  if (requested == 0) requested = default_usable;
  return round_to_pages(std::max(requested, min_usable));
}

fiber_stack* acquire_fiber_stack(std::size_t requested) {
  std::size_t usable = fiber_stack_usable(requested);
  if (fiber_stack* s = local_cache().take(usable)) return s;
  global_pool& g = pool();
  if (fiber_stack* s = g.take(usable)) return s;
  try {
    return map_stack(usable);
  } catch (...) {
    g.unmapped_on_failure();
    throw;
  }
}

void release_fiber_stack(fiber_stack* s) noexcept {
  if (!local_cache().give(s)) pool().give(s);
}

fiber_stack_stats fiber_stacks() noexcept {
  global_pool& g = pool();
  std::lock_guard lock(g.mu);
  std::size_t pooled = g.pooled;
  for (thread_cache* c : g.caches) pooled += c->count.load(std::memory_order_relaxed);
  fiber_stack_stats s;
  s.mapped = g.mapped;
  s.pooled = std::min(pooled, g.mapped);
  s.in_use = g.mapped - s.pooled;
  return s;
}

}  // namespace weft::detail
