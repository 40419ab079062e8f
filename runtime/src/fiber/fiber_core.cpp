// The switches of weft::detail::fiber_core on Boost.Context's fcontext (fiber/detail/fiber_core.hpp).
//
// Four switches, each a jump_fcontext with the sanitizers told around it:
//   enter  driver -> fiber   (resume; or ontop_fcontext with `unwind` to destroy a fiber)
//   leave  fiber  -> driver  (await, yield; the fiber comes back, maybe on another thread)
//   exit   fiber  -> driver  (the function returned; never comes back)
// and `arrived`, run on the fiber after each switch into it.
//
// Migration: the driver may resume the fiber on a different worker each time, so the fiber
// side reads no thread_local after `leave` returns (the compiler may keep a thread-local's
// address across the call; on the fiber it would then point into the old thread). tls_fiber
// is set and cleared by the driver, around the switch, on the driver's own thread.
//
// Sanitizers: with ASan the switches are announced (__sanitizer_start_switch_fiber /
// __sanitizer_finish_switch_fiber) so that ASan checks accesses against the stack actually
// running; the fiber learns the driver's stack bounds from each finish call, since they
// change when it migrates. With TSan each fiber is a TSan fiber (__tsan_create_fiber) and each
// switch is announced with synchronisation, so TSan orders what the fiber did before a switch
// before what runs after it. These are the only sanitizer-specific lines of the fiber code.

#include <weft/fiber/detail/fiber_core.hpp>

#include <cstdlib>
#include <exception>
#include <string>
#include <utility>

#include <cxxabi.h>

#include <boost/context/detail/fcontext.hpp>

#include <weft/detail/current.hpp>
#include <weft/fiber/detail/fiber_stack.hpp>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define WEFT_FIBER_ASAN 1
#endif
#if __has_feature(thread_sanitizer)
#define WEFT_FIBER_TSAN 1
#endif
#endif
#if defined(__SANITIZE_ADDRESS__) && !defined(WEFT_FIBER_ASAN)
#define WEFT_FIBER_ASAN 1
#endif
#if defined(__SANITIZE_THREAD__) && !defined(WEFT_FIBER_TSAN)
#define WEFT_FIBER_TSAN 1
#endif
#ifdef WEFT_FIBER_ASAN
#include <sanitizer/asan_interface.h>
#include <sanitizer/common_interface_defs.h>
#endif
#ifdef WEFT_FIBER_TSAN
#include <sanitizer/tsan_interface.h>
#endif

namespace weft::detail {

// fiber_guard.cpp: installs the stack-overflow handler (once per process) and gives the calling
// thread an alternate signal stack. Called before a thread first switches into a fiber.
void prepare_fiber_thread() noexcept;

namespace {
namespace fc = boost::context::detail;

// The fiber this thread is running (set by the driver around its switch), for
// this_fiber::await and the stack-overflow handler (a plain load: async-signal-safe).
[[gnu::tls_model("initial-exec")]] constinit thread_local fiber_core* tls_fiber = nullptr;
// Whether this thread has run prepare_fiber_thread() (its alternate signal stack).
[[gnu::tls_model("initial-exec")]] constinit thread_local bool tls_prepared = false;

// Driver side, before a switch in: an overflow on this thread must find an alternate signal
// stack to report on (the unwinding at shutdown may run on a thread that never ran a fiber).
void prepare_thread() noexcept {
  if (!tls_prepared) [[unlikely]] {
    prepare_fiber_thread();
    tls_prepared = true;
  }
}
}  // namespace

struct fiber_switch {
  // Driver side: switches into the fiber (or unwinds it) and returns when it switches back.
  static fc::transfer_t enter(fiber_core& f, bool unwind) {
#ifdef WEFT_FIBER_TSAN
    f.san_.tsan_caller = __tsan_get_current_fiber();
#endif
#ifdef WEFT_FIBER_ASAN
    void* fake = nullptr;
    __sanitizer_start_switch_fiber(&fake, f.stack_->bottom(), f.stack_->usable);
#endif
#ifdef WEFT_FIBER_TSAN
    __tsan_switch_to_fiber(f.san_.tsan_fiber, 0);
#endif
    fc::transfer_t t = unwind ? fc::ontop_fcontext(f.fctx_, &f, &fiber_switch::unwind) : fc::jump_fcontext(f.fctx_, &f);
#ifdef WEFT_FIBER_ASAN
    __sanitizer_finish_switch_fiber(fake, nullptr, nullptr);
#endif
    return t;
  }

