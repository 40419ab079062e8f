#include <weft/detail/current.hpp>

#include <string>

namespace weft::detail {

void throw_not_in_task(const char* what) {
  throw usage_error(std::string(what) +
                    " must be awaited inside a task running on a weft runtime (spawn it, or "
                    "run it with runtime::block_on)");
}

}  // namespace weft::detail
