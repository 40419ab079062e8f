#pragma once
// What the process holds, counted from /proc: its threads and its open file descriptors. A test
// compares a count before and after, to show that what it started or opened is gone.

#include <dirent.h>

#include <cstddef>

namespace weft::test {

/// The entries of the directory at `path`, "." and ".." left out (0 if it cannot be read).
inline std::size_t entries(const char* path) {
  std::size_t n = 0;
  if (DIR* d = ::opendir(path)) {
    while (const dirent* e = ::readdir(d))
      if (e->d_name[0] != '.') ++n;
    ::closedir(d);
  }
  return n;
}

/// The process's threads.
inline std::size_t threads() { return entries("/proc/self/task"); }

/// The process's open file descriptors (the one that reads them included).
inline std::size_t open_fds() { return entries("/proc/self/fd"); }

}  // namespace weft::test
