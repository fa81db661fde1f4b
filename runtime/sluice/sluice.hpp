// The one include of sluice's public API.
#pragma once

#include "sluice/time.hpp"
#include "sluice/conf.hpp"
#include "sluice/dstream.hpp"
#include "sluice/error.hpp"
#include "sluice/listener.hpp"
#include "sluice/rdd.hpp"
#include "sluice/streaming_context.hpp"
