// Errors a user meets are sluice errors that say where they come from (issue
// 9, finding 8): checkpoint directories that cannot be used, exceptions of
// user functions (named by operator and batch time), start() twice and
// checkpoint(dir) after start().
#define BOOST_TEST_MODULE runtime/api_errors
#include <boost/test/unit_test.hpp>

#include <fstream>

#include "fixtures/harness.hpp"
#include "sluice/error.hpp"

using namespace sluice;
using fixtures::manual_conf;
using fixtures::temp_dir;

namespace {

/// Returns "<type>: <message>" of what `f` throws: the type is the most
/// derived sluice type, so a test sees both.
std::string thrown_by(const std::function<void()>& f) {
  try {
    f();
  } catch (const storage_error& e) {
    return std::string{"storage_error: "} + e.what();
  } catch (const invalid_argument& e) {
    return std::string{"invalid_argument: "} + e.what();
  } catch (const illegal_state& e) {
    return std::string{"illegal_state: "} + e.what();
  } catch (const no_such_element& e) {
    return std::string{"no_such_element: "} + e.what();
  } catch (const sluice::error& e) {
    return std::string{"error: "} + e.what();
  } catch (const std::exception& e) {
    return std::string{"not a sluice::error: "} + e.what();
  }
  return "<no exception>";
}

/// Runs the pipeline `build` makes for `batches` batches and returns what
/// await_termination throws. Checks that the listeners heard the same
/// error, with the same type, once (on_streaming_failed).
std::string failure_of(const std::function<void(streaming_context&)>& build, int batches,
                       const std::string& checkpoint_dir = {}) {
  streaming_context ssc{manual_conf(), seconds(1)};
  auto counter = std::make_shared<fixtures::batch_counter>();
  ssc.add_listener(counter);
  if (!checkpoint_dir.empty())
    ssc.checkpoint(checkpoint_dir);
  build(ssc);
  ssc.start();
  ssc.manual_clock().advance(seconds(batches));
  auto thrown = thrown_by([&] { ssc.await_termination(); });
  auto reported = counter->wait_for_failure();
  BOOST_TEST(reported.size() == 1u);
  BOOST_TEST(reported[0].type + ": " + reported[0].message == thrown);
  return thrown;
}

using kv = std::pair<std::string, int>;

} // namespace

// -- checkpoint directories ---------------------------------------------------

BOOST_AUTO_TEST_CASE(a_checkpoint_directory_that_is_a_file_is_a_storage_error) {
  temp_dir dir{"api-file"};
  auto file = (dir.path() / "not-a-dir").string();
  std::ofstream{file} << "x";
  auto expected = "storage_error: sluice: cannot create checkpoint directory " + file
                  + ": Not a directory (a file of that name exists)";
  // Before: std::filesystem::filesystem_error, which a catch of sluice::error misses.
  BOOST_TEST(thrown_by([&] {
               streaming_context ssc{manual_conf(), seconds(1)};
               ssc.checkpoint(file);
             })
             == expected);
  BOOST_TEST(thrown_by([&] {
               streaming_context::get_or_create(file, [] {
                 streaming_context ssc{manual_conf(), seconds(1)};
                 ssc.queue_stream<int>({}).print();
                 return ssc;
               });
             })
             == expected);
}

BOOST_AUTO_TEST_CASE(a_checkpoint_directory_that_cannot_be_created_is_a_storage_error) {
  temp_dir dir{"api-under-file"};
  std::ofstream{dir.path() / "file"} << "x";
  auto under = (dir.path() / "file" / "checkpoints").string();
  BOOST_TEST(thrown_by([&] {
               streaming_context ssc{manual_conf(), seconds(1)};
               ssc.checkpoint(under);
             })
             == "storage_error: sluice: cannot create checkpoint directory " + under
                  + ": Not a directory");
}

// -- user functions -----------------------------------------------------------

BOOST_AUTO_TEST_CASE(a_failing_map_is_named_with_its_batch_time) {
  // Operators: 0 queue_stream, 1 map, 2 foreach_rdd.
  BOOST_TEST(failure_of(
               [](streaming_context& ssc) {
                 ssc.queue_stream<int>({{1, 2}, {3}})
                   .map([](int x) {
                     if (x == 3)
                       throw std::runtime_error("bad record 3");
                     return x;
                   })
                   .foreach_rdd([](const rdd<int>&) {});
               },
               2)
             == "error: map (operator 1) failed at batch 2000 ms: bad record 3");
}

BOOST_AUTO_TEST_CASE(in_a_fused_chain_the_failing_operator_is_named) {
  // map, filter and map run as one chain; the filter (operator 2) throws.
  BOOST_TEST(failure_of(
               [](streaming_context& ssc) {
                 ssc.queue_stream<int>({{1, 2}})
                   .map([](int x) { return x * 10; })
                   .filter([](const int& x) {
                     if (x == 20)
                       throw std::out_of_range("no 20s");
                     return true;
                   })
                   .map([](int x) { return x + 1; })
                   .foreach_rdd([](const rdd<int>&) {});
               },
               1)
             == "error: filter (operator 2) failed at batch 1000 ms: no 20s");
}

