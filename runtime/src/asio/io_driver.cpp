#include <weft/asio/detail/io_driver.hpp>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <exception>
#include <memory>
#include <mutex>

#include <fmt/format.h>

#include <weft/detail/runtime_core.hpp>
#include <weft/detail/worker_context.hpp>
#include <weft/errors.hpp>

namespace weft::detail {

namespace {

// runtime_core::io after destroy_io(): an executor used after shutdown must not find a reactor,
// and ensure_io_reactors() must not create new ones.
io_reactors* const destroyed = reinterpret_cast<io_reactors*>(std::uintptr_t{1});

// The reactors' part in the runtime's end (registered with core as its area_hooks): shutdown
// stops them before the workers stop (no worker waits in one or polls one again), so no
// completion reaches a task or a queue after it;
// ~runtime destroys the io_contexts after the tasks (pending operations are destroyed unrun).
void stop_io(runtime_core& core) noexcept {
  io_reactors* r = core.io.load(std::memory_order_seq_cst);  // see ensure_io_reactors
  if (r && r != destroyed) r->stop();
}

void destroy_io(runtime_core& core) noexcept {
  io_reactors* r = core.io.exchange(destroyed, std::memory_order_acq_rel);
  if (r != destroyed) delete r;
}

}  // namespace

io_driver::io_driver(sched::scheduler& sched, std::size_t worker)
    : sched_(&sched),
      worker_(worker),
      guard_(boost::asio::make_work_guard(ctx_)),
      scheduler_(&boost::asio::use_service<boost::asio::detail::scheduler>(ctx_)) {}

io_driver::~io_driver() { stop(); }

void io_driver::interrupt_op::complete(void*, scheduler_operation* base, const boost::system::error_code&,
                                       std::size_t) {
  // Run (or destroyed unrun with the io_context: owner null): either way it may be queued again.
  static_cast<interrupt_op*>(base)->queued.store(false, std::memory_order_release);
}

template <class Run>
void io_driver::drive(Run run) noexcept {
  // Handlers run here, between tasks: none is current (a handler that spawns has no parent).
  if (worker_context* ctx = tls_ctx) ctx->current = nullptr;
  // Mostly weft's own machinery runs here (use_task's handler, cancellation emissions, composed
  // operations' intermediate steps); a user handler dispatched inline may throw too. The worker
  // keeps going either way.
  try {
    run();
  } catch (const std::exception& e) {
    fmt::print(stderr, "weft: exception from an Asio handler on a worker: {}\n", e.what());
  } catch (...) {
    fmt::print(stderr, "weft: unknown exception from an Asio handler on a worker\n");
  }
}

void io_driver::wait(std::optional<std::int64_t> deadline_ns) noexcept {
  drive([&] {
    std::size_t ran;
    if (deadline_ns)
      ran = ctx_.run_one_for(std::chrono::nanoseconds(std::max<std::int64_t>(*deadline_ns - sched::now_ns(), 0)));
    else
      ran = ctx_.run_one();
    if (ran) ctx_.poll();  // and whatever else is ready, without waiting again
  });
}

void io_driver::poll() noexcept {
  drive([&] { ctx_.poll(); });
}

void io_driver::interrupt() noexcept {
  // acquire/release: the flag is cleared by the operation's completion on the holder's thread.
  if (interrupt_.queued.exchange(true, std::memory_order_acq_rel)) return;  // one is on its way
  scheduler_->post_immediate_completion(&interrupt_, false);
}

void io_driver::stop() noexcept {
  std::lock_guard lock(stop_mu_);  // shutdown and a late ensure_io_reactors may both stop it
  if (stopped_) return;
  stopped_ = true;
  sched_->remove_park_driver(this, worker_);  // no worker waits in it or polls it from here on
  guard_.reset();
  ctx_.stop();
}

io_reactors::io_reactors(runtime_core& core, std::size_t n) : core_(&core) {
  items_.reserve(n);
  for (std::size_t i = 0; i < n; ++i)
    items_.push_back(std::make_unique<io_driver>(core.sched, n == 1 ? sched::scheduler::npos : i));
}

std::size_t io_reactors::home_index() const noexcept {
  if (items_.size() == 1) return 0;
  sched::worker* w = sched::this_worker();
  if (!w || &w->owner() != &core_->sched || w->index() >= items_.size()) return 0;
  return w->index();
}

io_driver* io_reactors::find(const boost::asio::execution_context& ctx) noexcept {
  for (auto& d : items_)
    if (&d->context() == &ctx) return d.get();
  return nullptr;
}

void io_reactors::install() noexcept {
  for (auto& d : items_) d->install();
}

void io_reactors::stop() noexcept {
  for (auto& d : items_) d->stop();
}

io_reactors& ensure_io_reactors(runtime_core& core) {
  // acquire: pairs with the release of the CAS below, publishing the reactors' construction.
  io_reactors* r = core.io.load(std::memory_order_acquire);
  if (r == nullptr) {
    if (core.stopped.load(std::memory_order_acquire)) throw runtime_stopped();
    const std::size_t n = core.reactor_per_worker ? core.sched.size() : 1;
    auto fresh = std::make_unique<io_reactors>(core, n);
    // seq_cst, with the store of `stopped` in shutdown and the load of `io` in stop_io: either
    // shutdown's stop_io finds these reactors and stops them, or the load below sees `stopped`.
    if (core.io.compare_exchange_strong(r, fresh.get(), std::memory_order_seq_cst, std::memory_order_acquire)) {
      io_reactors* mine = fresh.release();  // installed: destroy_io deletes it
      core.add_hooks({.stop = &stop_io, .destroy = &destroy_io});
      mine->install();  // the workers drive them from now on
      if (core.stopped.load(std::memory_order_seq_cst)) {
        mine->stop();
        throw runtime_stopped();
      }
      return *mine;
    }
    // Another thread won the race; ours were never installed and go.
  }
  if (r == destroyed) throw runtime_stopped();
  return *r;
}

io_reactors* find_io_reactors(const runtime_core& core) noexcept {
  io_reactors* r = core.io.load(std::memory_order_acquire);
  return r == destroyed ? nullptr : r;
}

}  // namespace weft::detail
