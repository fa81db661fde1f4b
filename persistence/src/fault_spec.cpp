// Fault spec validation, conf parsing and printing.
#include "sluice/fault_spec.hpp"

#include <charconv>
#include <cmath>
#include <limits>

namespace sluice {

namespace {

[[noreturn]] void bad(std::string_view key, std::string_view value, const std::string& why) {
  std::string msg{key};
  msg += '=';
  msg += value;
  msg += ": ";
  msg += why;
  throw fault_config_error{msg};
}

std::string_view trim(std::string_view x) {
  while (!x.empty() && (x.front() == ' ' || x.front() == '\t'))
    x.remove_prefix(1);
  while (!x.empty() && (x.back() == ' ' || x.back() == '\t'))
    x.remove_suffix(1);
  return x;
}

/// Parses all of `text` as a number, or returns nullopt.
template <class T>
std::optional<T> number(std::string_view text) {
  T x{};
  auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), x);
  if (text.empty() || ec != std::errc{} || end != text.data() + text.size())
    return std::nullopt;
  return x;
}

std::chrono::milliseconds parse_delay(std::string_view key, std::string_view value,
                                      std::string_view arg) {
  auto unit = arg.find_first_not_of("0123456789");
  auto digits = arg.substr(0, unit == std::string_view::npos ? arg.size() : unit);
  auto suffix = unit == std::string_view::npos ? std::string_view{} : arg.substr(unit);
  auto n = number<std::int64_t>(digits);
  if (!n || (suffix != "" && suffix != "ms" && suffix != "s"))
    bad(key, value, "bad delay '" + std::string{arg} + "' (expected <n>, <n>ms or <n>s)");
  if (suffix == "s") {
    if (*n > std::numeric_limits<std::int64_t>::max() / 1000)
      bad(key, value, "delay '" + std::string{arg} + "' is too long");
    return std::chrono::seconds{*n};
  }
  return std::chrono::milliseconds{*n};
}

fault_action parse_action(std::string_view key, std::string_view value, std::string_view text) {
  auto colon = text.find(':');
  auto name = text.substr(0, colon);
  std::optional<std::string_view> arg;
  if (colon != std::string_view::npos)
    arg = text.substr(colon + 1);
  auto no_arg = [&](fault_action result) {
    if (arg)
      bad(key, value, "action '" + std::string{name} + "' takes no argument");
    return result;
  };
  if (name == "throw" || name == "throw_error")
    return no_arg(fault_action::throw_error());
  if (name == "drop")
    return no_arg(fault_action::drop());
  if (name == "fail_write")
    return no_arg(fault_action::fail_write());
  if (name == "delay") {
    if (!arg)
      bad(key, value, "action 'delay' needs a duration, e.g. delay:200ms");
    return fault_action::delay(parse_delay(key, value, *arg));
  }
  if (name == "crash") {
    if (!arg)
      return fault_action::crash();
    auto code = number<int>(*arg);
    if (!code || *code < 0 || *code > 255)
      bad(key, value, "bad exit code '" + std::string{*arg} + "' (expected 0..255)");
    return fault_action::crash(*code);
  }
  bad(key, value,
      "unknown action '" + std::string{name}
        + "' (expected throw, delay:<ms>, drop, fail_write or crash[:<exit code>])");
}

template <class T>
T option_number(std::string_view key, std::string_view value, std::string_view name,
                std::string_view text) {
  auto x = number<T>(text);
  if (!x)
    bad(key, value,
        "bad number '" + std::string{text} + "' for option '" + std::string{name} + "'");
  return *x;
}

} // namespace

injected_fault::injected_fault(std::string_view point)
  : std::runtime_error("sluice: injected fault at " + std::string{point}), point_(point) {
  // nop
}

std::string_view to_string(fault_kind x) noexcept {
  switch (x) {
    case fault_kind::none:
      return "none";
    case fault_kind::throw_error:
      return "throw";
    case fault_kind::delay:
      return "delay";
    case fault_kind::drop:
      return "drop";
    case fault_kind::fail_write:
      return "fail_write";
    case fault_kind::crash:
      return "crash";
  }
  return "unknown";
}

void validate(std::string_view point, const fault_spec& spec) {
  auto fail = [&](const std::string& why) {
    throw fault_config_error{"fault point '" + std::string{point} + "': " + why};
  };
  if (point.empty())
    fail("the point name is empty");
  if (spec.action.kind == fault_kind::none)
    fail("action 'none' cannot be armed (use disarm)");
  if (!(spec.probability >= 0.0 && spec.probability <= 1.0))
    fail("probability " + std::to_string(spec.probability) + " is outside [0, 1]");
  if (spec.times && *spec.times == 0)
    fail("times must be at least 1");
  if (spec.action.duration.count() < 0)
    fail("negative delay");
}

fault_spec parse_fault_spec(std::string_view key, std::string_view value) {
  fault_spec spec;
  std::string_view rest = value;
  bool first = true;
  bool seen_p = false, seen_after = false, seen_times = false, seen_seed = false;
  while (first || !rest.empty()) {
    auto comma = rest.find(',');
    auto token = trim(rest.substr(0, comma));
    rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);
    if (first) {
      spec.action = parse_action(key, value, token);
      first = false;
      continue;
    }
    auto eq = token.find('=');
    if (eq == std::string_view::npos)
      bad(key, value, "option '" + std::string{token} + "' is not <name>=<value>");
    auto name = trim(token.substr(0, eq));
    auto text = trim(token.substr(eq + 1));
    auto once = [&](bool& seen) {
      if (seen)
        bad(key, value, "option '" + std::string{name} + "' given twice");
      seen = true;
    };
    if (name == "p") {
      once(seen_p);
      spec.probability = option_number<double>(key, value, name, text);
      if (!(spec.probability >= 0.0 && spec.probability <= 1.0))
        bad(key, value, "probability '" + std::string{text} + "' is outside [0, 1]");
    } else if (name == "after") {
      once(seen_after);
      spec.after = option_number<std::uint64_t>(key, value, name, text);
    } else if (name == "times") {
      once(seen_times);
      spec.times = option_number<std::uint64_t>(key, value, name, text);
      if (*spec.times == 0)
        bad(key, value, "times must be at least 1");
    } else if (name == "seed") {
      once(seen_seed);
      spec.seed = option_number<std::uint64_t>(key, value, name, text);
    } else {
      bad(key, value,
          "unknown option '" + std::string{name} + "' (expected p, after, times or seed)");
    }
  }
  return spec;
}

std::string to_string(const fault_spec& spec) {
  std::string out{to_string(spec.action.kind)};
  if (spec.action.kind == fault_kind::delay)
    out.append(":").append(std::to_string(spec.action.duration.count())).append("ms");
  if (spec.action.kind == fault_kind::crash && spec.action.exit_code >= 0)
    out.append(":").append(std::to_string(spec.action.exit_code));
  if (spec.probability != 1.0) {
    char buf[32];
    auto res = std::to_chars(buf, buf + sizeof(buf), spec.probability);
    out += ",p=";
    out.append(buf, res.ptr);
  }
  if (spec.after != 0)
    out.append(",after=").append(std::to_string(spec.after));
  if (spec.times)
    out.append(",times=").append(std::to_string(*spec.times));
  if (spec.seed != 0)
    out.append(",seed=").append(std::to_string(spec.seed));
  return out;
}

} // namespace sluice
