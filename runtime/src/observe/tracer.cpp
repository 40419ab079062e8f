#include <weft/observe/detail/tracer.hpp>

#include <algorithm>
#include <cstring>

#include <weft/sched/parker.hpp>

namespace weft::detail {
namespace {

struct spin_guard {
  std::atomic_flag& f;
  explicit spin_guard(std::atomic_flag& flag) : f(flag) {
    // acquire: pairs with the release in the destructor (the previous holder's appends).
    while (f.test_and_set(std::memory_order_acquire)) {
    }
  }
  ~spin_guard() { f.clear(std::memory_order_release); }
};

}  // namespace

tracer::tracer(std::size_t workers) : buffers_(workers + 1), start_ns_(sched::now_ns()) {}

void tracer::push(buffer& b, trace_event&& e) {
  if (b.events.size() >= max_events_per_buffer) {
    ++b.dropped;
    return;
  }
  b.events.push_back(std::move(e));
}

void tracer::spawn(std::size_t worker, std::uint64_t task, std::string_view name, std::int64_t now) {
  buffer& b = at(worker);
  spin_guard g(b.busy);
  push(b, {trace_event::kind::spawn, static_cast<std::uint32_t>(worker), task, now, now, std::string(name)});
}

void tracer::run(std::size_t worker, std::uint64_t task, std::string_view name, std::int64_t start, std::int64_t end) {
  buffer& b = at(worker);
  spin_guard g(b.busy);
  push(b, {trace_event::kind::run, static_cast<std::uint32_t>(worker), task, start, end, std::string(name)});
}

void tracer::blocked(std::size_t worker, std::uint64_t task, const char* what, std::int64_t start, std::int64_t end) {
  // A wait that began before this trace was marked by an earlier one, whose descriptions need
  // not be alive any more: not ours to report.
  if (start < start_ns_) return;
  buffer& b = at(worker);
  spin_guard g(b.busy);
  // Keyed by the description's address (no allocation per event); an address reused for
  // another description (a channel destroyed, another made) retires the old entry first.
  trace_site& site = b.sites[what];
  if (site.what != what) {
    if (site.count) b.retired.push_back(std::move(site));
    site = trace_site{what};
  }
  site.total_ns += end - start;
  site.max_ns = std::max(site.max_ns, end - start);
  ++site.count;
  push(b, {trace_event::kind::blocked, static_cast<std::uint32_t>(worker), task, start, end, site.what});
}

void tracer::complete(std::size_t worker, std::uint64_t task, std::int64_t now) {
  buffer& b = at(worker);
  spin_guard g(b.busy);
  push(b, {trace_event::kind::complete, static_cast<std::uint32_t>(worker), task, now, now, {}});
}

tracer::result tracer::collect() {
  result r;
  r.start_ns = start_ns_;
  std::map<std::string, trace_site> sites;
  for (auto& b : buffers_) {
    spin_guard g(b.busy);
    r.events.insert(r.events.end(), b.events.begin(), b.events.end());
    r.dropped += b.dropped;
    auto fold = [&](const trace_site& s) {
      auto& into = sites[s.what];
      into.what = s.what;
      into.total_ns += s.total_ns;
      into.count += s.count;
      into.max_ns = std::max(into.max_ns, s.max_ns);
    };
    for (auto& [key, s] : b.sites) fold(s);
    for (auto& s : b.retired) fold(s);
  }
  std::sort(r.events.begin(), r.events.end(),
            [](const trace_event& a, const trace_event& b) { return a.start_ns < b.start_ns; });
  for (auto& [what, s] : sites) r.sites.push_back(s);
  std::sort(r.sites.begin(), r.sites.end(),
            [](const trace_site& a, const trace_site& b) { return a.total_ns > b.total_ns; });
  return r;
}

}  // namespace weft::detail
