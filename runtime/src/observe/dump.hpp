#pragma once
// Reading the task table: rt.dump_tasks() and the hung-task count.
//
// A dump scans every record of the task table (chunks are never freed, so this is safe at any
// time), keeps the live ones (id not zero, not completed) read consistently by the id seqlock,
// and asks the workers which of them they are running. It takes the table's chunk lock, which
// only chunk allocation contends for, and no lock of the hot path; it cannot hang.

#include <chrono>
#include <cstddef>
#include <string>
#include <typeinfo>
#include <vector>

#include <weft/task_info.hpp>

namespace weft::detail {

class runtime_core;
class stall_detector;

/// Every live task. `stalls` (may be null) tells since when running tasks run.
std::vector<task_info> dump_tasks(runtime_core& core, const stall_detector* stalls);

/// How dumps and stall reports name a function posted to the executor (an Asio handler) that a
/// worker runs: "asio handler <its type, demangled>".
std::string callback_name(const std::type_info& type);

/// Tasks suspended for longer than `threshold`.
std::size_t count_hung_tasks(runtime_core& core, std::chrono::nanoseconds threshold);

}  // namespace weft::detail
