// <sluice/actors.hpp>: users' CAF actors in pipelines (the one public header
// that includes CAF). dstream<T>::via(op) puts a typed actor in as an
// operator: each partition goes to it as std::vector<T> (moved) and its
// reply, std::vector<U>, becomes the partition of the same index.
// dstream<T>::foreach_actor(sink) is an output operation sending
// `(batch_time, std::vector<T>)` per partition. actor_system_of(ssc) is the
// caf::actor_system the context runs on, to spawn such actors.
#pragma once

#include <caf/all.hpp>

#include "sluice/sluice.hpp"

namespace sluice {

/// The CAF actor system `ssc` runs on (valid while ssc lives).
caf::actor_system& actor_system_of(streaming_context& ssc);

} // namespace sluice

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

template <class T, class... Sigs>
struct actor_ops<T, caf::typed_actor<Sigs...>> {
  using handle = caf::typed_actor<Sigs...>;

  template <class U, class R>
  struct reply_of {
    static_assert(sizeof(R) == 0, "via: expected an actor replying to std::vector<T> with "
                                  "std::vector<U>, i.e. caf::typed_actor<caf::replies_to<"
                                  "std::vector<T>>::with<std::vector<U>>>");
  };
  template <class R>
  struct reply_of<void, caf::typed_mpi<caf::detail::type_list<std::vector<T>>,
                                       caf::output_tuple<std::vector<R>>>> {
    using type = R;
  };
  template <class U>
  struct reply_of<U, caf::typed_mpi<caf::detail::type_list<std::vector<T>>,
                                    caf::output_tuple<std::vector<U>>>> {
    using type = U;
  };

  template <class U>
  static auto via(const dstream<T>& s, handle op) {
    static_assert(sizeof...(Sigs) == 1, "via: expected an actor with exactly one signature, "
                                        "std::vector<T> -> std::vector<U>");
    using out = typename reply_of<U, Sigs...>::type;
    return dstream_access::add<out>(
      s, std::make_unique<via_node<T, out>>(dstream_access::node(s), std::move(op)));
  }
};

template <class T>
struct actor_ops<T, caf::actor> {
  static void foreach(const dstream<T>& s, caf::actor sink) {
    dstream_access::output(s, "foreach_actor", [sink](const rdd<T>& r, batch_time t) {
      for (auto& p : r.partitions())
        caf::anon_send(sink, t, p);
    });
  }
};

} // namespace sluice::detail
