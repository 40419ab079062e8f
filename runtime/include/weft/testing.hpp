#pragma once
// weft::testing: testing applications on weft in virtual time and under chosen schedules.
//
//   #include <weft/testing.hpp>
//   weft::testing::sim sim{{.seed = 42}};                  // a runtime whose clock is virtual
//   weft::testing::explore({.runs = 1000}, body);          // the body under 1,000 schedules
//
// testing/sim.hpp and testing/explore.hpp say what each promises, and what a sim cannot
// control (threads it does not own, real I/O).

#include <weft/testing/explore.hpp>
#include <weft/testing/sim.hpp>
