#define BOOST_TEST_MODULE runtime/lifecycle
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "fixtures/error_text.hpp"
#include "fixtures/harness.hpp"
#include "sluice/fault_injector.hpp"

using namespace sluice;
using fixtures::contains;
using fixtures::manual_conf;
using fixtures::message_of;

BOOST_AUTO_TEST_CASE(start_without_output_operation_is_illegal) {
  streaming_context ssc{manual_conf(), seconds(1)};
  ssc.queue_stream<int>({{1}}).map([](int x) { return x; });
  auto msg = message_of<illegal_state>([&] { ssc.start(); });
  BOOST_TEST(contains(msg, "No output operations registered"));
}

BOOST_AUTO_TEST_CASE(adding_operations_after_start_is_illegal) {
  streaming_context ssc{manual_conf(), seconds(1)};
  auto s = ssc.queue_stream<int>({{1}});
  s.foreach_rdd([](const rdd<int>&) {});
  ssc.start();
  auto msg = message_of<illegal_state>([&] { s.map([](int x) { return x; }); });
  BOOST_TEST(contains(msg, "after starting a context"));
  BOOST_CHECK_THROW(s.print(), illegal_state);
  ssc.stop();
}

BOOST_AUTO_TEST_CASE(bad_arguments_name_their_values) {
  BOOST_TEST(contains(message_of<invalid_argument>([] {
    streaming_context ssc{manual_conf(), milliseconds(0)};
  }), "0 ms"));
  BOOST_TEST(contains(message_of<invalid_argument>([] {
    streaming_context ssc{conf{}.master("local[x]"), seconds(1)};
  }), "local[x]"));
  streaming_context ssc{manual_conf(), seconds(1)};
  auto s = ssc.queue_stream<int>({{1}});
  BOOST_TEST(contains(message_of<invalid_argument>([&] { s.repartition(0); }), "got 0"));
  BOOST_TEST(contains(message_of<invalid_argument>([&] { s.print(0); }), "got 0"));
  BOOST_TEST(contains(message_of<invalid_argument>([&] { ssc.make_rdd<int>({1}, -2); }),
                      "got -2"));
  BOOST_TEST(contains(message_of<invalid_argument>([&] { ssc.union_of<int>({}); }), "none"));
  streaming_context system{conf{}.master("local[1]"), seconds(1)};
  BOOST_TEST(contains(message_of<illegal_state>([&] { system.manual_clock(); }),
                      "sluice.streaming.clock=manual"));
}

BOOST_AUTO_TEST_CASE(make_rdd_slices_like_spark_and_one_partition_takes_the_vector) {
  streaming_context ssc{manual_conf(), seconds(1)};
  auto three = ssc.make_rdd(std::vector<int>{1, 2, 3, 4, 5, 6, 7}, 3);
  BOOST_TEST(three.num_partitions() == 3);
  BOOST_TEST(three.partitions()[0] == (std::vector<int>{1, 2}), boost::test_tools::per_element());
  BOOST_TEST(three.partitions()[1] == (std::vector<int>{3, 4}), boost::test_tools::per_element());
  BOOST_TEST(three.partitions()[2] == (std::vector<int>{5, 6, 7}),
             boost::test_tools::per_element());
  std::vector<int> data{1, 2, 3};
  const int* bytes = data.data();
  auto one = ssc.make_rdd(std::move(data), 1);
  BOOST_TEST(one.num_partitions() == 1);
  BOOST_TEST(one.partitions()[0] == (std::vector<int>{1, 2, 3}), boost::test_tools::per_element());
  BOOST_TEST(one.partitions()[0].data() == bytes); // moved, not copied
}

BOOST_AUTO_TEST_CASE(user_exception_stops_context_and_is_rethrown) {
  streaming_context ssc{manual_conf(), seconds(1)};
  ssc.queue_stream<int>({{1, 2}, {3}})
    .map([](int x) {
      if (x == 3)
        throw std::runtime_error("bad record 3");
      return x;
    })
    .foreach_rdd([](const rdd<int>&) {});
  ssc.start();
  ssc.manual_clock().advance(seconds(2));
  auto msg = message_of<sluice::error>([&] { ssc.await_termination(); });
  BOOST_TEST(msg == "map (operator 1) failed at batch 2000 ms: bad record 3");
}

