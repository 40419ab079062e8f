#include "weft/metrics/utf8.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <string_view>

#include "weft/metrics/detail/name_check.hpp"

namespace metrics = weft::metrics;
using metrics::utf8_prefix_length;
using metrics::utf8_sanitized;

namespace {

const std::string fffd(metrics::utf8_replacement_character);

std::string repeated(std::string_view s, std::size_t times) {
  std::string out;
  for (std::size_t i = 0; i < times; ++i) out += s;
  return out;
}

}  // namespace

TEST_CASE("a prefix cut to a byte limit never splits a multi-byte character", "[metrics][utf8]") {
  const std::string name = repeated("\xe2\x82\xac", 16);  // 16 × "€", 48 bytes
  REQUIRE(utf8_prefix_length(name, 47) == 45);
  REQUIRE(utf8_prefix_length(name, 46) == 45);
  REQUIRE(utf8_prefix_length(name, 45) == 45);
  REQUIRE(utf8_prefix_length(name, 48) == 48);
  REQUIRE(utf8_prefix_length(name, 1000) == 48);
  REQUIRE(utf8_prefix_length(name, 2) == 0);
  for (std::size_t max = 0; max <= name.size(); ++max) {
    const std::size_t n = utf8_prefix_length(name, max);
    INFO("max " << max << ", prefix " << n);
    CHECK(n <= max);
    CHECK(n + 3 > max);  // the longest such prefix
    CHECK(weft::metrics::detail::is_valid_utf8(std::string_view(name).substr(0, n)));
  }
  // Mixed widths: "ab", "é" (2 bytes), "😀" (4 bytes).
  const std::string mixed = "ab\xc3\xa9\xf0\x9f\x98\x80";
  REQUIRE(utf8_prefix_length(mixed, 3) == 2);
  REQUIRE(utf8_prefix_length(mixed, 4) == 4);
  REQUIRE(utf8_prefix_length(mixed, 7) == 4);
  REQUIRE(utf8_prefix_length(mixed, 8) == 8);
  REQUIRE(utf8_prefix_length("plain ascii", 5) == 5);
}

TEST_CASE("sanitizing replaces each ill-formed UTF-8 sequence with U+FFFD", "[metrics][utf8]") {
  CHECK(utf8_sanitized("a\x80z") == "a" + fffd + "z");                     // stray continuation byte
  CHECK(utf8_sanitized("a\xe2\x82") == "a" + fffd);                        // "€" cut off at the end
  CHECK(utf8_sanitized("\xe2\x82z") == fffd + "z");                        // ... and before an ASCII byte
  CHECK(utf8_sanitized("\xc3\xc3\xa9") == fffd + "\xc3\xa9");              // a lead byte, then a good "é"
  CHECK(utf8_sanitized("\xc0\xaf") == fffd + fffd);                        // overlong '/'
  CHECK(utf8_sanitized("\xe0\x80\xaf") == fffd + fffd + fffd);             // overlong '/', 3 bytes
  CHECK(utf8_sanitized("\xed\xa0\x80") == fffd + fffd + fffd);             // UTF-16 surrogate
  CHECK(utf8_sanitized("\xf4\x90\x80\x80") == fffd + fffd + fffd + fffd);  // above U+10FFFF
  CHECK(utf8_sanitized("\xf0\x9f\x98") == fffd);                           // a 4-byte sequence cut short
  CHECK(utf8_sanitized("\xff\xfe") == fffd + fffd);                        // never in UTF-8
  // Whatever goes in, valid UTF-8 comes out, and valid input comes out as it went in: every one-
  // and two-byte string.
  std::size_t bad = 0;
  std::string first_bad;
  for (unsigned a = 0; a < 256; ++a) {
    for (unsigned b = 0; b < 256; ++b) {
      const char bytes[] = {static_cast<char>(a), static_cast<char>(b)};
      const std::string_view in(bytes, 2);
      const std::string out = utf8_sanitized(in);
      const bool in_valid = weft::metrics::detail::is_valid_utf8(in);
      if ((!weft::metrics::detail::is_valid_utf8(out) || (in_valid && out != in)) && bad++ == 0) first_bad = in;
    }
  }
  INFO("first bad input: " << first_bad);
  REQUIRE(bad == 0);
}

TEST_CASE("sanitizing leaves valid UTF-8 unchanged", "[metrics][utf8]") {
  for (const std::string_view text :
       {std::string_view(""), std::string_view("plain ascii, with \"quotes\" and \x01 controls"),
        std::string_view("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"),  // é € 😀
        std::string_view("\xef\xbf\xbd already a replacement"),
        std::string_view("\xf4\x8f\xbf\xbf \xed\x9f\xbf \xee\x80\x80")}) {  // U+10FFFF, U+D7FF, U+E000
    INFO(text);
    CHECK(utf8_sanitized(text) == text);
  }
}
