// Output operations: their function runs on the job thread, in the order
// the program registered them, once the batch's data is complete.
#pragma once

#include <functional>
#include <type_traits>

#include "sluice/node.hpp"
#include "sluice/rdd.hpp"

namespace sluice::detail {

template <class T>
class output_node final : public node_base {
 public:
  using function = std::function<void(const rdd<T>&, batch_time)>;

  output_node(std::string name, node_base* parent, function f)
      : node_base(node_kind::output, std::move(name), parent->slide(), {parent}),
        f_(std::move(f)) {}

  std::unique_ptr<gather_op> make_gather(const run_info& info) const override {
    struct op final : gather_op {
      function f;
      int parallelism;
      op(function fn, int p) : f(std::move(fn)), parallelism(p) {}
      gather_result compute(batch_time t, std::vector<std::optional<parts>>& in) override {
        if (!in[0])
          return {};
        auto r = rdd<T>::from_parts(std::move(*in[0]), parallelism);
        return {std::nullopt, [f = f, r = std::move(r), t] { f(r, t); }};
      }
    };
    return std::make_unique<op>(f_, info.parallelism);
  }

 private:
  function f_;
};

} // namespace sluice::detail
