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
/// - Unreliable (`reliable` false, the WAL off): each line is stored on its
///   own with store(T), as Spark's SocketReceiver does.
/// - Reliable (`reliable` true, the receiver WAL on): the complete lines of
///   each recv() chunk (at most max_chunk_lines at a time) are stored as one
///   block with the reliable store(std::vector<T>), which returns once the
///   block is in the WAL.
/// - With `acknowledge` too (sluice.streaming.socket.acknowledge=true), after
///   each reliable store the thread writes "ack <n>\n" back on the socket,
///   n = the lines stored on this connection so far (cumulative; a new
///   connection counts from 0; a dropped over-long line counts too, as it is
///   done with). A server that resends everything after the
///   last ack it read loses nothing when the process dies. A failed ack
///   write loses the connection like a failed read (at end of stream the
///   last ack is best effort). The context refuses to start with
///   acknowledge but without the WAL.
/// - A line longer than `max_line_bytes` (sluice.streaming.socket.maxLineBytes,
///   the bytes before its '\n', a trailing '\r' included) is dropped: the
///   receiver keeps at most max_line_bytes of a line, discards the rest up to
///   the next '\n', then reports one receiver error naming the endpoint, the
///   limit and the bytes the line had, and goes on with the next line on the
///   same connection. Memory per connection stays bounded by the limit (and
///   one recv() buffer) whatever the peer sends.
/// - A refused, failed or lost connection (end of stream or error) makes the
///   thread call restart() with a message naming host:port and the cause,
///   then end: the supervisor reports the error and starts the receiver
///   again after its backoff (100 ms, doubling on consecutive failures).
/// - on_stop wakes the thread whether it is connecting or reading and joins
///   it. A partial line pending at stop is dropped.
class socket_receiver final : public receiver<std::string> {
 public:
  /// Lines of one reliable store at most (a recv() chunk may hold more).
  static constexpr size_t max_chunk_lines = 10'000;
  /// sluice.streaming.socket.maxLineBytes by default: 1 MiB, Kafka's default
  /// message size limit; far above any line a text protocol sends.
  static constexpr int64_t default_max_line_bytes = 1 << 20;

  socket_receiver(std::string host, uint16_t port, bool reliable = false,
                  bool acknowledge = false, int64_t max_line_bytes = default_max_line_bytes)
      : host_(std::move(host)), port_(port), reliable_(reliable), acknowledge_(acknowledge),
        max_line_bytes_(static_cast<size_t>(max_line_bytes)) {}
  socket_receiver(const socket_receiver& other)
      : host_(other.host_), port_(other.port_), reliable_(other.reliable_),
        acknowledge_(other.acknowledge_), max_line_bytes_(other.max_line_bytes_) {}
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
  /// read_lines when reliable_: one reliable store per chunk, then the ack.
  std::string read_chunks(int fd);
  /// Writes "ack <n>\n" to `fd`; returns the failure ("" when sent or
  /// stopping, `stop` then set).
  std::string send_ack(int fd, int64_t n, bool& stop);
  /// Waits until `fd` is ready or the wake pipe fires; false when stopping.
  bool wait_ready(int fd, short events);
  void close_pipe();
  /// Reports a dropped over-long line of `bytes` bytes (`at_end`: cut by the
  /// end of the connection, not by a '\n').
  void report_too_long(uint64_t bytes, bool at_end);

  std::string host_;
  uint16_t port_;
  bool reliable_;     ///< the WAL is on: store chunks reliably
  bool acknowledge_;  ///< answer each reliable store with "ack <n>"
  size_t max_line_bytes_;  ///< longer lines are dropped and reported
  std::atomic<bool> stopping_{false};
  int wake_[2] = {-1, -1};  ///< self-pipe: on_stop writes, the thread polls
  std::thread thread_;
};

} // namespace sluice::detail
