#!/usr/bin/env bash
# The kernels' non-temporal paths (kernels-inl.h: every instantiation of MemmoveNt and MemsetNt; not
# MemmoveNtLarge, the copies of 8 KiB (cache-line tables) or 16 KiB (byte tables) and more in 32-line batches where a
# row asks for them, whose two register saves come once per copy of 0.5 us or more, measured with them in
# tools/bench/results/intel-6-167.md) save no
# callee-saved register around their stream of stores: on Zen 5 a value stored on the stack before 48 or more
# non-temporal stores and loaded back after them cost 8-21 % of a random cold 1.5-3 KiB copy
# (tools/bench/results/amd-26-2.md, "Registers saved around the stream"), and a change that reintroduced it
# (loading a whole record's words before storing them) passed every other test. The kernels are compiled as an
# optimized build compiles them (:kernels_o2_for_test); each function's disassembly (binutils' objdump) must
# hold no push. The cache-line entry points (MemmoveCacheLine, MemsetCacheLine), which jump into those paths, must
# set up no frame at all (no push, no write to %rsp, no leave): the frame their ordinary-store path needs lives in a
# function of its own (tools/bench/results/amd-26-2.md, "The cache-line entry without a frame"). The cache-line
# tables' non-temporal paths (every MemmoveNt / MemsetNt but the byte tables' NoFlushLine ones) hold no ordinary store
# between their entry and their first `ret`: the partial lines' code lies after it (PartialLine in kernels-inl.h),
# because on Zen 5 that code on the straight path around a hot 1 KiB stream, never executed, cost 20-30 ns a call
# (tools/bench/results/amd-26-2.md, "Code the stream never runs"). The byte tables' are exempt: their copy below a line
# is that path's work. So that a `ret` copied ahead of the stream cannot hide it, a non-temporal store must come
# before that first `ret` too. A sanitizer's build is not checked: its instrumentation calls need registers of their
# own. Every drain fence is the one its flush instruction needs (flush.h, kDrainFenceFor): MFENCE in the CLFLUSH tables'
# functions, which AMD orders only with MFENCE, SFENCE in every other; each kernel that drains holds its fence, and
# those that leave the drain to their caller (the instantiations for PMEM2_F_MEM_NODRAIN, the per-line loops, the
# cache-line entry points) hold none, found by address so that an instantiation GCC folded into another is checked as
# the code it runs; the recording test checks the kernels' logic with fences it records, this the instructions the
# real policies compiled to. Likewise for ops.cc's (:kernels_o2_for_test
# has it too) persist, flush and drain functions of the cache-line tables (flush.h: Persist, Flush): each Persist holds
# its flush instruction and a fence (of its kind, as above), each Flush its instruction and no fence, DrainMfence MFENCE
# and DrainSfence SFENCE; flush_test checks their logic with a recording policy, this what FlushInstructions, the real
# one, compiled to. Every loop of at most 64 bytes that stores a
# vector register lies within one 64-byte line (BUILD.bazel's -falign-loops=64, and loops written so that GCC aligns
# them: kernels-inl.h, CopyDisjoint): on Intel 6/167 the 4 KiB page copy alone took 1.13-1.20x the time, and the fill
# alone 1.22-1.39x, in a build where its loop crossed a line (pmem2/arch/README.md). Checked where the loop's section
# is aligned to 64 bytes or more, so that its offsets there are its addresses' in any binary; a loop in a section
# aligned to less fails.
#
#   nt_stream_registers_test.sh ARCHIVE...
set -uo pipefail

