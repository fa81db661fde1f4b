#!/usr/bin/env bash
# Builds CAF with -fsanitize=thread from Debian's source package, for
# make test-tsan: ThreadSanitizer only sees the memory accesses of instrumented
# code, and Debian's libcaf_core is not, so with it every message passed through
# CAF's mailboxes looks like a race (~12,000 reports, no verdict).
#
# Usage: caf-tsan.sh DIR DEBIAN_VERSION JOBS
# Leaves the headers and libraries in DIR/prefix (sluice is then configured with
# CMAKE_PREFIX_PATH=DIR/prefix). The source comes from the Debian archive through
# apt with a private configuration in DIR/apt: the system's sources are left
# alone (Debian images carry no deb-src line).
set -euo pipefail
dir=$(realpath -m "$1"); version=$2; jobs=$3
mirror=${CAF_SOURCE_MIRROR:-http://deb.debian.org/debian}
suite=${CAF_SOURCE_SUITE:-bookworm}
upstream=${version%-*}

mkdir -p "$dir/apt/lists/partial" "$dir/apt/cache/archives/partial" "$dir/apt/sources" "$dir/download"
cat >"$dir/apt/sources/caf.sources" <<SRC
Types: deb-src
URIs: $mirror
Suites: $suite
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
SRC
apt=(-o Dir::Etc::SourceList=/dev/null -o "Dir::Etc::SourceParts=$dir/apt/sources"
     -o "Dir::State::Lists=$dir/apt/lists" -o "Dir::Cache=$dir/apt/cache"
     -o APT::Sandbox::User=root)

if [ ! -d "$dir/src" ]; then
  apt-get "${apt[@]}" -qq update
  dsc=actor-framework_${version}.dsc
  orig=actor-framework_${upstream}.orig.tar.gz
  (cd "$dir/download" && apt-get "${apt[@]}" source --download-only "actor-framework=$version") \
    || echo "caf-tsan: apt-get source did not fetch every file of actor-framework $version"
  if [ -f "$dir/download/actor-framework_${version}.debian.tar.xz" ]; then
    # Checks the files against the .dsc and applies Debian's patches.
    (cd "$dir/download" && dpkg-source -x "$dsc" "$dir/src.tmp")
  else
    # Seen with some mirrors: the .dsc and the upstream tarball but a 404 for the
    # Debian tarball. Build the upstream source the signed .dsc names, checked by
    # its SHA-256, and say that Debian's patches are missing.
    sum=$(awk -v f="$orig" '/^Checksums-Sha256:/{s=1;next} /^[^ ]/{s=0} s&&$3==f{print $1}' "$dir/download/$dsc")
    [ -n "$sum" ] || { echo "caf-tsan: $dsc lists no SHA-256 for $orig" >&2; exit 1; }
    echo "$sum  $dir/download/$orig" | sha256sum -c --quiet - \
      || { echo "caf-tsan: $orig does not match the SHA-256 in $dsc" >&2; exit 1; }
    echo "caf-tsan: WARNING: building upstream CAF $upstream without Debian's patches" \
         "(actor-framework_${version}.debian.tar.xz could not be downloaded)" >&2
    mkdir -p "$dir/src.tmp" && tar -xzf "$dir/download/$orig" -C "$dir/src.tmp" --strip-components=1
    # Debian's gcc patch (#983959), as libcaf-dev's own receive_buffer.hpp shows:
    # upstream 0.17.6 uses std::numeric_limits there without <limits>.
    sed -i 's|^#include <cstddef>|#include <cstddef>\n#include <limits>|' \
      "$dir/src.tmp/libcaf_io/caf/io/network/receive_buffer.hpp"
  fi
  mv "$dir/src.tmp" "$dir/src"
fi

# Debian's build options (build_config.hpp of libcaf-dev: all defaults, QUIET
# log level), -O1 as for sluice's sanitizer builds. Only core and io.
flags="-fsanitize=thread -fno-omit-frame-pointer"
cmake -S "$dir/src" -B "$dir/build" -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DCMAKE_CXX_FLAGS="-std=c++11 $flags" -DCMAKE_CXX_FLAGS_RELWITHDEBINFO="-O1 -g1" \
  -DCMAKE_SHARED_LINKER_FLAGS="$flags" -DCMAKE_EXE_LINKER_FLAGS="$flags" \
  -DCMAKE_INSTALL_PREFIX="$dir/prefix" -DCMAKE_INSTALL_LIBDIR=lib \
  -DCAF_LOG_LEVEL=QUIET -DCAF_NO_EXAMPLES=yes -DCAF_NO_UNIT_TESTS=yes -DCAF_NO_TOOLS=yes \
  -DCAF_NO_OPENSSL=yes -DCAF_NO_PYTHON=yes -DCAF_NO_OPENCL=yes -DCAF_NO_SUMMARY=yes \
  $(command -v ccache >/dev/null && echo -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
cmake --build "$dir/build" -j"$jobs"
cmake --install "$dir/build" >/dev/null
