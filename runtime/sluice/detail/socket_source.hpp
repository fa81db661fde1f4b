// socket_text_stream's source: Spark's SocketReceiver, run on a receiver
// thread that the engine's actors never share.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "sluice/errors.hpp"
#include "sluice/source.hpp"

namespace sluice::detail {

/// Receives '\n'-terminated lines of text from a TCP server.
///
/// Contract:
/// - `start` spawns one std::thread (the receiver) and reports "started". The
///   receiver resolves `host` (IPv4 or IPv6, "localhost" included), connects,
///   and appends every complete line (without '\n' and a trailing '\r') to a
///   buffer. A partial last line at end of stream counts as a line.
/// - A refused, failed or lost connection (end of stream or error) is reported
///   as "error" with `last_error` naming host:port and the cause; the receiver
///   then reconnects after a backoff of 100 ms, doubling up to 2 s, reset to
///   100 ms after every successful connection. Nothing escapes the thread.
/// - `generate` takes every line buffered so far as one partition (index 0),
///   or returns zero partitions (an empty batch) when nothing arrived.
/// - `stop` wakes the receiver whether it is connecting, reading or backing
///   off (only name resolution cannot be interrupted), joins it and reports
///   "stopped". A partial line pending at stop is dropped; complete lines
///   stay for later `generate`s. Idempotent; the destructor stops too.
class socket_source final : public source_node<std::string> {
 public:
  socket_source(duration batch, std::string host, uint16_t port);
  ~socket_source() override;

  socket_source(const socket_source&) = delete;
  socket_source& operator=(const socket_source&) = delete;

  void start(const source_env& env) override;
  void stop() override;
  std::optional<parts> generate(batch_time t) override;

  /// "host:port", as error messages name the endpoint.
  std::string endpoint() const;

 private:
  /// The receiver thread's loop: connect, read, back off, until stopped.
  void run();
  /// Returns a connected socket, or -1 with `err` set (or when stopping).
  int connect_once(std::string& err);
  /// Reads lines from `fd` until end of stream, an error or stop. Returns
  /// the reason the connection ended ("" when stopping).
  std::string read_lines(int fd);
  /// Waits until `fd` is ready for `events` or the wake pipe fires. Returns
  /// false when stopping.
  bool wait_ready(int fd, short events);
  /// Waits for `d` or until stopped. Returns false when stopping.
  bool backoff(std::chrono::milliseconds d);
  void append(std::vector<std::string>&& lines);
  /// Appends a partial last line (the connection ended after it) as a line.
  void flush_partial(std::string& partial);
  void report(const std::string& what, const std::string& error = {});
  bool stopping();

  std::string host_;
  uint16_t port_;
  source_env env_;

  std::mutex mtx_;               ///< guards everything below
  std::condition_variable cv_;   ///< wakes the backoff wait on stop
  bool stopping_ = false;
  bool started_ = false;
  std::vector<std::string> buffer_;
  int wake_[2] = {-1, -1};       ///< self-pipe: stop writes, the receiver polls
  std::thread thread_;
};

} // namespace sluice::detail
