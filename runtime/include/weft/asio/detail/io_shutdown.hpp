#pragma once
// The two steps of a runtime's end that concern the Asio reactor (io_driver.hpp), declared
// without Asio so that runtime.cpp does not include it. Both do nothing for a runtime that
// never created a reactor (never called get_executor()).

namespace weft::detail {

class runtime_core;

/// Shutdown, before the workers stop: stops and joins the reactor thread, so no completion can
/// reach a task or a worker queue after this returns.
void stop_io(runtime_core& core) noexcept;

/// The runtime's destructor, after shutdown destroyed every task: destroys the io_context
/// (operations still pending are destroyed without running their handlers). I/O objects a user
/// kept past rt.shutdown() must be gone by then.
void destroy_io(runtime_core& core) noexcept;

}  // namespace weft::detail
