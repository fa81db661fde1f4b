#define BOOST_TEST_MODULE runtime/actor_pipeline
#include <algorithm>
#include <condition_variable>
#include <boost/test/unit_test.hpp>

#include "fixtures/harness.hpp"
#include "sluice/actors.hpp"

using namespace sluice;
using fixtures::expect;
using fixtures::manual_conf;
using fixtures::run;

using doubler = caf::typed_actor<caf::replies_to<std::vector<int>>::with<std::vector<int>>>;

namespace {

doubler::behavior_type make_doubler() {
  return {[](std::vector<int>& xs) {
    for (auto& x : xs)
      x *= 2;
    return std::move(xs);
  }};
}

} // namespace

BOOST_AUTO_TEST_CASE(a_user_actor_runs_as_an_operator) {
  for (auto master : {"local[1]", "local[2]", "local[4]"}) {
    auto out = run([](streaming_context& ssc) {
      auto op = actor_system_of(ssc).spawn(make_doubler);
      return ssc.queue_stream<int>({{1, 2, 3}, {}, {4}}).via(op).map([](int x) { return x + 1; });
    }, 3, manual_conf(master));
    BOOST_TEST(out == expect<int>({{3, 5, 7}, {}, {9}}), boost::test_tools::per_element());
  }
}

BOOST_AUTO_TEST_CASE(a_dead_operator_actor_fails_the_batch) {
  streaming_context ssc{manual_conf(), seconds(1)};
  auto op = actor_system_of(ssc).spawn(make_doubler);
  caf::anon_send_exit(op, caf::exit_reason::kill);
  ssc.queue_stream<int>({{1}}).via(op).foreach_rdd([](const rdd<int>&) {});
  ssc.start();
  ssc.manual_clock().advance(seconds(1));
  BOOST_CHECK_THROW(ssc.await_termination(), sluice::error);
}

BOOST_AUTO_TEST_CASE(a_user_actor_is_a_sink) {
  streaming_context ssc{manual_conf("local[2]"), seconds(1)};
  struct seen {
    std::mutex mtx;
    std::condition_variable cv;
    std::vector<std::pair<int64_t, std::vector<int>>> got;
  };
  auto state = std::make_shared<seen>();
  auto sink = actor_system_of(ssc).spawn([state](caf::event_based_actor*) -> caf::behavior {
    return {[state](batch_time t, const std::vector<int>& part) {
      std::lock_guard<std::mutex> g{state->mtx};
      state->got.emplace_back(t.ms, part);
      state->cv.notify_all();
    }};
  });
  ssc.queue_stream<int>({{1, 2, 3, 4}}).foreach_actor(sink);
  ssc.start();
  ssc.manual_clock().advance(seconds(1));
  {
    std::unique_lock<std::mutex> g{state->mtx};
    BOOST_REQUIRE(state->cv.wait_for(g, std::chrono::seconds(20),
                                     [&] { return state->got.size() == 2; }));
    std::sort(state->got.begin(), state->got.end());
    BOOST_TEST((state->got[0] == std::pair<int64_t, std::vector<int>>{1000, {1, 2}}));
    BOOST_TEST((state->got[1] == std::pair<int64_t, std::vector<int>>{1000, {3, 4}}));
  }
  ssc.stop();
  caf::anon_send_exit(sink, caf::exit_reason::user_shutdown);
}
