#include "sluice/job_generator.hpp"

#include "sluice/actor_probe.hpp"

#include <algorithm>
#include <chrono>

namespace sluice::detail {

int64_t system_now_ms() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
           std::chrono::system_clock::now().time_since_epoch())
    .count();
}

namespace {

void arm(caf::stateful_actor<generator_state>* self) {
  auto delay = std::max<int64_t>(0, self->state.next - system_now_ms());
  self->delayed_send(self, std::chrono::milliseconds{delay}, tick_atom::value);
}

} // namespace

caf::behavior job_generator(caf::stateful_actor<generator_state>* self, caf::actor scheduler,
                            int64_t batch_ms, int64_t first, bool manual) {
  auto& st = self->state;
  st.scheduler = std::move(scheduler);
  st.batch_ms = batch_ms;
  st.next = first;
  st.manual = manual;
  if (!manual)
    arm(self);
  return {
    [=](introspect_atom) { return std::vector<actor_report>{self_report(self)}; },
    [=](tick_atom) {
      auto& st = self->state;
      // A late timer emits every batch time that has passed, in order.
      while (st.next <= system_now_ms()) {
        self->send(st.scheduler, tick_atom::value, st.next);
        st.next += st.batch_ms;
      }
      arm(self);
    },
    [=](advance_atom, int64_t now) {
      auto& st = self->state;
      while (st.next <= now) {
        self->send(st.scheduler, tick_atom::value, st.next);
        st.next += st.batch_ms;
      }
    },
  };
}

} // namespace sluice::detail