  // Fiber side, first thing after every switch in.
  static void arrived(fiber_core& f, fc::transfer_t t) noexcept {
    f.caller_ = t.fctx;
#ifdef WEFT_FIBER_ASAN
    __sanitizer_finish_switch_fiber(f.san_.asan_fake_stack, &f.san_.asan_caller_bottom, &f.san_.asan_caller_size);
#endif
  }

  // Fiber side: back to the driver until it resumes us (perhaps on another thread).
  static void leave(fiber_core& f) {
#ifdef WEFT_FIBER_ASAN
    __sanitizer_start_switch_fiber(&f.san_.asan_fake_stack, f.san_.asan_caller_bottom, f.san_.asan_caller_size);
#endif
#ifdef WEFT_FIBER_TSAN
    __tsan_switch_to_fiber(f.san_.tsan_caller, 0);
#endif
    fc::transfer_t t = fc::jump_fcontext(f.caller_, &f);
    arrived(f, t);  // no thread_local from here on: we may be on another thread
  }

  // Fiber side: the function is done; back to the driver for good.
  [[noreturn]] static void exit(fiber_core& f) noexcept {
    f.finished_ = true;
#ifdef WEFT_FIBER_ASAN
    __sanitizer_start_switch_fiber(nullptr, f.san_.asan_caller_bottom, f.san_.asan_caller_size);
#endif
#ifdef WEFT_FIBER_TSAN
    __tsan_switch_to_fiber(f.san_.tsan_caller, 0);
#endif
    fc::jump_fcontext(f.caller_, &f);
    std::abort();  // a finished fiber is never resumed
  }

  // The fiber's first frame.
  static void entry(fc::transfer_t t) noexcept {
    fiber_core& f = *static_cast<fiber_core*>(t.data);
    arrived(f, t);
    try {
      f.body_(f.arg_);
    } catch (const fiber_unwind&) {
      // destroyed mid-function: the stack is unwound, nothing to report
    } catch (...) {
      f.error_ = std::current_exception();
    }
    exit(f);
  }

  // Runs on top of a suspended fiber (ontop_fcontext), as if its `leave` threw: unwinds it.
  static fc::transfer_t unwind(fc::transfer_t t) {
    fiber_core& f = *static_cast<fiber_core*>(t.data);
    arrived(f, t);
    throw fiber_unwind{};
  }

