#include "sluice/time.hpp"

namespace sluice {

void manual_clock::advance(duration d) {
  std::function<void(int64_t)> f;
  int64_t now;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    now = now_ += d.count();
    f = listener_;
  }
  if (f)
    f(now);
}

void manual_clock::on_advance(std::function<void(int64_t)> f) {
  std::lock_guard<std::mutex> guard{mtx_};
  listener_ = std::move(f);
}

} // namespace sluice
