// Splitting helpers shared by the benchmarks: the words of a line (split on
// ' ', empty pieces dropped), lazily for flat_map, and the matching
// single-thread baseline count.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstddef>
#include <cstdint>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <optional>
#include <random>
#include <stdexcept>
#include <string>
#include <string_view>
#include <unistd.h>
#include <unordered_map>
#include <utility>
#include <vector>

#include "sluice/sluice.hpp"
#include "spread.hpp"

namespace bench {

/// Iterates the space-separated words of a line, each made a `Word`
/// (std::string: a copy; std::string_view: a view into the line).
template <class Word>
class word_iterator {
 public:
  using value_type = Word;
  using difference_type = std::ptrdiff_t;
  word_iterator() = default;
  explicit word_iterator(std::string_view s) : s_(s) { next(); }
  Word operator*() const { return Word(s_.substr(begin_, end_ - begin_)); }
  word_iterator& operator++() {
    next();
    return *this;
  }
  void operator++(int) { next(); }
  bool operator==(const word_iterator& o) const { return begin_ == o.begin_; }

 private:
  void next() {
    size_t n = s_.size();
    size_t b = end_;
    while (b < n && s_[b] == ' ')
      ++b;
    if (b >= n) {
      begin_ = end_ = std::string_view::npos;
      return;
    }
    size_t e = s_.find(' ', b);
    begin_ = b;
    end_ = e == std::string_view::npos ? n : e;
  }
  std::string_view s_;
  size_t begin_ = std::string_view::npos;
  size_t end_ = 0;
};

/// The words of one line, produced lazily: flat_map iterates it without
/// building a vector per line (the same helper as in word_count.cpp).
class words {
 public:
  using iterator = word_iterator<std::string>;
  explicit words(std::string line) : line_(std::move(line)) {}
  iterator begin() const { return iterator{line_}; }
  iterator end() const { return iterator{}; }

 private:
  std::string line_;
};

/// The words of a line the program keeps, as views into it: what records
/// that view their input (the API proposal of issue 15) would cost.
class view_words {
 public:
  using iterator = word_iterator<std::string_view>;
  explicit view_words(std::string_view line) : line_(line) {}
  iterator begin() const { return iterator{line_}; }
  iterator end() const { return iterator{}; }

 private:
  std::string_view line_;
};

/// Calls `f(word)` (a std::string_view into `line`) for every word of `line`.
template <class F>
void for_each_word(std::string_view s, F&& f) {
  size_t i = 0, n = s.size();
  while (i < n) {
    while (i < n && s[i] == ' ')
      ++i;
    if (i >= n)
      break;
    size_t e = s.find(' ', i);
    if (e == std::string_view::npos)
      e = n;
    f(s.substr(i, e - i));
    i = e;
  }
}

using clock_type = std::chrono::steady_clock;

/// The lines of the text file at `path`; nullopt when it cannot be opened.
inline std::optional<std::vector<std::string>> read_lines(const std::string& path) {
  std::ifstream in{path};
  if (!in)
    return std::nullopt;
  std::vector<std::string> lines;
  for (std::string line; std::getline(in, line);)
    lines.push_back(std::move(line));
  return lines;
}

/// The process's CPU time (every thread, user and system), in seconds: over
/// a run, CPU / wall time tells how many cores the engine kept busy.
inline double process_cpu_seconds() {
  timespec ts{};
  clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) / 1e9;
}

inline double seconds_since(clock_type::time_point t0) {
  return std::chrono::duration<double>(clock_type::now() - t0).count();
}


/// Waits for batch completions reported on the listener bus.
class completion_waiter : public sluice::streaming_listener {
 public:
  void on_batch_completed(const sluice::batch_info&) override {
    std::lock_guard<std::mutex> guard{mtx_};
    ++completed_;
    cv_.notify_all();
  }
  bool wait_for(int n, std::chrono::seconds deadline) {
    std::unique_lock<std::mutex> guard{mtx_};
    return cv_.wait_for(guard, deadline, [&] { return completed_ >= n; });
  }

 private:
  std::mutex mtx_;
  std::condition_variable cv_;
  int completed_ = 0; // guarded by mtx_
};

