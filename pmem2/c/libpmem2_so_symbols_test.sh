#!/usr/bin/env bash
# Checks the dynamic interface of libpmem2.so.1 (binutils' nm and readelf):
#
#   libpmem2_so_symbols_test.sh LIBPMEM2_SO LIBPMEM2_H LIBPMEM2_MAP
#
#   - its soname is libpmem2.so.1, and it has no RPATH/RUNPATH;
#   - it defines exactly the functions of the version script LIBPMEM2_MAP, each at the version node that lists it
#     (and, as the default version, `name@@NODE`), plus the nodes themselves; nothing else: no Abseil, no C++
#     symbol, no pmem2 internals, no data;
#   - the functions the header LIBPMEM2_H declares are exactly those of the version script;
#   - LIBPMEM2_1.0 holds exactly what Debian's libpmem2.so.1 exports at LIBPMEM2_1.0, minus the deprecated
#     asynchronous functions, so binaries built against Debian's library find every function they reference;
#   - it depends on no library beyond the C and C++ runtimes, Abseil and a sanitizer's runtime.
set -uo pipefail

if [ $# -ne 3 ]; then
  echo "usage: $0 LIBPMEM2_SO LIBPMEM2_H LIBPMEM2_MAP" >&2
  exit 2
fi
so=$1 header=$2 map=$3
passed=0 failed=0
work=${TEST_TMPDIR:-$(mktemp -d)}

check() { # check NAME COMMAND...: one test case, passing if COMMAND succeeds
  local name=$1
  shift
  if "$@"; then
    echo "PASS $name"
    passed=$((passed + 1))
  else
    echo "FAIL $name"
    failed=$((failed + 1))
  fi
}

# same_sets WHAT EXPECTED_FILE ACTUAL_FILE: both sorted; prints what is missing and what is extra
same_sets() {
  local what=$1
  if ! cmp -s "$2" "$3"; then
    comm -23 "$2" "$3" | sed "s/^/  $what: missing: /"
    comm -13 "$2" "$3" | sed "s/^/  $what: unexpected: /"
    return 1
  fi
}

# The version script: "name NODE" per exported function.
awk '
  /^[[:space:]]*[A-Za-z0-9_.]+[[:space:]]*\{/ { node = $1; sub(/\{.*/, "", node) }
  /^[[:space:]]*[a-z_][a-z0-9_]*;[[:space:]]*$/ { name = $1; sub(/;.*/, "", name); print name, node }
' "$map" | sort >"$work/map"
awk '{ print $1 }' "$work/map" | sort >"$work/map_names"
awk '{ print $2 }' "$work/map" | sort -u >"$work/map_nodes"

# What the library defines: "name NODE" for functions (T, default version @@), "NODE" for the version nodes (A).
nm -D --defined-only "$so" >"$work/nm" || { echo "FAIL nm -D $so"; exit 1; }
awk '$2 == "T" && $3 ~ /^[^@]+@@[^@]+$/ { split($3, p, "@@"); print p[1], p[2] }' "$work/nm" | sort >"$work/exported"
awk '$2 == "A" { print $3 }' "$work/nm" | sort >"$work/nodes"
awk '!($2 == "A" || ($2 == "T" && $3 ~ /^[^@]+@@[^@]+$/))' "$work/nm" >"$work/other"

# The functions the header declares: `name(` outside comments (typedef names are followed by `)`, not `(`).
sed -z 's#/\*\([^*]\|\*\+[^*/]\)*\*\+/##g' "$header" | grep -oE '\bpmem2_[a-z0-9_]+[[:space:]]*\(' |
  sed 's/[[:space:]]*($//' | sort -u >"$work/header"

# Debian's LIBPMEM2_1.0, without the asynchronous functions that PMDK deprecated and pmem2 leaves out.
debian=""
for f in /usr/lib/*-linux-gnu*/libpmem2.so.1 /usr/lib*/libpmem2.so.1; do
  [ -e "$f" ] && debian=$f && break
done
if [ -n "$debian" ]; then
  nm -D --defined-only "$debian" | awk '$2 == "T" { print $3 }' | grep '@@LIBPMEM2_1\.0$' | sed 's/@@.*//' |
    grep -vxE 'pmem2_(memcpy|memmove|memset)_async|pmem2_config_set_vdm' | sort >"$work/debian"
fi
awk '$2 == "LIBPMEM2_1.0" { print $1 }' "$work/map" | sort >"$work/ours_1_0"

soname() { readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p'; }
check "the soname is libpmem2.so.1 (got: $(soname))" test "$(soname)" = libpmem2.so.1
check "no RPATH or RUNPATH" eval "! readelf -d '$so' | grep -qE '\\((RPATH|RUNPATH)\\)'"
check "the version script lists functions ($(wc -l <"$work/map") in $(wc -l <"$work/map_nodes") nodes)" \
  test -s "$work/map"
check "every function of the version script is exported at its node, and no other function" \
  same_sets "exported function" "$work/map" "$work/exported"
check "the version nodes are defined: $(tr '\n' ' ' <"$work/map_nodes")" same_sets node "$work/map_nodes" "$work/nodes"
check "nothing else is exported (no data, no C++ or Abseil symbol, no internals)" eval \
  "[ ! -s '$work/other' ] || { echo '  unexpected:'; sed 's/^/    /' '$work/other'; false; }"
check "libpmem2.h declares exactly the functions of the version script ($(wc -l <"$work/header"))" \
  same_sets "declared in libpmem2.h vs version script" "$work/header" "$work/map_names"
if [ -n "$debian" ]; then
  check "LIBPMEM2_1.0 is Debian's LIBPMEM2_1.0 ($debian) without the async functions" \
    same_sets "Debian's LIBPMEM2_1.0" "$work/debian" "$work/ours_1_0"
else
  check "Debian's libpmem2.so.1 found (apt-get install libpmem2-dev)" false
fi
readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' >"$work/needed"
check "depends only on the C/C++ runtimes, Abseil, a sanitizer's runtime: $(tr '\n' ' ' <"$work/needed")" eval \
  "! grep -vE '^(libc|libm|libstdc\\+\\+|libgcc_s|ld-linux[-a-z0-9_]*|libabsl_[a-z0-9_]+|lib(a|ub|t|l)san)\\.so\\.[0-9.]+\$' '$work/needed'"

echo "libpmem2_so_symbols_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
