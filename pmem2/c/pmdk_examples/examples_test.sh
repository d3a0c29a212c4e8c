#!/usr/bin/env bash
# Runs PMDK's libpmem2 example programs, unchanged, against pmem2's libpmem2.so.1 and against Debian's.
#
#   examples_test.sh LIBPMEM2_SO EXAMPLE...
#
# LIBPMEM2_SO is pmem2's library; each EXAMPLE is the path of an example built against pmem2's header and
# library (it finds pmem2's library through its RUNPATH), with its twin built against Debian's header and
# library beside it as EXAMPLE_debian. Every case runs in three ways, each in its own copy of the same files:
#   ours            EXAMPLE
#   debian_on_ours  EXAMPLE_debian with LD_LIBRARY_PATH=<folder of LIBPMEM2_SO> (a Debian binary, our library)
#   debian          EXAMPLE_debian (Debian's binary and library: the reference)
# and is checked: which library the first run of each binary in each way bound its pmem2_* references to
# (LD_DEBUG=bindings, with LD_BIND_NOW=1 should one bind lazily; all at version LIBPMEM2_1.0), the exit status
# against the expected one, stdout and the files against the expected content where the case knows it, and stdout,
# stderr and the files of the three runs against each other. Messages of the library (what pmem2_perror prints
# after "pmem2_...: ") may differ; which call printed one may not.
# Everything runs twice: with the granularity the file system gets, and with PMEM2_FORCE_GRANULARITY=cache_line.
set -uo pipefail

