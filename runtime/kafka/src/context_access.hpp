// The Kafka library's way to add a source to a streaming_context
// (streaming_context names this struct its friend).
#pragma once

#include <memory>

#include "sluice/streaming_context.hpp"

namespace sluice::detail {

struct context_access {
  template <class S>
  static auto add_source(streaming_context& ssc, std::unique_ptr<S> src) {
    return ssc.add_source(std::move(src));
  }
};

} // namespace sluice::detail
