#define BOOST_STACKTRACE_LINK
#include <weft/observe/detail/backtrace.hpp>

#include <atomic>
#include <csignal>
#include <cstdint>
#include <mutex>

#include <pthread.h>

#include <boost/stacktrace.hpp>

#include <weft/sched/futex.hpp>
#include <weft/sched/parker.hpp>

// ThreadSanitizer symbolizes its own reports under the dynamic loader's lock; a capture that
// symbolizes at the same time deadlocks against it, so sanitized builds do without.
#if defined(__SANITIZE_THREAD__)
#define WEFT_UNDER_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define WEFT_UNDER_TSAN 1
#endif
#endif

namespace weft::detail {
namespace {

enum : std::uint32_t { idle = 0, requested = 1, writing = 2, captured = 3 };

std::mutex capture_mu;  // one capture at a time, process-wide
std::atomic<std::uint32_t> state{idle};
alignas(64) unsigned char frames[32 * 1024];
std::atomic<std::size_t> frame_count{0};

int capture_signal() { return SIGRTMIN + 7; }

void on_signal(int) {
  // Only the thread we asked answers; a signal arriving after the monitor gave up finds `idle`.
  std::uint32_t expected = requested;
  if (!state.compare_exchange_strong(expected, writing, std::memory_order_acquire)) return;
  frame_count.store(boost::stacktrace::safe_dump_to(0, frames, sizeof frames), std::memory_order_relaxed);
  // release: pairs with the monitor's acquire load; the frames are written before.
  state.store(captured, std::memory_order_release);
  sched::futex_wake(&state);  // a raw syscall: async-signal-safe
}

void install_handler() {
  struct sigaction sa{};
  sa.sa_handler = &on_signal;
  sigemptyset(&sa.sa_mask);
  // SA_ONSTACK: a thread running a fiber captures on its alternate signal stack (fiber_guard),
  // not on the fiber's small one, where the signal frame and the unwinder could reach the guard.
  sa.sa_flags = SA_RESTART | SA_ONSTACK;
  sigaction(capture_signal(), &sa, nullptr);
  // Warm the unwinder up here: its first use may load libgcc_s, which is not signal-safe.
  unsigned char warm[256];
  boost::stacktrace::safe_dump_to(0, warm, sizeof warm);
}

}  // namespace

std::string capture_backtrace(unsigned long native, std::chrono::milliseconds timeout) {
#ifdef WEFT_UNDER_TSAN
  (void)native;
  (void)timeout;
  return "(no backtrace under ThreadSanitizer)";
#endif
  static std::once_flag installed;
  std::call_once(installed, install_handler);
  std::lock_guard lock(capture_mu);
  state.store(requested, std::memory_order_release);
  if (pthread_kill(static_cast<pthread_t>(native), capture_signal()) != 0) {
    state.store(idle, std::memory_order_relaxed);
    return "(no backtrace: the worker thread could not be signalled)";
  }
  const std::int64_t deadline = sched::now_ns() + std::chrono::nanoseconds(timeout).count();
  for (;;) {
    std::uint32_t s = state.load(std::memory_order_acquire);
    if (s == captured) break;
    if (s == requested && sched::now_ns() >= deadline) {
      std::uint32_t expected = requested;
      if (state.compare_exchange_strong(expected, idle, std::memory_order_acq_rel))
        return "(no backtrace: the worker did not answer the signal in time)";
      continue;  // the handler started writing just now: wait for it
    }
    sched::futex_wait(&state, s, s == requested ? std::optional<std::int64_t>(deadline) : std::nullopt);
  }
  std::size_t n = frame_count.load(std::memory_order_relaxed);
  auto trace =
      boost::stacktrace::stacktrace::from_dump(frames, n * sizeof(boost::stacktrace::frame::native_frame_ptr_t));
  state.store(idle, std::memory_order_relaxed);
  return boost::stacktrace::to_string(trace);
}

bool backtrace_capture_available() noexcept {
#ifdef WEFT_UNDER_TSAN
  return false;
#else
  return true;
#endif
}

}  // namespace weft::detail
