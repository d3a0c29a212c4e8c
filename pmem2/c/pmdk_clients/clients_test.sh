#!/usr/bin/env bash
# Runs real clients of PMDK's libpmem on pmem2's libpmem.so.1 and on Debian's, and compares them.
#
#   clients_test.sh libpmem_examples   LIBPMEM_SO EXAMPLE...   PMDK's libpmem examples; each EXAMPLE (built
#                                                              against pmem2) has its twin EXAMPLE_debian beside it
#   clients_test.sh libpmemobj_examples LIBPMEM_SO EXAMPLE...  PMDK's libpmemobj examples (on Debian's libpmemobj)
#   clients_test.sh pmempool           LIBPMEM_SO             Debian's pmempool (pmdk-tools)
#
# LIBPMEM_SO is pmem2's library. It is copied into a folder of its own, so that LD_LIBRARY_PATH=<that folder>
# makes every libpmem.so.1 user of the process (the program, Debian's libpmemobj, libpmemblk, libpmemlog,
# libpmempool) load pmem2's, and nothing else. The ways a client runs, each in its own folder:
#   ours         on pmem2's library (an example built against pmem2: through its RUNPATH; else LD_LIBRARY_PATH)
#   ours_forced  the same with PMEM_IS_PMEM_FORCE=1: every persist, flush and copy goes through pmem2's engine
#   debian_on_ours (libpmem examples) the twin built against Debian's header, on pmem2's library
#   debian       on Debian's library (the reference)
# The first run of each program in each way is checked for which library its pmem_* references were bound to
# (LD_DEBUG=bindings, with LD_BIND_NOW=1 should a library bind lazily: every one to the expected library, at
# LIBPMEM_1.0).
# Outputs, exit statuses and (where they are deterministic) files must match Debian's; pools written through one
# library are read back, checked and dumped through the other.
# Prints PASS/FAIL per case and ends with "clients_test: N passed, N failed".
set -uo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 libpmem_examples|libpmemobj_examples|pmempool LIBPMEM_SO [EXAMPLE...]" >&2
  exit 2
fi
suite=$1
ours_lib=$(realpath "$2")
shift 2
# Outside Bazel (no TEST_TMPDIR), a folder of this run's, removed at exit with every pool it made.
if [ -z "${TEST_TMPDIR:-}" ]; then
  own_tmp=$(mktemp -d)
  trap 'rm -rf "$own_tmp"' EXIT
fi
base=${TEST_TMPDIR:-$own_tmp}/pmdk_clients/$suite
rm -rf "$base"
lib_dir=$base/lib # pmem2's libpmem.so.1, alone
mkdir -p "$lib_dir"
cp "$ours_lib" "$lib_dir/libpmem.so.1"
passed=0 failed=0
context=$suite case_ok=1
example=example # the libpmem example running ("<example>_debian" is written as "<example>" in the logs)

# A sanitizer build of pmem2's library needs its runtime loaded first; Debian's programs (pmempool) are not
# instrumented, so it is preloaded into every run on pmem2's library. (The examples, built in the same
# configuration, link it themselves; preloading it again is harmless.)
preload=$(ldd "$ours_lib" 2>/dev/null | awk '$1 ~ /^lib(a|t)san\.so/ { print $3 }')
# LeakSanitizer: PMDK's examples and tools do not free everything at exit; pmem2's own leaks are the business
# of pmem2's unit tests.
export ASAN_OPTIONS=${ASAN_OPTIONS:+$ASAN_OPTIONS:}detect_leaks=0

fail() {
  echo "FAIL [$context] $*"
  failed=$((failed + 1))
  case_ok=0
}
begin() {
  context="$suite: $*"
  case_ok=1
}
end() {
  if [ "$case_ok" = 1 ]; then
    passed=$((passed + 1))
    echo "PASS [$context]"
  fi
}

# way_env WAY: sets way_vars to the environment of a run in WAY (as arguments of env). The helpers below run
# for each of hundreds of client runs, on guests where a process costs milliseconds: they start as few as they can.
way_vars=()
way_env() {
  way_vars=()
  case $1 in
    ours | ours_read | debian_on_ours) way_vars=(LD_LIBRARY_PATH="$lib_dir") ;;
    ours_forced) way_vars=(LD_LIBRARY_PATH="$lib_dir" PMEM_IS_PMEM_FORCE=1) ;;
    debian | debian_read) return ;;
  esac
  [ -n "$preload" ] && way_vars+=(LD_PRELOAD="$preload")
}

