#pragma once
// weft::detail::capture_backtrace: the stack of another thread, for stall reports.
//
// The monitor sends the stuck worker a real-time signal (SIGRTMIN + 7); the handler, on the
// worker's own stack, stores the raw return addresses with Boost.Stacktrace's
// async-signal-safe safe_dump_to() and wakes the monitor through a futex; the monitor then
// symbolizes them (function, file, line) with libbacktrace. One capture at a time, process-wide.

#include <chrono>
#include <string>

namespace weft::detail {

/// The stack of the thread whose pthread handle is `native`, symbolized, one frame per line;
/// or a one-line explanation if it did not answer within `timeout`.
std::string capture_backtrace(unsigned long native, std::chrono::milliseconds timeout);

/// False in ThreadSanitizer builds, where captures are off (see backtrace.cpp).
bool backtrace_capture_available() noexcept;

}  // namespace weft::detail
