// The build's dependency rules (../shared/DESIGN.md, "Layers and dependency direction"), checked
// on the sources: metrics <- scheduler <- runtime; inside runtime/, core depends on no other
// area (areas register hooks with core instead), Boost.Asio appears only in the asio area and
// Boost.Context only in the fiber area. Each rule looks at the path of the including file, never
// at the include line itself, so that a forbidden include is always caught.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

namespace fs = std::filesystem;

namespace {

struct include_line {
  std::string file;  // relative to the source root
  int line;
  std::string target;  // what is included, without the brackets
  std::string where() const { return file + ":" + std::to_string(line) + ": " + target; }
};

fs::path source_root() {
  const char* root = std::getenv("WEFT_SOURCE_ROOT");
  REQUIRE(root != nullptr);
  return root;
}

// Every #include in the C++ files under `dir`.
std::vector<include_line> includes_under(const fs::path& dir) {
  static const std::regex include(R"(^\s*#\s*include\s*[<"]([^>"]+)[>"])");
  std::vector<include_line> out;
  const fs::path root = source_root();
  for (const auto& e : fs::recursive_directory_iterator(root / dir)) {
    if (!e.is_regular_file()) continue;
    const auto ext = e.path().extension();
    if (ext != ".hpp" && ext != ".cpp" && ext != ".ipp") continue;
    std::ifstream in(e.path());
    std::string text;
    int n = 0;
    while (std::getline(in, text)) {
      ++n;
      std::smatch m;
      if (std::regex_search(text, m, include)) out.push_back({fs::relative(e.path(), root).string(), n, m[1]});
    }
  }
  return out;
}

bool starts_with(const std::string& s, const std::string& prefix) { return s.rfind(prefix, 0) == 0; }

// The area of a runtime file (by its path), or of an included weft header (by its spelling).
std::string area_of_file(const std::string& path) {
  static const std::vector<std::pair<std::string, std::string>> dirs = {
      {"runtime/include/weft/detail/", "core"},
      {"runtime/src/core/", "core"},
      {"runtime/include/weft/time/", "time"},
      {"runtime/src/time/", "time"},
      {"runtime/include/weft/combinators/", "combinators"},
      {"runtime/include/weft/blocking/", "blocking"},
      {"runtime/src/blocking/", "blocking"},
      {"runtime/include/weft/sync/", "sync"},
      {"runtime/src/sync/", "sync"},
      {"runtime/include/weft/pool/", "pool"},
      {"runtime/src/pool/", "pool"},
      {"runtime/include/weft/fiber/", "fiber"},
      {"runtime/src/fiber/", "fiber"},
      {"runtime/include/weft/observe/", "observe"},
      {"runtime/src/observe/", "observe"},
      {"runtime/include/weft/asio/", "asio"},
      {"runtime/src/asio/", "asio"},
      {"runtime/include/weft/testing/", "testing"},
      {"runtime/src/testing/", "testing"},
  };
  for (const auto& [dir, area] : dirs)
    if (starts_with(path, dir)) return area;
  return {};
}

// Public headers at the top of include/weft/, by area.
std::string area_of_public(const std::string& name) {
  static const std::vector<std::pair<std::string, std::string>> headers = {
      {"errors.hpp", "core"},
      {"task.hpp", "core"},
      {"spawn.hpp", "core"},
      {"fork.hpp", "core"},
      {"fork_scope.hpp", "core"},
      {"yield.hpp", "core"},
      {"this_task.hpp", "core"},
      {"cancel.hpp", "core"},
      {"time.hpp", "time"},
      {"timeout.hpp", "time"},
      {"when_all.hpp", "combinators"},
      {"when_any.hpp", "combinators"},
      {"task_group.hpp", "combinators"},
      {"join_set.hpp", "combinators"},
      {"select.hpp", "combinators"},
      {"blocking.hpp", "blocking"},
      {"fiber.hpp", "fiber"},
      {"stall.hpp", "observe"},
      {"task_info.hpp", "observe"},
      {"trace.hpp", "observe"},
      {"asio.hpp", "asio"},
      {"signal.hpp", "asio"},
      {"testing.hpp", "testing"},
      {"runtime.hpp", "root"},
      {"weft.hpp", "root"},
  };
  for (const auto& [h, area] : headers)
    if (name == h) return area;
  return {};
}

std::string area_of_include(const std::string& target) {
  if (!starts_with(target, "weft/")) return {};
  const std::string rest = target.substr(5);
  if (starts_with(rest, "sched/")) return "scheduler";
  if (starts_with(rest, "metrics/")) return "metrics";
  if (starts_with(rest, "detail/")) return "core";
  if (std::string a = area_of_file("runtime/include/" + target); !a.empty()) return a;
  return area_of_public(rest);
}

std::string describe(const std::vector<include_line>& hits) {
  std::string s;
  for (const auto& h : hits) s += h.where() + "\n";
  return s;
}

}  // namespace

