// chaos_run's faults carried out against a running program.
#include "inject.hpp"

#include <csignal>
#include <iostream>

namespace chaos_run {

namespace {

void fill_disk(program& p, small_disk& disk, milliseconds full_for) {
  auto workers = children_of(p.pid());
  auto filler = disk.fill();
  auto since = clock_type::now();
  bool stopped = wait_until([&] { return p.exited(); }, full_for);
  auto held = std::chrono::duration_cast<milliseconds>(clock_type::now() - since).count();
  disk.give_back();
  if (!stopped) {
    std::cout << "full-disk: the program still ran " << held << " ms after " << disk.path().string()
              << " was filled (no write it made needed a new block, or it does not stop on a "
                 "failed one); the room is back"
              << std::endl;
    return;
  }
  wait_gone(workers, std::chrono::seconds(30)); // as after kill-driver
  std::cout << "full-disk: the program stopped (" << p.how_it_ended() << ") " << held
            << " ms after " << disk.path().string() << " was filled (" << filler
            << " bytes of filler): " << p.last_log_line() << std::endl;
  p.start();
}

} // namespace

void keep_alive(program& p) {
  if (p.exited())
    p.start();
}

void inject(program& p, const fault& f, small_disk* disk, milliseconds full_for) {
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
    case fault_kind::full_disk:
      fill_disk(p, *disk, full_for);
      break;
  }
}

} // namespace chaos_run
