#pragma once
// The live page metrics::serve answers at `/` (dashboard.html beside this file, compiled in by
// embed_text.py: runtime/meson.build).

#include <string_view>

namespace weft::metrics::detail {

/// dashboard.html, as it was at build time.
extern const std::string_view dashboard_html;

}  // namespace weft::metrics::detail