  // Gives back what a finished (or never started) fiber held.
  static void retire(fiber_core& f) noexcept {
#ifdef WEFT_FIBER_TSAN
    if (f.san_.tsan_fiber) __tsan_destroy_fiber(std::exchange(f.san_.tsan_fiber, nullptr));
#endif
    if (fiber_stack* s = std::exchange(f.stack_, nullptr)) {
#ifdef WEFT_FIBER_ASAN
      // A fiber that left for good never returned from its frames: clear their poisoning
      // before another fiber gets the stack.
      __asan_unpoison_memory_region(s->bottom(), s->usable);
#endif
      release_fiber_stack(s);
    }
  }
};

fiber_core::fiber_core(std::size_t stack_size, body_fn body, void* arg)
    : stack_(acquire_fiber_stack(stack_size)), body_(body), arg_(arg) {
  worker_context* ctx = tls_ctx;
  record_ = ctx ? ctx->current : nullptr;
}

fiber_core::~fiber_core() {
  pending_ = task<void>{};  // the inner operation first: it may refer to the fiber's stack
  if (fctx_ && !finished_) {
    unwinding_ = true;
    prepare_thread();
    fiber_core* outer = std::exchange(tls_fiber, this);
    fiber_switch::enter(*this, true);
    tls_fiber = outer;
  }
  fiber_switch::retire(*this);
}

bool fiber_core::resume() {
  pending_ = task<void>{};  // the operation just awaited (and what it held) goes here, on the worker
  request_ = request::none;
  if (!fctx_) [[unlikely]] {
    fctx_ = fc::make_fcontext(stack_->top(), stack_->usable, &fiber_switch::entry);
#ifdef WEFT_FIBER_TSAN
    san_.tsan_fiber = __tsan_create_fiber(0);
#endif
  }
  prepare_thread();
  fiber_core* outer = std::exchange(tls_fiber, this);
  fc::transfer_t t = fiber_switch::enter(*this, false);
  tls_fiber = outer;
  if (finished_) {
    fiber_switch::retire(*this);
    return false;
  }
  fctx_ = t.fctx;
  return true;
}

void fiber_core::rethrow_if_failed() {
  if (error_) std::rethrow_exception(std::exchange(error_, nullptr));
}

namespace {
// The Itanium C++ ABI's per-thread exception state (ABI spec 2.2.2; libstdc++ and libc++abi
// both lay it out so): the exceptions being handled, and the number in flight.
struct eh_globals {
  void* caught_exceptions;
  unsigned int uncaught_exceptions;
};
}  // namespace

// noinline: __cxa_get_globals is declared __attribute__((const)), so a caller must not see it
// on both sides of a fiber switch (the compiler could reuse the old thread's answer).
[[gnu::noinline]] void fiber_core::check_can_switch() const {
  if (unwinding_) throw fiber_unwind{};  // shutdown is unwinding this fiber: keep going
  // The C++ exception state is per thread; a fiber that switched inside a handler, or while
  // unwinding, would finish it on another thread's state. One read of that state costs less
  // than std::uncaught_exceptions() and std::current_exception() together (about 10 ns a
  // switch).
  const auto* eh = reinterpret_cast<const eh_globals*>(abi::__cxa_get_globals());
  if (eh->uncaught_exceptions != 0)
    throw usage_error(
        "weft::this_fiber: await or yield while an exception is propagating (in a destructor during unwinding) is not "
        "allowed: the fiber may resume on another thread");
  if (eh->caught_exceptions)
    throw usage_error(
        "weft::this_fiber: await or yield inside a catch handler is not allowed (as co_await is not): the fiber may "
        "resume on another thread; leave the handler first");
}

void fiber_core::await(task<void> op) {
  check_can_switch();
  if (record_) throw_if_cancelled(record_);
  pending_ = std::move(op);
  request_ = request::await;
  fiber_switch::leave(*this);
}

void fiber_core::yield() {
  check_can_switch();
  request_ = request::yield;
  fiber_switch::leave(*this);
  if (resume_error_) std::rethrow_exception(std::exchange(resume_error_, nullptr));
}

fiber_core* running_fiber() noexcept { return tls_fiber; }

namespace {
[[noreturn]] void throw_off_fiber(const char* what) {
  throw usage_error(std::string(what) +
                    " called off a fiber: inside a weft::task, co_await instead; from plain code, run it "
                    "with weft::spawn_fiber");
}
}  // namespace

void fiber_await(task<void> op) {
  fiber_core* f = tls_fiber;
  if (!f) throw_off_fiber("weft::this_fiber::await");
  f->await(std::move(op));
}

void fiber_yield() {
  fiber_core* f = tls_fiber;
  if (!f) throw_off_fiber("weft::this_fiber::yield");
  f->yield();
}

}  // namespace weft::detail