# check_binding WAY LD_DEBUG_PREFIX: every pmem_* reference of the run was bound to the library of WAY
checking_debian_lib=""
declare -A library_verdict # "debian|ours PATH" -> why PATH is not that kind's library ("" if it is)
check_binding() {
  local way=$1 bindings path version kind=ours verdict
  local -a files=("$2".*)
  [ -e "${files[0]}" ] || files=()
  bindings=""
  if [ ${#files[@]} -gt 0 ]; then
    bindings=$(sed -n "s/.* to \\(.*\\) \\[[0-9]*\\]: normal symbol \`pmem_[a-z0-9_]*' \\[\\(.*\\)\\]\$/\\1 \\2/p" \
      "${files[@]}")
    rm -f "${files[@]}"
  fi
  if [ -z "$bindings" ]; then
    fail "$way: no pmem_* symbol was bound to any library"
    return
  fi
  case $way in debian | debian_read) kind=debian ;; esac
  local -A seen=()
  while read -r path version; do
    [ -n "${seen["$path $version"]+set}" ] && continue
    seen["$path $version"]=1
    [ "$version" = LIBPMEM_1.0 ] || fail "$way: pmem_* bound at version $version, not LIBPMEM_1.0"
    if [ -z "${library_verdict["$kind $path"]+set}" ]; then
      verdict=""
      if [ $kind = debian ]; then
        if cmp -s "$path" "$ours_lib"; then
          verdict="pmem_* bound to pmem2's library ($path), not Debian's"
        elif [[ "$(realpath "$path")" != /usr/lib/* && "$(realpath "$path")" != /lib/* ]]; then
          verdict="pmem_* bound to $path, not to a system library"
        fi
      else
        cmp -s "$path" "$ours_lib" || verdict="pmem_* bound to $path, not to pmem2's library"
      fi
      library_verdict["$kind $path"]=$verdict
    fi
    verdict=${library_verdict["$kind $path"]}
    if [ -n "$verdict" ]; then
      fail "$way: $verdict"
    elif [ $kind = debian ]; then
      checking_debian_lib=$path
    fi
  done <<<"$bindings"
}

# client WAY DIR LOG [--stdin=TEXT] [--sort] -- PROGRAM ARG...: runs PROGRAM in WAY ({} in an ARG: DIR) and
# appends "$ <command> (exit N)", its stdout and its stderr (DIR written as {}) to LOG; sets client_status to N.
# --sort sorts its stdout (threads that finish in any order).
client_status=""
declare -A bindings_checked # "WAY PROGRAM" -> 1 once a run of PROGRAM in WAY had its bindings checked
client() {
  local way=$1 dir=$2 log=$3 stdin="" sort=0 status
  shift 3
  while [ "$1" != -- ]; do
    case $1 in
      --stdin=*) stdin=${1#--stdin=} ;;
      --sort) sort=1 ;;
    esac
    shift
  done
  shift
  local -a args=("${@//\{\}/$dir}")
  local program=${args[0]}
  way_env "$way"
  # The first run of each program in each way has every reference bound at load and checked; the runs after it,
  # of the same program, libraries and environment, bind the same way. (Bindings printed at every run were a
  # quarter of each run's time, and their checking as much again.)
  local -a debug=()
  [ -z "${bindings_checked["$way $program"]+set}" ] &&
    debug=(LD_BIND_NOW=1 LD_DEBUG=bindings LD_DEBUG_OUTPUT="$dir.ld")
  env "${way_vars[@]}" "${debug[@]}" "${args[@]}" <<<"$stdin" >"$dir.stdout" 2>"$dir.stderr"
  status=$?
  client_status=$status
  if [ ${#debug[@]} -gt 0 ]; then
    check_binding "$way" "$dir.ld"
    bindings_checked["$way $program"]=1
  fi
  # The command line, stdout as it is (sorted with --sort), then each line of stderr after "stderr: ", trailing
  # newlines dropped: byte for byte what `$(echo ...; cat; sed 's/^/stderr: /')` gave, without its processes.
  local out="" err="" text
  if [ "$sort" = 1 ]; then
    out=$(sort "$dir.stdout"; echo .) && out=${out%.}
  else
    IFS= read -rd '' out <"$dir.stdout"
  fi
  IFS= read -rd '' err <"$dir.stderr"
  if [ -n "$err" ]; then
    local last=""
    [ "${err: -1}" = $'\n' ] && err=${err%$'\n'} last=$'\n'
    err="stderr: ${err//$'\n'/$'\n'stderr: }$last"
  fi
  text="\$ ${program##*/} ${*:2} (exit $status)"$'\n'"$out$err"
  text=${text%"${text##*[!$'\n']}"}
  text=${text//"$dir"/"{}"}
  text=${text//"${program%/*}/"/}
  text=${text//"${example}_debian"/"$example"}
  printf '%s\n' "$text" >>"$log"
}

# same_log NAME LOG REFERENCE: LOG equals REFERENCE
same_log() {
  if ! cmp -s "$2" "$3"; then
    fail "$1 differs from Debian's:"
    diff "$3" "$2" | head -40 | sed 's/^/    /'
  fi
}

# ---- libpmem examples -------------------------------------------------------------------------------------

# The ways of a libpmem example and the program each runs.
declare -A example_binary
libpmem_ways=(ours ours_forced debian_on_ours debian) # compared once all have run

# libpmem_case NAME EXPECTED_STATUS -- ARG...: runs the example (program $example) with ARGs in every way, in
# its own copy of $work/debian's files; compares output, status, files and their modes with Debian's
libpmem_case() {
  local name=$1 want=$2 way f
  shift 3
  begin "$example: $name"
  for way in "${libpmem_ways[@]}"; do
    rm -rf "${work:?}/$way" "$work/$way.log"
    cp -a "$work/start" "$work/$way"
    client "$way" "$work/$way" "$work/$way.log" -- "${example_binary[$way]}" "$@"
    [ "$client_status" = "$want" ] || fail "$way: exit status $client_status, expected $want: $(<"$work/$way.log")"
  done
  local -A file_mode # "WAY/FILE" -> its permission bits, for every file the ways left
  local line
  while IFS= read -r line; do
    file_mode[${line#* }]=${line%% *}
  done < <(cd "$work" && stat -c '%a %n' -- */* 2>/dev/null)
  for way in ours ours_forced debian_on_ours; do
    same_log "$way: output" "$work/$way.log" "$work/debian.log"
    for f in "$work/debian"/* "$work/$way"/*; do
      f=${f##*/}
      [ "$f" = "*" ] && continue
      if ! cmp -s "$work/debian/$f" "$work/$way/$f"; then
        fail "$way: file $f differs from (or is missing beside) Debian's"
      elif [ "${file_mode[$way/$f]-}" != "${file_mode[debian/$f]-}" ]; then
        fail "$way: file $f has mode ${file_mode[$way/$f]-}, Debian's ${file_mode[debian/$f]-}"
      fi
    done
  done
  end
}

# want_file NAME BYTES-COMMAND...: ours/NAME holds what BYTES-COMMAND prints
want_file() {
  local name=$1
  shift
  begin "$example: content of $name"
  cmp -s "$work/ours/$name" <("$@") || fail "$name does not hold the expected bytes"
  end
}

start_files() {
  rm -rf "$work"
  mkdir -p "$work/start"
  head -c 10000 /dev/urandom >"$work/start/src"
  head -c 3000000 /dev/urandom >"$work/start/big"
  : >"$work/start/empty"
  echo existing >"$work/start/existing"
}

test_simple_copy() {
  start_files
  libpmem_case "copy 4 KiB of 10000 bytes" 0 -- {}/src {}/dst
  want_file dst head -c 4096 "$work/start/src"
  libpmem_case "copy a short file" 0 -- {}/existing {}/dst
  libpmem_case "an existing destination" 1 -- {}/src {}/existing
  libpmem_case "no such source" 1 -- {}/missing {}/dst
  libpmem_case "no such destination folder" 1 -- {}/src {}/no/dst
  libpmem_case "no arguments" 1 --
}

test_full_copy() {
  start_files
  libpmem_case "copy 10000 bytes" 0 -- {}/src {}/dst
  want_file dst cat "$work/start/src"
  libpmem_case "copy 3 MB" 0 -- {}/big {}/dst
  want_file dst cat "$work/start/big"
  libpmem_case "an empty source" 1 -- {}/empty {}/dst
  libpmem_case "an existing destination" 1 -- {}/src {}/existing
  libpmem_case "no such source" 1 -- {}/missing {}/dst
  libpmem_case "the destination is a folder" 1 -- {}/src {}
}

test_manpage() {
  start_files
  if [ -e /pmem-fs ]; then
    begin "$example" && echo "INFO [$context] /pmem-fs exists: not run (it would write /pmem-fs/myfile)"
    return
  fi
  libpmem_case "/pmem-fs/myfile, in a folder that does not exist" 1 --
}

run_libpmem_examples() {
  local path
  for path in "$@"; do
    example=${path##*/}
    work=$base/$example
    example_binary=([ours]="$path" [ours_forced]="$path" [debian_on_ours]="${path}_debian" [debian]="${path}_debian")
    begin "$example: linking"
    readelf -d "$path" | grep -q 'NEEDED.*\[libpmem\.so\.1\]' || fail "$path does not need libpmem.so.1"
    readelf -d "$path" | grep -q 'NEEDED.*\[libstdc++' && fail "$path, a C program, needs libstdc++ itself"
    end
    if declare -F "test_$example" >/dev/null; then "test_$example"; else begin "$example" && fail "no test"; fi
  done
}

# ---- libpmemobj examples ----------------------------------------------------------------------------------

obj_ways=(debian ours ours_forced) # Debian's first: the others are compared with it
declare -A obj_binary

# A scenario is a function that calls `w` for steps that write and `r` for steps that only read. run_scenario
# MODE WAY DIR LOG SCENARIO runs it in WAY on the pool in DIR, appending to LOG; MODE write runs both kinds of
# step, MODE read only the `r` steps (on a pool that a scenario has written).
mode="" way="" dir="" log=""
run_scenario() {
  mode=$1 way=$2 dir=$3 log=$4
  "scenario_$5"
}
w() { [ "$mode" = write ] && step "$@"; return 0; }
r() { step "$@"; }
# step [--fails] [client options] -- COMMAND...: one step of a scenario. In Debian's run of a scenario (its reads of
# its own pool included) every step exits 0 but those marked --fails, which must not (the other libraries match
# Debian's log): a step that failed the same way on both libraries would otherwise pass unnoticed. (Debian's reads of
# another library's pool, way debian_read, are compared with that library's own reads instead.)
step() {
  local fails=0
  if [ "$1" = --fails ]; then fails=1; shift; fi
  client "$way" "$dir" "$log" "$@"
  if [ "$way" = debian ]; then
    if [ $fails = 1 ] && [ "$client_status" = 0 ]; then
      fail "${*##*/}: exit 0 on Debian's library, where it is to fail"
    elif [ $fails = 0 ] && [ "$client_status" != 0 ]; then
      fail "${*##*/}: exit $client_status on Debian's library"
    fi
  fi
}
# p PROGRAM: the path of an example
p() { echo "${obj_binary[$1]}"; }

scenario_btree() {
  local k
  for k in 5 3 8 1 13 21 2 34 55 89 144 4 7; do w -- "$(p btree)" {}/pool i "$k" "value-$k"; done
  w -- "$(p btree)" {}/pool f 21
  r -- "$(p btree)" {}/pool p
  r -- "$(p btree)" {}/pool f 13
  r -- "$(p btree)" {}/pool f 6
}

scenario_string_store_tx() {
  w --stdin=persistent -- "$(p string_store_tx_writer)" {}/pool
  r -- "$(p string_store_tx_reader)" {}/pool
  w --fails --stdin=again -- "$(p string_store_tx_writer)" {}/pool # the pool exists: pmemobj_create fails
  r -- "$(p string_store_tx_reader)" {}/pool
}

scenario_lists() {
  local v
  for v in 1 2 3; do w -- "$(p lists)" {}/pool 0 foo "$v"; done
  for v in 10 20; do w -- "$(p lists)" {}/pool 0 bar "$v"; done
  w -- "$(p lists)" {}/pool 5 foo 50
  w -- "$(p lists)" {}/pool 9 bar 90
  r -- "$(p lists)" {}/pool 0 foo print
  r -- "$(p lists)" {}/pool 0 bar print
  r -- "$(p lists)" {}/pool 5 foo print
  r -- "$(p lists)" {}/pool 9 bar print
  r -- "$(p lists)" {}/pool 1 foo print
  w --fails -- "$(p lists)" {}/pool 10 foo 1 # list index 10: out of scope (MAX_LISTS is 10)
}

scenario_pi() {
  w -- "$(p pi)" {}/pool calc 4 400000
  w -- "$(p pi)" {}/pool calc 3 300000
  r -- "$(p pi)" {}/pool print
  r --sort -- "$(p pi)" {}/pool "done"
  r -- "$(p pi)" {}/pool todo
}

# mapcli BACKEND: a scripted session (insert, check, remove, 200 keys from the fixed seed, print, an unknown
# command), then a second session on the same pool. Input ends at EOF: mapcli's `q` closes stdin and then reads
# it again.
mapcli_session() {
  w --stdin=$'i 5\ni 3\ni 9\ni 1000000\nc 5\nc 4\nr 3\nc 3\nr 77\nn 200\np\nx' -- \
    "$(p mapcli)" "$1" {}/pool 42
  w --stdin=$'i 4\nr 9\nn 50\nc 5\nc 9\nc 4' -- "$(p mapcli)" "$1" {}/pool 7
  r --stdin=$'p\nc 1000000' -- "$(p mapcli)" "$1" {}/pool
}
# ctree is left out: PMDK's ctree_map crashes (SIGSEGV in libpmemobj under ctree_map_insert_leaf) at the second
# insert of a mapcli session, which inserts OID_NULL values, on Debian's libpmem as well.
for backend in btree rbtree rtree skiplist hashmap_tx hashmap_atomic hashmap_rp; do
  eval "scenario_mapcli_$backend() { mapcli_session $backend; }"
done

# pool_checks WAY POOL LOG: pmempool check and info of a pool (another way's) through WAY's library
pool_checks() {
  local way=$1 dir=$2 log=$3
  client "$way" "$dir" "$log" -- pmempool check -v {}/pool
  client "$way" "$dir" "$log" -- pmempool info -s {}/pool
}

# strip_identity LOG: the log without what differs between two pools of the same content (UUIDs, times,
# checksums of headers that hold them)
strip_identity() {
  sed -E -e 's/[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/<uuid>/g' \
    -e 's/^(Creation Time|Checksum) *:.*/\1: <.>/' "$1"
}

run_obj_scenario() {
  local scenario=$1 way reader
  local work=$base/$scenario
  rm -rf "$work"
  mkdir -p "$work"
  begin "$scenario"
  for way in "${obj_ways[@]}"; do
    mkdir -p "$work/$way"
    : >"$work/$way.log"
    run_scenario write "$way" "$work/$way" "$work/$way.log" "$scenario"
    [ "$way" != debian ] && same_log "$way: output" "$work/$way.log" "$work/debian.log"
  done
  end
  # The pool each way wrote, read back through the other library: the same as the writer's own reads.
  begin "$scenario: read back through the other library"
  local writer
  for writer in "${obj_ways[@]}"; do
    reader=ours_read
    [ "$writer" != debian ] && reader=debian_read
    local own=$work/$writer.own other=$work/$writer.other
    : >"$own" && : >"$other"
    run_scenario read "${writer/debian/debian_read}" "$work/$writer" "$own" "$scenario"
    run_scenario read "$reader" "$work/$writer" "$other" "$scenario"
    same_log "$writer's pool read through $reader" "$other" "$own"
  done
  end
  begin "$scenario: pmempool check and info of each pool through both libraries"
  for way in "${obj_ways[@]}"; do
    : >"$work/$way.pool.ours" && : >"$work/$way.pool.debian"
    pool_checks ours_read "$work/$way" "$work/$way.pool.ours"
    pool_checks debian_read "$work/$way" "$work/$way.pool.debian"
    grep -q '^$ pmempool check .*(exit 0)$' "$work/$way.pool.ours" || fail "pmempool check of $way's pool on ours: $(
      cat "$work/$way.pool.ours")"
    grep -q '^{}/pool: consistent$' "$work/$way.pool.ours" || fail "$way's pool not consistent, through ours"
    grep -q '^{}/pool: consistent$' "$work/$way.pool.debian" || fail "$way's pool not consistent, through Debian's"
    same_log "pmempool check/info of $way's pool through ours" "$work/$way.pool.ours" "$work/$way.pool.debian"
  done
  end
  rm -rf "${work:?}"/*/pool # the map pools are 160 MiB each
}

run_libpmemobj_examples() {
  local path
  for path in "$@"; do obj_binary[${path##*/}]=$path; done
  # Sharded (shard_count in BUILD.bazel): shard i of n runs the scenarios whose number is i mod n.
  [ -n "${TEST_SHARD_STATUS_FILE:-}" ] && touch "$TEST_SHARD_STATUS_FILE"
  local -a scenarios=(btree string_store_tx lists pi mapcli_btree mapcli_rbtree mapcli_rtree mapcli_skiplist
    mapcli_hashmap_tx mapcli_hashmap_atomic mapcli_hashmap_rp)
  local i
  for i in "${!scenarios[@]}"; do
    [ $((i % ${TEST_TOTAL_SHARDS:-1})) -eq "${TEST_SHARD_INDEX:-0}" ] && run_obj_scenario "${scenarios[i]}"
  done
}

# ---- pmempool ---------------------------------------------------------------------------------------------

run_pmempool() {
  local creator reader type
  for creator in ours debian; do
    local work=$base/created_by_$creator
    mkdir -p "$work/pools"
    begin "pmempool create obj, blk, log through $creator"
    : >"$work/create.log"
    client "$creator" "$work/pools" "$work/create.log" -- pmempool create --layout=clients obj {}/obj
    client "$creator" "$work/pools" "$work/create.log" -- pmempool create --write-layout blk 4096 {}/blk
    client "$creator" "$work/pools" "$work/create.log" -- pmempool create log {}/log
    client "$creator" "$work/pools" "$work/create.log" -- pmempool create --size=32M obj {}/obj_32m
    client "$creator" "$work/pools" "$work/create.log" -- pmempool create obj {}/obj # exists already
    [ "$creator" = ours ] || same_log "the output of pmempool create" "$base/created_by_ours/create.log" \
      "$work/create.log"
    grep -q '^\$ pmempool create obj {}/obj (exit 0)$' "$work/create.log" &&
      fail "creating an existing pool succeeded"
    end
    for reader in debian ours ours_forced; do # Debian's first: the others are compared with it
      begin "pools created through $creator: check, info, dump through $reader"
      : >"$work/$reader.log"
      for type in obj blk log obj_32m; do
        client "$reader" "$work/pools" "$work/$reader.log" -- pmempool check -v {}/"$type"
        client "$reader" "$work/pools" "$work/$reader.log" -- pmempool info -s {}/"$type"
      done
      client "$reader" "$work/pools" "$work/$reader.log" -- pmempool dump {}/log
      client "$reader" "$work/pools" "$work/$reader.log" -- pmempool dump -r 0-3 {}/blk
      client "$reader" "$work/pools" "$work/$reader.log" -- pmempool dump {}/obj
      [ "$(grep -c '^{}/[a-z0-9_]*: consistent$' "$work/$reader.log")" = 4 ] ||
        fail "not all four pools consistent: $(grep ': ' "$work/$reader.log" | grep -v '^[A-Z]' | head -8)"
      [ "$reader" = debian ] || same_log "$reader" "$work/$reader.log" "$work/debian.log"
      end
    done
  done
  begin "pools created through ours and through Debian's: the same but for UUIDs and times"
  strip_identity "$base/created_by_ours/debian.log" >"$base/ours.stripped"
  strip_identity "$base/created_by_debian/debian.log" >"$base/debian.stripped"
  same_log "pmempool info of the pools created through ours" "$base/ours.stripped" "$base/debian.stripped"
  end
  begin "pmempool rm through ours"
  : >"$base/rm.log"
  client ours "$base/created_by_ours/pools" "$base/rm.log" -- pmempool rm -v {}/obj {}/blk {}/log {}/obj_32m
  [ -z "$(ls -A "$base/created_by_ours/pools")" ] || fail "pools left: $(ls "$base/created_by_ours/pools")"
  end
}

case $suite in
  libpmem_examples) run_libpmem_examples "$@" ;;
  libpmemobj_examples) run_libpmemobj_examples "$@" ;;
  pmempool) run_pmempool ;;
  *) echo "unknown suite $suite" >&2 && exit 2 ;;
esac

echo "Debian's library: ${checking_debian_lib:-not seen}; pmem2's: $ours_lib"
echo "clients_test $suite: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
