#include "http_request.hpp"

#include <cstddef>

namespace weft::detail::http {

namespace {

bool is_tchar(char c) noexcept {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) return true;
  switch (c) {
    case '!':
    case '#':
    case '$':
    case '%':
    case '&':
    case '\'':
    case '*':
    case '+':
    case '-':
    case '.':
    case '^':
    case '_':
    case '`':
    case '|':
    case '~':
      return true;
    default:
      return false;
  }
}

bool is_token(std::string_view s) noexcept {
  if (s.empty()) return false;
  for (char c : s)
    if (!is_tchar(c)) return false;
  return true;
}

char lower(char c) noexcept { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool iequals(std::string_view a, std::string_view b) noexcept {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (lower(a[i]) != lower(b[i])) return false;
  return true;
}

std::string_view trim(std::string_view s) noexcept {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// Field values: visible characters, spaces and tabs, and obs-text (bytes >= 0x80).
bool valid_value(std::string_view v) noexcept {
  for (char c : v) {
    auto u = static_cast<unsigned char>(c);
    if (u < 0x20 && c != '\t') return false;
    if (u == 0x7f) return false;
  }
  return true;
}

// Targets: visible ASCII only (no spaces, no controls).
bool valid_target(std::string_view t) noexcept {
  if (t.empty()) return false;
  for (char c : t) {
    auto u = static_cast<unsigned char>(c);
    if (u <= 0x20 || u >= 0x7f) return false;
  }
  return true;
}

std::string_view path_of(std::string_view target) noexcept {
  if (target.substr(0, 7) == "http://" || target.substr(0, 8) == "https://") {
    // absolute-form: the path starts after the authority
    std::size_t start = target.find("//") + 2;
    std::size_t slash = target.find('/', start);
    target = slash == std::string_view::npos ? std::string_view("/") : target.substr(slash);
  }
  return target.substr(0, target.find('?'));
}

// The bytes of the empty lines (CRLFs) at the start of `s`.
std::size_t leading_empty_lines(std::string_view s) noexcept {
  std::size_t n = 0;
  while (s.substr(n, 2) == "\r\n") n += 2;
  return n;
}

}  // namespace

std::size_t find_head_end(std::string_view buffered) noexcept {
  // Search after the leading CRLFs: two of them would read as the end of an empty head. No real
  // end is lost: one starting at the last leading CRLF would make the next two bytes a CRLF too,
  // and one cannot start at a '\n'.
  return buffered.find("\r\n\r\n", leading_empty_lines(buffered));
}

std::optional<request> parse_request_head(std::string_view head) noexcept {
  request r;
  head.remove_prefix(leading_empty_lines(head));  // RFC 9112 §2.2
  std::size_t eol = head.find("\r\n");
  std::string_view line = head.substr(0, eol);
  std::string_view rest = eol == std::string_view::npos ? std::string_view() : head.substr(eol + 2);

  // request-line = method SP request-target SP HTTP-version
  std::size_t sp1 = line.find(' ');
  if (sp1 == std::string_view::npos) return std::nullopt;
  std::size_t sp2 = line.find(' ', sp1 + 1);
  if (sp2 == std::string_view::npos) return std::nullopt;
  r.method = line.substr(0, sp1);
  r.target = line.substr(sp1 + 1, sp2 - sp1 - 1);
  std::string_view version = line.substr(sp2 + 1);
  if (!is_token(r.method) || !valid_target(r.target)) return std::nullopt;
  if (r.target.front() != '/' && r.target.substr(0, 7) != "http://" && r.target.substr(0, 8) != "https://")
    return std::nullopt;
  if (version.size() != 8 || version.substr(0, 7) != "HTTP/1." || version[7] < '0' || version[7] > '9')
    return std::nullopt;
  r.minor_version = version[7] - '0';
  r.keep_alive = r.minor_version >= 1;
  r.path = path_of(r.target);

  bool host = false;
  bool content_length = false;
  bool close = false, keep_alive = false;  // Connection options; "close" wins
  while (!rest.empty()) {
    eol = rest.find("\r\n");
    line = rest.substr(0, eol);
    rest = eol == std::string_view::npos ? std::string_view() : rest.substr(eol + 2);
    if (line.empty()) return std::nullopt;                                 // an empty line inside the head
    if (line.front() == ' ' || line.front() == '\t') return std::nullopt;  // obs-fold
    std::size_t colon = line.find(':');
    if (colon == std::string_view::npos) return std::nullopt;
    std::string_view name = line.substr(0, colon);
    std::string_view value = trim(line.substr(colon + 1));
    if (!is_token(name) || !valid_value(value)) return std::nullopt;  // also: space before ':'

    if (iequals(name, "host")) {
      if (host) return std::nullopt;
      host = true;
    } else if (iequals(name, "content-length")) {
      if (content_length || value.empty()) return std::nullopt;
      for (char c : value)
        if (c < '0' || c > '9') return std::nullopt;
      content_length = true;
      if (value.find_first_not_of('0') != std::string_view::npos) r.has_body = true;
    } else if (iequals(name, "transfer-encoding")) {
      r.has_body = true;
    } else if (iequals(name, "connection")) {
      // A comma-separated list of options, case-insensitive.
      while (!value.empty()) {
        std::size_t comma = value.find(',');
        std::string_view opt = trim(value.substr(0, comma));
        if (iequals(opt, "close")) close = true;
        if (iequals(opt, "keep-alive")) keep_alive = true;
        if (comma == std::string_view::npos) break;
        value.remove_prefix(comma + 1);
      }
    }
  }
  if (r.minor_version >= 1 && !host) return std::nullopt;
  if (close)
    r.keep_alive = false;
  else if (keep_alive)
    r.keep_alive = true;
  return r;
}

}  // namespace weft::detail::http
