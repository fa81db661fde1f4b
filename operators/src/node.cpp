// node_base's out-of-line members: its constructor and the defaults of the
// typed services, which node types override (node.hpp has the contracts).
#include "sluice/node.hpp"
#include "sluice/state_chunk.hpp"

#include <stdexcept>

namespace sluice::detail {

node_base::node_base(node_kind kind, std::string name, duration slide,
                     std::vector<node_base*> parents)
    : kind_(kind), name_(std::move(name)), slide_(slide), parents_(std::move(parents)) {}

node_base::~node_base() = default;

std::unique_ptr<feeder_base> node_base::make_feeder(emitter_base*) const {
  fail("make_feeder");
}

std::unique_ptr<collector_base> node_base::make_collector() const { fail("make_collector"); }

size_t node_base::records(const erased&) const { fail("records"); }

std::string node_base::record_codec_problem() const { return {}; }

std::string node_base::bucket_codec_problem() const { return {}; }

std::unique_ptr<emitter_base> node_base::wrap(emitter_base*) const { fail("wrap"); }

std::unique_ptr<bucket_writer_base> node_base::make_writer(size_t) const {
  fail("make_writer");
}

erased node_base::reduce(std::vector<std::vector<erased>>&) const { fail("reduce"); }

std::unique_ptr<slot_state> node_base::make_slot_state(int /*slot*/, const run_info&,
                                                       bool /*restoring*/) const {
  return nullptr;
}

stateful_result node_base::reduce_at(batch_time, bool /*parent_none*/,
                                     std::vector<std::vector<erased>>&, slot_state*,
                                     const run_info&) const {
  fail("reduce_at");
}

bool node_base::checkpoint_state(slot_state*, bool /*full*/, state_rows& /*upserts*/,
                                 std::vector<std::string>& /*removed*/) const {
  return false;
}

void node_base::restore_state(slot_state*, const state_entries&) const {}

void node_base::restore_state_chunks(slot_state* s, const std::vector<std::string>& chunks) const {
  restore_state(s, state_from_chunks(chunks));
}

std::string node_base::checkpoint_codec_problem() const { return {}; }

erased node_base::partial(int /*port*/, erased) const { fail("partial"); }

std::vector<std::pair<std::string, std::string>> node_base::state_types() const { return {}; }

std::unique_ptr<gather_op> node_base::make_gather(const run_info&) const {
  fail("make_gather");
}

void node_base::fail(const char* what) const {
  throw std::logic_error(std::string("node '") + name_ + "' does not support " + what);
}

} // namespace sluice::detail
