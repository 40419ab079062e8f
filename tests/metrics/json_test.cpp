#include "weft/metrics/json.hpp"

#include <catch2/catch.hpp>
#include <cctype>
#include <cmath>
#include <string>
#include <string_view>

#include "weft/metrics/detail/name_check.hpp"
#include "weft/metrics/registry.hpp"

namespace metrics = weft::metrics;

namespace {

// A strict RFC 8259 syntax checker, enough to say "a JSON parser would accept this".
class json_checker {
 public:
  explicit json_checker(std::string_view text) : s_(text) {}

  bool valid() {
    skip_ws();
    if (!value()) return false;
    skip_ws();
    return i_ == s_.size();
  }

 private:
  bool value() {
    skip_ws();
    if (i_ >= s_.size()) return false;
    switch (s_[i_]) {
      case '{':
        return object();
      case '[':
        return array();
      case '"':
        return string();
      case 't':
        return literal("true");
      case 'f':
        return literal("false");
      case 'n':
        return literal("null");
      default:
        return number();
    }
  }
  bool object() {
    ++i_;
    skip_ws();
    if (peek('}')) return ++i_, true;
    for (;;) {
      skip_ws();
      if (!string()) return false;
      skip_ws();
      if (!peek(':')) return false;
      ++i_;
      if (!value()) return false;
      skip_ws();
      if (peek('}')) return ++i_, true;
      if (!peek(',')) return false;
      ++i_;
    }
  }
  bool array() {
    ++i_;
    skip_ws();
    if (peek(']')) return ++i_, true;
    for (;;) {
      if (!value()) return false;
      skip_ws();
      if (peek(']')) return ++i_, true;
      if (!peek(',')) return false;
      ++i_;
    }
  }
  bool string() {
    if (!peek('"')) return false;
    for (++i_; i_ < s_.size(); ++i_) {
      const auto c = static_cast<unsigned char>(s_[i_]);
      if (c == '"') return ++i_, true;
      if (c < 0x20) return false;
      if (c == '\\') {
        if (++i_ >= s_.size()) return false;
        const char e = s_[i_];
        if (e == 'u') {
          for (int k = 0; k < 4; ++k)
            if (++i_ >= s_.size() || !std::isxdigit(static_cast<unsigned char>(s_[i_]))) return false;
        } else if (std::string_view("\"\\/bfnrt").find(e) == std::string_view::npos) {
          return false;
        }
      }
    }
    return false;
  }
  bool number() {
    const std::size_t start = i_;
    if (peek('-')) ++i_;
    if (peek('0'))
      ++i_;
    else if (!digits())
      return false;
    if (peek('.')) {
      ++i_;
      if (!digits()) return false;
    }
    if (peek('e') || peek('E')) {
      ++i_;
      if (peek('+') || peek('-')) ++i_;
      if (!digits()) return false;
    }
    return i_ > start;
  }
  bool digits() {
    const std::size_t start = i_;
    while (i_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[i_]))) ++i_;
    return i_ > start;
  }
  bool literal(std::string_view word) {
    if (s_.substr(i_, word.size()) != word) return false;
    i_ += word.size();
    return true;
  }
  bool peek(char c) const { return i_ < s_.size() && s_[i_] == c; }
  void skip_ws() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\t' || s_[i_] == '\r')) ++i_;
  }

  std::string_view s_;
  std::size_t i_ = 0;
};

bool is_json(std::string_view text) { return json_checker(text).valid(); }

}  // namespace

TEST_CASE("the JSON checker used below rejects broken documents", "[metrics][json]") {
  REQUIRE(is_json("{\"a\":[1,2.5,-3e-06,\"x\\n\",true,null,{}]}"));
  REQUIRE_FALSE(is_json("{\"a\":NaN}"));
  REQUIRE_FALSE(is_json("{\"a\":1,}"));
  REQUIRE_FALSE(is_json("{\"a\":\"line\nbreak\"}"));
  REQUIRE_FALSE(is_json("{\"a\":01}"));
}

