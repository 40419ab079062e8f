// DESIGN.md: metrics <- scheduler <- runtime. A lower layer never includes a higher one.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <regex>
#include <string>
#include <vector>

#include <catch2/catch.hpp>

namespace fs = std::filesystem;

namespace {

std::vector<std::string> forbidden_includes(const fs::path& dir, const std::regex& forbidden) {
  std::vector<std::string> hits;
  for (const auto& e : fs::recursive_directory_iterator(dir)) {
    if (!e.is_regular_file()) continue;
    auto ext = e.path().extension();
    if (ext != ".hpp" && ext != ".cpp" && ext != ".ipp") continue;
    std::ifstream in(e.path());
    std::string line;
    int n = 0;
    while (std::getline(in, line)) {
      ++n;
      if (std::regex_search(line, forbidden)) hits.push_back(e.path().string() + ":" + std::to_string(n) + ": " + line);
    }
  }
  return hits;
}

fs::path source_root() {
  const char* root = std::getenv("WEFT_SOURCE_ROOT");
  REQUIRE(root != nullptr);
  return root;
}

}  // namespace

TEST_CASE("metrics includes nothing else of weft", "[layering]") {
  auto hits = forbidden_includes(source_root() / "metrics",
                                 std::regex(R"(#\s*include\s*[<"]weft/(?!metrics/))"));
  INFO(Catch::rangeToString(hits));
  CHECK(hits.empty());
}

TEST_CASE("the scheduler includes only itself and metrics", "[layering]") {
  auto hits = forbidden_includes(source_root() / "scheduler",
                                 std::regex(R"(#\s*include\s*[<"]weft/(?!sched/|metrics/))"));
  INFO(Catch::rangeToString(hits));
  CHECK(hits.empty());
}

TEST_CASE("only the runtime's asio files include Boost.Asio, only its fiber files Boost.Context", "[layering]") {
  auto asio = forbidden_includes(source_root() / "runtime", std::regex(R"(#\s*include\s*[<"]boost/asio)"));
  for (auto& h : asio) CHECK(h.find("asio") != std::string::npos);
  auto ctx = forbidden_includes(source_root() / "runtime", std::regex(R"(#\s*include\s*[<"]boost/context)"));
  for (auto& h : ctx) CHECK(h.find("fiber") != std::string::npos);
  auto below = forbidden_includes(source_root() / "scheduler", std::regex(R"(#\s*include\s*[<"]boost/)"));
  CHECK(below.empty());
}