BOOST_AUTO_TEST_CASE(exception_in_output_operation_is_rethrown) {
  streaming_context ssc{manual_conf(), seconds(1)};
  ssc.queue_stream<int>({{1}}).foreach_rdd([](const rdd<int>& r) {
    throw std::runtime_error("sink failed with " + std::to_string(r.count()) + " records");
  });
  ssc.start();
  ssc.manual_clock().advance(seconds(1));
  BOOST_TEST(message_of<sluice::error>([&] { ssc.await_termination(); })
             == "foreach_rdd (operator 1) failed at batch 1000 ms: sink failed with 1 records");
}

BOOST_AUTO_TEST_CASE(stop_from_inside_an_output_operation) {
  streaming_context ssc{manual_conf(), seconds(1)};
  std::atomic<int> batches{0};
  ssc.queue_stream<int>({{1}, {2}, {3}}).foreach_rdd([&](const rdd<int>&) {
    if (++batches == 2)
      ssc.stop();
  });
  ssc.start();
  ssc.manual_clock().advance(seconds(2));
  BOOST_TEST(ssc.await_termination_or_timeout(seconds(20)));
  ssc.manual_clock().advance(seconds(5)); // stopped: no more batches run
  BOOST_TEST(batches.load() == 2);
}

BOOST_AUTO_TEST_CASE(stop_from_another_thread_and_timeouts) {
  // A graceful stop waits for the next batch time, which this manual clock
  // never reaches: the timeout bounds it.
  streaming_context ssc{manual_conf().set("sluice.streaming.gracefulStopTimeout", "100ms"),
                        seconds(1)};
  ssc.queue_stream<int>({{1}}).foreach_rdd([](const rdd<int>&) {});
  ssc.start();
  BOOST_TEST(!ssc.await_termination_or_timeout(milliseconds(10)));
  std::thread t{[&] { ssc.stop(true); }};
  ssc.await_termination();
  t.join();
  BOOST_TEST(ssc.await_termination_or_timeout(milliseconds(0)));
  ssc.stop(); // idempotent
  BOOST_TEST(contains(message_of<illegal_state>([&] { ssc.start(); }), "already been stopped"));
}

