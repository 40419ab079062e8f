#pragma once
// weft::dead_letter<Job>: a job a job_pool gave up on, kept with why (take_dead_letters()).

#include <chrono>
#include <cstddef>
#include <exception>
#include <string>

namespace weft {

/// A job that failed for good, with why.
template <class Job>
struct dead_letter {
  Job job;
  std::string error;             ///< what() of the last exception
  std::exception_ptr exception;  ///< the last exception itself
  std::size_t attempts = 0;
  std::chrono::system_clock::time_point when{};
};

}  // namespace weft
