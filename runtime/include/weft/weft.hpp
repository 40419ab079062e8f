#pragma once
// The whole public API of weft in one include.

#include <weft/cancel.hpp>
#include <weft/errors.hpp>
#include <weft/fiber.hpp>
#include <weft/pool/pool.hpp>
#include <weft/runtime.hpp>
#include <weft/spawn.hpp>
#include <weft/stall.hpp>
#include <weft/sync/channel.hpp>
#include <weft/sync/event.hpp>
#include <weft/sync/latch.hpp>
#include <weft/sync/mutex.hpp>
#include <weft/sync/semaphore.hpp>
#include <weft/task.hpp>
#include <weft/task_group.hpp>
#include <weft/task_info.hpp>
#include <weft/this_task.hpp>
#include <weft/time.hpp>
#include <weft/timeout.hpp>
#include <weft/trace.hpp>
#include <weft/when_all.hpp>
#include <weft/when_any.hpp>
#include <weft/yield.hpp>
