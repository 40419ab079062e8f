#include "weft/metrics/detail/name_check.hpp"

#include <catch2/catch.hpp>
#include <stdexcept>

namespace detail = weft::metrics::detail;
using Catch::Contains;

TEST_CASE("metric names follow [a-zA-Z_:][a-zA-Z0-9_:]*", "[metrics][names]") {
  for (const char* good : {"a", "jobs_total", "_x", ":rule:rate5m", "Z9", "weft_poll_duration_seconds"})
    CHECK(detail::is_valid_metric_name(good));
  for (const char* bad : {"", "9lives", "jobs-total", "jobs total", "jobs.total", "é"})
    CHECK_FALSE(detail::is_valid_metric_name(bad));
}

TEST_CASE("label names follow [a-zA-Z_][a-zA-Z0-9_]* and avoid the reserved ones", "[metrics][names]") {
  for (const char* good : {"type", "_x", "worker_1", "L"}) CHECK(detail::is_valid_label_name(good));
  for (const char* bad : {"", "1a", "a:b", "a-b", "__name__", "__x", "le", "quantile"})
    CHECK_FALSE(detail::is_valid_label_name(bad));
}

TEST_CASE("label name errors say which rule was broken", "[metrics][names]") {
  REQUIRE_THROWS_WITH(detail::check_label_name("jobs_total", "__x"), Contains("reserved") && Contains("jobs_total"));
  REQUIRE_THROWS_WITH(detail::check_label_name("jobs_total", "le"), Contains("histogram"));
  REQUIRE_THROWS_WITH(detail::check_label_name("jobs_total", "a-b"), Contains("[a-zA-Z_][a-zA-Z0-9_]*"));
  REQUIRE_THROWS_WITH(detail::check_metric_name("9x"), Contains("\"9x\"") && Contains("[a-zA-Z_:]"));
}

TEST_CASE("text must be well-formed UTF-8", "[metrics][names]") {
  CHECK(detail::is_valid_utf8("plain ascii"));
  CHECK(detail::is_valid_utf8("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80"));  // é € 😀
  CHECK_FALSE(detail::is_valid_utf8("\xc3"));                                 // truncated
  CHECK_FALSE(detail::is_valid_utf8("\x80"));                                 // stray continuation byte
  CHECK_FALSE(detail::is_valid_utf8("\xc0\xaf"));                             // overlong '/'
  CHECK_FALSE(detail::is_valid_utf8("\xed\xa0\x80"));                         // UTF-16 surrogate
  CHECK_FALSE(detail::is_valid_utf8("\xf4\x90\x80\x80"));                     // above U+10FFFF
  REQUIRE_THROWS_WITH(detail::check_help("jobs_total", ""), Contains("empty help"));
  REQUIRE_THROWS_AS(detail::check_label_value("jobs_total", "type", "\xff"), std::invalid_argument);
}
