#pragma once
// weft::detail::trace_sink: where the runtime's hot path reports while a trace records.
//
// Core knows this interface only; the observe area implements it (observe/detail/tracer.hpp,
// behind weft::trace) and registers it in runtime_core::tracer while a trace is on. Off, the hot
// path pays one load of that pointer per spawn and per dispatch (trace_hooks.cpp). A load whose
// result is called is an acquire (a plain load on x86): it pairs with the registration's
// release, so that the caller sees the sink fully built even when the trace was started on
// another thread a moment before.
//
// Thread safety: the record functions are called from the worker the event happened on (its
// index, or contexts.size() for other threads), possibly from several workers at once.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace weft::detail {

class trace_sink {
 public:
  virtual void spawn(std::size_t worker, std::uint64_t task, std::string_view name, std::int64_t now) = 0;
  virtual void run(std::size_t worker, std::uint64_t task, std::string_view name, std::int64_t start,
                   std::int64_t end) = 0;
  /// A wait on `what` (a string that outlives the trace) from `start` to `end`.
  virtual void blocked(std::size_t worker, std::uint64_t task, const char* what, std::int64_t start,
                       std::int64_t end) = 0;
  virtual void complete(std::size_t worker, std::uint64_t task, std::int64_t now) = 0;

 protected:
  ~trace_sink() = default;
};

}  // namespace weft::detail