BOOST_AUTO_TEST_CASE(listener_sees_batch_and_output_events_in_order) {
  struct recorder : streaming_listener {
    std::mutex mtx;
    std::vector<std::string> events;
    void add(std::string e) {
      std::lock_guard<std::mutex> g{mtx};
      events.push_back(std::move(e));
    }
    void on_batch_submitted(const batch_info& b) override { add("submitted " + to_string(b.time)); }
    void on_batch_started(const batch_info& b) override { add("started " + to_string(b.time)); }
    void on_batch_completed(const batch_info& b) override {
      add("completed " + to_string(b.time) + " records=" + std::to_string(b.num_records)
          + (b.processing_end_us >= b.processing_start_us
             && b.processing_start_us >= b.submission_us ? " ordered" : " unordered"));
    }
    void on_output_operation_started(const output_operation_info& o) override {
      add("op-start " + std::to_string(o.id) + " " + o.name);
    }
    void on_output_operation_completed(const output_operation_info& o) override {
      add("op-end " + std::to_string(o.id));
    }
  };
  auto rec = std::make_shared<recorder>();
  auto counter = std::make_shared<fixtures::batch_counter>();
  streaming_context ssc{manual_conf(), seconds(1)};
  auto s = ssc.queue_stream<int>({{1, 2, 3}});
  s.foreach_rdd([](const rdd<int>&) {});
  s.count().foreach_rdd([](const rdd<int64_t>&) {});
  ssc.add_listener(rec);
  ssc.add_listener(counter);
  ssc.start();
  ssc.manual_clock().advance(seconds(1));
  counter->wait_for(1);
  ssc.stop();
  std::vector<std::string> want{"submitted 1000 ms", "started 1000 ms", "op-start 0 foreach_rdd",
                                "op-end 0", "op-start 1 foreach_rdd", "op-end 1",
                                "completed 1000 ms records=3 ordered"};
  BOOST_TEST(rec->events == want, boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(print_uses_spark_layout) {
  std::ostringstream captured;
  auto* old = std::cout.rdbuf(captured.rdbuf());
  {
    auto counter = std::make_shared<fixtures::batch_counter>();
    streaming_context ssc{manual_conf("local[2]"), seconds(1)};
    using kv = std::pair<std::string, int>;
    auto s = ssc.queue_stream<kv>({{{"a", 1}, {"b", 2}, {"c", 3}}, {}});
    s.print(2);
    ssc.queue_stream<double>({{1.0, 2.5}, {}}).print();
    ssc.add_listener(counter);
    ssc.start();
    ssc.manual_clock().advance(seconds(2));
    counter->wait_for(2);
    ssc.stop();
  }
  std::cout.rdbuf(old);
  std::string line = "-------------------------------------------\n";
  std::string want = line + "Time: 1000 ms\n" + line + "(a,1)\n(b,2)\n...\n\n"
                     + line + "Time: 1000 ms\n" + line + "1.0\n2.5\n\n"
                     + line + "Time: 2000 ms\n" + line + "\n"
                     + line + "Time: 2000 ms\n" + line + "\n";
  BOOST_TEST(captured.str() == want);
}

BOOST_AUTO_TEST_CASE(save_as_text_files_writes_one_directory_per_batch) {
  namespace fs = std::filesystem;
  auto dir = fs::temp_directory_path() / ("sluice-save-" + std::to_string(::getpid()));
  fs::remove_all(dir);
  {
    auto counter = std::make_shared<fixtures::batch_counter>();
    streaming_context ssc{manual_conf("local[2]"), seconds(1)};
    ssc.queue_stream<int>({{1, 2, 3}}).save_as_text_files((dir / "out").string(), "txt");
    ssc.add_listener(counter);
    ssc.start();
    ssc.manual_clock().advance(seconds(2));
    counter->wait_for(2);
    ssc.stop();
  }
  auto read = [](const fs::path& p) {
    std::ifstream f{p};
    return std::string{std::istreambuf_iterator<char>{f}, {}};
  };
  BOOST_TEST(read(dir / "out-1000.txt" / "part-00000") == "1\n");
  BOOST_TEST(read(dir / "out-1000.txt" / "part-00001") == "2\n3\n");
  BOOST_TEST(fs::exists(dir / "out-1000.txt" / "_SUCCESS"));
  BOOST_TEST(read(dir / "out-2000.txt" / "part-00000") == "");
  size_t entries = 0;
  for ([[maybe_unused]] auto& e : fs::directory_iterator{dir})
    ++entries;
  BOOST_TEST(entries == 2u); // no temporary directories left behind
  fs::remove_all(dir);
}

BOOST_AUTO_TEST_CASE(fault_point_operator_run_armed_from_conf_fails_the_batch) {
  auto c = manual_conf();
  c.set("sluice.fault.operator.run", "throw,after=2,times=1");
  std::atomic<int> batches{0};
  {
    streaming_context ssc{c, seconds(1)};
    // One source stage at local[2]: two operator.run hits per batch, so the
    // third hit (batch 2) throws.
    ssc.queue_stream<int>({{1, 2}, {3, 4}}).foreach_rdd([&](const rdd<int>&) { ++batches; });
    ssc.start();
    ssc.manual_clock().advance(seconds(2));
    auto msg = message_of<sluice::error>([&] { ssc.await_termination(); });
    BOOST_TEST(contains(msg, "operator.run"));
  }
  sluice::fault_injector::global().disarm_all();
  BOOST_TEST(batches.load() == 1);
  BOOST_TEST(contains(message_of<invalid_argument>([] {
    conf{}.set("sluice.fault.operator.run", "explode");
  }), "explode"));
}

BOOST_AUTO_TEST_CASE(an_operator_actor_that_dies_stops_the_context_with_its_name) {
  streaming_context ssc{manual_conf("local[1]"), seconds(1)};
  ssc.queue_stream<int>({{1}})
    .map([](int x) {
      if (x == 1)
        throw 42; // not a std::exception: the operator actor itself terminates
      return x;
    })
    .foreach_rdd([](const rdd<int>&) {});
  ssc.start();
  ssc.manual_clock().advance(seconds(1));
  auto msg = message_of<sluice::error>([&] { ssc.await_termination(); });
  BOOST_TEST(contains(msg, "operator actor (stage 0 slot 0) terminated"), msg);
}