TEST_CASE("a small registry encodes to exactly the expected JSON", "[metrics][json]") {
  metrics::registry reg;
  reg.counter("jobs_total", "Jobs", {{"type", "report"}}).inc(3);
  reg.gauge("queue_depth", "Jobs waiting").set(1.5);
  auto& h = reg.histogram("job_seconds", "Job duration", metrics::buckets::explicit_bounds({0.5, 1}));
  h.observe(0.75);
  h.observe(0.75);
  const std::string expected =
      "{\"families\":["
      "{\"name\":\"job_seconds\",\"help\":\"Job duration\",\"type\":\"histogram\",\"series\":["
      "{\"labels\":{},\"count\":2,\"sum\":1.5,\"bounds\":[0.5,1],\"counts\":[0,2,0],"
      "\"quantiles\":{\"0.5\":0.75,\"0.95\":0.975,\"0.99\":0.995}}]},"
      "{\"name\":\"jobs_total\",\"help\":\"Jobs\",\"type\":\"counter\",\"series\":["
      "{\"labels\":{\"type\":\"report\"},\"value\":3}]},"
      "{\"name\":\"queue_depth\",\"help\":\"Jobs waiting\",\"type\":\"gauge\",\"series\":["
      "{\"labels\":{},\"value\":1.5}]}"
      "]}\n";
  const std::string json = reg.to_json();
  REQUIRE(json == expected);
  REQUIRE(is_json(json));
  REQUIRE(metrics::to_json(reg.snapshot()) == expected);
}

TEST_CASE("JSON strings are escaped and non-finite numbers become strings", "[metrics][json]") {
  metrics::registry reg;
  reg.gauge("odd", "Help with \"quotes\", a \\ and a\ttab", {{"path", "a\"b\\c\nd\x01"}})
      .set(std::numeric_limits<double>::infinity());
  reg.gauge("missing", "Not a number").set(std::nan(""));
  reg.histogram("empty_seconds", "Never observed", metrics::buckets::linear(1, 1, 2));
  const std::string json = reg.to_json();
  INFO(json);
  REQUIRE(is_json(json));
  REQUIRE(json.find("\"help\":\"Help with \\\"quotes\\\", a \\\\ and a\\ttab\"") != std::string::npos);
  REQUIRE(json.find("{\"path\":\"a\\\"b\\\\c\\nd\\u0001\"}") != std::string::npos);
  REQUIRE(json.find("\"value\":\"+Inf\"") != std::string::npos);
  REQUIRE(json.find("\"value\":\"NaN\"") != std::string::npos);
  REQUIRE(json.find("\"quantiles\":{\"0.5\":\"NaN\",\"0.95\":\"NaN\",\"0.99\":\"NaN\"}") != std::string::npos);
}

TEST_CASE("JSON strings replace ill-formed UTF-8 with U+FFFD and keep valid characters", "[metrics][json]") {
  const auto json_string = [](std::string_view s) {
    std::string out;
    metrics::append_json_string(out, s);
    return out;
  };
  const std::string fffd = "\xef\xbf\xbd";
  CHECK(json_string("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80") == "\"caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x98\x80\"");
  CHECK(json_string("a\x80z") == "\"a" + fffd + "z\"");                               // stray continuation byte
  CHECK(json_string("worker \xe2\x82") == "\"worker " + fffd + "\"");                 // truncated "€"
  CHECK(json_string("\xc0\xaf") == "\"" + fffd + fffd + "\"");                        // overlong '/'
  CHECK(json_string("\xed\xa0\x80") == "\"" + fffd + fffd + fffd + "\"");             // UTF-16 surrogate
  CHECK(json_string("\xf4\x90\x80\x80") == "\"" + fffd + fffd + fffd + fffd + "\"");  // above U+10FFFF
  CHECK(json_string("\"\xff\n") == "\"\\\"" + fffd + "\\n\"");                        // escapes still apply around it
  // Every one- and two-byte string gives a JSON string that is valid UTF-8.
  std::size_t bad = 0;
  std::string first_bad;
  for (unsigned a = 0; a < 256; ++a) {
    for (unsigned b = 0; b < 256; ++b) {
      const char bytes[] = {static_cast<char>(a), static_cast<char>(b)};
      const std::string out = json_string(std::string_view(bytes, 2));
      if ((!metrics::detail::is_valid_utf8(out) || !is_json(out)) && bad++ == 0) first_bad = out;
    }
  }
  INFO("first bad output: " << first_bad);
  REQUIRE(bad == 0);
}

TEST_CASE("an empty registry encodes to an empty family list", "[metrics][json]") {
  metrics::registry reg;
  REQUIRE(reg.to_json() == "{\"families\":[]}\n");
}
