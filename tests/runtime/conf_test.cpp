#define BOOST_TEST_MODULE runtime/conf
#include <boost/test/unit_test.hpp>

#include "sluice/conf.hpp"
#include "sluice/errors.hpp"

using namespace sluice;

BOOST_AUTO_TEST_CASE(durations_accept_spark_units) {
  BOOST_TEST(parse_duration("200ms").count() == 200);
  BOOST_TEST(parse_duration("2s").count() == 2000);
  BOOST_TEST(parse_duration("1min").count() == 60000);
  BOOST_TEST(parse_duration("1h").count() == 3600000);
  BOOST_TEST(parse_duration("15").count() == 15);
}

BOOST_AUTO_TEST_CASE(bad_duration_names_key_and_value) {
  conf c;
  try {
    c.set("sluice.streaming.blockInterval", "fast");
    BOOST_FAIL("expected invalid_argument");
  } catch (const invalid_argument& e) {
    std::string msg = e.what();
    BOOST_TEST(msg.find("sluice.streaming.blockInterval") != std::string::npos);
    BOOST_TEST(msg.find("'fast'") != std::string::npos);
  }
  BOOST_CHECK_THROW(c.set("sluice.streaming.blockInterval", "0ms"), invalid_argument);
}

BOOST_AUTO_TEST_CASE(master_gives_parallelism) {
  BOOST_TEST(conf{}.master("local").parallelism() == 1);
  BOOST_TEST(conf{}.master("local[4]").parallelism() == 4);
  BOOST_TEST(conf{}.master("local[*]").parallelism() >= 1);
  BOOST_CHECK_THROW(conf{}.master("local[0]"), invalid_argument);
  BOOST_CHECK_THROW(conf{}.master("yarn"), invalid_argument);
}

BOOST_AUTO_TEST_CASE(typed_keys_are_validated) {
  conf c;
  BOOST_CHECK_THROW(c.set("sluice.streaming.concurrentJobs", "0"), invalid_argument);
  BOOST_CHECK_THROW(c.set("sluice.streaming.backpressure.enabled", "yes"), invalid_argument);
  BOOST_CHECK_THROW(c.set("sluice.streaming.clock", "atomic"), invalid_argument);
  BOOST_CHECK_THROW(c.set("sluice.streaming.backpressure.pid.minRate", "0"), invalid_argument);
  BOOST_CHECK_THROW(c.set("sluice.ui.port", "70000"), invalid_argument);
  c.set("sluice.streaming.backpressure.enabled", "TRUE").set("user.key", "anything");
  BOOST_TEST(c.get_bool("sluice.streaming.backpressure.enabled", false));
  BOOST_TEST(c.get("user.key").value() == "anything");
  BOOST_TEST(!c.get("missing").has_value());
}
