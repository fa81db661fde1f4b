#define BOOST_TEST_MODULE runtime/conf
#include <boost/test/unit_test.hpp>

#include "sluice/conf.hpp"
#include "sluice/error.hpp"

#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>

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
  for (auto bad : {"256", "131072", "5000", "4k"})
    BOOST_CHECK_EXCEPTION(c.set("sluice.streaming.checkpoint.pageSize", bad), invalid_argument,
                          [&](const invalid_argument& e) {
                            return std::string{e.what()}
                                   == std::string{"invalid value '"} + bad
                                        + "' for sluice.streaming.checkpoint.pageSize: expected a "
                                          "power of two from 512 to 65536";
                          });
  BOOST_CHECK_EXCEPTION(c.set("sluice.scheduler.policy", "testing"), invalid_argument,
                        [](const invalid_argument& e) {
                          return std::string{e.what()}
                                 == "invalid value 'testing' for sluice.scheduler.policy: expected "
                                    "sharing or stealing";
                        });
  BOOST_CHECK_EXCEPTION(c.set("sluice.cluster.workerSchedulerPolicy", "polling"), invalid_argument,
                        [](const invalid_argument& e) {
                          return std::string{e.what()}
                                 == "invalid value 'polling' for "
                                    "sluice.cluster.workerSchedulerPolicy: expected sharing or "
                                    "stealing";
                        });
  c.set("sluice.scheduler.policy", "stealing").set("sluice.cluster.workerSchedulerPolicy", "sharing");
  c.set("sluice.streaming.checkpoint.pageSize", "512").set("sluice.streaming.clock", "simulated");
  c.set("sluice.streaming.backpressure.enabled", "TRUE").set("user.key", "anything");
  BOOST_TEST(c.get_bool("sluice.streaming.backpressure.enabled", false));
  BOOST_TEST(c.get("user.key").value() == "anything");
  BOOST_TEST(!c.get("missing").has_value());
}

// -- SLUICE_CONF_FILE (Spark's spark-defaults.conf) ---------------------------

namespace {

/// A file in the temp directory with `text`, removed at the end.
struct conf_file {
  std::string path;
  explicit conf_file(const std::string& text) {
    static int n = 0;
    path = (std::filesystem::temp_directory_path()
            / ("sluice-conf-" + std::to_string(::getpid()) + "-" + std::to_string(n++) + ".conf"))
             .string();
    std::ofstream{path} << text;
  }
  ~conf_file() { std::filesystem::remove(path); }
};

/// Sets SLUICE_CONF_FILE for one scope.
struct conf_env {
  explicit conf_env(const std::string& path) { ::setenv("SLUICE_CONF_FILE", path.c_str(), 1); }
  ~conf_env() { ::unsetenv("SLUICE_CONF_FILE"); }
};

std::string load_error(const std::string& text) {
  conf_file f{text};
  try {
    conf{false}.load_file(f.path);
  } catch (const invalid_argument& e) {
    std::string msg = e.what();
    auto at = msg.find(f.path);
    return at == std::string::npos ? msg : msg.replace(at, f.path.size(), "FILE");
  }
  return "no error";
}

} // namespace

BOOST_AUTO_TEST_CASE(the_conf_file_gives_defaults_that_code_overrides) {
  conf_file f{"# defaults for every job\n"
              "\n"
              "sluice.streaming.blockInterval 100ms\n"
              "sluice.streaming.concurrentJobs=3\n"
              "  sluice.master =  local[3]  \n"
              "sluice.custom.key some value with blanks\n"};
  conf_env env{f.path};
  conf c;
  BOOST_TEST(c.get("sluice.streaming.blockInterval").value() == "100ms");
  BOOST_TEST(c.get_int("sluice.streaming.concurrentJobs", 1) == 3);
  BOOST_TEST(c.get("sluice.custom.key").value() == "some value with blanks");
  BOOST_TEST(c.parallelism() == 3);
  c.master("local[2]"); // set in code: wins
  BOOST_TEST(c.parallelism() == 2);
  BOOST_TEST(!conf{false}.get("sluice.streaming.blockInterval").has_value());
}

BOOST_AUTO_TEST_CASE(a_bad_conf_file_line_names_file_line_and_key) {
  BOOST_TEST(load_error("sluice.master local[2]\nsluice.streaming.blockInterval\n")
             == "FILE:2: expected 'key value' or 'key=value', got "
                "'sluice.streaming.blockInterval'");
  BOOST_TEST(load_error("# c\nsluice.streaming.concurrentJobs = 0\n")
             == "FILE:2: key 'sluice.streaming.concurrentJobs': invalid value '0' for "
                "sluice.streaming.concurrentJobs: expected an integer >= 1");
  BOOST_TEST(load_error("spark.master local[2]\n")
             == "FILE:1: key 'spark.master' is not a sluice key (keys start with 'sluice.')");
  BOOST_TEST(load_error("=1\n") == "FILE:1: expected 'key value' or 'key=value', got '=1'");
}

BOOST_AUTO_TEST_CASE(a_missing_conf_file_is_an_error_naming_it) {
  conf_env env{"/nonexistent/sluice.conf"};
  try {
    conf c;
    BOOST_FAIL("expected invalid_argument");
  } catch (const invalid_argument& e) {
    BOOST_TEST(std::string{e.what()}
               == "cannot read the configuration file '/nonexistent/sluice.conf' "
                  "(SLUICE_CONF_FILE): no such file or not readable");
  }
}
