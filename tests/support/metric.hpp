#pragma once
// A runtime's own series of a metric (labelled with the runtime's name), read from its registry
// now: what a test compares after the event it waited for.

#include <weft/metrics/registry.hpp>
#include <weft/runtime.hpp>

namespace weft::test {

/// The value of `name`{runtime=rt.name()} in rt's registry, or -1 if there is no such series.
inline double metric(weft::runtime& rt, const char* name) {
  auto snap = rt.metrics().snapshot();
  if (const auto* s = snap.find(name, {{"runtime", rt.name()}})) return s->value;
  return -1;
}

}  // namespace weft::test