TEST_CASE("metrics includes nothing else of weft", "[layering]") {
  std::vector<include_line> hits;
  for (const auto& i : includes_under("metrics"))
    if (starts_with(i.target, "weft/") && !starts_with(i.target, "weft/metrics/")) hits.push_back(i);
  INFO(describe(hits));
  CHECK(hits.empty());
}

TEST_CASE("the scheduler includes only itself and metrics, and no Boost", "[layering]") {
  std::vector<include_line> hits;
  for (const auto& i : includes_under("scheduler"))
    if ((starts_with(i.target, "weft/") && !starts_with(i.target, "weft/sched/") &&
         !starts_with(i.target, "weft/metrics/")) ||
        starts_with(i.target, "boost/"))
      hits.push_back(i);
  INFO(describe(hits));
  CHECK(hits.empty());
}

TEST_CASE("every include in runtime/ names a known area, and core includes no other area", "[layering]") {
  std::vector<include_line> unknown, from_core;
  for (const auto& i : includes_under("runtime")) {
    const std::string area = area_of_include(i.target);
    if (starts_with(i.target, "weft/") && area.empty()) unknown.push_back(i);
    const bool core_file = area_of_file(i.file) == "core" ||
                           (starts_with(i.file, "runtime/include/weft/") && i.file.find('/', 21) == std::string::npos &&
                            area_of_public(i.file.substr(21)) == "core");
    if (!core_file) continue;
    // Core may include core, the layers below, and the standard library: no other area, no Boost.
    if ((!area.empty() && area != "core" && area != "scheduler" && area != "metrics") ||
        starts_with(i.target, "boost/"))
      from_core.push_back(i);
  }
  INFO("includes of headers no area owns (add them to this test's map):\n" << describe(unknown));
  CHECK(unknown.empty());
  INFO("core includes another area:\n" << describe(from_core));
  CHECK(from_core.empty());
}

TEST_CASE("only the asio area includes Boost.Asio, only the fiber area Boost.Context", "[layering]") {
  std::vector<include_line> asio, context;
  for (const auto& i : includes_under("runtime")) {
    const std::string area = area_of_file(i.file);
    const bool asio_file = area == "asio" || i.file == "runtime/include/weft/asio.hpp";
    if (starts_with(i.target, "boost/asio") && !asio_file) asio.push_back(i);
    if (starts_with(i.target, "boost/context") && area != "fiber") context.push_back(i);
  }
  INFO(describe(asio) << describe(context));
  CHECK(asio.empty());
  CHECK(context.empty());
}

TEST_CASE("the areas' map covers every source file of runtime/", "[layering]") {
  std::vector<std::string> orphans;
  const fs::path root = source_root();
  for (const auto& e : fs::recursive_directory_iterator(root / "runtime")) {
    if (!e.is_regular_file() || (e.path().extension() != ".hpp" && e.path().extension() != ".cpp")) continue;
    const std::string path = fs::relative(e.path(), root).string();
    const bool top_public = starts_with(path, "runtime/include/weft/") && path.find('/', 21) == std::string::npos;
    if (area_of_file(path).empty() && !(top_public && !area_of_public(path.substr(21)).empty()) &&
        path != "runtime/src/runtime.cpp")
      orphans.push_back(path);
  }
  INFO(Catch::rangeToString(orphans));
  CHECK(orphans.empty());
}
