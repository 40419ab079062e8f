#pragma once
// A strict, allocation-free parser for an HTTP/1.x request head (RFC 9112): the request line
// and the header fields, up to (not including) the empty line that ends them. The metrics
// endpoint's only parser: it needs the method, the path, keep-alive and whether a body follows.
//
// Empty lines (CRLF) before the request line belong to the head and are skipped: RFC 9112 §2.2
// says a server SHOULD ignore at least one, which some clients send after a request body.

#include <cstddef>
#include <optional>
#include <string_view>

namespace weft::detail::http {

struct request {
  std::string_view method;
  std::string_view target;  ///< as sent
  std::string_view path;    ///< the target's path, without the query
  int minor_version = 1;    ///< HTTP/1.<minor>
  bool keep_alive = true;   ///< HTTP/1.1 unless "Connection: close"; HTTP/1.0 only with "keep-alive"
  bool has_body = false;    ///< a non-zero Content-Length, or any Transfer-Encoding
};

/// Where the head at the start of `buffered` (the bytes received so far) ends: the offset of the
/// "\r\n\r\n" that closes it, or npos if that has not arrived yet. Empty lines before the
/// request line are not taken for that end, so "\r\n\r\nGET ..." is not an empty head.
std::size_t find_head_end(std::string_view buffered) noexcept;

/// Parses `head` (the bytes before find_head_end()), after skipping any empty lines before the
/// request line. Nullopt if it is malformed: a bad request line,
/// a version other than HTTP/1.x, a header line without a colon or with whitespace before it,
/// an obsolete line folding, a control character, a bad or repeated Content-Length, or an
/// HTTP/1.1 request without Host.
std::optional<request> parse_request_head(std::string_view head) noexcept;

}  // namespace weft::detail::http
