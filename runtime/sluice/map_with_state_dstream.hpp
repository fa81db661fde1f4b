// map_with_state_dstream: what dstream::map_with_state returns (Spark's
// MapWithStateDStream): the mapped records, plus state_snapshots().
#pragma once

#include "sluice/dstream.hpp"

namespace sluice {

/// The stream of mapped records of map_with_state; state_snapshots() gives
/// every (key, state) after each batch.
template <class K, class V, class S, class M>
class map_with_state_dstream : public dstream<M> {
 public:
  using internal_type = detail::mws_batch<K, S, M>;

  map_with_state_dstream(dstream<M> mapped, dstream<internal_type> internal,
                         detail::map_with_state_node<K, V, S, M>* node)
      : dstream<M>(std::move(mapped)), internal_(std::move(internal)), node_(node) {}

  dstream<std::pair<K, S>> state_snapshots() const {
    node_->want_snapshots();
    return internal_.flat_map([](internal_type b) { return std::move(b.snapshot); });
  }

  /// Forwarded to the internal state stream (SEMANTICS §4.26).
  map_with_state_dstream checkpoint(duration interval) const {
    internal_.checkpoint(interval);
    return *this;
  }

 private:
  dstream<internal_type> internal_;
  detail::map_with_state_node<K, V, S, M>* node_;
};

template <class T>
template <class K, class V, class S, class M>
map_with_state_dstream<K, V, S, M>
dstream<T>::map_with_state(const state_spec<K, V, S, M>& spec) const
  requires detail::is_pair_v<T> {
  // A spec of other key or value types fails the check's one static_assert;
  // nothing below depends on them matching, so it adds no errors.
  detail::check_map_with_state<K, V, typename T::first_type, typename T::second_type>();
  if (!spec.fn())
    throw invalid_argument("map_with_state: the state_spec has no function");
  int n = default_partitions(spec.partitions(), "map_with_state");
  using node_t = detail::map_with_state_node<K, V, S, M>;
  auto* node = g_->add(std::make_unique<node_t>(n_, n, spec));
  dstream<detail::mws_batch<K, S, M>> internal{g_, node};
  auto mapped = internal.flat_map([](detail::mws_batch<K, S, M> b) { return std::move(b.mapped); });
  return {std::move(mapped), std::move(internal), node};
}

} // namespace sluice
