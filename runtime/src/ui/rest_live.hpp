// sluice's own REST resources beside Spark's, under
// /api/v1/applications/{app-id}/streaming/: `operators` (the planned graph,
// where each slot runs, state and checkpoints per stateful operator) and
// `actors` (the live view: every actor's mailbox, restarts and state).
#pragma once

#include <string>

#include "ui/statistics.hpp"

namespace sluice::detail::ui {

/// {"stages": [...], "gathers": [...], "stateful": [...], "metadataCheckpoints": {...}}
std::string operators_body(const statistics_snapshot& s);

/// {"sampledAt": <date, absent before the first sample>, "actors": [...]}
std::string actors_body(const statistics_snapshot& s);

/// The process hosting slot `slot`: "driver", or in cluster mode the
/// worker the placement put it on.
std::string slot_host(const statistics_snapshot& s, int slot);

/// The keys of operator `op` over its slots in the newest sample, or -1
/// before any sample.
int64_t state_keys(const statistics_snapshot& s, int op);

/// Record bytes the receiver of stream `stream` wrote to the WAL, as of the
/// newest sample (0 without one, or with the WAL off).
int64_t wal_bytes(const statistics_snapshot& s, int stream);

} // namespace sluice::detail::ui
