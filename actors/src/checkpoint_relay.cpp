#include "sluice/checkpoint_relay.hpp"

#include "sluice/checkpoint_writer.hpp"

namespace sluice::detail {

namespace {

template <class T>
caf::result<T> relay(caf::event_based_actor* self, const caf::actor& writer,
                     const std::shared_ptr<transport>& net, caf::message msg) {
  auto rp = self->make_response_promise();
  self->request(writer, caf::infinite, std::move(msg))
    .then([=](T& x) mutable { rp.deliver(std::move(x)); },
          [=](caf::error& err) mutable {
            auto f = failure_of(err);
            net->take(f.cause);  // the requester is on another node
            rp.deliver(caf::make_error(caf::sec::runtime_error, f.what, uint64_t{0}));
          });
  return rp;
}

} // namespace

caf::behavior checkpoint_relay(caf::event_based_actor* self, caf::actor writer,
                               std::shared_ptr<transport> net) {
  return {
    [=](state_write_msg& m) -> caf::result<bool> {
      return relay<bool>(self, writer, net, caf::make_message(std::move(m)));
    },
    [=](restore_atom, int32_t op, int32_t partition, int64_t t) -> caf::result<state_rows_msg> {
      return relay<state_rows_msg>(self, writer, net,
                                   caf::make_message(restore_atom::value, op, partition, t));
    },
  };
}

} // namespace sluice::detail
