// The context's lifecycle after start(): the lifecycle thread (a lost
// worker's replacement, a stop asked for from a job or from that thread),
// failures and how they reach await_termination, stop and await.
#include <exception>
#include <thread>

#include "context_impl.hpp"
#include "shutdown_hook.hpp"
#include "sluice/deterministic.hpp"
#include "sluice/error.hpp"
#include "sluice/executor.hpp"
#include "sluice/job_scheduler.hpp"
#include "ui/web_ui.hpp"

namespace sluice::detail {

namespace {

thread_local bool on_lifecycle_thread = false;

} // namespace

void context_impl::lifecycle_loop() {
  on_lifecycle_thread = true;
  std::unique_lock<std::mutex> guard{mtx_};
  for (;;) {
    cv_.wait(guard, [this] {
      return stop_request_.has_value() || state_ == context_state::stopped
             || !replace_requests_.empty();
    });
    if (state_ == context_state::stopped)
      return;
    if (stop_request_)
      break;
    // A lost cluster worker: its share is placed on the others.
    auto [worker, why] = std::move(replace_requests_.front());
    replace_requests_.erase(replace_requests_.begin());
    guard.unlock();
    replace_worker(worker, why);
    guard.lock();
  }
  bool graceful = *stop_request_;
  guard.unlock();
  do_stop(graceful);
}

void context_impl::request_replace(std::string worker, std::string why) {
  std::lock_guard<std::mutex> guard{mtx_};
  replace_requests_.emplace_back(std::move(worker), std::move(why));
  cv_.notify_all();
}

void context_impl::request_stop(bool graceful) {
  std::lock_guard<std::mutex> guard{mtx_};
  if (!stop_request_)
    stop_request_ = graceful;
  cv_.notify_all();
}

context_impl::failure_type context_impl::current_failure_type() {
  auto type = failure_type::error;
  if (auto cause = std::current_exception()) {
    try {
      std::rethrow_exception(cause);
    } catch (const storage_error&) {
      type = failure_type::storage;
    } catch (const invalid_argument&) {
      type = failure_type::invalid_argument;
    } catch (const illegal_state&) {
      type = failure_type::illegal_state;
    } catch (const no_such_element&) {
      type = failure_type::no_such_element;
    } catch (...) {
    }
  }
  return type;
}

void context_impl::publish_failure(std::string what, failure_type type) {
  if (!bus_)
    return;
  static constexpr const char* names[] = {"error", "storage_error", "invalid_argument",
                                          "illegal_state", "no_such_element"};
  detail::listener_event e;
  e.what = detail::listener_event::kind::streaming_failed;
  e.time_us = detail::now_us();
  e.failure = {std::move(what), names[static_cast<size_t>(type)], e.time_us};
  caf::anon_send(bus_, std::move(e));
}

void context_impl::fail(std::string what) {
  // Callers report from inside their catch block: the exception in flight
  // gives the type await_termination rethrows (storage_error for a full or
  // read-only disk or a corrupt row; a user function's sluice::error kind).
  auto type = current_failure_type();
  bool first = false;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (!error_) {
      error_ = what;
      failure_type_ = type;
      first = true;
    }
  }
  // Before the stop request: the bus delivers it before it drains.
  if (first)
    publish_failure(std::move(what), type);
  request_stop(false);
}

void context_impl::rethrow_failure() const {
  if (!error_)
    return;
  switch (failure_type_) {
    case failure_type::storage:
      throw storage_error(*error_);
    case failure_type::invalid_argument:
      throw invalid_argument(*error_);
    case failure_type::illegal_state:
      throw illegal_state(*error_);
    case failure_type::no_such_element:
      throw no_such_element(*error_);
    case failure_type::error:
      break;
  }
  throw error(*error_);
}

void context_impl::stop(bool graceful) {
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (state_ == context_state::initialized) {
      state_ = context_state::stopped;
      cv_.notify_all();
      return;
    }
    if (state_ == context_state::stopped)
      return;
  }
  if (on_job_thread() || on_lifecycle_thread || in_deterministic_run()) {
    request_stop(graceful); // the lifecycle thread completes it
    return;
  }
  do_stop(graceful);
  if (lifecycle_.joinable() && std::this_thread::get_id() != lifecycle_.get_id())
    lifecycle_.join();
}

void context_impl::do_stop(bool graceful) {
  std::lock_guard<std::mutex> once{stop_mtx_};
  unregister_shutdown_hook(this);
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (state_ != context_state::active)
      return;
  }
  for (auto* s : g->sources())
    s->stop();
  stop_receivers();
  caf::scoped_actor self{*sys};
  if (graceful) {
    auto timeout = cfg.get_duration("sluice.streaming.gracefulStopTimeout", batch * 10);
    int64_t now = manual ? clock.now().ms : system_now_ms();
    int64_t b = batch.count();
    // Everything received before the stop goes into batches up to the next
    // batch time (with a manual clock, the test must move it there).
    int64_t until = (now / b + 1) * b;
    ask(self, wiring_->scheduler, timeout, drain_atom::value, until);
  }
  self->send_exit(generator_, caf::exit_reason::user_shutdown);
  // Waits for a running output operation to finish, bounded.
  ask(self, wiring_->scheduler, std::chrono::seconds(60), stop_atom::value);
  ask(self, bus_, std::chrono::seconds(10), drain_atom::value);
  ask(self, executor_, std::chrono::seconds(10), stop_atom::value);
  end_cluster(self, std::chrono::seconds(3));
  self->send_exit(wiring_->scheduler, caf::exit_reason::user_shutdown);
  self->send_exit(bus_, caf::exit_reason::user_shutdown);
  self->send_exit(sampler_, caf::exit_reason::user_shutdown);
  stop_checkpoint_writer(self);
  if (manual)
    clock.on_advance({});
  if (ui)
    ui->stop();
  std::lock_guard<std::mutex> guard{mtx_};
  state_ = context_state::stopped;
  cv_.notify_all();
}

void context_impl::await() {
  if (simulated) {
    settle();
    std::lock_guard<std::mutex> guard{mtx_};
    if (state_ != context_state::stopped)
      throw illegal_state("await_termination: with sluice.streaming.clock=simulated nothing runs "
                          "but what the manual clock starts, and every actor is idle: move the "
                          "clock or stop the context");
    rethrow_failure();
    return;
  }
  std::unique_lock<std::mutex> guard{mtx_};
  cv_.wait(guard, [this] { return state_ == context_state::stopped; });
  rethrow_failure();
}

bool context_impl::await_for(duration d) {
  if (simulated) {
    // Nothing would happen while it waited: no thread but this one runs.
    settle();
    std::lock_guard<std::mutex> guard{mtx_};
    bool done = state_ == context_state::stopped;
    if (done)
      rethrow_failure();
    return done;
  }
  std::unique_lock<std::mutex> guard{mtx_};
  bool done = cv_.wait_for(guard, d, [this] { return state_ == context_state::stopped; });
  if (done)
    rethrow_failure();
  return done;
}

} // namespace sluice::detail
