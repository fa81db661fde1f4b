// The simulated cluster's bookkeeping: which worker contexts exist, their
// actor systems on the network, and the connections prepared between them
// (runtime/sluice/detail/sim_cluster.hpp).
#include "sluice/detail/sim_cluster.hpp"

#include <chrono>

#include <caf/actor_system.hpp>

#include "sluice/error.hpp"
#include "sluice/sim_network.hpp"
#include "sluice/streaming_context.hpp"

namespace sluice::detail {

namespace {

thread_local sim_cluster* current_cluster = nullptr;

} // namespace

struct sim_cluster::worker {
  int index = 0;
  caf::actor_system* sys = nullptr;
  std::unique_ptr<streaming_context> ctx;
  bool started = false;
  bool lost = false;
  bool stalled = false;
  std::shared_ptr<std::promise<std::pair<int, std::string>>> exit
    = std::make_shared<std::promise<std::pair<int, std::string>>>();
  std::future<std::pair<int, std::string>> exited = exit->get_future();
};

sim_cluster::sim_cluster(factory make_worker)
  : make_worker_(std::move(make_worker)), net_(std::make_unique<sim_network>()) {
  if (current_cluster != nullptr)
    throw illegal_state("sim_cluster: this thread runs a simulated cluster already");
  current_cluster = this;
}

sim_cluster::~sim_cluster() {
  // Each worker context ends its actors and leaves the network as it is
  // destroyed (context_impl's destructor); the driver's has left already.
  while (!workers_.empty()) {
    workers_.back()->ctx.reset();
    workers_.pop_back();
  }
  net_.reset();
  current_cluster = nullptr;
}

sim_cluster* sim_cluster::current() { return current_cluster; }

sim_network& sim_cluster::network() { return *net_; }

void sim_cluster::add_workers(caf::actor_system& driver, int n, int context) {
  driver_ = &driver;
  auto first = workers_.size();
  for (int k = 0; k < n; ++k) {
    auto index = static_cast<int>(workers_.size());
    // Only workers before it connect to a worker's peer endpoint, and the
    // test multiplexer opens a fixed port only for a prepared connection:
    // the first has any port (0), which nobody connects to.
    bool linked_to = !alive().empty();
    auto w = std::make_unique<worker>();
    w->index = index;
    workers_.push_back(std::move(w));
    building_ = worker_role{index, context, "sim-worker-" + std::to_string(index),
                            linked_to ? static_cast<uint16_t>(first_peer_port + index)
                                      : uint16_t{0}};
    std::unique_ptr<streaming_context> ctx;
    try {
      ctx = make_worker_();
    } catch (...) {
      building_.reset();
      workers_.pop_back();
      throw;
    }
    building_.reset();
    auto& added = *workers_.back();
    if (added.sys == nullptr)
      throw illegal_state("sim_cluster: the worker factory built no simulated worker context");
    added.ctx = std::move(ctx);
    net_->connect(driver, *added.sys, host, driver_port);
  }
  // A worker links to the peers after it in the driver's join order
  // (worker_peers.cpp): the order added, survivors first.
  auto live = alive();
  for (size_t i = 0; i < live.size(); ++i)
    for (size_t j = i + 1; j < live.size(); ++j) {
      auto& a = *workers_[static_cast<size_t>(live[i])];
      auto& b = *workers_[static_cast<size_t>(live[j])];
      if (static_cast<size_t>(b.index) >= first)
        net_->connect(*b.sys, *a.sys, host, static_cast<uint16_t>(first_peer_port + b.index));
    }
}

void sim_cluster::start_workers() {
  for (auto& w : workers_)
    if (!w->started) {
      w->started = true;
      w->ctx->start();
    }
}

void sim_cluster::lose(int index) {
  if (index < 0 || static_cast<size_t>(index) >= workers_.size() || workers_[index]->lost)
    throw invalid_argument("sim_cluster::lose: no live worker " + std::to_string(index));
  auto& w = *workers_[static_cast<size_t>(index)];
  w.lost = true;
  net_->cut(*w.sys);
}

void sim_cluster::lose_after(int index, size_t steps) {
  if (index < 0 || static_cast<size_t>(index) >= workers_.size() || workers_[index]->lost)
    throw invalid_argument("sim_cluster::lose_after: no live worker " + std::to_string(index));
  auto& w = *workers_[static_cast<size_t>(index)];
  net_->cut_after(*w.sys, steps);
  w.lost = true;
}

bool sim_cluster::loss_armed() const {
  return net_->cut_armed();
}

void sim_cluster::strike_armed() {
  net_->cut_now();
}

size_t sim_cluster::steps() const {
  return net_->steps();
}

void sim_cluster::stall(int index) {
  if (index < 0 || static_cast<size_t>(index) >= workers_.size() || workers_[index]->lost
      || workers_[index]->stalled)
    throw invalid_argument("sim_cluster::stall: no live, running worker " + std::to_string(index));
  auto& w = *workers_[static_cast<size_t>(index)];
  w.stalled = true;
  net_->stall(*w.sys);
}

sim_cluster::resumed sim_cluster::resume(int index) {
  if (index < 0 || static_cast<size_t>(index) >= workers_.size() || !workers_[index]->stalled)
    throw invalid_argument("sim_cluster::resume: worker " + std::to_string(index)
                           + " is not stalled");
  auto& w = *workers_[static_cast<size_t>(index)];
  w.stalled = false;
  net_->thaw(*w.sys);
  net_->run();
  resumed out;
  if (w.exited.wait_for(std::chrono::seconds(0)) != std::future_status::ready)
    return out;
  out.exit = w.exited.get();
  // Its process would exit: its sockets close, its peers see the links go.
  w.lost = true;
  net_->cut(*w.sys);
  net_->run();
  return out;
}

std::vector<int> sim_cluster::alive() const {
  std::vector<int> out;
  for (auto& w : workers_)
    if (!w->lost && !w->stalled)
      out.push_back(w->index);
  return out;
}

std::shared_ptr<std::promise<std::pair<int, std::string>>>
sim_cluster::exit_promise(caf::actor_system& sys) {
  for (auto& w : workers_)
    if (w->sys == &sys)
      return w->exit;
  throw invalid_argument("sim_cluster::exit_promise: the actor system is no simulated worker's");
}

size_t sim_cluster::advance(caf::timespan d) {
  // A stalled worker's clock stands still: its own heartbeat to the driver
  // does not time out while it sleeps, so what it does on waking is what
  // it is told, not what its timers decided.
  size_t fired = driver_ != nullptr ? net_->advance(*driver_, d) : 0;
  for (auto& w : workers_)
    if (!w->lost && !w->stalled)
      fired += net_->advance(*w->sys, d);
  return fired;
}

std::optional<sim_cluster::worker_role> sim_cluster::take_role() {
  auto r = std::move(building_);
  building_.reset();
  return r;
}

void sim_cluster::enrol(caf::actor_system& sys, const std::optional<worker_role>& role) {
  net_->add(sys);
  if (role)
    workers_[static_cast<size_t>(role->index)]->sys = &sys;
}

} // namespace sluice::detail
