// The one include of sluice's public API.
#pragma once

#include "sluice/clock.hpp"
#include "sluice/conf.hpp"
#include "sluice/dstream.hpp"
#include "sluice/errors.hpp"
#include "sluice/listener.hpp"
#include "sluice/rdd.hpp"
#include "sluice/rdd_queue.hpp"
#include "sluice/streaming_context.hpp"
#include "sluice/storage_error.hpp"
#include "sluice/time.hpp"