if [ $# -lt 2 ]; then
  echo "usage: $0 LIBPMEM2_SO EXAMPLE..." >&2
  exit 2
fi
ours_lib=$(realpath "$1")
shift
# Outside Bazel (no TEST_TMPDIR), a folder of this run's, removed at exit with every pool it made.
if [ -z "${TEST_TMPDIR:-}" ]; then
  own_tmp=$(mktemp -d)
  trap 'rm -rf "$own_tmp"' EXIT
fi
base=${TEST_TMPDIR:-$own_tmp}/pmdk_examples
ways=(ours debian_on_ours debian)
passed=0 failed=0
debian_lib=""

fail() {
  echo "FAIL [$context] $*"
  failed=$((failed + 1))
  case_ok=0
}

# The helpers below run for each of hundreds of runs, on guests where a process costs milliseconds: they start
# as few processes as they can.

# bound_library LD_DEBUG_PREFIX: "<library> <version>" for each distinct pair the run bound pmem2_* symbols to;
# removes the LD_DEBUG output
bound_library() {
  local -a files=("$1".*)
  [ -e "${files[0]}" ] || return 0
  local line
  local -A seen=()
  while IFS= read -r line; do
    [ -n "${seen["$line"]+set}" ] && continue
    seen["$line"]=1
    printf '%s\n' "$line"
  done < <(sed -n "s/.* to \\(.*\\) \\[[0-9]*\\]: normal symbol \`pmem2_[a-z0-9_]*' \\[\\(.*\\)\\]\$/\\1 \\2/p" "${files[@]}")
  rm -f "${files[@]}"
}

# check_binding WAY LD_DEBUG_PREFIX: the run of WAY bound to the library it must use, at LIBPMEM2_1.0
declare -A bindings_checked # "WAY BINARY" -> 1 once a run of BINARY in WAY had its bindings checked
declare -A library_verdict # "debian|ours PATH" -> why PATH is not that kind's library ("" if it is)
check_binding() {
  local way=$1 bindings path version kind=ours verdict
  bindings=$(bound_library "$2")
  if [ -z "$bindings" ] || [[ "$bindings" == *$'\n'* ]]; then
    fail "$way: expected the pmem2_* functions bound to one library at one version, got: ${bindings:-nothing}"
    return
  fi
  path=${bindings% *} version=${bindings##* }
  [ "$version" = LIBPMEM2_1.0 ] || fail "$way: bound at version $version, not LIBPMEM2_1.0"
  [ "$way" = debian ] && kind=debian
  if [ -z "${library_verdict["$kind $path"]+set}" ]; then
    verdict=""
    if [ $kind = debian ]; then
      if cmp -s "$path" "$ours_lib"; then
        verdict="bound to pmem2's library ($path), not Debian's"
      elif [[ "$(realpath "$path")" != /usr/lib/* && "$(realpath "$path")" != /lib/* ]]; then
        verdict="bound to $path, not to a system library"
      fi
    elif ! cmp -s "$path" "$ours_lib"; then
      verdict="bound to $path, not to pmem2's library $ours_lib"
    fi
    library_verdict["$kind $path"]=$verdict
  fi
  verdict=${library_verdict["$kind $path"]}
  if [ -n "$verdict" ]; then
    fail "$way: $verdict"
  elif [ $kind = debian ] && [ -z "$debian_lib" ]; then
    debian_lib=$path
  fi
}

# normalized FILE WAY: FILE's text with the way's folder written as {}, its program as the example's name, and
# the library's own message after "pmem2_...: " left out; trailing empty lines dropped, and one newline at the end
normalized() {
  local line
  local -a lines
  mapfile -t lines <"$1"
  while [ ${#lines[@]} -gt 0 ] && [ -z "${lines[-1]}" ]; do unset 'lines[-1]'; done
  [ ${#lines[@]} -eq 0 ] && lines=("")
  for line in "${lines[@]}"; do
    line=${line//"$dir/$2"/"{}"}
    line=${line//"${binary[$2]}"/"$example"}
    [[ "$line" =~ ^(pmem2_[^:]*):\  ]] && line="${BASH_REMATCH[1]}: <message of the library>"
    printf '%s\n' "$line"
  done
}

# empty_message FILE: FILE has a line where pmem2_perror printed an empty message
empty_message() {
  local line
  local -a lines
  mapfile -t lines <"$1"
  for line in "${lines[@]}"; do
    [[ "$line" =~ ^pmem2_[^:]*:[[:space:]]*$ ]] && return 0
  done
  return 1
}

# new_files: empty folders for the three ways; the case's files are made in $dir/ours, then copied (same_files)
new_files() {
  rm -rf "$dir"
  for way in "${ways[@]}"; do mkdir -p "$dir/$way"; done
}
same_files() {
  local way
  for way in debian_on_ours debian; do cp -a "$dir/ours/." "$dir/$way/"; done
}

# run_case NAME EXPECTED_STATUS [--stdout=TEXT] [--stdout-filter=SED] -- ARG...: runs the example with ARGs ({}
# in an ARG: the way's folder) in the three ways and checks it (see the top of the file)
run_case() {
  local name=$1 want_status=$2 want_stdout="" check_stdout=0 filter="" way status
  shift 2
  while [ "$1" != -- ]; do
    case $1 in
      --stdout=*) want_stdout=${1#--stdout=} check_stdout=1 ;;
      --stdout-filter=*) filter=${1#--stdout-filter=} ;;
    esac
    shift
  done
  shift
  context="$example, $granularity: $name"
  case_ok=1
  for way in "${ways[@]}"; do
    local -a args=("${@//\{\}/$dir/$way}") env=()
    [ "$way" = debian_on_ours ] && env=(LD_LIBRARY_PATH="${ours_lib%/*}")
    # The first run of each binary in each way has every reference bound at load and checked; the runs after it,
    # of the same binary, libraries and environment, bind the same way.
    local -a debug=()
    if [ -z "${bindings_checked["$way ${binary[$way]}"]+set}" ]; then
      rm -f "$dir/$way.ld".*
      debug=(LD_BIND_NOW=1 LD_DEBUG=bindings LD_DEBUG_OUTPUT="$dir/$way.ld")
    fi
    env "${env[@]}" "${debug[@]}" "${binary[$way]}" "${args[@]}" >"$dir/$way.stdout" 2>"$dir/$way.stderr"
    status=$?
    if [ ${#debug[@]} -gt 0 ]; then
      check_binding "$way" "$dir/$way.ld"
      bindings_checked["$way ${binary[$way]}"]=1
    fi
    if [ "$status" -ne "$want_status" ]; then
      fail "$way: exit status $status, expected $want_status; stderr:"
      sed 's/^/    /' "$dir/$way.stderr"
    fi
    normalized "$dir/$way.stdout" "$way" >"$dir/$way.stdout.n"
    normalized "$dir/$way.stderr" "$way" >"$dir/$way.stderr.n"
    if [ -n "$filter" ]; then
      sed -E "$filter" "$dir/$way.stdout.n" >"$dir/$way.stdout.f"
      mv "$dir/$way.stdout.f" "$dir/$way.stdout.n"
    fi
    if [ "$check_stdout" = 1 ] && [ "$(<"$dir/$way.stdout.n")" != "$want_stdout" ]; then
      fail "$way: stdout is not the expected one:"
      diff <(printf '%s\n' "$want_stdout") "$dir/$way.stdout.n" | sed 's/^/    /'
    fi
    # pmem2's messages: never empty
    if [ "$way" = ours ] && empty_message "$dir/$way.stderr"; then
      fail "$way: an empty message of the library: $(grep -E '^pmem2_[^:]*:[[:space:]]*$' "$dir/$way.stderr")"
    fi
  done
  for way in ours debian_on_ours; do
    local stream f
    for stream in stdout stderr; do
      if ! cmp -s "$dir/$way.$stream.n" "$dir/debian.$stream.n"; then
        fail "$way: $stream differs from Debian's library's:"
        diff "$dir/debian.$stream.n" "$dir/$way.$stream.n" | sed 's/^/    /'
      fi
    done
    for f in "$dir/debian"/*; do
      [ -e "$f" ] || continue
      if ! cmp -s "$f" "$dir/$way/${f##*/}"; then
        fail "$way: file ${f##*/} differs from the one Debian's library left"
        cp -a "$f" "$dir/$way/" # the next case starts from the same files again
      fi
    done
    # And no file Debian's library did not leave.
    for f in "$dir/$way"/*; do
      [ -e "$f" ] || continue
      if [ ! -e "$dir/debian/${f##*/}" ]; then
        fail "$way: left file ${f##*/}, which Debian's library did not"
        rm -rf "$f"
      fi
    done
  done
  if [ "$case_ok" = 1 ]; then
    passed=$((passed + 1))
    echo "PASS [$context]"
  fi
}

# check_file NAME TEXT-COMMAND...: the file `ours/NAME` holds what TEXT-COMMAND prints (the ways agree already)
check_file() {
  local name=$1
  shift
  context="$example, $granularity: content of $name"
  case_ok=1
  cmp -s "$dir/ours/$name" <("$@") || fail "$name does not hold the expected bytes"
  [ "$case_ok" = 1 ] && passed=$((passed + 1)) && echo "PASS [$context]"
}

# The expected output of `advanced FILE OFFSET LENGTH`: the bytes as %02X, 16 to a line.
hex_lines() {
  od -An -v -tx1 -j "$2" -N "$3" "$1" | tr ' ' '\n' | sed '/^$/d' | tr '[:lower:]' '[:upper:]' |
    awk '{ printf "%s ", $0; if (NR % 16 == 0) printf "\n" }'
}

test_basic() {
  new_files
  truncate -s 64K "$dir/ours/file"
  : >"$dir/ours/empty"
  same_files
  run_case "writes its string" 0 --stdout= -- {}/file
  check_file file eval "printf 'hello, persistent memory\\0'; head -c \$((65536 - 25)) /dev/zero"
  run_case "an empty file" 1 -- {}/empty
  run_case "no such file" 1 -- {}/missing
  run_case "no arguments" 1 --
}

test_advanced() {
  new_files
  seq 1 20000 | head -c 65536 >"$dir/ours/file"
  same_files
  run_case "an unaligned range" 0 --stdout="$(hex_lines "$dir/ours/file" 5000 100)" -- {}/file 5000 100
  run_case "a range across a page boundary" 0 --stdout="$(hex_lines "$dir/ours/file" 4090 32)" -- {}/file 4090 32
  run_case "the whole file" 0 --stdout="$(hex_lines "$dir/ours/file" 0 65536)" -- {}/file 0 65536
  run_case "an offset past the end" 1 -- {}/file 131072 16
  run_case "a range past the end" 1 -- {}/file 61440 8192
  # libpmem2 passes length 0 to mmap (-EINVAL); pmem2 reports PMEM2_E_MAP_RANGE. Both fail in pmem2_map_new.
  run_case "length 0 at the end" 1 -- {}/file 65536 0
}

test_log() {
  new_files
  truncate -s 1M "$dir/ours/log"
  truncate -s 64K "$dir/ours/small"
  same_files
  local usage
  usage=$("${binary[ours]}" help)
  run_case "help" 0 --stdout="$usage" -- help
  run_case "too few arguments" 1 --stdout="$usage" -- {}/log
  run_case "append, appendv, dump" 0 --stdout="helloabcdef" -- {}/log append hello appendv 3 ab cd ef dump
  run_case "dump in a new process" 0 --stdout="helloabcdef" -- {}/log dump
  run_case "append, dump" 0 --stdout="helloabcdefxyz" -- {}/log append xyz dump
  run_case "rewind, dump" 0 --stdout="" -- {}/log rewind dump
  run_case "an unknown command" 1 --stdout="$usage" -- {}/log append again bogus
  run_case "dump after the failed command" 0 --stdout="again" -- {}/log dump
  run_case "a file under 1 MiB" 1 -- {}/small dump
}

test_redo() {
  new_files
  truncate -s 64K "$dir/ours/pool"
  same_files
  run_case "add" 0 --stdout= -- add {}/pool 3 30 1 10 2 20
  run_case "print" 0 --stdout=$'1 = 10\n2 = 20\n3 = 30' -- print {}/pool
  run_case "add more" 0 --stdout= -- add {}/pool 0 5 4 40
  run_case "print again" 0 --stdout=$'0 = 5\n1 = 10\n2 = 20\n3 = 30\n4 = 40' -- print {}/pool
  run_case "check" 0 --stdout= -- check {}/pool
  run_case "dump" 0 -- dump {}/pool
  run_case "an odd number of add arguments" 1 -- add {}/pool 7
  run_case "an unknown command" 1 -- bogus {}/pool
}

test_ringbuf() {
  new_files
  # 64 KiB holds 1022 entries of 64 B: both runs (1200 entries, then 1000 from where it stopped) wrap around.
  truncate -s 64K "$dir/ours/ring"
  same_files
  local timing='s/^(Time elapsed|Bandwidth): [0-9.]+ /\1: N /'
  local want=$'Time elapsed: N seconds\nBandwidth: N megabytes per second'
  run_case "2 threads, 64-byte entries" 0 --stdout="$want" --stdout-filter="$timing" -- {}/ring 64 1200
  run_case "again on the same buffer" 0 --stdout="$want" --stdout-filter="$timing" -- {}/ring 64 1000
  run_case "another entry size" 1 --stdout= -- {}/ring 128 10
  run_case "entry size 0" 1 --stdout= -- {}/ring 0 10
}

test_map_multiple_files() {
  new_files
  truncate -s 64K "$dir/ours/a"
  truncate -s 128K "$dir/ours/b"
  truncate -s 4K "$dir/ours/c"
  head -c 5000 /dev/zero >"$dir/ours/unaligned"
  same_files
  run_case "three files side by side" 0 --stdout= -- {}/a {}/b {}/c
  check_file a eval "head -c 65536 /dev/zero | tr '\\0' -"
  check_file b eval "head -c 131072 /dev/zero | tr '\\0' -"
  check_file c eval "head -c 4096 /dev/zero | tr '\\0' -"
  run_case "one file" 0 --stdout= -- {}/c
  run_case "a file of unaligned size" 1 -- {}/a {}/unaligned
  run_case "no arguments" 1 --
}

test_unsafe_shutdown() {
  new_files
  truncate -s 64K "$dir/ours/pool"
  same_files
  run_case "write" 0 --stdout= -- write {}/pool "hello world"
  run_case "read" 0 --stdout="hello world" -- read {}/pool
  run_case "write again" 0 --stdout= -- write {}/pool "bye"
  run_case "read again" 0 --stdout="bye" -- read {}/pool
  run_case "an unknown operation" 1 -- erase {}/pool
  run_case "no such file" 1 -- read {}/missing
}

# Sharded (shard_count in BUILD.bazel): shard i of n runs the (granularity, example) pairs whose number is i mod n.
[ -n "${TEST_SHARD_STATUS_FILE:-}" ] && touch "$TEST_SHARD_STATUS_FILE"
pair=-1
for granularity in detected cache_line; do
  if [ "$granularity" = detected ]; then unset PMEM2_FORCE_GRANULARITY; else export PMEM2_FORCE_GRANULARITY=$granularity; fi
  for path in "$@"; do
    pair=$((pair + 1))
    [ $((pair % ${TEST_TOTAL_SHARDS:-1})) -eq "${TEST_SHARD_INDEX:-0}" ] || continue
    example=${path##*/}
    dir=$base/$granularity/$example
    declare -A binary=([ours]="$path" [debian_on_ours]="${path}_debian" [debian]="${path}_debian")
    if ! declare -F "test_$example" >/dev/null; then
      context="$example" && fail "no test for this example"
      continue
    fi
    context="$example: linking"
    case_ok=1
    needed=$(readelf -d "$path" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p')
    grep -qx libpmem2.so.1 <<<"$needed" || fail "$path does not need libpmem2.so.1: $needed"
    grep -qx 'libstdc++.so.6' <<<"$needed" && fail "$path, a C program, needs libstdc++.so.6 itself"
    [ "$case_ok" = 1 ] && [ "$granularity" = detected ] && passed=$((passed + 1)) && echo "PASS [$context]"
    "test_$example"
  done
done

echo "Debian's library: ${debian_lib:-not seen}; pmem2's: $ours_lib"
echo "examples_test: $passed passed, $failed failed"
[ "$failed" -eq 0 ] && [ "$passed" -gt 0 ]
