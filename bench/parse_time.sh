#!/usr/bin/env bash
# parse_time.sh BEFORE_ROOT NOW_ROOT [RUNS]
#
# Issue 10's parse-time target: how long `g++ -std=c++20 -fsyntax-only` takes
# on a file holding only `#include <sluice/sluice.hpp>`, for two source trees
# (e.g. a worktree of 069a5d8 and this one). Runs alternate between the trees
# (before, now, before, now, ...) so that load from other processes on the
# machine hits both alike. Prints min/median/max wall seconds per tree, the
# ratio of the medians (now / before), the median CPU seconds (user+sys) and
# the preprocessed line count of each.
#
# Include flags are those of a source-tree build: -I<root>/{runtime,operators,
# persistence,actors}. A generated header (persistence's records.pb.h) is not
# reached by <sluice/sluice.hpp>; the script checks that each tree parses.
# Environment: CXX (default g++), RUNS or the third argument (default 9).
set -euo pipefail

if [[ $# -lt 2 ]]; then
  echo "usage: $0 BEFORE_ROOT NOW_ROOT [RUNS]" >&2
  exit 2
fi
before=$(cd "$1" && pwd)
now=$(cd "$2" && pwd)
runs=${3:-${RUNS:-9}}
cxx=${CXX:-g++}

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo '#include <sluice/sluice.hpp>' > "$work/only_sluice.cpp"

flags() { echo "-std=c++20 -fsyntax-only -I$1/runtime -I$1/operators -I$1/persistence -I$1/actors"; }

for root in "$before" "$now"; do
  # shellcheck disable=SC2046
  if ! "$cxx" $(flags "$root") "$work/only_sluice.cpp" 2> "$work/err"; then
    echo "error: $root does not parse:" >&2
    head -20 "$work/err" >&2
    exit 1
  fi
done

# One timed run: appends "wall cpu" to the tree's file.
run() {
  local root=$1 out=$2
  # shellcheck disable=SC2046
  /usr/bin/time -f '%e %U %S' -o "$work/t" "$cxx" $(flags "$root") "$work/only_sluice.cpp"
  awk '{ printf "%s %.2f\n", $1, $2 + $3 }' "$work/t" >> "$out"
}

for ((i = 0; i < runs; i++)); do
  run "$before" "$work/before"
  run "$now" "$work/now"
done

# min median max of column $2 of file $1
stats() { cut -d' ' -f"$2" "$1" | sort -g | awk '{ v[NR] = $1 } END {
  m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
  printf "%.2f %.2f %.2f", v[1], m, v[NR] }'; }

lines() {
  # shellcheck disable=SC2046
  "$cxx" $(flags "$1" | sed 's/-fsyntax-only/-E/') "$work/only_sluice.cpp" | wc -l
}

read -r b_min b_med b_max <<< "$(stats "$work/before" 1)"
read -r n_min n_med n_max <<< "$(stats "$work/now" 1)"
read -r _ b_cpu _ <<< "$(stats "$work/before" 2)"
read -r _ n_cpu _ <<< "$(stats "$work/now" 2)"

echo "parse of #include <sluice/sluice.hpp> ($cxx -std=c++20 -fsyntax-only, $runs runs each, interleaved)"
printf '%-7s %-40s wall s min/median/max %s/%s/%s  cpu s median %s  lines %s\n' \
  before "$before" "$b_min" "$b_med" "$b_max" "$b_cpu" "$(lines "$before")"
printf '%-7s %-40s wall s min/median/max %s/%s/%s  cpu s median %s  lines %s\n' \
  now "$now" "$n_min" "$n_med" "$n_max" "$n_cpu" "$(lines "$now")"
awk -v b="$b_med" -v n="$n_med" -v bc="$b_cpu" -v nc="$n_cpu" \
  'BEGIN { printf "ratio of medians (now/before): wall %.2f, cpu %.2f (goal < 0.33)\n", n / b, nc / bc }'
