#pragma once
// weft::use_task: the completion token that makes an Asio operation awaitable in a weft::task.
//
//   weft::task<void> echo(boost::asio::ip::tcp::socket s) {
//     char buf[4096];
//     for (;;) {
//       std::size_t n = co_await s.async_read_some(boost::asio::buffer(buf), weft::use_task);
//       co_await boost::asio::async_write(s, boost::asio::buffer(buf, n), weft::use_task);
//     }
//   }
//
// `op(args..., weft::use_task)` returns an awaitable; the operation starts when it is awaited
// (from a task running on a weft runtime; usage_error elsewhere). The task holds no thread while
// it waits and resumes on a worker with the operation's result:
//
//   completion signature                 co_await yields / throws
//   void(error_code)                     void, or throws boost::system::system_error
//   void(error_code, T)                  T, or throws boost::system::system_error
//   void(std::exception_ptr, T)          T, or rethrows (asio::co_spawn)
//   void(error_code, T1, T2...)          std::tuple<T1, T2...>
//   void(T...)                           as above, without the error
//
// It is a cancellation point. A task cancelled before the operation starts throws
// weft::cancelled_error without starting it. A task cancelled while the operation is in flight
// (its token, join_handle::cancel, with_timeout's deadline) emits
// boost::asio::cancellation_type::terminal on the operation's cancellation slot; the operation
// ends (operation_aborted) and the co_await throws weft::cancelled_error, which with_timeout
// turns into weft::timeout_error. A pending read, write, accept or timer wait is cancelled
// without side effects, so the I/O object stays usable. An operation that completed anyway
// yields its result (no data is lost); the task's next cancellation point throws.
//
// The cancellation signal is emitted where the operation makes progress, because Asio's
// cancellation slots are not thread-safe: for the runtime's own I/O objects by whichever worker
// runs its reactor next (one at a time); for an I/O object of another io_context (the
// program's own, run by its own threads, or another runtime's) it is posted to that object's
// executor. An io_context run by one thread serialises it with the operation's steps. On one
// run by several threads the steps of a composed operation run on whichever thread completes
// each (use_task's handler runs inline, not through a strand), so there cancel only primitive
// operations (async_read_some, async_wait, ...), whose cancellation Asio locks internally.
//
// Another io_context lives its own life: this runtime may shut down while a task waits on one of
// its operations (the task's frame is destroyed; the operation's handler, run later on that
// context, finds the task gone and drops the result), and it may be destroyed while a task waits
// (the operation will never complete: the co_await throws system_error(operation_aborted)).
//
// `co_await boost::asio::co_spawn(ex, awaitable, weft::use_task)` gives the awaitable no
// cancellation slot: co_spawn's slot handler re-dispatches the emission through the awaitable's
// executor and keeps a pointer into the handler, which would outlive the awaiting task. A
// cancelled task waits there until the awaitable ends (and then throws cancelled_error); to stop
// the awaitable on time, cancel it from inside (its own timers, an asio::cancellation_signal
// bound with asio::bind_cancellation_slot).
//
// The handler runs inline on the thread that completes the operation (for the runtime's own
// I/O objects, the worker running the reactor): it stores the result and wakes the task, which
// runs next on that worker, nothing else. An
// operation that completes during its initiation (a read that found data) is completed on the
// awaiting worker before it would suspend. The task goes on without suspending when no other
// task waits on that worker; otherwise it lets them run first (Asio's order for such a
// completion), and goes on after them.
//
// Adapters: `as_tuple(use_task)` (the values as one tuple, errors not thrown),
// `redirect_error(use_task, ec)` (the error_code into `ec`), `experimental::as_single(use_task)`,
// and Asio's channels (`experimental::channel`, `concurrent_channel`) all work. Whatever the
// adapter, an operation aborted by the task's cancellation (a deadline included) throws
// cancelled_error, so with_timeout reports timeout_error.
//
// Like every weft suspension point it hands back a help-first join (detail/current.hpp).
//
// Thread safety: the awaitable belongs to the task awaiting it; it is awaited at most once.

#include <cstddef>
#include <exception>
#include <optional>
#include <tuple>
#include <type_traits>
#include <utility>

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/async_result.hpp>
#include <boost/asio/error.hpp>
#include <boost/asio/execution/context.hpp>
#include <boost/asio/experimental/as_single.hpp>
#include <boost/asio/experimental/channel_error.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/system_executor.hpp>
#include <boost/system/error_code.hpp>
#include <boost/system/system_error.hpp>

#include <weft/asio/detail/op_allocator.hpp>
#include <weft/asio/detail/use_task_base.hpp>
#include <weft/asio/executor.hpp>

