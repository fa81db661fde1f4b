#define BOOST_TEST_MODULE runtime/receiver_failure
#include <boost/test/unit_test.hpp>

#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>

#include <spdlog/sinks/base_sink.h>
#include <spdlog/spdlog.h>

#include "fixtures/child_process.hpp" // eventually
#include "fixtures/harness.hpp"
#include "fixtures/stream_io.hpp"

using namespace sluice;
using namespace std::chrono_literals;
using fixtures::batch_counter;
using strings = std::vector<std::string>;

namespace {

/// Every message logged to the "sluice" logger, as "<level>: <text>".
class captured_log : public spdlog::sinks::base_sink<std::mutex> {
 public:
  strings lines() {
    std::lock_guard<std::mutex> guard{this->mutex_};
    return lines_;
  }

 protected:
  void sink_it_(const spdlog::details::log_msg& msg) override {
    auto level = spdlog::level::to_string_view(msg.level);
    lines_.push_back(std::string(level.data(), level.size()) + ": "
                     + std::string(msg.payload.data(), msg.payload.size()));
  }
  void flush_() override {}

 private:
  strings lines_;  ///< guarded by mutex_
};

/// Replaces the "sluice" logger with one that captures into a fresh sink.
std::shared_ptr<captured_log> capture_log() {
  auto sink = std::make_shared<captured_log>();
  spdlog::drop("sluice");
  spdlog::register_logger(std::make_shared<spdlog::logger>("sluice", sink));
  return sink;
}

/// Fails every start: on_start of attempt k throws "attempt k failed".
class failing_receiver : public receiver<int> {
 public:
  void on_start() override {
    throw std::runtime_error("attempt " + std::to_string(++*attempts_) + " failed");
  }
  void on_stop() override {}
  std::shared_ptr<std::atomic<int>> attempts_ = std::make_shared<std::atomic<int>>(0);
};

conf failing_conf() {
  auto c = fixtures::manual_conf();
  c.set("sluice.streaming.receiverRestartDelay", "20ms");
  c.set("sluice.streaming.receiver.maxRestarts", "2");
  // The log lines asserted here are the receiver's: not the UI's address.
  c.set("sluice.ui.enabled", "false");
  return c;
}

const std::string gave_up = "Receiver stream 0 (receiver_stream 0) stopped after 2 restarts "
                            "within 60000 ms (sluice.streaming.receiver.maxRestarts=2); last "
                            "error: on_start threw: attempt 3 failed";

} // namespace

