#pragma once
// A weft::job_store in memory, for tests: it can hold its writes' completions back (a write
// in flight, for as long as the test likes) and fail its writes.

#include <cstdint>
#include <exception>
#include <functional>
#include <map>
#include <mutex>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <weft/pool/job_store.hpp>

namespace weft::test {

template <class Job>
class memory_store : public weft::job_store<Job> {
 public:
  using typename weft::job_store<Job>::stored_fn;

  void add(const Job& job, stored_fn done) override {
    std::unique_lock lock(mu_);
    ++adds_;
    if (failing_) {
      lock.unlock();
      done(0, std::make_exception_ptr(std::runtime_error("memory_store: disk full")));
      return;
    }
    std::uint64_t id = next_++;
    rows_.emplace(id, job);
    if (holding_) {
      held_.push_back([done = std::move(done), id] { done(id, nullptr); });
      return;
    }
    lock.unlock();
    done(id, nullptr);
  }
  void remove(std::uint64_t id) override {
    std::lock_guard lock(mu_);
    ++removes_;
    rows_.erase(id);
  }
  void dead_letter(std::uint64_t id, std::string_view error, std::size_t attempts) override {
    std::lock_guard lock(mu_);
    auto it = rows_.find(id);
    if (it == rows_.end()) return;
    dead_.push_back({id, it->second, std::string(error), attempts, {}});
    rows_.erase(it);
  }
  std::vector<weft::stored_job<Job>> pending() override {
    std::lock_guard lock(mu_);
    std::vector<weft::stored_job<Job>> out;
    for (auto& [id, job] : rows_) out.push_back({id, job});
    return out;
  }
  std::vector<weft::stored_dead_letter<Job>> dead_letters() override {
    std::lock_guard lock(mu_);
    return dead_;
  }

  /// From now on, completions wait for release_held().
  void hold() {
    std::lock_guard lock(mu_);
    holding_ = true;
  }
  /// Completes every held write (on the calling thread) and stops holding.
  void release_held() {
    std::vector<std::function<void()>> held;
    {
      std::lock_guard lock(mu_);
      holding_ = false;
      held.swap(held_);
    }
    for (auto& f : held) f();
  }
  std::size_t held() const {
    std::lock_guard lock(mu_);
    return held_.size();
  }
  void fail(bool on) {
    std::lock_guard lock(mu_);
    failing_ = on;
  }
  int adds() const {
    std::lock_guard lock(mu_);
    return adds_;
  }
  int removes() const {
    std::lock_guard lock(mu_);
    return removes_;
  }

 private:
  mutable std::mutex mu_;
  std::map<std::uint64_t, Job> rows_;
  std::vector<weft::stored_dead_letter<Job>> dead_;
  std::vector<std::function<void()>> held_;
  std::uint64_t next_ = 1;
  bool holding_ = false;
  bool failing_ = false;
  int adds_ = 0;
  int removes_ = 0;
};

}  // namespace weft::test
