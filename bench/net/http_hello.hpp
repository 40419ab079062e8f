#pragma once
// The protocol side of the http_hello benchmark server, shared by every variant (weft and plain
// Asio) so that they differ only in how they drive the sockets: answer each complete request
// head with a fixed 13-byte body, keep the connection alive unless asked to close.

#include <cstddef>
#include <string>
#include <string_view>

namespace bench {

inline constexpr std::string_view hello_keep_alive =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\n\r\nHello, World!";
inline constexpr std::string_view hello_close =
    "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 13\r\nConnection: close\r\n\r\nHello, World!";

inline bool asks_to_close(std::string_view head) {
  // Case-insensitive search for "connection: close" (wrk sends neither header by default).
  static constexpr std::string_view needle = "connection: close";
  if (head.size() < needle.size()) return false;
  for (std::size_t i = 0; i + needle.size() <= head.size(); ++i) {
    std::size_t k = 0;
    while (k < needle.size()) {
      char c = head[i + k];
      if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
      if (c != needle[k]) break;
      ++k;
    }
    if (k == needle.size()) return true;
  }
  return false;
}

/// Answers every complete request head at the front of `in`: appends one response per request
/// to `out` and erases the requests from `in` (a partial request stays). Returns false once a
/// request asked to close the connection (its response is the last one).
inline bool answer_requests(std::string& in, std::string& out) {
  std::size_t start = 0;
  bool keep = true;
  for (;;) {
    std::size_t end = in.find("\r\n\r\n", start);
    if (end == std::string::npos) break;
    if (asks_to_close(std::string_view(in).substr(start, end - start))) {
      out += hello_close;
      keep = false;
      start = end + 4;
      break;
    }
    out += hello_keep_alive;
    start = end + 4;
  }
  in.erase(0, start);
  return keep;
}

}  // namespace bench
