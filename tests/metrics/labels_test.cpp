#include "weft/metrics/labels.hpp"

#include <catch2/catch.hpp>
#include <string>
#include <utility>
#include <vector>

using weft::metrics::labels;

TEST_CASE("a label set keeps its pairs sorted by key", "[metrics][labels]") {
  const labels l{{"zone", "eu"}, {"app", "api"}, {"mode", "fast"}};
  REQUIRE(l.size() == 3);
  REQUIRE(l.pairs() == std::vector<labels::value_type>{{"app", "api"}, {"mode", "fast"}, {"zone", "eu"}});
}

TEST_CASE("label sets with the same pairs in another order are equal", "[metrics][labels]") {
  REQUIRE(labels{{"a", "1"}, {"b", "2"}} == labels{{"b", "2"}, {"a", "1"}});
  REQUIRE_FALSE(labels{{"a", "1"}} == labels{{"a", "2"}});
  REQUIRE(labels{} == labels{});
}

TEST_CASE("a label set is looked up by key and grows with add", "[metrics][labels]") {
  labels l;
  REQUIRE(l.empty());
  l.add("type", "report").add("queue", "mail");
  REQUIRE(l.get("type") == "report");
  REQUIRE(l.get("queue") == "mail");
  REQUIRE_FALSE(l.get("missing").has_value());
  REQUIRE(l.begin()->first == "queue");
}

TEST_CASE("a label set can be built from run-time strings", "[metrics][labels]") {
  std::string worker = "worker_";
  worker += std::to_string(3);
  const labels from_vector(std::vector<labels::value_type>{{"worker", worker}, {"pool", "io"}});
  REQUIRE(from_vector == labels{{"pool", "io"}, {"worker", "worker_3"}});
  const labels from_views{{"worker", worker}};
  REQUIRE(from_views.get("worker") == "worker_3");
}