namespace boost::asio::detail {
template <typename Executor>
class initiate_co_spawn;  // boost/asio/impl/co_spawn.hpp
}  // namespace boost::asio::detail
#include <weft/errors.hpp>

namespace weft {

/// The completion token type; use the constant weft::use_task.
struct use_task_t {
  constexpr use_task_t() noexcept = default;

  /// An executor whose default completion token is use_task (see as_default_on).
  template <class InnerExecutor>
  struct executor_with_default : InnerExecutor {
    using default_completion_token_type = use_task_t;
    executor_with_default(const InnerExecutor& ex) noexcept : InnerExecutor(ex) {}
    template <class Other>
      requires(!std::is_same_v<Other, executor_with_default> && std::is_convertible_v<Other, InnerExecutor>)
    executor_with_default(const Other& ex) noexcept : InnerExecutor(ex) {}
  };

  /// The type of an I/O object whose operations default to use_task:
  /// `using socket = weft::use_task_t::as_default_on_t<boost::asio::ip::tcp::socket>;`
  /// then `co_await sock.async_read_some(buf);`.
  template <class T>
  using as_default_on_t = typename T::template rebind_executor<executor_with_default<typename T::executor_type>>::other;

  /// Converts an I/O object to one whose operations default to use_task.
  template <class T>
  static as_default_on_t<std::decay_t<T>> as_default_on(T&& object) {
    return as_default_on_t<std::decay_t<T>>(std::forward<T>(object));
  }
};

/// Completion token: `co_await op(args..., weft::use_task)` in a weft::task.
inline constexpr use_task_t use_task{};

namespace detail {

/// How the completion's values reach the task (the token the operation was given):
struct plain_values {};   ///< use_task: an error_code or exception_ptr first is thrown, the rest returned
struct redirect_values {  ///< redirect_error(use_task, ec): the error_code goes to `ec`, the rest returned
  boost::system::error_code* ec;
};
struct single_values {};  ///< experimental::as_single(use_task): every value, as one tuple

template <class Adapter, class... Values>
class use_task_result;

/// The executor an initiation says it runs on (Asio's I/O objects' initiations have
/// get_executor()), or void.
template <class I>
struct initiation_executor {
  using type = void;
};
template <class I>
  requires requires(I& i) { i.get_executor(); }
struct initiation_executor<I> {
  using type = std::decay_t<decltype(std::declval<I&>().get_executor())>;
};

template <class E>
struct is_system_executor : std::false_type {};
template <class B, class R, class A>
struct is_system_executor<boost::asio::basic_system_executor<B, R, A>> : std::true_type {};

/// Initiations given no cancellation slot (see the header comment: co_spawn).
template <class Initiation>
struct takes_cancellation : std::true_type {};
template <class Executor>
struct takes_cancellation<boost::asio::detail::initiate_co_spawn<Executor>> : std::false_type {};

/// Whether a completion's values say the operation was aborted (operation_aborted, or a channel's
/// channel_cancelled, as an error_code, inside a tuple (as_tuple), or as a system_error in an
/// exception_ptr (co_spawn)).
inline bool aborted(const boost::system::error_code& ec) noexcept {
  return ec == boost::asio::error::operation_aborted || ec == boost::asio::experimental::error::channel_cancelled;
}
inline bool aborted(const std::exception_ptr& e) noexcept {
  if (!e) return false;
  try {
    std::rethrow_exception(e);
  } catch (const boost::system::system_error& se) {
    return aborted(se.code());
  } catch (...) {
  }
  return false;
}
template <class... T>
bool aborted(const std::tuple<T...>& t) noexcept;
template <class T>
bool aborted(const T&) noexcept {
  return false;
}
template <class... T>
bool aborted(const std::tuple<T...>& t) noexcept {
  return std::apply([](const auto&... v) { return (aborted(v) || ...); }, t);
}

/// The handler given to the initiation: stores the result in the awaiter and wakes the task. For
/// an operation of another io_context it holds a reference to the link and reaches the awaiter
/// only through it (use_task_base.hpp): it may run after the awaiter is gone, or never.
template <class Result>
struct use_task_handler {
  explicit use_task_handler(Result* t) noexcept : target(t), link(t->link()), cancellable(t->cancellable_) {
    if (link) link->add_ref();
  }
  // Move-only, as Asio requires of a handler: so that the one that is not invoked is the one
  // that is destroyed with a link (the operation's context destroyed it unrun).
  use_task_handler(use_task_handler&& o) noexcept
      : target(o.target), link(std::exchange(o.link, nullptr)), cancellable(o.cancellable) {}
  use_task_handler(const use_task_handler&) = delete;
  use_task_handler& operator=(const use_task_handler&) = delete;
  use_task_handler& operator=(use_task_handler&&) = delete;
  ~use_task_handler() {
    if (link) [[unlikely]] {
      // Destroyed unrun: the operation's io_context was destroyed with it pending. The
      // operation will not complete, so the task goes on now, with no result (take() throws).
      if (link->enter()) {
        target->complete();
        link->leave();
      }
      link->release();
    }
  }

