#include <weft/asio/detail/io_driver.hpp>

#include <pthread.h>

#include <cstdint>
#include <exception>
#include <memory>

#include <fmt/format.h>

#include <weft/detail/runtime_core.hpp>
#include <weft/errors.hpp>

namespace weft::detail {

namespace {

// runtime_core::io after destroy_io(): an executor used after shutdown must not find a driver,
// and ensure_io_driver() must not create a new one.
io_driver* const destroyed = reinterpret_cast<io_driver*>(std::uintptr_t{1});

constinit thread_local const io_driver* tls_driver = nullptr;

// The reactor's part in the runtime's end (registered with core as its area_hooks): shutdown
// stops the thread before the workers stop, so no completion reaches a task or a queue after it;
// ~runtime destroys the io_context after the tasks (pending operations are destroyed unrun).
void stop_io(runtime_core& core) noexcept {
  io_driver* d = core.io.load(std::memory_order_seq_cst);  // see ensure_io_driver
  if (d && d != destroyed) d->stop();
}

void destroy_io(runtime_core& core) noexcept {
  io_driver* d = core.io.exchange(destroyed, std::memory_order_acq_rel);
  if (d != destroyed) delete d;
}

}  // namespace

io_driver::io_driver(std::string_view runtime_name)
    : guard_(boost::asio::make_work_guard(ctx_)),
      scheduler_(&boost::asio::use_service<boost::asio::detail::scheduler>(ctx_)),
      name_(runtime_name) {
  name_ += "-io";
  if (name_.size() > 15) name_.resize(15);  // the kernel's limit for thread names
  thread_ = std::thread([this] { run(); });
}

io_driver::~io_driver() { stop(); }

bool io_driver::on_reactor_thread() const noexcept { return tls_driver == this; }

void io_driver::run() noexcept {
  tls_driver = this;
  pthread_setname_np(pthread_self(), name_.c_str());
  for (;;) {
    // Only weft's own machinery runs here (use_task's handler, cancellation emissions,
    // composed operations' intermediate steps); an exception from it is a bug, but the
    // reactor keeps serving everyone else.
    try {
      ctx_.run();
      return;  // stopped
    } catch (const std::exception& e) {
      fmt::print(stderr, "weft: exception on the reactor thread {}: {}\n", name_, e.what());
    } catch (...) {
      fmt::print(stderr, "weft: unknown exception on the reactor thread {}\n", name_);
    }
  }
}

void io_driver::stop() noexcept {
  std::lock_guard lock(stop_mu_);  // shutdown and a late ensure_io_driver may both stop it
  guard_.reset();
  ctx_.stop();
  if (thread_.joinable()) thread_.join();
}

io_driver& ensure_io_driver(runtime_core& core, std::string_view runtime_name) {
  // acquire: pairs with the release of the CAS below, publishing the driver's construction.
  io_driver* d = core.io.load(std::memory_order_acquire);
  if (d == nullptr) {
    if (core.stopped.load(std::memory_order_acquire)) throw runtime_stopped();
    auto fresh = std::make_unique<io_driver>(runtime_name);
    // seq_cst, with the store of `stopped` in shutdown and the load of `io` in stop_io: either
    // shutdown's stop_io finds this driver and stops it, or the load below sees `stopped`.
    if (core.io.compare_exchange_strong(d, fresh.get(), std::memory_order_seq_cst, std::memory_order_acquire)) {
      io_driver* mine = fresh.release();  // installed: destroy_io deletes it
      core.add_hooks({.stop = &stop_io, .destroy = &destroy_io});
      if (core.stopped.load(std::memory_order_seq_cst)) {
        mine->stop();
        throw runtime_stopped();
      }
      return *mine;
    }
    // Another thread won the race; ours stops its thread as it goes.
  }
  if (d == destroyed) throw runtime_stopped();
  return *d;
}

io_driver* find_io_driver(const runtime_core& core) noexcept {
  io_driver* d = core.io.load(std::memory_order_acquire);
  return d == destroyed ? nullptr : d;
}

}  // namespace weft::detail
