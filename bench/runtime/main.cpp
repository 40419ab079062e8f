// runtime_bench: every system's benchmarks register themselves from their own file
// (workloads.hpp names them <workload>/<system>/threads:<N>); tools/bench runs them all.
#include <benchmark/benchmark.h>

BENCHMARK_MAIN();
