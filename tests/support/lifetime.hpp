#pragma once
// Counts live instances, to prove that frames (and the locals in them) are destroyed.

#include <atomic>
#include <cstddef>

namespace weft::test {

struct lifetime_counter {
  std::atomic<long> constructed{0};
  std::atomic<long> destroyed{0};
  long alive() const { return constructed.load() - destroyed.load(); }
};

/// Put one in a coroutine frame (as a local or an argument): the counter sees it live and die.
class tracked {
 public:
  explicit tracked(lifetime_counter& c) : c_(&c) { c_->constructed.fetch_add(1); }
  tracked(const tracked& o) : c_(o.c_) { c_->constructed.fetch_add(1); }
  tracked(tracked&& o) noexcept : c_(o.c_) { c_->constructed.fetch_add(1); }
  tracked& operator=(const tracked&) = default;
  ~tracked() { c_->destroyed.fetch_add(1); }

 private:
  lifetime_counter* c_;
};

}  // namespace weft::test