/// Runs `batches` batches of `interval` under ssc's manual clock with up to
/// `jobs` in flight (batch i starts once batch i - jobs is done), and waits
/// for the last one. Throws when a batch takes longer than 10 minutes.
inline void run_in_flight(sluice::streaming_context& ssc, completion_waiter& waiter,
                          int batches, int jobs, sluice::duration interval) {
  for (int i = 1; i <= batches; ++i) {
    if (i > jobs && !waiter.wait_for(i - jobs, std::chrono::seconds(600)))
      throw std::runtime_error("timed out waiting for batch " + std::to_string(i - jobs));
    ssc.manual_clock().advance(interval);
  }
  if (!waiter.wait_for(batches, std::chrono::seconds(600)))
    throw std::runtime_error("timed out waiting for the last batch");
}

/// The baseline every word-count benchmark compares against: one thread,
/// split on ' ', count into std::unordered_map<std::string_view, long>.
struct baseline_result {
  long words = 0;
  size_t distinct = 0;
  double seconds = 0;
};

inline baseline_result count_words_baseline(const std::vector<std::string>& lines) {
  auto t0 = clock_type::now();
  std::unordered_map<std::string_view, long> counts;
  long total = 0;
  for (auto& line : lines)
    for_each_word(line, [&](std::string_view w) {
      ++counts[w];
      ++total;
    });
  return {total, counts.size(), seconds_since(t0)};
}

/// Records every completed batch's processing delay and wakes the driver.
class batch_recorder : public sluice::streaming_listener {
 public:
  void on_batch_completed(const sluice::batch_info& b) override {
    std::lock_guard<std::mutex> guard{mtx_};
    delays_us_[b.time.ms] = b.processing_delay_us();
    ++completed_;
    cv_.notify_all();
  }
  bool wait_for(int n, std::chrono::seconds deadline) {
    std::unique_lock<std::mutex> guard{mtx_};
    return cv_.wait_for(guard, deadline, [&] { return completed_ >= n; });
  }
  /// (batch time, processing delay in ms), in batch order.
  std::vector<std::pair<int64_t, double>> delays_ms() {
    std::lock_guard<std::mutex> guard{mtx_};
    std::vector<std::pair<int64_t, double>> out;
    for (auto& [t, us] : delays_us_)
      out.emplace_back(t, static_cast<double>(us) / 1000.0);
    return out;
  }

 private:
  std::mutex mtx_;
  std::condition_variable cv_;
  int completed_ = 0;                    // guarded by mtx_
  std::map<int64_t, int64_t> delays_us_; // guarded by mtx_
};

/// A fresh directory under the temp dir (`<name>-<pid>-<n>`), removed with
/// this object.
class temp_dir {
 public:
  explicit temp_dir(const std::string& name) {
    static std::atomic<int> seq{0};
    path_ = std::filesystem::temp_directory_path()
            / (name + "-" + std::to_string(::getpid()) + "-" + std::to_string(++seq));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~temp_dir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  temp_dir(const temp_dir&) = delete;
  temp_dir& operator=(const temp_dir&) = delete;
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

/// `batches` batches of `per_batch` (key, 1) updates, keys drawn uniformly
/// from [0, keys) by a generator seeded with `seed`.
inline std::vector<std::vector<std::pair<int64_t, int64_t>>>
uniform_updates(int64_t keys, int batches, int per_batch, uint64_t seed) {
  std::mt19937_64 rng{seed};
  std::uniform_int_distribution<int64_t> pick{0, keys - 1};
  std::vector<std::vector<std::pair<int64_t, int64_t>>> out(static_cast<size_t>(batches));
  for (auto& b : out) {
    b.reserve(static_cast<size_t>(per_batch));
    for (int i = 0; i < per_batch; ++i)
      b.emplace_back(pick(rng), 1);
  }
  return out;
}

/// Keys 0 .. keys-1, each with state 0: the initial state of the state benchmarks.
inline std::vector<std::pair<int64_t, int64_t>> initial_state(int64_t keys) {
  std::vector<std::pair<int64_t, int64_t>> out;
  out.reserve(static_cast<size_t>(keys));
  for (int64_t k = 0; k < keys; ++k)
    out.emplace_back(k, 0);
  return out;
}

} // namespace bench
