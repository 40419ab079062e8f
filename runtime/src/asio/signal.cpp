// weft::wait_for_signal, weft::ctrl_c and rt.run()'s signal watch: Asio signal_sets on the
// runtime's reactor (weft/signal.hpp, asio/detail/signal_watch.hpp).
#include <weft/signal.hpp>

#include <csignal>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include <boost/asio/signal_set.hpp>

#include <weft/asio/detail/signal_watch.hpp>
#include <weft/asio/executor.hpp>
#include <weft/asio/use_task.hpp>
#include <weft/detail/current.hpp>

namespace weft {
namespace detail {

void check_signals(std::span<const int> signals, const char* who, bool allow_empty) {
  if (signals.empty() && !allow_empty) throw std::invalid_argument(std::string(who) + ": no signal to wait for");
  for (int s : signals)
    if (s <= 0 || s >= NSIG || s == SIGKILL || s == SIGSTOP)
      throw std::invalid_argument(std::string(who) + ": " + std::to_string(s) +
                                  " is not a signal a program can catch (1 to NSIG - 1, not SIGKILL or SIGSTOP)");
}

struct signal_watch::impl {
  explicit impl(runtime_core& core) : set(executor_for(core)) {}
  boost::asio::basic_signal_set<executor> set;
};

signal_watch::signal_watch(runtime_core& core, std::span<const int> signals, std::function<void(int)> on_signal)
    : impl_(std::make_unique<impl>(core)) {
  // add() installs Asio's handler at once: from here a signal is kept for the wait below even
  // if no worker has started it yet.
  for (int s : signals) impl_->set.add(s);
  impl_->set.async_wait([fn = std::move(on_signal)](const boost::system::error_code& ec, int s) {
    if (!ec) fn(s);  // operation_aborted: the watch was destroyed first
  });
}

// ~signal_set removes the registrations (Asio restores the default action once no set waits
// for a signal) and cancels the wait.
signal_watch::~signal_watch() = default;

namespace {

task<int> wait_for_signal_in_task(std::vector<int> signals) {
  runtime_core& core = *current_task("weft::wait_for_signal")->rt;
  boost::asio::basic_signal_set<executor> set(executor_for(core));
  for (int s : signals) set.add(s);
  co_return co_await set.async_wait(use_task);
}

}  // namespace
}  // namespace detail

task<int> wait_for_signal(std::span<const int> signals) {
  detail::check_signals(signals, "weft::wait_for_signal", false);
  return detail::wait_for_signal_in_task(std::vector<int>(signals.begin(), signals.end()));
}

task<int> wait_for_signal(std::initializer_list<int> signals) {
  return wait_for_signal(std::span<const int>(signals.begin(), signals.size()));
}

task<void> ctrl_c() {
  static constexpr int sigint[] = {SIGINT};  // (g++ 12 rejects a braced list inside co_await)
  co_await wait_for_signal(std::span<const int>(sigint));
}

}  // namespace weft
