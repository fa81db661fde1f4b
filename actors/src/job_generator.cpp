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

void manual_ticks::advance(int64_t now) {
  // Sent under the lock: two threads moving the clock still give ordered ticks.
  std::lock_guard<std::mutex> guard{mtx_};
  while (next_ <= now) {
    caf::anon_send(scheduler_, tick_atom::value, next_);
    next_ += batch_ms_;
  }
}

namespace {

/// How far ahead ticks are armed: two intervals, and at least 1 s, so a
/// generator that waits for a pool thread that long (every one running a
/// task) still has its fallbacks on time, and short intervals do not wake
/// it at every batch.
int64_t lead_ms(const generator_state& st) {
  return std::max<int64_t>(2 * st.batch_ms, 1000);
}

/// How late a fallback tick comes after its batch time: one interval, so
/// it comes with the next batch time's relay (one wake of CAF's clock for
/// both). Half an interval (a wake of its own between batches) cost 1 ms
/// batches ~30 % more CPU.
std::chrono::milliseconds grace(const generator_state& st) {
  return std::chrono::milliseconds{st.batch_ms};
}

/// Arms every batch time up to a lead from now on CAF's clock, twice: to
/// this actor at the batch time (relayed to the scheduler when it runs)
/// and, a grace later, to the scheduler itself (it takes the first of the
/// two). A late wake-up arms those that passed with no delay, in order.
/// Then a wake-up half a lead before the first time not armed.
void arm(caf::stateful_actor<generator_state>* self) {
  auto& st = self->state;
  auto now = system_now_ms();
  auto lead = lead_ms(st);
  for (; st.next <= now + lead; st.next += st.batch_ms) {
    auto due = std::max<int64_t>(0, st.next - now);
    self->delayed_send(self, std::chrono::milliseconds{due}, tick_atom::value, st.next);
    self->delayed_send(st.scheduler, std::chrono::milliseconds{due} + grace(st), tick_atom::value,
                       st.next);
  }
  self->delayed_send(self, std::chrono::milliseconds{st.next - lead / 2 - now}, tick_atom::value);
}

} // namespace

caf::behavior job_generator(caf::stateful_actor<generator_state>* self, caf::actor scheduler,
                            int64_t batch_ms, int64_t first,
                            std::shared_ptr<manual_ticks> manual) {
  auto& st = self->state;
  st.scheduler = std::move(scheduler);
  st.batch_ms = batch_ms;
  st.next = first;
  st.manual = std::move(manual);
  if (!st.manual)
    arm(self);
  return {
    [=](introspect_atom) { return std::vector<actor_report>{self_report(self)}; },
    [=](tick_atom) { arm(self); },
    [=](tick_atom, int64_t t) { self->send(self->state.scheduler, tick_atom::value, t); },
    [=](advance_atom, int64_t now) {
      if (auto& m = self->state.manual)
        m->advance(now);
    },
  };
}

} // namespace sluice::detail
