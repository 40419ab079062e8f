#include "weft/metrics/counter.hpp"

#include <stdexcept>
#include <string>

#include "text.hpp"

namespace weft::metrics::detail {

void throw_negative_increment(long long n) {
  throw std::invalid_argument(cat({"weft::metrics: a counter cannot be increased by a negative amount (",
                                   std::to_string(n), "); use a gauge for values that go down"}));
}

}  // namespace weft::metrics::detail
