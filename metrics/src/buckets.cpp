#include "weft/metrics/buckets.hpp"

#include <cmath>
#include <stdexcept>
#include <string>

#include "text.hpp"

namespace weft::metrics {

namespace {

[[noreturn]] void reject(std::initializer_list<std::string_view> why) {
  throw std::invalid_argument(detail::cat({"weft::metrics: invalid histogram buckets: ", detail::cat(why)}));
}

void check_count(std::size_t count) {
  if (count == 0) reject({"the bucket count must be at least 1"});
  if (count > bucket_layout::max_size)
    reject({"the bucket count ", std::to_string(count), " exceeds the maximum of ",
            std::to_string(bucket_layout::max_size)});
}

}  // namespace

bucket_layout::bucket_layout(std::vector<double> upper_bounds) : bounds_(std::move(upper_bounds)) {
  if (bounds_.empty()) reject({"at least one upper bound is needed (the +Inf bucket is implicit)"});
  check_count(bounds_.size());
  for (std::size_t i = 0; i < bounds_.size(); ++i) {
    if (!std::isfinite(bounds_[i]))
      reject({"bound ", std::to_string(i), " is ", detail::format_number(bounds_[i]),
              "; bounds must be finite (the +Inf bucket is implicit)"});
    if (i > 0 && !(bounds_[i - 1] < bounds_[i]))
      reject({"bounds must be strictly increasing, but bound ", std::to_string(i), " (",
              detail::format_number(bounds_[i]), ") is not above bound ", std::to_string(i - 1), " (",
              detail::format_number(bounds_[i - 1]), ")"});
  }
}

namespace buckets {

bucket_layout explicit_bounds(std::vector<double> upper_bounds) { return bucket_layout(std::move(upper_bounds)); }

bucket_layout linear(double start, double width, std::size_t count) {
  check_count(count);
  if (!std::isfinite(start) || !std::isfinite(width) || !(width > 0))
    reject({"linear buckets need a finite start and a finite width > 0, got start ", detail::format_number(start),
            " and width ", detail::format_number(width)});
  std::vector<double> bounds(count);
  for (std::size_t i = 0; i < count; ++i) bounds[i] = start + static_cast<double>(i) * width;
  return bucket_layout(std::move(bounds));
}

bucket_layout exponential(double start, double factor, std::size_t count) {
  check_count(count);
  if (!std::isfinite(start) || !(start > 0) || !std::isfinite(factor) || !(factor > 1))
    reject({"exponential buckets need a finite start > 0 and a finite factor > 1, got start ",
            detail::format_number(start), " and factor ", detail::format_number(factor)});
  std::vector<double> bounds(count);
  double bound = start;
  for (std::size_t i = 0; i < count; ++i, bound *= factor) bounds[i] = bound;
  return bucket_layout(std::move(bounds));
}

}  // namespace buckets
}  // namespace weft::metrics
