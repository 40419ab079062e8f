// UTF-8 helpers for text bound for metrics output: names, label values, JSON strings.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace weft::metrics {

/// U+FFFD REPLACEMENT CHARACTER, encoded: what stands in for ill-formed UTF-8.
inline constexpr std::string_view utf8_replacement_character = "\xef\xbf\xbd";

/// The length of the longest prefix of `s` of at most `max_bytes` bytes that does not end inside
/// a multi-byte character, for shortening a name to a limit without leaving half a character
/// behind: a prefix of valid UTF-8 cut there is valid UTF-8. Ill-formed sequences in `s` count as
/// units of their own, as utf8_sanitized() sees them.
///
/// Thread safety: a pure function of its arguments.
std::size_t utf8_prefix_length(std::string_view s, std::size_t max_bytes) noexcept;

/// `s` with each ill-formed UTF-8 sequence (a stray continuation byte, a truncated sequence, an
/// overlong form, a surrogate, a code point above U+10FFFF) replaced by U+FFFD; well-formed
/// characters are kept as they are, so valid UTF-8 comes back unchanged. One U+FFFD per maximal
/// ill-formed subpart, as Unicode recommends: "\xe2\x82" (a cut-off "€") gives one, the overlong
/// "\xc0\xaf" gives two.
///
/// Thread safety: a pure function of its argument.
std::string utf8_sanitized(std::string_view s);

}  // namespace weft::metrics
