// Umbrella header: the whole public API of weft::metrics.
#pragma once

#include "weft/metrics/buckets.hpp"
#include "weft/metrics/callback_handle.hpp"
#include "weft/metrics/counter.hpp"
#include "weft/metrics/gauge.hpp"
#include "weft/metrics/histogram.hpp"
#include "weft/metrics/histogram_snapshot.hpp"
#include "weft/metrics/json.hpp"
#include "weft/metrics/labels.hpp"
#include "weft/metrics/name_claim.hpp"
#include "weft/metrics/owned.hpp"
#include "weft/metrics/prometheus.hpp"
#include "weft/metrics/registry.hpp"
#include "weft/metrics/snapshot.hpp"
#include "weft/metrics/utf8.hpp"
