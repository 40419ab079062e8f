#pragma once
// weft's Boost.Asio integration in one include (weft/weft.hpp leaves Asio out):
// weft::executor (rt.get_executor()), weft::use_task, and weft::metrics::serve; also
// weft::ctrl_c / wait_for_signal, which need no Asio header (weft/weft.hpp has them too).

#include <weft/asio/executor.hpp>
#include <weft/asio/metrics_server.hpp>
#include <weft/asio/use_task.hpp>
#include <weft/signal.hpp>
