// via: a user's typed actor standing in a pipeline as an operator. Each
// partition is sent to the actor as std::vector<T> (moved) and its reply,
// std::vector<U>, becomes the partition of the same index.
#pragma once

#include <caf/all.hpp>

#include "sluice/node.hpp"

namespace sluice::detail {

template <class T, class U>
class via_node final : public node<U> {
 public:
  using handle = caf::typed_actor<typename caf::replies_to<std::vector<T>>::template with<
    std::vector<U>>>;

  via_node(node_base* parent, handle op)
      : node<U>(node_kind::gather, "via", parent->slide(), {parent}), op_(std::move(op)) {}

  std::unique_ptr<gather_op> make_gather(const run_info&) const override {
    return std::make_unique<op>(op_);
  }

 private:
  struct op final : gather_op {
    handle target;
    explicit op(handle h) : target(std::move(h)) {}

    gather_result compute(batch_time, std::vector<std::optional<parts>>&) override {
      throw std::logic_error("via is asynchronous");
    }

    bool compute_async(batch_time t, std::vector<std::optional<parts>>& in, void* actor,
                       std::function<void(gather_result)> done,
                       std::function<void(std::string)> fail) override {
      if (!in[0]) {
        done({std::nullopt, {}});
        return true;
      }
      auto input = std::move(*in[0]);
      if (input.empty()) {
        done({parts{}, {}});
        return true;
      }
      struct progress {
        parts out;
        size_t left;
        bool failed = false;
      };
      auto acc = std::make_shared<progress>(progress{{}, input.size()});
      auto* self = static_cast<caf::event_based_actor*>(actor);
      for (auto& p : input) {
        int32_t index = p.index;
        self->request(target, caf::infinite, take<T>(p.data))
          .then(
            [acc, index, done](std::vector<U>& out) {
              if (acc->failed)
                return;
              acc->out.push_back({index, erase(std::move(out))});
              if (--acc->left == 0)
                done({std::move(acc->out), {}});
            },
            [acc, fail, t](caf::error& err) {
              if (acc->failed)
                return;
              acc->failed = true;
              fail("via: the operator actor failed at " + to_string(t) + ": "
                   + caf::to_string(err));
            });
      }
      return true;
    }
  };

  handle op_;
};

} // namespace sluice::detail
