#include "sluice/detail/receiver_parts.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <condition_variable>
#include <limits>
#include <string>
#include <thread>

#include "sluice/error.hpp"

namespace sluice {

namespace {

constexpr int64_t unlimited = std::numeric_limits<int64_t>::max();

int64_t steady_now_us() {
  return std::chrono::duration_cast<std::chrono::microseconds>(
           std::chrono::steady_clock::now().time_since_epoch())
    .count();
}

void real_sleep_us(int64_t us) { std::this_thread::sleep_for(std::chrono::microseconds{us}); }

} // namespace

rate_limiter::rate_limiter(int64_t max_rate, std::optional<int64_t> initial_rate)
  : rate_limiter(max_rate, initial_rate, steady_now_us, real_sleep_us) {}

rate_limiter::rate_limiter(int64_t max_rate, std::optional<int64_t> initial_rate, now_fn now_us,
                           sleep_fn sleep_us)
  : max_rate_(max_rate <= 0 ? unlimited : max_rate),
    now_us_(std::move(now_us)),
    sleep_us_(std::move(sleep_us)),
    origin_us_(now_us_()) {
  if (initial_rate && *initial_rate <= 0)
    throw invalid_argument("invalid initial rate " + std::to_string(*initial_rate)
                           + " for rate_limiter: rate must be positive");
  int64_t initial = initial_rate ? std::min(*initial_rate, max_rate_) : max_rate_;
  std::lock_guard<std::mutex> guard{mtx_};
  set_rate(initial, 0);
}

double rate_limiter::elapsed_us() const { return static_cast<double>(now_us_() - origin_us_); }

void rate_limiter::resync(double now) {
  if (now > next_free_us_) {
    if (stable_interval_us_ > 0)
      stored_permits_ = std::min(max_permits_,
                                 stored_permits_ + (now - next_free_us_) / stable_interval_us_);
    next_free_us_ = now;
  }
}

void rate_limiter::set_rate(int64_t rate, double now) {
  if (rate == unlimited) {
    limit_ = unlimited;
    stable_interval_us_ = 0;
    max_permits_ = 0;
    stored_permits_ = 0;
    next_free_us_ = now;
    return;
  }
  if (limit_ == unlimited) {
    // Coming from unlimited: nothing stored, free right now.
    stored_permits_ = 0;
    next_free_us_ = std::max(next_free_us_, now);
  } else {
    resync(now);
  }
  double old_max = max_permits_;
  limit_ = rate;
  stable_interval_us_ = 1e6 / static_cast<double>(rate);
  max_permits_ = max_burst_seconds * static_cast<double>(rate);
  stored_permits_ = old_max == 0 ? 0 : stored_permits_ * max_permits_ / old_max;
}

void rate_limiter::wait_to_push(size_t records) {
  if (records == 0)
    return;
  double wait_us = 0;
  {
    std::lock_guard<std::mutex> guard{mtx_};
    if (limit_ == unlimited)
      return;
    double now = elapsed_us();
    resync(now);
    double moment = next_free_us_;
    double permits = static_cast<double>(records);
    double spend = std::min(permits, stored_permits_);
    next_free_us_ += (permits - spend) * stable_interval_us_;
    stored_permits_ -= spend;
    wait_us = moment - now;
  }
  if (wait_us > 0) {
    auto us = static_cast<int64_t>(std::ceil(wait_us));
    sleep_us_(us);
  }
}

void rate_limiter::update_rate(int64_t new_rate) {
  if (new_rate <= 0)
    return;
  int64_t rate = std::min(new_rate, max_rate_);
  std::lock_guard<std::mutex> guard{mtx_};
  if (rate == limit_)
    return;
  set_rate(rate, elapsed_us());
}

int64_t rate_limiter::current_limit() const {
  std::lock_guard<std::mutex> guard{mtx_};
  return limit_;
}

} // namespace sluice

namespace sluice::detail {

struct waiter::impl {
  std::condition_variable cv;
};

waiter::waiter() : impl_(new impl) {}

waiter::~waiter() { delete impl_; }

void waiter::wait(std::unique_lock<std::mutex>& lock) { impl_->cv.wait(lock); }

void waiter::notify_all() noexcept { impl_->cv.notify_all(); }

} // namespace sluice::detail