if [ $# -lt 1 ]; then
  echo "usage: $0 ARCHIVE..." >&2
  exit 2
fi

checked=0 failed=0 entries=0 memmove_entries=0 memset_entries=0 stream_paths=0 mfence_functions=0 sfence_functions=0
draining_kernels=0 fenceless_kernels=0
declare -A kernel_kinds=()
table_functions=0
vector_loops=0
# A store from a register or an immediate to memory (AT&T: the source first) by a move, an extract or a PEXTR, other
# than the non-temporal moves (movnti, movntdq, vmovntdq, ...).
ordinary_store=$'\t(v?mov([a-mo-z0-9][a-z0-9]*|n[a-su-z0-9][a-z0-9]*)?|v?extract[a-z0-9]*|v?pextr[bwdq])'
ordinary_store+=$'[[:space:]]+[%$][^,]*,.*\\)(\\{%k[0-7]\\})?([[:space:]]+#.*)?$'
nt_store=$'\tv?movnt[a-z0-9]*[[:space:]]+%[^,]*,.*\\)$'

# disassemble ARCHIVE SYMBOL: sets `listing` to the symbol's disassembly, once for all its checks; fails the symbol
# (and returns 1) if objdump printed none (an objdump without --disassemble=SYMBOL would otherwise pass everything).
disassemble() {
  listing=$(objdump -d --no-show-raw-insn --disassemble="$2" "$1")
  if ! grep -qF "<$2>:" <<<"$listing"; then
    echo "FAIL $(c++filt "$2"): objdump printed no disassembly of it"
    failed=$((failed + 1))
    return 1
  fi
}

# check SYMBOL PATTERN WHAT [BEFORE_FIRST [REQUIRED]]: fails the symbol if a line of `listing` matches PATTERN (an ERE;
# empty: none is looked for). With BEFORE_FIRST (an ERE), only the lines before the first one matching it are looked
# at; with REQUIRED (an ERE), one of those lines must match it.
check() {
  local lines=$listing matches
  if [ -n "${4:-}" ]; then
    lines=$(awk -v stop="$4" '$0 ~ stop {exit} {print}' <<<"$lines")
  fi
  if [ -n "${5:-}" ] && ! grep -qE "$5" <<<"$lines"; then
    echo "FAIL $(c++filt "$1"): no $3"
    failed=$((failed + 1))
    return 0
  fi
  [ -n "$2" ] || return 0
  matches=$(grep -E "$2" <<<"$lines")
  if [ -n "$matches" ]; then
    echo "FAIL $(c++filt "$1"): $(wc -l <<<"$matches") $3:"
    echo "$matches"
    failed=$((failed + 1))
  fi
}
for archive in "$@"; do
  case $archive in
    *.a) ;;
    *) continue ;;
  esac
  # Not grep -q: nm would die of SIGPIPE, and pipefail turn the match into a failure.
  if nm "$archive" | grep -E '__(asan|tsan|ubsan)_' >/dev/null; then
    echo "SKIP $archive: built with a sanitizer"
    # Reported as a skipped case (scripts/test.sh counts the report's attributes), not as a pass.
    if [ -n "${XML_OUTPUT_FILE:-}" ]; then
      cat >"$XML_OUTPUT_FILE" <<'XML'
