// The running direct streams, for offset_ranges() and commit_async(), which
// get only ranges or an rdd (Spark's HasOffsetRanges, CanCommitOffsets).
#pragma once

namespace sluice::kafka::detail {

class direct_source;

void register_source(direct_source* s);
void unregister_source(direct_source* s);

} // namespace sluice::kafka::detail
