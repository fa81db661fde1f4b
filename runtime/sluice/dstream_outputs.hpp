// dstream<T>'s output operations: the definitions of members declared, with
// their contracts, in dstream.hpp (there, foreach_actor and save_to_kafka hand
// over to <sluice/actors.hpp> and <sluice/kafka.hpp>).
#pragma once

#include <sstream>

#include "sluice/dstream.hpp"
#include "sluice/format.hpp"

namespace sluice {

template <class T>
void dstream<T>::print(int num) const {
  if (num < 1)
    throw invalid_argument("print: num must be >= 1, got " + std::to_string(num));
  output("print", [num](const rdd<T>& r, batch_time t) {
    std::vector<std::string> lines;
    bool more = false;
    for (auto& p : r.partitions())
      for (auto& x : p) {
        if (static_cast<int>(lines.size()) == num) {
          more = true;
          break;
        }
        std::ostringstream os;
        format_record(os, x);
        lines.push_back(os.str());
      }
    detail::print_batch(t, lines, more);
  });
}

template <class T>
void dstream<T>::save_as_text_files(std::string prefix, std::string suffix) const {
  output("save_as_text_files", [prefix, suffix](const rdd<T>& r, batch_time t) {
    std::vector<std::string> files;
    for (auto& p : r.partitions()) {
      std::ostringstream os;
      for (auto& x : p) {
        format_record(os, x);
        os << '\n';
      }
      files.push_back(os.str());
    }
    auto dir = prefix + "-" + std::to_string(t.ms) + (suffix.empty() ? "" : "." + suffix);
    detail::write_text_batch(dir, files);
  });
}

template <class T>
template <class F>
void dstream<T>::foreach_rdd(F f) const {
  if constexpr (!detail::check_foreach_rdd<T, F>())
    return;
  else if constexpr (std::is_invocable_v<F&, const rdd<T>&, batch_time>)
    output("foreach_rdd", std::move(f));
  else
    output("foreach_rdd", [f](const rdd<T>& r, batch_time) mutable { f(r); });
}

} // namespace sluice
