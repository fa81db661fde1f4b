// chaos_run's faults carried out against a running program.
#include "inject.hpp"

#include <csignal>

namespace chaos_run {

void keep_alive(program& p) {
  if (p.exited())
    p.start();
}

void inject(program& p, const fault& f) {
  switch (f.kind) {
    case fault_kind::kill_driver:
      p.kill_driver();
      p.start();
      break;
    case fault_kind::stop_driver:
      ::kill(p.pid(), SIGSTOP);
      std::this_thread::sleep_for(milliseconds(f.stop_ms)); // the fault is the pause
      ::kill(p.pid(), SIGCONT);
      break;
    case fault_kind::kill_worker:
    case fault_kind::stop_worker: {
      auto workers = children_of(p.pid());
      if (workers.empty())
        break; // local[N]: no worker to hit
      auto w = workers[static_cast<size_t>(f.after_file) % workers.size()];
      if (f.kind == fault_kind::kill_worker) {
        ::kill(w, SIGKILL);
      } else {
        ::kill(w, SIGSTOP);
        std::this_thread::sleep_for(milliseconds(f.stop_ms));
        ::kill(w, SIGCONT);
      }
      break;
    }
  }
}

} // namespace chaos_run
