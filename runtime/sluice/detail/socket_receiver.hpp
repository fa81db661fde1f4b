// socket_text_stream's receiver: Spark's SocketReceiver, built on the public
// receiver<T> API (so it is supervised, rate-limited and WAL-backed like any
// custom receiver).
#pragma once

#include <atomic>
#include <cstdint>
#include <string>
#include <thread>

#include "sluice/receiver.hpp"

namespace sluice::detail {

/// Receives '\n'-terminated lines of text from a TCP server.
///
/// Contract:
/// - on_start creates one thread that resolves `host` (IPv4 or IPv6,
///   "localhost" included), connects, and stores every complete line
///   (without '\n' and a trailing '\r'). A partial last line at end of
///   stream counts as a line.
/// - A refused, failed or lost connection (end of stream or error) makes the
///   thread call restart() with a message naming host:port and the cause,
///   then end: the supervisor reports the error and starts the receiver
///   again after its backoff (100 ms, doubling on consecutive failures).
/// - on_stop wakes the thread whether it is connecting or reading and joins
///   it. A partial line pending at stop is dropped.
class socket_receiver final : public receiver<std::string> {
 public:
  socket_receiver(std::string host, uint16_t port) : host_(std::move(host)), port_(port) {}
  socket_receiver(const socket_receiver& other) : host_(other.host_), port_(other.port_) {}
  ~socket_receiver() override;

  void on_start() override;
  void on_stop() override;

  /// "host:port", as error messages name the endpoint.
  std::string endpoint() const;

 private:
  void run();
  /// Returns a connected socket, or -1 with `err` set (or when stopping).
  int connect_once(std::string& err);
  /// Stores lines from `fd` until end of stream, an error or stop. Returns
  /// why the connection ended ("" when stopping).
  std::string read_lines(int fd);
  /// Waits until `fd` is ready or the wake pipe fires; false when stopping.
  bool wait_ready(int fd, short events);
  void close_pipe();

  std::string host_;
  uint16_t port_;
  std::atomic<bool> stopping_{false};
  int wake_[2] = {-1, -1};  ///< self-pipe: on_stop writes, the thread polls
  std::thread thread_;
};

} // namespace sluice::detail
