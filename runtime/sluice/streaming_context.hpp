// streaming_context: Spark's StreamingContext. Owns the DStream graph, the
// CAF actor system and the engine's actors.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#include <caf/all.hpp>

#include "sluice/clock.hpp"
#include "sluice/conf.hpp"
#include "sluice/detail/receiver_source.hpp"
#include "sluice/receiver.hpp"
#include "sluice/dstream.hpp"
#include "sluice/listener.hpp"
#include "sluice/rdd.hpp"
#include "sluice/source.hpp"

namespace sluice {

namespace detail {
class context_impl;
struct context_access;
} // namespace detail

/// Lifecycle: built (initialized) -> start() (active) -> stop() (stopped).
/// Graph building, start() and add_listener() belong to one thread; stop()
/// and await_termination*() may be called from any thread, including from
/// inside an output operation (then stop() returns at once and the stop
/// completes on the engine's lifecycle thread).
class streaming_context {
 public:
  /// Throws invalid_argument for a bad conf value or a non-positive interval.
  streaming_context(conf c, duration batch_interval);
  ~streaming_context();
  streaming_context(streaming_context&&) noexcept;
  streaming_context& operator=(streaming_context&&) noexcept;

  /// Builds the context with `create` (Spark's getOrCreate: the program
  /// must build the same graph every time) and, when `checkpoint_dir` holds
  /// a checkpoint, sets it up to recover from the newest one whose metadata
  /// and state verify (README "Checkpoints and recovery"). Throws
  /// `illegal_state` when the graph or a state type changed,
  /// `storage_corruption` (a `storage_error`) naming the directory when
  /// checkpoints exist but none can be recovered, unless
  /// `sluice.streaming.checkpoint.startFreshIfCorrupt=true` (then the damaged
  /// database is moved aside and the context starts fresh, saying so on
  /// stderr), and `storage_error` when the directory cannot be used.
  static streaming_context get_or_create(const std::string& checkpoint_dir,
                                         std::function<streaming_context()> create);

  // -- input streams ------------------------------------------------------------

  /// One queued vector per batch (or all at once), then empty batches.
  template <class T>
  dstream<T> queue_stream(std::vector<std::vector<T>> batches, bool one_at_a_time = true) {
    rdd_queue<T> queue;
    for (auto& b : batches)
      queue.push(std::move(b));
    return queue_stream(queue, one_at_a_time);
  }

  /// Spark's queueStream(queue, oneAtATime, defaultRDD): each batch takes the
  /// oldest batch of `queue` (or all of them when not `one_at_a_time`); when
  /// the queue is empty, `default_rdd` or an empty batch. The stream shares
  /// the queue: push to it from any thread, before or after start().
  template <class T>
  dstream<T> queue_stream(rdd_queue<T>& queue, bool one_at_a_time = true,
                          std::optional<rdd<std::type_identity_t<T>>> default_rdd = {}) {
    auto src = std::make_unique<detail::queue_source<T>>(batch_interval(), queue, one_at_a_time,
                                                         std::move(default_rdd));
    return add_source(std::move(src));
  }

  /// Lines of text from a TCP server (a receiver; restarts with backoff).
  dstream<std::string> socket_text_stream(const std::string& host, uint16_t port);

  /// Lines of files that appear (by rename) in `directory` after start.
  dstream<std::string> text_file_stream(const std::string& directory);

  /// A stream of what a custom receiver stores (R derives from receiver<T>).
  template <class R>
  dstream<typename R::value_type> receiver_stream(R r) {
    return receiver_stream_named(std::move(r), "receiver_stream");
  }

  template <class T>
  dstream<T> union_of(std::vector<dstream<T>> streams) {
    if (streams.empty())
      throw invalid_argument("union_of: expected at least one stream, got none");
    auto out = streams[0];
    for (size_t i = 1; i < streams.size(); ++i)
      out = out.union_with(streams[i]);
    return out;
  }

  template <class T>
  rdd<T> make_rdd(std::vector<T> data, int partitions) {
    if (partitions < 1)
      throw invalid_argument("make_rdd: partitions must be >= 1, got "
                             + std::to_string(partitions));
    return rdd<T>::slice(std::move(data), partitions, parallelism());
  }

  // -- configuration ------------------------------------------------------------

  /// Sets the checkpoint directory, creating it (and its parents) if missing.
  /// Throws invalid_argument for an empty name, illegal_state after start(),
  /// and storage_error naming the directory and the cause when it cannot be
  /// created (e.g. a file of that name exists).
  void checkpoint(const std::string& directory);
  void remember(duration d);
  void add_listener(std::shared_ptr<streaming_listener> listener);

  // -- lifecycle ----------------------------------------------------------------

  /// Plans the graph into actors and starts the clock. Throws illegal_state
  /// without output operations, when already started or when stopped.
  void start();
  /// Blocks until stopped; rethrows the error that stopped the context. A
  /// user function's exception comes back as "<operator> (operator <id>)
  /// failed at batch <t> ms: <its message>", with its sluice type
  /// (invalid_argument, illegal_state, no_such_element, storage_error) or
  /// else as sluice::error.
  void await_termination();
  /// Returns true if the context stopped within `timeout` (rethrows errors).
  bool await_termination_or_timeout(duration timeout);
  /// Stops the context. Graceful: stop receivers, finish every batch up to
  /// now (bounded by sluice.streaming.gracefulStopTimeout), then stop.
  void stop(bool stop_gracefully = false);

  /// Only with sluice.streaming.clock=manual; throws illegal_state otherwise.
  sluice::manual_clock& manual_clock();

  caf::actor_system& system();
  duration batch_interval() const;
  int parallelism() const;
  const sluice::conf& config() const;
  /// The web UI's address, e.g. "http://127.0.0.1:4040", while it serves:
  /// from start() to stop(), unless sluice.ui.enabled=false; "" otherwise.
  std::string ui_url() const;

 private:
  friend struct detail::context_access;

  template <class S, class T = typename S::value_type>
  dstream<T> add_source(std::unique_ptr<S> src) {
    auto g = graph();
    auto* raw = g->add(std::move(src));
    g->add_source(raw);
    return dstream<T>{g, raw};
  }

  template <class R>
  dstream<typename R::value_type> receiver_stream_named(R r, std::string name) {
    static_assert(std::is_base_of_v<receiver<typename R::value_type>, R>,
                  "receiver_stream expects a class derived from sluice::receiver<T>");
    detail::receiver_env env{&system(), config(),
                             [impl = impl_.get()] { return checkpoint_dir(impl); },
                             [impl = impl_.get()] { return recovered(impl); },
                             transport_of(impl_.get())};
    return add_source(std::make_unique<detail::receiver_source<R>>(
      batch_interval(), std::make_shared<R>(std::move(r)), std::move(env), std::move(name)));
  }

  std::shared_ptr<detail::graph> graph();
  static std::optional<std::string> checkpoint_dir(detail::context_impl* impl);
  static std::optional<int64_t> recovered(detail::context_impl* impl);
  static std::shared_ptr<detail::transport> transport_of(detail::context_impl* impl);

  std::shared_ptr<detail::context_impl> impl_;
};

} // namespace sluice
