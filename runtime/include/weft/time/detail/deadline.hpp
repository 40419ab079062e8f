#pragma once
// Deadlines as nanoseconds of the runtime's clock (steady_clock's time base; virtual in a
// weft::testing::sim), with saturating arithmetic: a duration or time point
// beyond what int64 nanoseconds hold means "never" (`never_ns`), one before it "already due"
// (`due_ns`). So `sleep_for(X::max())` sleeps until cancelled, `with_timeout(X::max(), t)` sets
// no deadline, and `sleep_until(time_point::min())` returns at once; no sum wraps around.

#include <chrono>
#include <cstdint>
#include <limits>
#include <ratio>
#include <type_traits>

#include <weft/sched/scheduler.hpp>

namespace weft::detail {

inline constexpr std::int64_t never_ns = std::numeric_limits<std::int64_t>::max();
inline constexpr std::int64_t due_ns = std::numeric_limits<std::int64_t>::min();

/// `d` in nanoseconds, rounded up, saturated to [due_ns, never_ns] (NaN gives never_ns).
template <class Rep, class Period>
constexpr std::int64_t saturating_ns(std::chrono::duration<Rep, Period> d) noexcept {
  using ns = std::chrono::nanoseconds;
  if constexpr (std::is_integral_v<Rep> && std::ratio_greater_equal_v<Period, std::nano>) {
    // Exact in integers: nanoseconds per unit is whole; compare before multiplying.
    using per = std::ratio_divide<Period, std::nano>;
    static_assert(per::den == 1);
    constexpr auto limit = std::numeric_limits<std::int64_t>::max() / per::num;
    if (d.count() > limit) return never_ns;
    if (d.count() < -limit) return due_ns;
    return std::chrono::duration_cast<ns>(d).count();
  } else {
    // Floating or finer than a nanosecond: measure in long double (64-bit mantissa) first.
    const long double x = std::chrono::duration<long double, std::nano>(d).count();
    if (!(x < static_cast<long double>(never_ns))) return never_ns;  // also NaN
    if (x <= static_cast<long double>(due_ns)) return due_ns;
    return std::chrono::ceil<ns>(d).count();
  }
}

/// a + b, saturated.
constexpr std::int64_t saturating_add(std::int64_t a, std::int64_t b) noexcept {
  std::int64_t r;
  if (__builtin_add_overflow(a, b, &r)) return b > 0 ? never_ns : due_ns;
  return r;
}

/// The deadline `ns` nanoseconds (>= 0, or never_ns) from now, on the clock of the runtime the
/// calling thread works for (sched::clock_now(): the steady clock off the workers).
inline std::int64_t deadline_after_ns(std::int64_t ns) noexcept {
  return ns == never_ns ? never_ns : saturating_add(sched::clock_now(), ns);
}

/// The deadline `d` from now (`d` >= 0); never_ns if it does not fit.
template <class Rep, class Period>
std::int64_t deadline_after(std::chrono::duration<Rep, Period> d) noexcept {
  return deadline_after_ns(saturating_ns(d));
}

/// A steady_clock time point as a deadline, saturated.
template <class Duration>
constexpr std::int64_t deadline_at(std::chrono::time_point<std::chrono::steady_clock, Duration> tp) noexcept {
  return saturating_ns(tp.time_since_epoch());
}

/// Whether `d` is negative (NaN counts: it is no duration at all).
template <class Rep, class Period>
constexpr bool negative_or_nan(std::chrono::duration<Rep, Period> d) noexcept {
  if constexpr (std::is_floating_point_v<Rep>)
    return !(d.count() >= Rep(0));
  else
    return d < d.zero();
}

/// Throws std::invalid_argument for a negative or NaN duration given to `what` (time.cpp).
[[noreturn]] void throw_negative_duration(const char* what, std::int64_t ns);

}  // namespace weft::detail
