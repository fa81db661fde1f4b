#include "sluice/middleman_requests.hpp"

#include <set>

#include <caf/all.hpp>
#include <caf/io/all.hpp>

#include "sluice/deterministic.hpp"

namespace sluice::detail {

// Each as CAF 0.17.6's libcaf_io/src/io/middleman.cpp does it, with a
// request of a scoped actor (what a function view is) and no timeout.

caf::expected<uint16_t> publish(caf::actor_system& sys, const caf::actor& whom, uint16_t port,
                                const std::string& host) {
  if (!whom)
    return caf::make_error(caf::sec::cannot_publish_invalid_actor);
  caf::scoped_actor self{sys};
  uint16_t actual = 0;
  caf::error failed;
  call(self, sys.middleman().actor_handle(), caf::infinite, caf::publish_atom_v, port,
       caf::actor_cast<caf::strong_actor_ptr>(whom), sys.message_types(whom), host, true)
    .receive([&](uint16_t p) { actual = p; }, [&](caf::error& err) { failed = std::move(err); });
  if (failed)
    return failed;
  return actual;
}

void unpublish(caf::actor_system& sys, const caf::actor& whom, uint16_t port) {
  caf::scoped_actor self{sys};
  call(self, sys.middleman().actor_handle(), caf::infinite, caf::unpublish_atom_v, whom.address(),
       port)
    .receive([] {}, [](caf::error&) {});
}

caf::expected<caf::actor> remote_actor(caf::actor_system& sys, const std::string& host,
                                       uint16_t port) {
  caf::scoped_actor self{sys};
  caf::actor found;
  caf::error failed;
  call(self, sys.middleman().actor_handle(), caf::infinite, caf::connect_atom_v, host, port)
    .receive(
      [&](caf::node_id&, caf::strong_actor_ptr& ptr, std::set<std::string>& sigs) {
        auto ifs = sys.message_types(caf::detail::type_list<caf::actor>{});
        if (!ptr)
          failed = caf::make_error(caf::sec::no_actor_published_at_port, port);
        else if (!sys.assignable(sigs, ifs))
          failed = caf::make_error(caf::sec::unexpected_actor_messaging_interface, std::move(ifs),
                                   std::move(sigs));
        else
          found = caf::actor_cast<caf::actor>(std::move(ptr));
      },
      [&](caf::error& err) { failed = std::move(err); });
  if (failed)
    return failed;
  return found;
}

} // namespace sluice::detail
