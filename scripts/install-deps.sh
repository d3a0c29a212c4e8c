#!/usr/bin/env bash
# Installs, from Debian's repositories only, what building and testing pmem2 needs. Does nothing if all of it
# is already there. Works as root or through sudo.
set -euo pipefail

packages=(
  bazel-bootstrap   # Bazel 4.2.3
  g++
  libabsl-dev
  libgtest-dev
  libgmock-dev
  liburing-dev
  libbenchmark-dev  # benchmarks
  libpmem2-dev      # the reference implementation the tests compare against
)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

sudo=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null; then
    sudo="sudo"
  else
    echo "install-deps: missing ${missing[*]}; run as root or install them: apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi
echo "install-deps: installing ${missing[*]}" >&2
$sudo apt-get update -qq
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >&2
