#!/usr/bin/env bash
# Installs a built tree into a temporary prefix, then configures, builds and
# runs a consumer project that uses find_package(sluice).
# Usage: install_test.sh BUILD_DIR CONSUMER_SOURCE_DIR
set -euo pipefail
build_dir=$1
consumer_dir=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

cmake --install "$build_dir" --prefix "$tmp/prefix" >"$tmp/install.log" \
  || { cat "$tmp/install.log"; exit 1; }
# The public surface: engine internals are not installed, and
# <sluice/sluice.hpp> compiles from the installed headers alone without
# reaching CAF (only <sluice/actors.hpp> includes it).
# (sluice::kafka's header <sluice/kafka.hpp> and sluice::testing's,
# <sluice/testing.hpp> and the <sluice/testing/*.hpp> it includes, are not
# counted: optional components with their own libraries.) 39: the state store's open-addressing table
# (detail/state_table.hpp, detail/table_memory.hpp) is a template the
# public map_with_state and update_state_by_key instantiate in user code,
# and so is its checkpoint, which encodes into state_rows.hpp's packed rows
# (held in a byte_buffer.hpp), their initial state (detail/initial_state.hpp), and
# the tables' inline hashing and comparing of string keys (detail/string_keys.hpp).
headers=$(find "$tmp/prefix/include/sluice" -name '*.hpp' ! -name kafka.hpp ! -name testing.hpp \
  ! -path '*/sluice/testing/*' | wc -l)
echo "installed headers: $headers (plus <sluice/kafka.hpp>, <sluice/testing.hpp> and <sluice/testing/*.hpp>)"
if (( headers > 39 )); then
  echo "expected at most 39 installed headers, found $headers:" >&2
  find "$tmp/prefix/include/sluice" -name '*.hpp' >&2
  exit 1
fi
echo '#include <sluice/sluice.hpp>' >"$tmp/only.cpp"
g++ -std=c++20 -I"$tmp/prefix/include" -H -fsyntax-only "$tmp/only.cpp" 2>"$tmp/includes.txt" \
  || { cat "$tmp/includes.txt" >&2; exit 1; }
if grep -q '/caf/' "$tmp/includes.txt"; then
  echo "<sluice/sluice.hpp> reaches CAF headers:" >&2
  grep '/caf/' "$tmp/includes.txt" | head >&2
  exit 1
fi
launcher=()
command -v ccache >/dev/null && launcher=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake -S "$consumer_dir" -B "$tmp/build" -DCMAKE_BUILD_TYPE=Release \
  -DCMAKE_PREFIX_PATH="$tmp/prefix" "${launcher[@]}"
cmake --build "$tmp/build" -j2
"$tmp/build/app"
"$tmp/build/sim"
