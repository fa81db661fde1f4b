#define BOOST_TEST_MODULE runtime/file_stream
#include <boost/test/unit_test.hpp>

#include <atomic>
#include <filesystem>
#include <fstream>

#include "fixtures/stream_io.hpp"

using namespace sluice;
namespace fs = std::filesystem;
using strings = std::vector<std::string>;
using partitions = std::vector<strings>;

namespace {

/// A unique directory under the system temp directory, removed at the end.
struct temp_dir {
  fs::path path;
  temp_dir() {
    static std::atomic<int> n{0};
    path = fs::temp_directory_path()
           / ("sluice-file-stream-" + std::to_string(::getpid()) + "-" + std::to_string(n++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~temp_dir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
};

void write(const fs::path& p, const std::string& text) {
  std::ofstream out{p, std::ios::binary};
  out << text;
}

/// Writes under a hidden name, then renames into place (as Spark advises).
void publish(const temp_dir& d, const std::string& name, const std::string& text) {
  write(d.path / ("." + name + ".part"), text);
  fs::rename(d.path / ("." + name + ".part"), d.path / name);
}

struct pipeline {
  streaming_context ssc{fixtures::manual_conf(), seconds(2)};
  std::shared_ptr<fixtures::batch_counter> counter = std::make_shared<fixtures::batch_counter>();
  fixtures::sink<strings> out; // one element per partition (glom)
  int batches = 0;

  explicit pipeline(const fs::path& dir) {
    out.attach(ssc.text_file_stream(dir.string()).glom());
    ssc.add_listener(counter);
  }
  /// Runs one batch and returns its partitions.
  partitions step() {
    ssc.manual_clock().advance(seconds(2));
    counter->wait_for(++batches);
    return out.batches().back();
  }
};

} // namespace

BOOST_AUTO_TEST_CASE(new_files_are_read_once_in_name_order) {
  temp_dir d;
  write(d.path / "old.txt", "old\n");
  pipeline p{d.path};
  p.ssc.start();
  BOOST_TEST((p.step() == partitions{})); // the old file is ignored: an empty batch
  publish(d, "a.txt", "x\ny\n");
  BOOST_TEST((p.step() == (partitions{{"x", "y"}})));
  BOOST_TEST((p.step() == partitions{})); // read once
  publish(d, "c.txt", "c1\r\nc2"); // no final newline; a "\r\n" line end
  publish(d, "b.txt", "b1\n\nb3\n");
  BOOST_TEST((p.step() == (partitions{{"b1", "", "b3"}, {"c1", "c2"}})));
  write(d.path / "d.txt", "late\n"); // a new file, written in place
  BOOST_TEST((p.step() == (partitions{{"late"}})));
  p.ssc.stop();
  p.ssc.await_termination();
}

BOOST_AUTO_TEST_CASE(hidden_and_temporary_files_are_never_read) {
  temp_dir d;
  pipeline p{d.path};
  p.ssc.start();
  write(d.path / "part.tmp", "tmp\n");
  write(d.path / "_hidden", "hidden\n");
  write(d.path / ".dot", "dot\n");
  write(d.path / "f._COPYING_", "copying\n");
  fs::create_directories(d.path / "sub");
  write(d.path / "sub" / "nested.txt", "nested\n");
  BOOST_TEST((p.step() == partitions{}));
  publish(d, "real.txt", "real\n");
  BOOST_TEST((p.step() == (partitions{{"real"}})));
  BOOST_TEST((p.step() == partitions{}));
  p.ssc.stop();
  p.ssc.await_termination();
  BOOST_TEST(p.out.batches().size() == 3u);
}

BOOST_AUTO_TEST_CASE(a_missing_directory_fails_the_context) {
  temp_dir d;
  auto dir = d.path / "input";
  fs::create_directories(dir);
  pipeline p{dir};
  p.ssc.start();
  BOOST_TEST((p.step() == partitions{}));
  fs::remove_all(dir);
  p.ssc.manual_clock().advance(seconds(2));
  BOOST_CHECK_EXCEPTION(p.ssc.await_termination_or_timeout(seconds(20)), sluice::error,
                        [&](const sluice::error& e) {
                          BOOST_TEST_MESSAGE(e.what());
                          return std::string(e.what()).find(dir.string()) != std::string::npos;
                        });
}

BOOST_AUTO_TEST_CASE(an_empty_directory_name_is_invalid) {
  streaming_context ssc{fixtures::manual_conf(), seconds(1)};
  BOOST_CHECK_THROW(ssc.text_file_stream(""), sluice::invalid_argument);
}
