#pragma once
// Runs the real `promtool check metrics` (Debian package prometheus) on Prometheus text. Its path
// comes from WEFT_PROMTOOL, set by meson when promtool was found at configure time, or from the
// WEFT_PROMTOOL_PATH macro (tests/runtime/meson.build compiles it in).

#include <sys/wait.h>
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

namespace weft::test {

struct command_result {
  int exit_status = -1;
  std::string output;
};

/// The promtool path (WEFT_PROMTOOL, else WEFT_PROMTOOL_PATH if the test's meson.build compiled
/// it in), or nullopt when promtool was not found at configure time.
inline std::optional<std::string> promtool_path() {
  const char* p = std::getenv("WEFT_PROMTOOL");
#ifdef WEFT_PROMTOOL_PATH
  if (p == nullptr || *p == '\0') p = WEFT_PROMTOOL_PATH;
#endif
  if (p == nullptr || *p == '\0') return std::nullopt;
  return std::string(p);
}

/// Runs `promtool check metrics` with `text` on stdin (from a temporary file) and captures its
/// combined output.
inline command_result promtool_check(const std::string& promtool, const std::string& text) {
  static int counter = 0;
  const auto path = std::filesystem::temp_directory_path() /
                    (std::to_string(::getpid()) + "_" + std::to_string(++counter) + "_weft_promtool.prom");
  {
    std::ofstream file(path, std::ios::binary);
    file << text;
  }
  const std::string command = "'" + promtool + "' check metrics < '" + path.string() + "' 2>&1";
  command_result result;
  if (FILE* pipe = ::popen(command.c_str(), "r")) {
    char buf[4096];
    while (const std::size_t n = std::fread(buf, 1, sizeof buf, pipe)) result.output.append(buf, n);
    const int status = ::pclose(pipe);
    result.exit_status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
  }
  std::filesystem::remove(path);
  return result;
}

}  // namespace weft::test
