// transport: how records and other process-local objects cross an actor
// boundary. To an actor in this process a partition goes as a handle (its
// records are moved, never copied); to an actor on another node, or always
// when `sluice.serializer.local=true`, as the bytes of its record type's
// sluice::codec. The sending side decides from the destination's node.
#pragma once

#include <any>
#include <cstdint>
#include <mutex>
#include <optional>
#include <vector>

#include <caf/all.hpp>

#include "sluice/detail/erased.hpp"
#include "sluice/messages.hpp"

namespace sluice::detail {

class transport {
 public:
  /// `node`: this process's node; `always_bytes`: encode for local actors too.
  transport(caf::node_id node, bool always_bytes);

  bool always_bytes() const { return always_bytes_; }

  /// True when records for `to` travel as a handle.
  bool by_handle(const caf::node_id& to) const { return !always_bytes_ && to == node_; }

  /// Packs `data` for an actor on node `to`. Throws sluice::error when the
  /// records must be encoded and their type has no sluice::codec.
  records_msg pack(erased data, const caf::node_id& to);
  records_msg pack(erased data, const caf::actor& to) { return pack(std::move(data), to.node()); }
  std::vector<part_msg> pack(parts data, const caf::node_id& to);
  std::vector<part_msg> pack(parts data, const caf::actor& to) {
    return pack(std::move(data), to.node());
  }

  /// The records of `data` encoded with their codec, `data` left as it
  /// was: a copy that survives the records being moved on (cluster mode
  /// keeps each batch's input until a state checkpoint covers it). Throws
  /// sluice::error for a type without a sluice::codec.
  std::vector<part_msg> encode_copy(const parts& data) const;

  /// Returns the records of `m` (taking them out of this transport when it
  /// holds them). Throws sluice::error for a handle of another process, a
  /// handle already taken, or bytes of an unknown type; codec_error for
  /// malformed bytes.
  erased unpack(records_msg& m);
  parts unpack(std::vector<part_msg>& m);

  /// Keeps a process-local object (an output job, an exception) until
  /// take(); returns its handle (never 0).
  uint64_t keep(std::any x);
  /// keep() for records: held as they are, not boxed in a std::any (pack
  /// keeps a partition per message to a local actor).
  uint64_t keep_records(erased x);
  /// keep(x) for a reader on node `reader`; 0 (nothing kept) when the reader
  /// is on another node: a handle means nothing there.
  uint64_t keep_for(std::any x, const caf::node_id& reader) {
    return reader == node_ ? keep(std::move(x)) : 0;
  }
  /// Returns and forgets the object kept under `handle`, or nullopt (records
  /// kept by keep_records come boxed in the std::any).
  std::optional<std::any> take(uint64_t handle);
  /// Returns and forgets the records kept under `handle` by keep_records, or
  /// nullopt when nothing is kept there. Throws sluice::error when the handle
  /// holds another object.
  std::optional<erased> take_records(uint64_t handle);

  /// Objects kept and not taken yet (a message lost in a stopping context
  /// leaves its records here until the transport goes with the context).
  size_t kept() const;

 private:
  caf::node_id node_;
  bool always_bytes_;
  uint64_t origin_;  ///< identifies this transport in records_msg::origin
  /// A kept object. A handle is (generation << 32) | (index + 1): a slot
  /// is reused once taken, and its generation tells an old handle from the
  /// new one (a handle taken twice is refused, not given the next object).
  struct slot {
    erased records;
    std::any object;
    uint32_t generation = 0;
    bool used = false;
  };
  slot* find(uint64_t handle);  ///< a used slot, or null; requires mtx_
  uint64_t put(slot&& x);       ///< requires mtx_
  void release(slot& s, uint64_t handle);  ///< empties a found slot; requires mtx_

  mutable std::mutex mtx_;
  std::vector<slot> slots_;
  std::vector<uint32_t> free_;  ///< indexes of unused slots
};

} // namespace sluice::detail
