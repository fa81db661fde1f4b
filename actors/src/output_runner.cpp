#include "sluice/output_runner.hpp"

#include <any>
#include <exception>
#include <functional>
#include <tuple>
#include <utility>

#include "sluice/actor_probe.hpp"
#include "sluice/listener_bus.hpp"

namespace sluice::detail {

namespace {

thread_local bool in_job = false;

} // namespace

bool on_job_thread() { return in_job; }

output_run run_output_job(const std::function<void()>& job) {
  output_run r;
  r.start_us = now_us();
  struct on_job {
    on_job() { in_job = true; }
    ~on_job() { in_job = false; }
  };
  try {
    on_job scope;
    job();
  } catch (const std::exception& e) {
    r.failed = true;
    r.what = e.what();
    r.cause = std::current_exception();
  } catch (...) {
    r.failed = true;
    r.what = "an exception that is not a std::exception";
    r.cause = std::current_exception();
  }
  r.end_us = now_us();
  return r;
}

caf::behavior output_runner(caf::stateful_actor<output_runner_state>* self,
                            std::shared_ptr<transport> net) {
  return {
    [self](introspect_atom) { return std::vector<actor_report>{self_report(self)}; },
    [net](run_atom, uint64_t handle) {
      std::function<void()> job;
      if (auto x = net->take(handle))
        job = std::any_cast<std::function<void()>>(std::move(*x));
      output_run r;
      if (job)
        r = run_output_job(job);
      else
        r.start_us = r.end_us = now_us();
      uint64_t cause = r.cause ? net->keep(r.cause) : 0;
      return std::make_tuple(r.start_us, r.end_us, r.failed, std::move(r.what), cause);
    },
  };
}

} // namespace sluice::detail
