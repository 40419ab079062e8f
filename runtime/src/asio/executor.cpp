#include <weft/asio/executor.hpp>

namespace weft {

executor runtime::get_executor() const {
  if (core_->stopped.load(std::memory_order_acquire)) throw runtime_stopped();
  detail::ensure_io_driver(*core_);
  return executor(core_, 0);
}

}  // namespace weft
