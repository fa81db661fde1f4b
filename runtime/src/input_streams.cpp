// streaming_context's built-in input streams that read from outside the
// process: socket_text_stream (a receiver) and text_file_stream.
#include "sluice/detail/file_source.hpp"
#include "sluice/detail/socket_receiver.hpp"
#include "sluice/streaming_context.hpp"

namespace sluice {

/// Throws invalid_argument for an empty host or port 0 (nothing can listen
/// there); a host that cannot be resolved or reached is a receiver error,
/// reported to the listeners and retried, never thrown.
dstream<std::string> streaming_context::socket_text_stream(const std::string& host,
                                                           uint16_t port) {
  if (host.empty())
    throw invalid_argument("socket_text_stream: the host must not be empty");
  if (port == 0)
    throw invalid_argument("socket_text_stream: port must be in 1..65535, got 0");
  // Spark picks its reliable receivers from the conf at stream creation too.
  auto& c = config();
  detail::socket_receiver r{host, port,
                            c.get_bool("sluice.streaming.receiver.writeAheadLog.enable", false),
                            c.get_bool("sluice.streaming.socket.acknowledge", false),
                            c.get_int("sluice.streaming.socket.maxLineBytes",
                                      detail::socket_receiver::default_max_line_bytes)};
  auto name = "socket_text_stream " + r.endpoint();
  return receiver_stream_named(std::move(r), std::move(name));
}

/// Throws invalid_argument for an empty directory name; a directory that
/// is missing when a batch lists it fails that job (sluice::error).
dstream<std::string> streaming_context::text_file_stream(const std::string& directory) {
  if (directory.empty())
    throw invalid_argument("text_file_stream: the directory must not be empty");
  return add_source(std::make_unique<detail::file_source>(batch_interval(), directory));
}

} // namespace sluice