<?xml version="1.0" encoding="UTF-8"?>
<testsuites tests="1" failures="0" disabled="0" errors="0">
<testsuite name="NtStreamRegisters" tests="1" failures="0" disabled="0" skipped="1" errors="0">
<testcase name="NoRegisterSavedAroundTheStream" status="run" result="skipped" classname="NtStreamRegisters">
<skipped message="built with a sanitizer: its instrumentation calls need registers of their own"/>
</testcase>
</testsuite>
</testsuites>
XML
    fi
    exit 0
  fi
  while read -r symbol; do
    checked=$((checked + 1))
    disassemble "$archive" "$symbol" || continue
    check "$symbol" $'\tpush' "push instruction(s)"
    case $symbol in
      *NoFlushLine*) ;;
      *)
        stream_paths=$((stream_paths + 1))
        check "$symbol" "$ordinary_store" "ordinary store(s) before the first ret" $'\tret'
        # ... and the stream itself is among the lines looked at (a ret copied ahead of the loop would hide it).
        check "$symbol" '' "non-temporal store before the first ret" $'\tret' "$nt_store"
        ;;
    esac
  done < <(nm "$archive" | awk '$2 ~ /^[tT]$/ {print $3}' | grep -E 'kernels(9MemmoveNt|8MemsetNt)I' | sort -u)
  while read -r symbol; do
    entries=$((entries + 1))
    case $symbol in
      *16MemmoveCacheLineI*) memmove_entries=$((memmove_entries + 1)) ;;
      *) memset_entries=$((memset_entries + 1)) ;;
    esac
    disassemble "$archive" "$symbol" || continue
    check "$symbol" $'\t(push|leave)|,%rsp$' "instruction(s) setting up or tearing down a frame"
  done < <(nm "$archive" | awk '$2 ~ /^[tT]$/ {print $3}' | grep -E 'kernels(16MemmoveCacheLine|15MemsetCacheLine)I' |
    sort -u)
  # One disassembly of the whole archive: "FENCES SYMBOL" for each function symbol, FENCES the fences its code holds
  # ("mfence", "sfence", both joined by "+", or "none"; "unknown" if no code was found at its address). A symbol whose
  # code is another's (GCC folds identical instantiations into one) is given that code's fences.
  while read -r fences symbol; do
    for fence in ${fences//+/ }; do
      case $fence:$symbol in
        none:*) ;;
        unknown:*)
          echo "FAIL $(c++filt "$symbol"): objdump printed no code at its address"
          failed=$((failed + 1))
          ;;
        mfence:*11ClflushLine* | mfence:*11DrainMfence*) mfence_functions=$((mfence_functions + 1)) ;;
        sfence:*11ClflushLine* | sfence:*11DrainMfence*)
          echo "FAIL $(c++filt "$symbol"): SFENCE in a CLFLUSH table's function (its drain needs MFENCE)"
          failed=$((failed + 1))
          ;;
        sfence:*) sfence_functions=$((sfence_functions + 1)) ;;
        *)
          echo "FAIL $(c++filt "$symbol"): MFENCE outside the CLFLUSH tables (their drain is SFENCE)"
          failed=$((failed + 1))
          ;;
      esac
    done
    # Each kernel that drains holds its fence; each that leaves the drain to its caller (a kDrain of false: the
    # flags' PMEM2_F_MEM_NODRAIN), the per-line loops and the cache-line entry points (which jump to the kernels that
    # drain) hold none. Which fence is checked above; that a fence comes after the last store, by the recording test.
    case $symbol in
      *kernels*) ;;
      *) continue ;;
    esac
    # Which kernel of which instruction set this is ("avx MemsetNt drain"), so that each is required below: one
    # renamed or inlined away would otherwise leave the others' counts standing.
    kind=$(sed -E 's/.*6x86_64(4sse2|3avx|6avx512)12_GLOBAL__N_17kernels[0-9]+([A-Za-z]+)I.*/\1 \2/; s/^[0-9]//' \
      <<<"$symbol")
    case $symbol in
      *kernels9MemmoveNtI*Lb1EEEPv* | *kernels8MemsetNtI*Lb1EEEPv* | *kernels14MemmoveNtLargeI*Lb1EEEPv* | \
        *kernels20MemmoveNtOverlappingI*Lb1EEEPv*) kind+=" drain" ;;
      *kernels9MemmoveNtI* | *kernels8MemsetNtI* | *kernels14MemmoveNtLargeI* | *kernels20MemmoveNtOverlappingI*)
        kind+=" nodrain"
        ;;
    esac
    kernel_kinds[$kind]=1
    case $symbol in
      *kernels9MemmoveNtI*Lb1EEEPv* | *kernels8MemsetNtI*Lb1EEEPv* | *kernels14MemmoveNtLargeI*Lb1EEEPv* | \
        *kernels20MemmoveNtOverlappingI*Lb1EEEPv* | *kernels24MemmoveCacheLineTemporalI* | \
        *kernels23MemsetCacheLineTemporalI* | *kernels11MemmoveByteI* | *kernels10MemsetByteI* | \
        *kernels16MemmoveByteLargeI* | *kernels15MemsetByteLargeI* | *kernels13MemmoveStringI* | \
        *kernels12MemsetStringI*)
        draining_kernels=$((draining_kernels + 1))
        if [ "$fences" = none ]; then
          echo "FAIL $(c++filt "$symbol"): no fence in a kernel that drains"
          failed=$((failed + 1))
        fi
        ;;
      *kernels9MemmoveNtI*Lb0EEEPv* | *kernels8MemsetNtI*Lb0EEEPv* | *kernels14MemmoveNtLargeI*Lb0EEEPv* | \
        *kernels20MemmoveNtOverlappingI*Lb0EEEPv* | *kernels9CopyLinesI* | *kernels9FillLinesI* | \
        *kernels16MemmoveCacheLineI* | *kernels15MemsetCacheLineI*)
        fenceless_kernels=$((fenceless_kernels + 1))
        if [ "$fences" != none ]; then
          echo "FAIL $(c++filt "$symbol"): $fences in a kernel that leaves the drain to its caller"
          failed=$((failed + 1))
        fi
        ;;
    esac
  done < <({
    objdump -t "$archive"
    echo "DISASSEMBLY"
    objdump -d --no-show-raw-insn "$archive"
  } | awk '
    function hex(s,    v, i) {
      v = 0
      for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
      return v
    }
    /^DISASSEMBLY$/ { disassembly = 1; next }
    /^[^ ]+\.o:[[:space:]]+file format/ { member = $1; next }
    # The symbol table: "VALUE FLAGS SECTION<tab>SIZE NAME"; F marks a function.
    !disassembly && /^[0-9a-f]+ .* F [^ ]+\t/ {
      split($0, parts, "\t")
      n = split(parts[1], words, " ")
      at[$NF] = member SUBSEP words[n] SUBSEP hex($1)
      next
    }
    !disassembly { next }
    /^Disassembly of section / { section = substr($4, 1, length($4) - 1); next }
    /^[0-9a-f]+ <.*>:$/ { code = member SUBSEP section SUBSEP hex($1); seen[code] = 1; next }
    /\tsfence/ { s[code] = 1 }
    /\tmfence/ { m[code] = 1 }
    END {
      for (symbol in at) {
        k = at[symbol]
        f = (k in m) ? "mfence" : ""
        if (k in s) f = f (f == "" ? "" : "+") "sfence"
        print ((k in seen) ? (f == "" ? "none" : f) : "unknown"), symbol
      }
    }')
  # The cache-line tables' persist, flush and drain functions (ops.cc; the templates are weak symbols, hence W).
  while read -r symbol; do
    table_functions=$((table_functions + 1))
    disassemble "$archive" "$symbol" || continue
    case $symbol in
      *11DrainMfence*) check "$symbol" '' "MFENCE" '' $'\tmfence' ;;
      *11DrainSfence*) check "$symbol" '' "SFENCE" '' $'\tsfence' ;;
      *)
        case $symbol in
          *8ClwbLine*) instruction=clwb ;;
          *14ClflushoptLine*) instruction=clflushopt ;;
          *) instruction=clflush ;;
        esac
        check "$symbol" '' "${instruction^^}" '' $'\t'"$instruction"'[[:space:]]'
        case $symbol in
          *7PersistI*) check "$symbol" '' "fence" '' $'\t[ms]fence' ;;
          *) check "$symbol" $'\t[ms]fence' "fence(s) in a flush_fn (its drain is the caller's)" ;;
        esac
        ;;
    esac
  done < <(nm "$archive" | awk '$2 ~ /^[tTwW]$/ {print $3}' |
    grep -E 'x86_64(7Persist|5Flush)IXadL_ZNS1_(8ClwbLine|14ClflushoptLine|11ClflushLine)E|11Drain[MS]fenceEv$' |
    sort -u)
  # "FAIL ..." for each loop that crosses a line or may, then "LOOPS n" (how many were checked).
  while read -r verdict rest; do
    case $verdict in
      LOOPS) vector_loops=$((vector_loops + rest)) ;;
      *)
        echo "$verdict $rest" | c++filt
        failed=$((failed + 1))
        ;;
    esac
  done < <({
    objdump -h "$archive"
    echo "DISASSEMBLY"
    objdump -d --no-show-raw-insn "$archive"
  } | awk '
    function hex(s,    v, i) {  # mawk, the awk Debian installs, has no strtonum
      v = 0
      for (i = 1; i <= length(s); i++) v = v * 16 + index("0123456789abcdef", substr(s, i, 1)) - 1
      return v
    }
    # A loop found at its jump waits for the next instruction, whose address is where the loop ends (-1: the section
    # ended first, so the end is unknown). Only loops of at most 64 bytes are checked and counted.
    function close_loop(end,    length_) {
      if (pending_start < 0) return
      if (end < 0) {
        printf "FAIL %s: a loop at offset 0x%x of %s ends its section: its length is unknown\n", \
          pending_symbol, pending_start, pending_section
      } else if (end - pending_start <= 64) {
        loops++
        length_ = end - pending_start
        if (pending_align < 64) {
          printf "FAIL %s: a loop of %d bytes at offset 0x%x of %s, a section aligned to %d bytes: a link may " \
            "move it across a 64-byte line\n", pending_symbol, length_, pending_start, pending_section, pending_align
        } else if (int(pending_start / 64) != int((end - 1) / 64)) {
          printf "FAIL %s: a loop of %d bytes at offset 0x%x of %s crosses a 64-byte line\n", \
            pending_symbol, length_, pending_start, pending_section
        }
      }
      pending_start = -1
    }
    BEGIN { pending_start = -1 }
    /^DISASSEMBLY$/ { disassembly = 1; next }
    /^[^ ]+\.o:[[:space:]]+file format/ { close_loop(-1); member = $1; next }
    !disassembly && /^ *[0-9]+ [^ ]+ +[0-9a-f]+ +[0-9a-f]+ +[0-9a-f]+ +[0-9a-f]+ +2\*\*[0-9]+$/ {
      split($7, a, "\\*\\*")
      align[member, $2] = 2 ^ a[2]
      next
    }
    !disassembly { next }
    /^Disassembly of section / { close_loop(-1); section = substr($4, 1, length($4) - 1); next }
    /^[0-9a-f]+ <.*>:$/ { symbol = substr($2, 2, length($2) - 3); n = 0; next }
    /^ +[0-9a-f]+:\t/ {
      address = hex(substr($1, 1, length($1) - 1))
      close_loop(address)
      n++
      at[n] = address
      code[n] = $0
      # A conditional jump back to an address of this function with no jmp or ret on the way: a loop. Checked if it
      # stores a vector register (the per-line loops of the kernels; not the 8-byte word loops of partial lines).
      if (match($0, /\tj[a-z]+ +[0-9a-f]+ /) && $2 != "jmp") {
        target = hex($3)
        if (target < address && address - target < 64) {
          vector_store = 0
          simple = 1
          for (k = n; k >= 1 && at[k] >= target; k--) {
            if (code[k] ~ /\t(jmp|ret)/) simple = 0
            if (code[k] ~ /\tv?mov[a-z0-9]*[[:space:]]+%[xyz]mm[0-9]+,.*\)/) vector_store = 1
          }
          if (simple && vector_store) {
            pending_start = target
            pending_symbol = symbol
            pending_section = section
            pending_align = align[member, section]
          }
        }
      }
    }
    END { close_loop(-1); print "LOOPS", loops + 0 }')