  using cancellation_slot_type = boost::asio::cancellation_slot;
  cancellation_slot_type get_cancellation_slot() const noexcept {
    if (!cancellable) return cancellation_slot_type();
    return link ? link->signal.slot() : target->slot();
  }
  using executor_type = inline_executor;
  executor_type get_executor() const noexcept { return {}; }
  /// The operation's state comes from the worker's frame cache (detail/op_allocator.hpp).
  using allocator_type = op_allocator<void>;
  allocator_type get_allocator() const noexcept { return {}; }

  template <class... A>
  void operator()(A&&... a) {
    if (!link) [[likely]] {
      target->result_.emplace(std::forward<A>(a)...);
      target->complete();
      return;
    }
    foreign_link* l = std::exchange(link, nullptr);
    if (l->enter()) {
      target->result_.emplace(std::forward<A>(a)...);
      target->complete();  // may wake the task, which may free the awaiter: nothing of it after
      l->leave();
    }
    l->release();
  }

  Result* const target;
  foreign_link* link;
  const bool cancellable;
};

/// The result slot and its unpacking (await_resume).
template <class Adapter, class... Values>
class use_task_result : public use_task_base {
 public:
  use_task_result(Adapter adapter, bool cancellable) noexcept : adapter_(adapter), cancellable_(cancellable) {}
  use_task_result(use_task_result&&) noexcept = default;

 protected:
  friend struct use_task_handler<use_task_result>;
  using tuple_type = std::tuple<Values...>;

  template <std::size_t First, std::size_t... I>
  static auto pick(tuple_type& t, std::index_sequence<I...>) {
    constexpr std::size_t n = sizeof...(I);
    if constexpr (n == 0)
      return;
    else if constexpr (n == 1)
      return std::move(std::get<First + I...>(t));
    else
      return std::tuple<std::tuple_element_t<First + I, tuple_type>...>(std::move(std::get<First + I>(t))...);
  }

  auto take() {
    finish_resume();
    if (!result_) [[unlikely]]  // its io_context was destroyed with the operation pending
      throw boost::system::system_error(boost::asio::error::operation_aborted, "its io_context was destroyed");
    tuple_type& t = *result_;
    // A cancellation (a deadline included) that came while the operation was in flight wins
    // over what the operation returned if it was aborted for it, whatever the adapter: the task
    // sees cancelled_error, which with_timeout turns into timeout_error. An operation with no
    // cancellation slot (co_spawn) ran to its end: then the cancellation is thrown too.
    if (cancel_requested() && (!cancellable_ || aborted(t))) throw cancelled_error();
    if constexpr (std::is_same_v<Adapter, single_values>) {
      return std::move(t);
    } else if constexpr (sizeof...(Values) > 0) {
      using first = std::tuple_element_t<0, tuple_type>;
      if constexpr (std::is_same_v<first, boost::system::error_code>) {
        if constexpr (std::is_same_v<Adapter, redirect_values>) {
          *adapter_.ec = std::get<0>(t);
        } else if (const auto& ec = std::get<0>(t)) {
          throw boost::system::system_error(ec);
        }
        return pick<1>(t, std::make_index_sequence<sizeof...(Values) - 1>());
      } else if constexpr (std::is_same_v<first, std::exception_ptr>) {
        if (std::exception_ptr e = std::get<0>(t)) std::rethrow_exception(e);
        return pick<1>(t, std::make_index_sequence<sizeof...(Values) - 1>());
      } else {
        return pick<0>(t, std::make_index_sequence<sizeof...(Values)>());
      }
    }
  }

  Adapter adapter_;
  bool cancellable_;
  std::optional<tuple_type> result_;
};

/// What `op(args..., weft::use_task)` returns: the initiation and its arguments, started by
/// co_await.
template <class Initiation, class InitArgs, class Adapter, class... Values>
class [[nodiscard]] use_task_op : public use_task_result<Adapter, Values...> {
  using result_type = use_task_result<Adapter, Values...>;

 public:
  template <class I, class... A>
  explicit use_task_op(Adapter adapter, I&& init, A&&... args)
      : result_type(adapter, takes_cancellation<Initiation>::value),
        init_(std::forward<I>(init)),
        args_(std::forward<A>(args)...) {}
  use_task_op(use_task_op&&) = default;