BOOST_AUTO_TEST_CASE(a_failing_reduce_function_names_the_shuffle_operator) {
  // The map-side combine runs in the map's actor; the failure is the reduce's.
  BOOST_TEST(failure_of(
               [](streaming_context& ssc) {
                 ssc.queue_stream<kv>({{{"a", 1}}, {{"a", 1}, {"a", 2}}})
                   .reduce_by_key([](int, int) -> int { throw std::runtime_error("no sums"); })
                   .foreach_rdd([](const rdd<kv>&) {});
               },
               2)
             == "error: combine_by_key (operator 1) failed at batch 2000 ms: no sums");
}

BOOST_AUTO_TEST_CASE(a_failing_reduce_is_named_where_the_partitions_are_reduced_too) {
  // The partitions are reduced in the map's actor, their results at the
  // reduce's gather: a failure in either is the reduce's (operator 2).
  for (int fail_at : {1, 2}) {
    BOOST_TEST(failure_of(
                 [fail_at](streaming_context& ssc) {
                   // Batch 1's partitions hold one record each: f runs only at
                   // the gather. Batch 2's first partition holds two.
                   ssc.queue_stream<int>({{1, 2}, {3, 4, 5, 6}})
                     .map([](int x) { return x; })
                     .reduce([fail_at](int a, int b) -> int {
                       if (fail_at == 1 || a == 3)
                         throw std::runtime_error("no sums");
                       return a + b;
                     })
                     .foreach_rdd([](const rdd<int>&) {});
                 },
                 fail_at)
               == "error: reduce (operator 2) failed at batch " + std::to_string(fail_at * 1000)
                    + " ms: no sums");
  }
}

BOOST_AUTO_TEST_CASE(a_failing_transform_and_output_operation_are_named) {
  BOOST_TEST(failure_of(
               [](streaming_context& ssc) {
                 ssc.queue_stream<int>({{1}})
                   .transform([](const rdd<int>&) -> rdd<int> {
                     throw std::runtime_error("cannot transform");
                   })
                   .foreach_rdd([](const rdd<int>&) {});
               },
               1)
             == "error: transform (operator 1) failed at batch 1000 ms: cannot transform");
  BOOST_TEST(failure_of(
               [](streaming_context& ssc) {
                 ssc.queue_stream<int>({{1}, {2}}).foreach_rdd([](const rdd<int>& r) {
                   if (r.collect() == std::vector<int>{2})
                     throw std::runtime_error("sink refused 2");
                 });
               },
               2)
             == "error: foreach_rdd (operator 1) failed at batch 2000 ms: sink refused 2");
}

BOOST_AUTO_TEST_CASE(a_stateful_operator_failure_keeps_its_sluice_type) {
  temp_dir dir{"api-state"};
  using spec_t = state_spec<std::string, int, int, kv>;
  auto run = [&](std::function<void(state<int>&)> body) {
    return failure_of(
      [&](streaming_context& ssc) {
        ssc.queue_stream<kv>({{{"a", 1}}})
          .map_with_state(spec_t::function([body](const std::string& k, std::optional<int>,
                                                  state<int>& s) {
            body(s);
            return kv{k, 0};
          }))
          .foreach_rdd([](const rdd<kv>&) {});
      },
      1, dir.str());
  };
  // Operators: 0 queue_stream, 1 map_with_state, 2 flat_map, 3 foreach_rdd.
  BOOST_TEST(run([](state<int>& s) { s.get(); })
             == "no_such_element: map_with_state (operator 1) failed at batch 1000 ms: State is "
                "not set");
  BOOST_TEST(run([](state<int>& s) {
               s.remove();
               s.update(1);
             })
             == "invalid_argument: map_with_state (operator 1) failed at batch 1000 ms: "
                "requirement failed: Cannot update the state after it has been removed");
}

// -- lifecycle ----------------------------------------------------------------

BOOST_AUTO_TEST_CASE(starting_a_started_context_is_illegal_and_leaves_it_running) {
  streaming_context ssc{manual_conf(), seconds(1)};
  auto counter = std::make_shared<fixtures::batch_counter>();
  ssc.add_listener(counter);
  ssc.queue_stream<int>({{1}, {2}}).foreach_rdd([](const rdd<int>&) {});
  ssc.start();
  // Before: returned silently.
  BOOST_TEST(thrown_by([&] { ssc.start(); })
             == "illegal_state: StreamingContext has already been started");
  ssc.manual_clock().advance(seconds(2));
  counter->wait_for(2);
  ssc.stop();
  BOOST_TEST(thrown_by([&] { ssc.start(); })
             == "illegal_state: StreamingContext has already been stopped");
}

BOOST_AUTO_TEST_CASE(setting_the_checkpoint_directory_after_start_is_illegal) {
  temp_dir dir{"api-late"};
  auto late = (dir.path() / "late").string();
  streaming_context ssc{manual_conf(), seconds(1)};
  ssc.queue_stream<int>({{1}}).foreach_rdd([](const rdd<int>&) {});
  ssc.start();
  // Before: accepted (and the directory created), though no checkpoint is written there.
  BOOST_TEST(thrown_by([&] { ssc.checkpoint(late); })
             == "illegal_state: checkpoint(dir) must be called before start()");
  BOOST_TEST(!std::filesystem::exists(late));
  ssc.stop();
}
