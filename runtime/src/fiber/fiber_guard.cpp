// Stack-overflow reports for fibers.
//
// Each fiber stack has a PROT_NONE guard region below it (fiber_stack.cpp). A fiber that runs
// off its stack faults in the guard with SIGSEGV; the handler below runs on the thread's
// alternate signal stack (the fiber's own stack is what is exhausted), checks whether the
// faulting address is in the guard of the fiber this thread is running, and if so writes
//
//   weft: stack overflow in fiber <id> "<name>" (spawned at <file>:<line>); stack size <N> bytes
//
// to stderr with write(2) only (async-signal-safe), restores the default action and re-raises:
// the process dies of SIGSEGV as it would have, now with the fiber named. Any other SIGSEGV is
// passed to the handler installed before ours (or the default action).
//
// The handler is installed once per process, when the first fiber runs; each thread that runs
// fibers gets an alternate signal stack the first time it does (unless it already has one, as
// under the sanitizers), freed when the thread exits.

#include <weft/fiber/detail/fiber_core.hpp>

#include <atomic>
#include <csignal>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <mutex>
#include <source_location>

#include <sys/mman.h>
#include <unistd.h>

#include <weft/detail/task_record.hpp>
#include <weft/fiber/detail/fiber_stack.hpp>

namespace weft::detail {
namespace {

constexpr std::size_t alt_stack_size = 64 * 1024;

struct sigaction previous_segv{};

// An async-signal-safe line builder: fixed buffer, no allocation, no locale.
class line {
 public:
  line& add(const char* s) noexcept {
    while (*s && n_ < sizeof buf_) buf_[n_++] = *s++;
    return *this;
  }
  line& add(std::uint64_t v) noexcept {
    char digits[20];
    std::size_t k = 0;
    do {
      digits[k++] = static_cast<char>('0' + v % 10);
      v /= 10;
    } while (v);
    while (k && n_ < sizeof buf_) buf_[n_++] = digits[--k];
    return *this;
  }
  void write_to(int fd) const noexcept {
    std::size_t done = 0;
    while (done < n_) {
      ssize_t w = ::write(fd, buf_ + done, n_ - done);
      if (w <= 0) return;
      done += static_cast<std::size_t>(w);
    }
  }

 private:
  char buf_[512];
  std::size_t n_ = 0;
};

void report_overflow(const fiber_core& f) noexcept {
  line l;
  l.add("weft: stack overflow in fiber ");
  char name[task_record::name_words * 8] = "";
  std::source_location site{};
  if (const task_record* r = f.record()) {
    l.add(r->id.load(std::memory_order_relaxed));
    r->copy_name(name);
    site = r->site.load(std::memory_order_relaxed);
  } else {
    l.add("?");
  }
  l.add(" \"").add(name).add("\" (spawned at ");
  l.add(site.file_name()[0] ? site.file_name() : "?").add(":").add(static_cast<std::uint64_t>(site.line()));
  l.add("); stack size ").add(static_cast<std::uint64_t>(f.stack()->usable)).add(" bytes\n");
  l.write_to(STDERR_FILENO);
}

void restore_default(int sig) noexcept {
  struct sigaction dfl{};
  dfl.sa_handler = SIG_DFL;
  sigemptyset(&dfl.sa_mask);
  ::sigaction(sig, &dfl, nullptr);
}

void on_segv(int sig, siginfo_t* info, void* uctx) {
  // A fault the kernel raised (si_code > 0) has a faulting address; one sent by kill or raise
  // (SI_USER, SI_QUEUE, ...: si_code <= 0) has the sender's pid there instead, and re-executes
  // nothing on return.
  const bool fault = info->si_code > 0;
  const fiber_core* f = running_fiber();
  if (fault && f && f->stack() && f->stack()->in_guard(info->si_addr)) {
    report_overflow(*f);
    restore_default(sig);
    ::raise(sig);  // pending until we return; then the default action ends the process
    return;
  }
  // Not ours: whoever handled SIGSEGV before us.
  if (previous_segv.sa_flags & SA_SIGINFO) {
    if (previous_segv.sa_sigaction) return previous_segv.sa_sigaction(sig, info, uctx);
  } else if (previous_segv.sa_handler != SIG_DFL && previous_segv.sa_handler != SIG_IGN) {
    return previous_segv.sa_handler(sig);
  }
  restore_default(sig);      // returning re-executes a fault, now with the default action
  if (!fault) ::raise(sig);  // a sent signal is not re-executed: deliver it again
}

void install_handler() noexcept {
  struct sigaction sa{};
  sa.sa_sigaction = &on_segv;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_SIGINFO | SA_ONSTACK;
  ::sigaction(SIGSEGV, &sa, &previous_segv);
}

// This thread's alternate signal stack, unless it already had one.
struct alt_stack {
  void* mem = nullptr;

  alt_stack() noexcept {
    stack_t cur{};
    if (::sigaltstack(nullptr, &cur) == 0 && !(cur.ss_flags & SS_DISABLE)) return;
    void* m = ::mmap(nullptr, alt_stack_size, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) return;  // no report on overflow, only the plain SIGSEGV
    stack_t ss{};
    ss.ss_sp = m;
    ss.ss_size = alt_stack_size;
    if (::sigaltstack(&ss, nullptr) != 0) {
      ::munmap(m, alt_stack_size);
      return;
    }
    mem = m;
  }
  ~alt_stack() {
    if (!mem) return;
    stack_t cur{};
    if (::sigaltstack(nullptr, &cur) == 0 && cur.ss_sp == mem) {
      stack_t off{};
      off.ss_flags = SS_DISABLE;
      ::sigaltstack(&off, nullptr);
    }
    ::munmap(mem, alt_stack_size);
  }
  alt_stack(const alt_stack&) = delete;
  alt_stack& operator=(const alt_stack&) = delete;
};

}  // namespace

// Called by the driver before its thread first switches into a fiber.
void prepare_fiber_thread() noexcept {
  static std::once_flag once;
  std::call_once(once, install_handler);
  thread_local alt_stack stack;
  (void)stack;
}

}  // namespace weft::detail
