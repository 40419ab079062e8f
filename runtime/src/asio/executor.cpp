#include <weft/asio/executor.hpp>

namespace weft {

executor detail::executor_for(runtime_core& core) {
  if (core.stopped.load(std::memory_order_acquire)) throw runtime_stopped();
  ensure_io_driver(core);
  return executor(&core, 0);
}

executor runtime::get_executor() const { return detail::executor_for(*core_); }

}  // namespace weft