  bool await_ready() const noexcept { return false; }
  std::coroutine_handle<> await_suspend(std::coroutine_handle<> h) {
    if (!this->begin(h, &probe)) return h;
    this->run_initiation(&initiate);
    return this->end_initiation(h);
  }
  auto await_resume() { return this->take(); }

 private:
  static void initiate(use_task_base* base) {
    auto* self = static_cast<use_task_op*>(base);
    std::apply([&](auto&... args) { std::move(self->init_)(use_task_handler<result_type>(self), std::move(args)...); },
               self->args_);
  }
  // The operation's io_context, from the initiation's executor (the I/O object's, for Asio's
  // own operations): one of the runtime's reactors, or another program's context. An initiation
  // without one, or with the system executor (async_compose given no I/O object), is taken to
  // run on the calling worker's reactor, as before there was a choice: its context is no
  // io_context, and asking would start Asio's system thread pool.
  //
  // The runtime's own executor is checked first: a type_info comparison that matches compares
  // two pointers, and one that does not is a strcmp of the names (libstdc++), which the system
  // executor's check cost every operation on the runtime's own sockets.
  static io_driver* probe(use_task_base* base, const runtime_core& own_rt, io_reactors& own,
                          boost::asio::any_io_executor& out) {
    auto* self = static_cast<use_task_op*>(base);
    using executor = typename initiation_executor<Initiation>::type;
    if constexpr (is_system_executor<executor>::value) {
      return &own.home();
    } else if constexpr (requires { boost::asio::any_io_executor(self->init_.get_executor()); }) {
      auto ex = self->init_.get_executor();
      if constexpr (std::is_same_v<executor, weft::executor>) {
        if (core_of(ex) == &own_rt) return &own.at(reactor_of(ex));
      } else if constexpr (std::is_same_v<executor, boost::asio::any_io_executor>) {
        if (const weft::executor* w = ex.template target<weft::executor>(); w && core_of(*w) == &own_rt)
          return &own.at(reactor_of(*w));
        if (ex.template target<boost::asio::system_executor>()) return &own.home();
      }
      if (io_driver* d = own.find(boost::asio::query(ex, boost::asio::execution::context))) return d;
      out = boost::asio::any_io_executor(std::move(ex));
      return nullptr;
    } else {
      return &own.home();
    }
  }

  Initiation init_;
  InitArgs args_;
};

}  // namespace detail
}  // namespace weft

template <class R, class... Args>
class boost::asio::async_result<weft::use_task_t, R(Args...)> {
 public:
  template <class Initiation, class... InitArgs>
  static auto initiate(Initiation&& init, weft::use_task_t, InitArgs&&... args) {
    return weft::detail::use_task_op<std::decay_t<Initiation>, std::tuple<std::decay_t<InitArgs>...>,
                                     weft::detail::plain_values, std::decay_t<Args>...>(
        {}, std::forward<Initiation>(init), std::forward<InitArgs>(args)...);
  }
};

// redirect_error(use_task, ec): the operation's error_code goes to `ec` (never thrown), the other
// values are returned. (Asio's own adapter needs a fixed return_type, which use_task, whose
// awaiter's type depends on the operation, has not.)
template <class R, class... Args>
class boost::asio::async_result<boost::asio::redirect_error_t<weft::use_task_t>, R(Args...)> {
 public:
  template <class Initiation, class... InitArgs>
  static auto initiate(Initiation&& init, boost::asio::redirect_error_t<weft::use_task_t> token, InitArgs&&... args) {
    return weft::detail::use_task_op<std::decay_t<Initiation>, std::tuple<std::decay_t<InitArgs>...>,
                                     weft::detail::redirect_values, std::decay_t<Args>...>(
        weft::detail::redirect_values{&token.ec_}, std::forward<Initiation>(init), std::forward<InitArgs>(args)...);
  }
};

// experimental::as_single(use_task): every value of the completion, as one std::tuple (the
// error_code is not thrown). (Same reason as above.)
template <class R, class... Args>
class boost::asio::async_result<boost::asio::experimental::as_single_t<weft::use_task_t>, R(Args...)> {
 public:
  template <class Initiation, class... InitArgs>
  static auto initiate(Initiation&& init, boost::asio::experimental::as_single_t<weft::use_task_t>,
                       InitArgs&&... args) {
    return weft::detail::use_task_op<std::decay_t<Initiation>, std::tuple<std::decay_t<InitArgs>...>,
                                     weft::detail::single_values, std::decay_t<Args>...>(
        {}, std::forward<Initiation>(init), std::forward<InitArgs>(args)...);
  }
};