done

# Every kernel whose fences are checked, in each instruction set (MemmoveNtLarge only where a row asks for it).
for isa in sse2 avx avx512; do
  for kind in "MemmoveNt drain" "MemmoveNt nodrain" "MemsetNt drain" "MemsetNt nodrain" \
    "MemmoveNtOverlapping drain" "MemmoveNtOverlapping nodrain" MemmoveCacheLineTemporal MemsetCacheLineTemporal \
    MemmoveByte MemsetByte MemmoveByteLarge MemsetByteLarge MemmoveString MemsetString CopyLines FillLines \
    MemmoveCacheLine MemsetCacheLine; do
    if [ -z "${kernel_kinds[$isa $kind]:-}" ]; then
      echo "FAIL no $kind kernel of $isa found (renamed, or inlined away): its fences are not checked"
      failed=$((failed + 1))
    fi
  done
done

if [ "$checked" -eq 0 ] || [ "$stream_paths" -eq 0 ] || [ "$memmove_entries" -eq 0 ] ||
  [ "$memset_entries" -eq 0 ] || [ "$mfence_functions" -eq 0 ] || [ "$sfence_functions" -eq 0 ] ||
  [ "$vector_loops" -eq 0 ] || [ "$table_functions" -ne 8 ] || [ "$draining_kernels" -eq 0 ] ||
  [ "$fenceless_kernels" -eq 0 ]; then
  echo "FAIL instantiations found: MemmoveNt / MemsetNt $checked (of the cache-line tables $stream_paths)," \
    "MemmoveCacheLine $memmove_entries, MemsetCacheLine $memset_entries, functions with MFENCE $mfence_functions" \
    "and with SFENCE $sfence_functions, vector loops $vector_loops (each must be found), cache-line table functions" \
    "$table_functions (3 Persist, 3 Flush, 2 drains), kernels that drain $draining_kernels and that do not" \
    "$fenceless_kernels in: $*"
  exit 1
fi
echo "$checked non-temporal paths ($stream_paths of the cache-line tables) and $entries cache-line entry points" \
  "checked; drain fences in $mfence_functions CLFLUSH and $sfence_functions other functions; $table_functions" \
  "cache-line table functions checked; a fence in each of $draining_kernels kernels that drain, none in" \
  "$fenceless_kernels that do not; $vector_loops vector" \
  "loops of at most 64 bytes placed; $failed check(s) failed"
[ "$failed" -eq 0 ]
