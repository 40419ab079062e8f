// weft::trace: a trace of the runtime switched on at run time (trace.hpp), over the recorder in
// observe/detail/tracer.hpp.

#include <weft/trace.hpp>

#include <ostream>

#include <fmt/format.h>

#include <weft/metrics/json.hpp>
#include <weft/observe/detail/tracer.hpp>
#include <weft/runtime.hpp>

namespace weft {

namespace {
std::string task_label(std::uint64_t id, std::string_view name) {
  return name.empty() ? fmt::format("task {}", id) : fmt::format("{} ({})", name, id);
}
}  // namespace

trace::trace(runtime& rt) : rt_(&rt), tracer_(rt.start_trace(*this)) {}

trace::~trace() {
  if (tracer_) stop();
}

void trace::stop() {
  if (!tracer_) return;
  rt_->stop_trace(tracer_);
  auto r = tracer_->collect();
  tracer_ = nullptr;
  events_ = std::move(r.events);
  sites_.clear();
  for (auto& s : r.sites)
    sites_.push_back(site{s.what, std::chrono::nanoseconds(s.total_ns), s.count, std::chrono::nanoseconds(s.max_ns)});
  dropped_ = r.dropped;
  start_ns_ = r.start_ns;
}

void trace::runtime_ending() {
  stop();
  rt_ = nullptr;
}

std::string trace::summary(std::size_t top) const {
  std::string out = "where tasks waited (blocked time by await site, longest first):\n";
  if (sites_.empty()) out += "  (no task waited)\n";
  std::size_t n = 0;
  for (const auto& s : sites_) {
    if (n++ == top) break;
    out += fmt::format("  blocked in {}: {:.1f} ms over {} waits (longest {:.1f} ms)\n", s.what,
                       std::chrono::duration<double, std::milli>(s.total).count(), s.count,
                       std::chrono::duration<double, std::milli>(s.longest).count());
  }
  if (dropped_) out += fmt::format("  ({} events dropped: the trace buffers were full)\n", dropped_);
  return out;
}

void trace::write_chrome_json(std::ostream& os) const {
  // Trace Event Format (Chrome's about:tracing, Perfetto): a lane per worker with each dispatch;
  // waits as async slices per task; spawns and completions as instants. Times in microseconds.
  auto us = [&](std::int64_t ns) { return static_cast<double>(ns - start_ns_) / 1000.0; };
  auto quoted = [](std::string_view s) {  // a JSON string literal, escaped
    std::string r;
    metrics::append_json_string(r, s);
    return r;
  };
  os << "{\"displayTimeUnit\":\"ms\",\"traceEvents\":[\n";
  bool first = true;
  auto sep = [&] {
    if (!first) os << ",\n";
    first = false;
  };
  std::size_t lanes = 0;
  for (const auto& e : events_) lanes = std::max<std::size_t>(lanes, e.worker + 1);
  for (std::size_t w = 0; w < lanes; ++w) {
    sep();
    os << fmt::format(
        "{{\"ph\":\"M\",\"name\":\"thread_name\",\"pid\":1,\"tid\":{},\"args\":{{\"name\":\"worker {}\"}}}}", w, w);
  }
  for (const auto& e : events_) {
    sep();
    switch (e.k) {
      case detail::trace_event::kind::run:
        os << fmt::format(
            "{{\"ph\":\"X\",\"name\":{},\"cat\":\"run\",\"pid\":1,\"tid\":{},\"ts\":{:.3f},\"dur\":{:.3f},\"args\":{{"
            "\"task\":{}}}}}",
            quoted(task_label(e.task, e.name)), e.worker, us(e.start_ns),
            static_cast<double>(e.end_ns - e.start_ns) / 1000.0, e.task);
        break;
      case detail::trace_event::kind::blocked:
        os << fmt::format(
            "{{\"ph\":\"b\",\"name\":{},\"cat\":\"wait\",\"pid\":1,\"id\":{},\"ts\":{:.3f}}},\n"
            "{{\"ph\":\"e\",\"name\":{},\"cat\":\"wait\",\"pid\":1,\"id\":{},\"ts\":{:.3f}}}",
            quoted(e.name), e.task, us(e.start_ns), quoted(e.name), e.task, us(e.end_ns));
        break;
      case detail::trace_event::kind::spawn:
        os << fmt::format(
            "{{\"ph\":\"i\",\"s\":\"t\",\"name\":{},\"cat\":\"task\",\"pid\":1,\"tid\":{},\"ts\":{:.3f}}}",
            quoted("spawn " + task_label(e.task, e.name)), e.worker, us(e.start_ns));
        break;
      case detail::trace_event::kind::complete:
        os << fmt::format(
            "{{\"ph\":\"i\",\"s\":\"t\",\"name\":\"done task "
            "{}\",\"cat\":\"task\",\"pid\":1,\"tid\":{},\"ts\":{:.3f}}}",
            e.task, e.worker, us(e.start_ns));
        break;
    }
  }
  os << "\n]}\n";
}

}  // namespace weft