// Spark would run on with an empty stream forever; a supervision tree
// escalates: the receiver's give-up stops the context with its error.
BOOST_AUTO_TEST_CASE(past_the_restart_limit_the_context_stops_with_the_receivers_error) {
  auto log = capture_log();
  streaming_context ssc{failing_conf(), seconds(1)};
  failing_receiver r;
  auto attempts = r.attempts_;
  ssc.receiver_stream(r).foreach_rdd([](const rdd<int>&) {});
  ssc.start();
  BOOST_CHECK_EXCEPTION(ssc.await_termination_or_timeout(seconds(20)), sluice::error,
                        [](const sluice::error& e) {
                          BOOST_TEST(e.what() == gave_up);
                          return true;
                        });
  BOOST_TEST(attempts->load() == 3);
  // Every later await says why too.
  BOOST_CHECK_THROW(ssc.await_termination_or_timeout(seconds(1)), sluice::error);
  BOOST_TEST(log->lines()
               == (strings{"warning: Receiver stream 0 (receiver_stream 0): Restarting receiver "
                           "with delay 20 ms: on_start threw: attempt 1 failed",
                           "warning: Receiver stream 0 (receiver_stream 0): Restarting receiver "
                           "with delay 40 ms: on_start threw: attempt 2 failed",
                           "error: " + gave_up,
                           "error: Stopping the streaming context: a receiver stopped for good "
                           "(sluice.streaming.receiver.stopContextAfterMaxRestarts=true)"}),
             boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(asked_to_keep_running_the_context_runs_on_without_the_receiver) {
  auto log = capture_log();
  auto c = failing_conf();
  c.set("sluice.streaming.receiver.stopContextAfterMaxRestarts", "false");
  streaming_context ssc{c, seconds(1)};
  auto events = std::make_shared<fixtures::receiver_events>();
  auto counter = std::make_shared<batch_counter>();
  ssc.add_listener(events);
  ssc.add_listener(counter);
  ssc.receiver_stream(failing_receiver{}).foreach_rdd([](const rdd<int>&) {});
  fixtures::sink<int> out;
  out.attach(ssc.queue_stream<int>({{1}, {2}, {3}}));
  ssc.start();
  BOOST_REQUIRE(events->wait_errors(4)); // 3 failed starts + the give-up
  int batches = 0;
  fixtures::advance_until(ssc, *counter, out, 3, batches);
  BOOST_TEST(!ssc.await_termination_or_timeout(milliseconds(1))); // still running
  ssc.stop();
  BOOST_CHECK_NO_THROW(ssc.await_termination());
  BOOST_TEST(out.records() == (std::vector<int>{1, 2, 3}), boost::test_tools::per_element());
  BOOST_TEST(events->errors().back().last_error == gave_up);
  auto lines = log->lines();
  BOOST_REQUIRE(lines.size() >= 4u);
  BOOST_TEST(lines[2] == "error: " + gave_up);
  BOOST_TEST(lines[3]
             == "warning: The streaming context keeps running without the receiver "
                "(sluice.streaming.receiver.stopContextAfterMaxRestarts=false)");
}

BOOST_AUTO_TEST_CASE(stop_context_after_max_restarts_is_a_checked_boolean) {
  conf c;
  BOOST_CHECK_EXCEPTION(
    c.set("sluice.streaming.receiver.stopContextAfterMaxRestarts", "no"), sluice::invalid_argument,
    [](const sluice::invalid_argument& e) {
      return std::string(e.what())
             == "invalid value 'no' for sluice.streaming.receiver.stopContextAfterMaxRestarts: "
                "expected true or false";
    });
}

BOOST_AUTO_TEST_CASE(errors_a_receiver_reports_are_logged) {
  auto log = capture_log();
  struct reporting_receiver : receiver<int> {
    void on_start() override { report_error("disk nearly full"); }
    void on_stop() override {}
  };
  auto c = fixtures::manual_conf();
  c.set("sluice.ui.enabled", "false");  // its address would be logged too
  streaming_context ssc{c, seconds(1)};
  auto events = std::make_shared<fixtures::receiver_events>();
  ssc.add_listener(events);
  ssc.receiver_stream(reporting_receiver{}).foreach_rdd([](const rdd<int>&) {});
  ssc.start();
  BOOST_REQUIRE(events->wait_errors(1));
  ssc.stop();
  ssc.await_termination();
  BOOST_TEST(log->lines()
               == (strings{"info: Receiver stream 0 (receiver_stream 0): Receiver started",
                           "warning: Receiver stream 0 (receiver_stream 0): Reported error disk "
                           "nearly full",
                           "info: Receiver stream 0 (receiver_stream 0): Stopping receiver with "
                           "message: the context stops"}),
             boost::test_tools::per_element());
}

// What a user of the sample sees: network_word_count against a port where
// nothing listens says on stderr why its batches are empty, and past the
// restart limit it stops with the receiver's error.
BOOST_AUTO_TEST_CASE(the_sample_logs_its_receiver_restarts_then_stops_with_the_error) {
  fixtures::tcp_server refused{false}; // bound, not listening: connections are refused
  fixtures::temp_dir dir{"receiver-failure"};
  auto err_path = dir.path() / "stderr";
  std::string program = SLUICE_SAMPLES_DIR "/network_word_count";
  auto port = std::to_string(refused.port());
  pid_t pid = ::fork();
  BOOST_REQUIRE(pid >= 0);
  if (pid == 0) { // only async-signal-safe calls until exec
    int out = ::open("/dev/null", O_WRONLY);
    int err = ::open(err_path.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
    ::dup2(out, 1);
    ::dup2(err, 2);
    ::execl(program.c_str(), program.c_str(), "--conf", "sluice.streaming.receiver.maxRestarts=3",
            "127.0.0.1", port.c_str(), nullptr);
    ::_exit(127);
  }
  // Backoff 100, 200, 400 ms, then the fourth failure is one too many.
  int status = -1;
  bool exited = fixtures::eventually([&] { return ::waitpid(pid, &status, WNOHANG) == pid; }, 20s);
  if (!exited) {
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
  }
  BOOST_REQUIRE(exited);
  BOOST_TEST((WIFEXITED(status) && WEXITSTATUS(status) == 1), "status " << status);
  strings warnings, last;
  std::ifstream in{err_path};
  for (std::string line; std::getline(in, line);) {
    if (auto at = line.find("[sluice] [warning] "); at != std::string::npos)
      warnings.push_back(line.substr(at + 19));
    last = {line};
  }
  auto at = "127.0.0.1:" + port;
  auto who = "Receiver stream 0 (socket_text_stream " + at + " 0)";
  auto cause = "Error connecting to " + at + ": " + std::strerror(ECONNREFUSED);
  BOOST_TEST(warnings
               == (strings{who + ": Restarting receiver with delay 100 ms: " + cause,
                           who + ": Restarting receiver with delay 200 ms: " + cause,
                           who + ": Restarting receiver with delay 400 ms: " + cause}),
             boost::test_tools::per_element());
  BOOST_TEST(last
               == strings{"network_word_count: " + who
                          + " stopped after 3 restarts within 60000 ms "
                            "(sluice.streaming.receiver.maxRestarts=3); last error: "
                          + cause},
             boost::test_tools::per_element());
}
