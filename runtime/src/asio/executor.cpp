#include <weft/asio/executor.hpp>

namespace weft {

executor detail::executor_for(runtime_core& core) {
  if (core.stopped.load(std::memory_order_acquire)) throw runtime_stopped();
  io_reactors& r = ensure_io_reactors(core);
  return executor(&core, 0, static_cast<std::uint32_t>(r.home_index()));
}

executor runtime::get_executor() const { return detail::executor_for(*core_); }

std::vector<executor> runtime::worker_executors() const {
  executor first = detail::executor_for(*core_);
  const std::size_t n = detail::ensure_io_reactors(*core_).size();
  std::vector<executor> all;
  all.reserve(n);
  for (std::size_t i = 0; i < n; ++i) all.push_back(first.with_reactor(static_cast<std::uint32_t>(i)));
  return all;
}

}  // namespace weft
