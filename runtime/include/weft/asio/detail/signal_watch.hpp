#pragma once
// detail::signal_watch: rt.run()'s wait for runtime_options::stop_signals, on the runtime's
// reactor (src/asio/signal.cpp). Kept free of Asio headers: runtime.cpp, outside the asio area,
// uses it.
//
// The signals are caught from construction on (a signal that arrives before a worker gets to the
// wait is kept by Asio, not lost) until destruction, which must come before the runtime's
// destructor destroys the reactor. `on_signal` runs at most once, on a worker, for the first of
// the signals to arrive; it may still run after destruction (the signal came just before), so it
// must only touch what lives as long as the runtime.

#include <functional>
#include <memory>
#include <span>

namespace weft::detail {

class runtime_core;

/// Throws std::invalid_argument naming `who` unless every number is a signal a program can
/// catch (1 .. NSIG - 1, not SIGKILL or SIGSTOP) and, if `allow_empty` is false, there is one.
void check_signals(std::span<const int> signals, const char* who, bool allow_empty);

class signal_watch {
 public:
  /// Throws runtime_stopped if the runtime is shut down (or shutting down).
  signal_watch(runtime_core& core, std::span<const int> signals, std::function<void(int)> on_signal);
  signal_watch(const signal_watch&) = delete;
  signal_watch& operator=(const signal_watch&) = delete;
  ~signal_watch();

 private:
  struct impl;
  std::unique_ptr<impl> impl_;
};

}  // namespace weft::detail
