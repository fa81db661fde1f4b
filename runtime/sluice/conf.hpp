// conf: Spark's SparkConf with `spark.` keys renamed to `sluice.` (API.md).
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>

#include "sluice/time.hpp"

namespace sluice {

/// Key/value configuration. Setters return `*this` for chaining. Values of
/// known keys are validated by `set` and again when a context is built;
/// a bad value throws `sluice::invalid_argument` naming the key and the value.
class conf {
 public:
  /// Starts from the defaults in the file named by the environment variable
  /// `SLUICE_CONF_FILE`, when set (Spark's spark-defaults.conf: see
  /// `load_file`); values set in code afterwards win over them.
  conf();

  /// With `load_defaults` false, ignores `SLUICE_CONF_FILE` (Spark's
  /// `new SparkConf(false)`).
  explicit conf(bool load_defaults);

  /// Sets every entry of the file at `path`: one `key value` or `key=value`
  /// per line, blank lines and lines starting with `#` ignored, keys starting
  /// with `sluice.`. Throws `sluice::invalid_argument` naming the file, the
  /// line number and the key (or the line) for a file that cannot be read, a
  /// line without a value, a key outside `sluice.` and a bad value.
  conf& load_file(const std::string& path);

  conf& app_name(std::string name);
  conf& master(std::string master);
  conf& set(std::string key, std::string value);

  std::optional<std::string> get(const std::string& key) const;

  /// Returns the application name ("sluice" when unset).
  std::string app_name() const;
  /// Returns the master URL ("local[*]" when unset; sluice.master.override
  /// when set, which runs a program's suites in another mode).
  std::string master() const;

  // -- typed access (throw invalid_argument on a malformed value) -------------

  duration get_duration(const std::string& key, duration fallback) const;
  int64_t get_int(const std::string& key, int64_t fallback) const;
  double get_double(const std::string& key, double fallback) const;
  bool get_bool(const std::string& key, bool fallback) const;

  /// Returns N for "local[N]", the core count for "local[*]", 1 for "local".
  int parallelism() const;

  /// Checks every known key; throws invalid_argument on the first bad one.
  void validate() const;

  const std::map<std::string, std::string>& entries() const { return entries_; }

 private:
  std::map<std::string, std::string> entries_;
};

/// Parses "200ms", "2s", "1min", "1h" or a bare number of milliseconds.
/// Throws `sluice::invalid_argument` naming `what` and the text otherwise.
duration parse_duration(const std::string& text, const std::string& what = "duration");

/// Parses a master URL; returns the default parallelism it gives (local
/// threads, or the cores of a local-cluster), or throws invalid_argument.
int parse_master(const std::string& master);

} // namespace sluice
