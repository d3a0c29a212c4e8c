#!/usr/bin/env bash
# Checks the dynamic interface of a drop-in shared library, libpmem2.so.1 or libpmem.so.1 (binutils' nm and
# readelf):
#
#   so_symbols_test.sh SO HEADER MAP SONAME PREFIX NODE [LEFT_OUT]
#
#   - its soname is SONAME (e.g. libpmem2.so.1), and it has no RPATH/RUNPATH;
#   - it defines exactly the functions of the version script MAP, each at the version node that lists it (and,
#     as the default version, `name@@NODE`), plus the nodes themselves; nothing else: no Abseil, no C++ symbol,
#     no pmem2 internals, no data; the only LOCAL entries of the dynamic symbol table are the engine's
#     initial-exec thread-local variables (destination histories, sync slot, SIGBUS copy state, fork handlers'
#     signal masks: LOCAL TLS, nothing binds to them) and the thread-local sections, and each initial-exec relocation names one of those variables, once;
#   - the functions (named PREFIX...) the header HEADER declares are exactly those of the version script;
#   - NODE (e.g. LIBPMEM2_1.0) holds exactly what Debian's SONAME exports at NODE, minus the functions the
#     extended regular expression LEFT_OUT matches (libpmem2's deprecated asynchronous functions), so binaries
#     built against Debian's library find every function they reference;
#   - it depends on no library beyond the C and C++ runtimes, Abseil and a sanitizer's runtime.
set -uo pipefail

if [ $# -lt 6 ] || [ $# -gt 7 ]; then
  echo "usage: $0 SO HEADER MAP SONAME PREFIX NODE [LEFT_OUT]" >&2
  exit 2
fi
so=$1 header=$2 map=$3 want_soname=$4 prefix=$5 node=$6 left_out=${7:-^\$}
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
# Entries with LOCAL binding (readelf) bind nothing outside the library; the linker keeps one for each
# initial-exec thread-local variable (the engine's destination histories, pmem2/arch/destination_history.h, the
# thread's sync slot, pmem2/map/map_registry.cc, and its machine-check-safe copy, pmem2/ras/sigbus_guard.cc), and
# one for the thread-local sections themselves.
# Those, as LOCAL TLS and SECTION entries, are the only ones allowed; every other defined entry counts above.
readelf --dyn-syms -W "$so" >"$work/dynsyms" || { echo "FAIL readelf --dyn-syms $so"; exit 1; }
awk '$5 == "LOCAL" && $7 != "UND" { print $8 }' "$work/dynsyms" | sort >"$work/local_names"
allowed_tls='^_ZN5pmem2(4arch.*(last_destination_line|last_page_copy_line)|'
allowed_tls+='12map_internal.*this_thread_slot|12ras_internal.*sigbus_copy_state|'
allowed_tls+='8internal.*fork_handler_(signal_depth|saved_mask))E$'
awk -v allowed="$allowed_tls" '$5 == "LOCAL" && $7 != "UND" && !($4 == "TLS" && $8 ~ allowed) &&
  !($4 == "SECTION" && ($8 == ".tbss" || $8 == ".tdata"))' "$work/dynsyms" >"$work/local"
# The code reaches each of those through a TPOFF64 dynamic relocation, which must name it: for thread-locals
# with internal linkage gold wrote these against the wrong entries (one unnamed, at offset 0: the error message
# buffer), so the engine's and the C API's thread-locals overlapped (pmem2/arch/arch.cc).
readelf -rW "$so" >"$work/relocs" || { echo "FAIL readelf -r $so"; exit 1; }
awk '$3 ~ /_(TPOFF|TPREL)64$/ { print $5 }' "$work/relocs" | sort >"$work/tpoff"
awk '$5 == "LOCAL" && $4 == "TLS" { print $8 }' "$work/dynsyms" | sort >"$work/tls_names"
awk '!($2 == "A" || ($2 == "T" && $3 ~ /^[^@]+@@[^@]+$/))' "$work/nm" | grep -vwFf "$work/local_names" >"$work/other" || true

# The functions the header declares: `name(` outside comments (typedef names are followed by `)`, not `(`).
sed -z 's#/\*\([^*]\|\*\+[^*/]\)*\*\+/##g' "$header" | grep -oE "\\b${prefix}[a-z0-9_]+[[:space:]]*\\(" |
  sed 's/[[:space:]]*($//' | sort -u >"$work/header"

# Debian's NODE, without what pmem2 leaves out.
debian=""
for f in /usr/lib/*-linux-gnu*/"$want_soname" /usr/lib*/"$want_soname"; do
  [ -e "$f" ] && debian=$f && break
done
if [ -n "$debian" ]; then
  nm -D --defined-only "$debian" | awk '$2 == "T" { print $3 }' | grep -F "@@$node" | sed 's/@@.*//' |
    grep -vxE "$left_out" | sort >"$work/debian"
fi
awk -v node="$node" '$2 == node { print $1 }' "$work/map" | sort >"$work/ours_node"

soname() { readelf -d "$so" | sed -n 's/.*(SONAME).*\[\(.*\)\]/\1/p'; }
check "the soname is $want_soname (got: $(soname))" test "$(soname)" = "$want_soname"
check "no RPATH or RUNPATH" eval "! readelf -d '$so' | grep -qE '\\((RPATH|RUNPATH)\\)'"
check "the version script lists functions ($(wc -l <"$work/map") in $(wc -l <"$work/map_nodes") nodes)" \
  test -s "$work/map"
check "every function of the version script is exported at its node, and no other function" \
  same_sets "exported function" "$work/map" "$work/exported"
check "the version nodes are defined: $(tr '\n' ' ' <"$work/map_nodes")" same_sets node "$work/map_nodes" "$work/nodes"
check "nothing else is exported (no data, no C++ or Abseil symbol, no internals)" eval \
  "[ ! -s '$work/other' ] || { echo '  unexpected:'; sed 's/^/    /' '$work/other'; false; }"
check "no local dynamic symbol but the engine's initial-exec thread-locals" eval \
  "[ ! -s '$work/local' ] || { echo '  unexpected:'; sed 's/^/    /' '$work/local'; false; }"
tpoff_names=$(tr '\n' ' ' <"$work/tpoff")
check "each initial-exec relocation names its own thread-local ($(wc -l <"$work/tpoff"): $tpoff_names)" \
  same_sets "initial-exec relocation" "$work/tls_names" "$work/tpoff"
check "$(basename "$header") declares exactly the functions of the version script ($(wc -l <"$work/header"))" \
  same_sets "declared in the header vs version script" "$work/header" "$work/map_names"
if [ -n "$debian" ]; then
  check "$node is Debian's $node ($debian) without what pmem2 leaves out" \
    same_sets "Debian's $node" "$work/debian" "$work/ours_node"
else
  check "Debian's $want_soname found (scripts/install-deps.sh installs it)" false
fi
readelf -d "$so" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' >"$work/needed"
check "depends only on the C/C++ runtimes, Abseil, a sanitizer's runtime: $(tr '\n' ' ' <"$work/needed")" eval \
  "! grep -vE '^(libc|libm|libstdc\\+\\+|libgcc_s|ld-linux[-a-z0-9_]*|libabsl_[a-z0-9_]+|lib(a|ub|t|l)san)\\.so\\.[0-9.]+\$' '$work/needed'"

echo "so_symbols_test $want_soname: $passed passed, $failed failed"
[ "$failed" -eq 0 ]
