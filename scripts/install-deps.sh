#!/usr/bin/env bash
# Installs what building, testing and linting pmem2 needs: Debian packages from Debian's repositories, and
# buildifier from the npm registry (the @bazel/buildifier package ships a static binary). Does nothing, and
# needs neither root nor the network, if all of it is already there. Debian packages need root or sudo;
# buildifier goes to /usr/local as root, else to ~/.local (no root needed).
set -euo pipefail

packages=(
  bazel-bootstrap   # Bazel 4.2.3
  g++
  libabsl-dev
  libgtest-dev
  libgmock-dev
  liburing-dev
  libbenchmark-dev  # benchmarks
  libpmem2-dev      # the reference implementation the tests compare against, and PMDK's examples (pmem2/c/pmdk_examples)
  libpmem-dev       # PMDK's libpmem, the reference for pmem2's libpmem.so.1, and its examples (pmem2/c/pmdk_clients)
  libpmemobj-dev    # libpmemobj and its examples, run on pmem2's libpmem.so.1 (pmem2/c/pmdk_clients)
  libpmemblk-dev    # libpmemblk, libpmemlog, libpmempool: pmempool's libraries (pmem2/c/pmdk_clients)
  libpmemlog-dev
  libpmempool-dev
  pmdk-tools        # pmempool (pmem2/c/pmdk_clients)
  binutils          # nm, readelf: the tests of libpmem2.so.1 (g++ brings it too)
  shellcheck        # scripts/lint.sh
)
# --with-dax-vm (scripts/test.sh): also what the DAX VM stage runs qemu with (testing/dax_vm/run.sh's PACKAGES),
# installed up front, while a sudo password given now is still valid (that stage comes last, past sudo's cache).
# --no-pmdk-examples (scripts/demo.sh, bench.sh, which build none of them): no check of PMDK's example sources.
# --with-clang (scripts/test.sh's clang stage and its consumer stage's clang build): clang.
# --with-fuzzer (scripts/fuzz.sh): clang and its libFuzzer and sanitizer runtimes.
# --no-buildifier (scripts/demo.sh, bench.sh, fuzz.sh, test.sh --quick, which lint nothing): no buildifier, so no npm.
want_examples=1
want_buildifier=1
for arg in "$@"; do
  case $arg in
    --no-buildifier) want_buildifier=0 ;;
    --with-dax-vm) packages+=(qemu-system-x86 busybox-static ndctl xfsprogs kmod e2fsprogs) ;;
    --no-pmdk-examples) want_examples=0 ;;
    --with-clang) packages+=(clang) ;;
    --with-fuzzer) packages+=(clang libclang-rt-14-dev) ;;
    *)
      echo "install-deps: unknown argument $arg (--with-dax-vm, --no-pmdk-examples, --with-clang, --with-fuzzer," \
        "--no-buildifier)" >&2
      exit 2
      ;;
  esac
done
buildifier_version=8.2.1  # scripts/lint.sh; formatting rules change between versions, so one is pinned
if [ "$(id -u)" -eq 0 ]; then
  npm_prefix=/usr/local
else
  npm_prefix=${HOME:?"HOME is not set: set it (buildifier goes to \$HOME/.local) or run as root"}/.local
fi

has_buildifier() {
  local b
  for b in "$npm_prefix/bin/buildifier" /usr/local/bin/buildifier "$(command -v buildifier || true)"; do
    [ -n "$b" ] && [ -x "$b" ] && "$b" --version 2>/dev/null | grep -q "version: $buildifier_version\b" && return 0
  done
  return 1
}

missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "ok installed" || missing+=("$p")
done
need_buildifier=0
[ $want_buildifier -eq 1 ] && ! has_buildifier && need_buildifier=1
# npm comes with Node.js on most machines; Debian's package otherwise.
[ $need_buildifier -eq 1 ] && ! command -v npm >/dev/null && missing+=(npm)
# check_examples: PMDK's example sources, which //pmem2/c/pmdk_examples and //pmem2/c/pmdk_clients build; a dpkg
# path-exclude for /usr/share/doc (minimal container images such as debian:12-slim) leaves them out even though the
# packages are installed. Those packages are installed again with their examples' folder included (a filter given to
# dpkg on its command line comes after the configuration's, and the last that matches a path wins), where root or sudo
# allows; otherwise, or if they are still missing, it says what to do.
# update_package_lists [TRIES]: apt-get update as root (or through `sudo` in $sudo). The lists' lock (apt-daily's
# update) is not dpkg's, and apt does not wait for it: a few tries (6 unless told), 30 s apart.
update_package_lists() {
  local try tries=${1:-6}
  for ((try = 1; try <= tries; try++)); do
    ${sudo:-} apt-get update -qq -o DPkg::Lock::Timeout=600 && return 0
    [ $try -eq "$tries" ] && return 1
    echo "install-deps: apt-get update failed (the package lists locked by apt-daily?); again in 30 s" >&2
    sleep 30
  done
}
examples=(libpmem2-dev/examples/basic/basic.c libpmem-dev/examples/simple_copy.c libpmemobj-dev/examples/map/mapcli.c)
missing_examples() {
  local file
  for file in "${examples[@]}"; do [ -f "/usr/share/doc/$file" ] || echo "${file%%/*}"; done
}
check_examples() {
  local package
  local -a lacking includes
  [ $want_examples -eq 1 ] || return 0
  mapfile -t lacking < <(missing_examples)
  [ ${#lacking[@]} -eq 0 ] && return 0
  local sudo=""
  if [ "$(id -u)" -ne 0 ] && command -v sudo >/dev/null; then sudo=sudo; fi
  if [ "$(id -u)" -eq 0 ] || [ -n "$sudo" ]; then
    includes=()
    for package in "${lacking[@]}"; do includes+=(-o "DPkg::Options::=--path-include=/usr/share/doc/$package/*"); done
    echo "install-deps: installing ${lacking[*]} again with their examples (dpkg excludes /usr/share/doc here)" >&2
    # Once as the package lists are (an image may have deleted them: then after an update).
    if ! $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --reinstall --no-install-recommends \
      -o DPkg::Lock::Timeout=600 "${includes[@]}" "${lacking[@]}" >&2; then
      if update_package_lists 1; then  # once: a refusal (sudo without a terminal, dpkg) is said below
        $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --reinstall --no-install-recommends \
          -o DPkg::Lock::Timeout=600 "${includes[@]}" "${lacking[@]}" >&2 || true
      fi
    fi
    mapfile -t lacking < <(missing_examples)
    [ ${#lacking[@]} -eq 0 ] && return 0
  fi
  local how="apt-get install --reinstall"
  [ "$(id -u)" -ne 0 ] && [ -z "$sudo" ] && how="as root: apt-get install --reinstall"
  for package in "${lacking[@]}"; do
    echo "install-deps: PMDK's examples in /usr/share/doc/$package missing although $package is installed: remove" \
      "the path-exclude for /usr/share/doc from /etc/dpkg/dpkg.cfg.d/ and reinstall $package ($how $package)" >&2
  done
  return 1
}
[ ${#missing[@]} -eq 0 ] && [ $need_buildifier -eq 0 ] && { check_examples; exit; }

if [ ${#missing[@]} -gt 0 ]; then
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
  # A fresh machine's apt-daily / unattended-upgrades may hold dpkg's lock for a while: waited for, not failed on.
  # DEBIAN_FRONTEND through env: sudo's env_reset drops it from the environment.
  update_package_lists || exit 1
  $sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    -o DPkg::Lock::Timeout=600 "${missing[@]}" >&2
fi

if [ $need_buildifier -eq 1 ]; then
  echo "install-deps: installing buildifier $buildifier_version (npm @bazel/buildifier) into $npm_prefix" >&2
  npm install --global --prefix "$npm_prefix" --no-audit --no-fund --update-notifier=false --loglevel=error \
    "@bazel/buildifier@$buildifier_version" >&2
  has_buildifier || { echo "install-deps: $npm_prefix/bin/buildifier does not run" >&2; exit 1; }
fi
check_examples
