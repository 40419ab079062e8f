#pragma once
// A value whose destruction calls back into whoever the test says (the primitive that holds it,
// say): to prove that a primitive destroys the values it replaces only once it let go of its
// lock. Only the last holder calls back: a move disarms its source, a copy is never armed, and
// an assignment destroys the value it replaces (calling back if that one was armed).

#include <functional>
#include <utility>

namespace weft::test {

class calls_back {
 public:
  explicit calls_back(int n = 0, std::function<void()> on_destroy = {}) : n_(n), on_destroy_(std::move(on_destroy)) {}
  calls_back(const calls_back& o) : n_(o.n_) {}
  calls_back(calls_back&& o) noexcept : n_(o.n_), on_destroy_(std::exchange(o.on_destroy_, nullptr)) {}
  calls_back& operator=(const calls_back& o) { return *this = calls_back(o); }
  calls_back& operator=(calls_back&& o) noexcept {
    calls_back replaced(std::move(*this));
    n_ = o.n_;
    on_destroy_ = std::exchange(o.on_destroy_, nullptr);
    return *this;
  }
  ~calls_back() {
    if (on_destroy_) on_destroy_();
  }

  int n() const noexcept { return n_; }

 private:
  int n_;
  std::function<void()> on_destroy_;
};

}  // namespace weft::test
