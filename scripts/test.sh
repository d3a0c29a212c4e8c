#!/usr/bin/env bash
# pmem2's whole test suite, as CI runs it: installs what is missing (scripts/install-deps.sh), then the stages
#   lint          scripts/lint.sh: shellcheck over every shell script, buildifier over the BUILD/.bzl files;
#   demo          scripts/demo.sh, the README's first command, checked for the quickstart's greeting;
#   tests         every target built and every test run (bazel test //...), then the tests again as asan-ubsan
#                 (ASan and UBSan in one build) and tsan (tsan builds only what its tests need, and leaves out
#                 the single-threaded tests tagged no_tsan);
#   consumer      the separate consumer workspace in examples/consumer (local_repository + pmem2_dependencies()),
#                 built and tested with the default compiler (GCC), then again with clang (CC=clang), as a monorepo
#                 with a clang toolchain would build pmem2;
#   clang         every target built (warning-free: -Werror) and tested with clang, in an output base of its own
#                 (~/.cache/pmem2-clang-bazel/<checkout>), but nt_stream_registers_test, which checks GCC's code;
#   dax_vm        the DAX VM (testing/dax_vm/run.sh; skip with PMEM2_SKIP_DAX_VM=1, except under CI: with CI set
#                 (CI=true, as CI services set it) the skip is a failure, as CI must run the VM);
#   unprivileged  the plain `bazel test //...` once more as the unprivileged user pmem2ci, from a copy of the tree
#                 that it owns and with its own Bazel output root, so that what skips without root keeps skipping
#                 instead of failing. It takes the `tests` stage's compiles from a disk cache of this run's own
#                 (created empty, removed at exit), and every test runs again as pmem2ci (--nocache_test_results;
#                 a result taken from any cache fails the stage). One run's stage at a time on a machine (the copy
#                 and output root are pmem2ci's, for every checkout): another waits for ~pmem2ci/unprivileged.lock.
# Counts individual test cases (GoogleTest cases; one per shell test; one per linter; one per stage skipped whole)
# and ends with `N passed, N failed, N skipped`. A GoogleTest binary that ends before its cases did (exit() in a
# case: Bazel's test.exited_prematurely) or passes without a report of its own fails. Under CI (.ci/run sets CI=true
# where the runner did not) every stage runs every test afresh (--nocache_test_results; compiles still come from the
# caches) and a result taken from a cache fails; outside CI a warm rerun takes Bazel's cached results.
# Options: --quick runs only the plain `tests` stage; anything else is refused with the usage (a mistyped option
# would otherwise start the whole suite: 25-40 minutes on 2 CPUs).
#
# Root: installing missing packages needs root or sudo (nothing else does once they are there). Test cases that
# need root (tmpfs and ext4-on-loop-device mounts, dropping privileges to user nobody) run only as root and
# otherwise skip, each listed below its stage with the reason. The DAX VM stage needs no root (qemu under TCG;
# KVM only where /dev/kvm is writable). The unprivileged stage needs root (it creates and becomes the user), and
# is skipped otherwise. Under CI the run must be root, as those skips would leave the write-back failure promises
# unchecked: a CI user with passwordless sudo runs it again through `sudo -n -E`; without, the run fails (stage root).
set -uo pipefail
cd "$(dirname "$0")/.." || exit 1
# Bazel and the clang stage's output base need a home; a runner that starts with a bare environment has none.
if [ -z "${HOME:-}" ]; then
  HOME=$(getent passwd "$(id -u)" | cut -d: -f6)
  export HOME=${HOME:-/tmp}
fi
usage="usage: scripts/test.sh [--quick]   (--quick: only the plain unit tests)"
quick=0
for arg in "$@"; do
  case $arg in
    --quick) quick=1 ;;
    -h | --help) echo "$usage"; exit 0 ;;
    *) echo "scripts/test.sh: unknown argument \"$arg\"" >&2; echo "$usage" >&2; exit 2 ;;
  esac
done
# Under CI (any CI value but "", 0 and false) a skip that would hide a stage is a failure instead.
case ${CI:-} in "" | 0 | false) in_ci=0 ;; *) in_ci=1 ;; esac
ci_not_root=0
if [ $in_ci -eq 1 ] && [ "$(id -u)" -ne 0 ]; then
  # -E keeps CI's variables (CI itself); -H gives root its own home, so that root's Bazel caches do not land in the
  # CI user's, where that user could not remove them. Probed with -E: a sudo that refuses it would exit before any
  # result line. Root asked for by name and checked by its uid: a re-run as anyone else (a sudoers runas_default of
  # another user, a sudo that runs the command as it is) would re-run itself again and again.
  if [ "$(sudo -n -E -u root id -u 2>/dev/null)" = 0 ]; then
    exec sudo -n -E -H -u root bash "$PWD/scripts/test.sh" "$@"
  fi
  ci_not_root=1
fi

deps_args=()
[ $quick -eq 0 ] && deps_args+=(--with-clang) # the clang stage and the consumer stage's clang build
[ $quick -eq 1 ] && deps_args+=(--no-buildifier) # no lint stage
scripts/install-deps.sh "${deps_args[@]}" || { echo "install-deps failed"; echo "0 passed, 1 failed, 0 skipped"; exit 1; }
# The DAX VM's packages too, now, while a sudo password is fresh, unless that stage is skipped (PMEM2_SKIP_DAX_VM=1
# outside CI). Not fatal: that stage installs what is missing itself, and fails alone if it cannot.
if [ $quick -eq 0 ] && { [ $in_ci -eq 1 ] || [ "${PMEM2_SKIP_DAX_VM:-0}" != 1 ]; }; then
  scripts/install-deps.sh --with-dax-vm || echo "install-deps --with-dax-vm failed: the dax_vm stage will say why"
fi

passed=0 failed=0 skipped=0
if ! log_dir=$(mktemp -d) || [ -z "$log_dir" ]; then
  echo "cannot create a folder for the logs (mktemp -d; TMPDIR=${TMPDIR:-unset})"; echo "0 passed, 1 failed, 0 skipped"
  exit 1
fi
if [ $ci_not_root -eq 1 ]; then
  echo "stage root: 0 passed, 1 failed (under CI (CI=$CI) the run must be root, or a user with passwordless sudo: as" \
    "user $(id -un), every test case that needs root and the unprivileged stage would be skipped)"
  failed=$((failed + 1))
fi
bep_dir=$log_dir # where bazel_stage's build event files go
# Test folders of runs killed outright (a timeout's SIGKILL runs no destructor: ScopedTempDir, ScratchFs), a day
# old, so never one in use; a folder with a mount below it (a scratch file system outside a namespace) stays.
while IFS= read -r -d '' stale; do
  grep -qF " $stale/" /proc/mounts || grep -qF " $stale " /proc/mounts || rm -rf --one-file-system -- "$stale"
done < <(find /dev/shm /tmp /var/tmp -maxdepth 1 \( -name 'pmem2_test.*' -o -name 'pmem2_scratch.*' \) \
  -user "$(id -u)" -mmin +1440 -print0 2>/dev/null)
# The disk cache the `tests` and `unprivileged` stages share (a root run with every stage only): this run's own,
# so that CI still starts cold. /var/tmp, as the unprivileged user must reach it.
disk_cache=""
if [ $quick -eq 0 ] && [ "$(id -u)" -eq 0 ]; then
  # Left behind only by a run killed outright (the trap below removes its own).
  find /var/tmp -maxdepth 1 -name 'pmem2-disk-cache.*' -mmin +1440 -exec rm -rf {} + 2>/dev/null
  disk_cache=$(mktemp -d /var/tmp/pmem2-disk-cache.XXXXXX) || disk_cache=""
  # Bazel puts PATH into every action's key, so the unprivileged stage gets this PATH to share the cache; the
  # system folders are added where missing (that stage once had them all; a `sudo -E` or `su` PATH may lack them).
  for dir in /usr/local/sbin /usr/local/bin /usr/sbin /usr/bin /sbin /bin; do
    [[ ":$PATH:" == *":$dir:"* ]] || PATH=$PATH:$dir
  done
  export PATH
fi
# A huge page pool a test raised and could not put back (killed by a timeout: testing/huge_pages.h) is put back,
# under the lock the tests hold while the pool is raised (testing/huge_pages.cc): a test of another run on this
# machine that holds it raised the pool on purpose, and puts it back itself. Opened read-only first, as the tests
# do (fs.protected_regular refuses O_CREAT of another user's file in /dev/shm); waits a minute at most, and leaves
# the pool as it is if the lock stays held (the next test to take it puts a stale pool back).
restore_huge_pages() {
  local restore=/dev/shm/pmem2-test-huge-pages.restore lock=/dev/shm/pmem2-test-huge-pages.lock lock_fd
  { [ "$(id -u)" -eq 0 ] && [ -f "$restore" ]; } || return 0
  if ! { exec {lock_fd}<"$lock"; } 2>/dev/null; then
    exec {lock_fd}>>"$lock" || return 1
    chmod 644 "$lock" # as the tests make it, whatever the umask: every user's tests open it
  fi
  if flock -w 60 "$lock_fd" && [ -f "$restore" ] && [ ! -L "$restore" ] && [ "$(stat -c %u "$restore")" -eq 0 ]; then
    cat "$restore" >/proc/sys/vm/nr_hugepages && rm -f "$restore"
  fi
  exec {lock_fd}<&-
}
# Quietly: the final line must stay the last one printed.
trap 'restore_huge_pages >/dev/null 2>&1; rm -rf "$log_dir" ${disk_cache:+"$disk_cache"}' EXIT
# Killed (CI's time limit, Ctrl-C): still the final line, counting the stage that was running as a failure. (Bash
# runs it once the command in the foreground ends: a signal to the whole process group, as CI and timeout(1) send,
# ends that at once.)
on_signal() {
  echo "interrupted (signal) during stage ${current_stage:-setup}"
  # The servers of the other output bases would linger for hours (the main one is the caller's own, as ever).
  # (Only once the unprivileged stage runs its Bazel: before, "${bazel[@]}" is still the caller's own.)
  if [ "${current_stage:-}" = unprivileged ] && [ "${bazel[0]}" = runuser ]; then
    "${bazel[@]}" shutdown >/dev/null 2>&1
  elif [ "${current_stage:-}" = consumer ]; then
    (cd examples/consumer && bazel shutdown) >/dev/null 2>&1
  elif [ "${current_stage:-}" = clang ]; then
    "${bazel[@]}" shutdown >/dev/null 2>&1
  fi
  echo "$passed passed, $((failed + 1)) failed, $skipped skipped"
  exit 1
}
trap on_signal TERM INT
bazel=(bazel) # the Bazel command of bazel_stage
# What the tests depend on that Bazel does not see: the kernel (its release and build: Debian keeps the release name
# across updates), the CPU, the user (a run that is not root skips what needs root), and the Debian libraries they
# compare with or link (Debian's libpmem2 and libpmem are linked by name, their headers are the toolchain's). A test
# result cached from another of any of them (a reused output base) would pass without running: this fingerprint, in
# every test's environment, makes a change of any of them run every test again. (It does not recompile: system
# headers are no Bazel inputs, so after a library or compiler upgrade `bazel clean` first.)
host_fingerprint=$({
  uname -r
  uname -v
  id -u
  awk '/^$/ { exit } /^(vendor_id|cpu family|model|flags)[[:space:]]*:/' /proc/cpuinfo
  dpkg-query -W libpmem2-dev libpmem2-1 libpmem-dev libpmem1 liburing-dev liburing2 libabsl-dev googletest \
    libbenchmark-dev gcc-12 libc6-dev libstdc++-12-dev 2>/dev/null
} | md5sum | cut -c1-16)
# Filters that an rc file may set (a user.bazelrc, ~/.bazelrc, /etc/bazel.bazelrc: `test --test_tag_filters=-local`)
# would drop targets from a stage without a trace: reset on the command line, before each stage's own flags. (Not
# --test_filter, whose empty value is a filter of its own; a target it leaves with no case fails as "ran no case".)
bazel_test_flags=(--test_env=PMEM2_HOST="$host_fingerprint" --test_tag_filters= --build_tag_filters=
  --test_size_filters= --test_timeout_filters= --test_lang_filters=)
if [ "$(id -u)" -eq 0 ]; then
  echo "running as root: the test cases that need root run"
else
  echo "running as uid $(id -u), not root: the test cases that need root skip (listed with their reasons)," \
    "and so does the unprivileged stage"
fi

# A test target's line in Bazel's summary: "//pkg:t  (cached) PASSED in 1.2s"; "(2/3 cached)" for a sharded test
# some of whose shards were cached; and every status Bazel 4 prints (BlazeTestStatus), all but PASSED failures.
cached_re='(\((cached|[0-9]+/[0-9]+ cached)\) )?'
status_re='(PASSED|FAILED TO BUILD|FAILED|TIMEOUT|NO STATUS|FLAKY|INCOMPLETE|SKIPPED|REMOTE FAILURE|BLAZE HALTED BEFORE TESTING)'

# bep_outputs BEP TARGET NAME: the files named NAME (test.xml, test.log) that the build event file BEP gives for
# TARGET's test results, one per shard, the last attempt's (a flaky retry's earlier attempts lie in test_attempts/),
# as paths (the URIs' %XX decoded). The label is looked for as Bazel writes it (Gson: = ' & < > as \u00XX escapes).
bep_outputs() {
  local bep=$1 target=$2 name=$3 uri label
  label=$(sed "s/=/\\\\u003d/g; s/'/\\\\u0027/g; s/&/\\\\u0026/g; s/</\\\\u003c/g; s/>/\\\\u003e/g" <<<"$target")
  grep -F "{\"id\":{\"testResult\":{\"label\":\"$label\"," "$bep" |
    grep -oE "\"name\":\"${name//./\\.}\",\"uri\":\"file://[^\"]*\"" | sed -E 's#^.*"uri":"file://##; s#"$##' |
    grep -v '/test_attempts/' | while IFS= read -r uri; do printf '%b\n' "${uri//%/\\x}"; done
}

# count_bazel_results LOG TESTLOGS STAGE [LIST_SKIPS [NO_CACHED [BEP]]]: adds the test cases of every test target in
# a `bazel test` log; with LIST_SKIPS=1 prints each skipped case with its reason; with NO_CACHED=1 a result Bazel
# took from a cache instead of running the test counts as one failed case. BEP: that run's
# --build_event_json_file, which names the reports of this run's shards (cached ones too); without it, the reports
# in the target's folder, where an earlier run's may lie (a test sharded since, or sharded differently).
count_bazel_results() {
  local log=$1 testlogs=$2 stage=$3 list_skips=${4:-0} no_cached=${5:-0} bep=${6:-}
  local target status dir p f s x bad
  # None where no test action ran (a fresh output base whose tests all failed to build): the targets' statuses below
  # still count and name them. Without a build event file nothing could be read without it.
  if { [ -z "$testlogs" ] || [ ! -d "$testlogs" ]; } && [ -z "$bep" ]; then
    echo "  $stage: no test logs folder (bazel info bazel-testlogs: \"$testlogs\") and no build event file"
    failed=$((failed + 1))
  fi
  if [ "$no_cached" = 1 ] && grep -qE "^//[^ ]+ +${cached_re%\?}" "$log"; then
    echo "  $stage: results taken from a cache, not run in this stage:"
    grep -E "^//[^ ]+ +${cached_re%\?}" "$log" | head -20 | sed 's/^/    /'
    failed=$((failed + 1))
  fi
  local -a xmls reports
  while read -r target status; do
    dir="$testlogs/${target#//}"; dir="${dir/://}"
    # A sharded test writes one report per shard and none at the top.
    xmls=()
    if [ -n "$bep" ] && [ -s "$bep" ]; then
      while IFS= read -r x; do [ -f "$x" ] && xmls+=("$x"); done < <(bep_outputs "$bep" "$target" test.xml)
    else  # the folder's reports, an earlier run's among them perhaps
      [ -f "$dir/test.xml" ] && xmls+=("$dir/test.xml")
      for x in "$dir"/shard_*_of_*/test.xml; do [ -f "$x" ] && xmls+=("$x"); done
    fi
    p=0 f=0 s=0
    # A target that passed with no report to read would count nothing: a silent pass.
    if [ "$status" = PASSED ] && [ ${#xmls[@]} -eq 0 ]; then
      echo "  $stage: $target PASSED but no test.xml of it was found: counted as failed"
      f=1
    fi
    if [ ${#xmls[@]} -gt 0 ] && [ "$status" != "NO_STATUS" ] && [ "$status" != "FAILED_TO_BUILD" ]; then
      # A report that no finished test wrote is one failed case, and its "case" no pass: a GoogleTest binary that
      # left test.exited_prematurely beside it (GoogleTest creates that file, Bazel's TEST_PREMATURE_EXIT_FILE,
      # when its cases start and removes it once they all ran: an exit() partway through leaves it), or one whose
      # report is the stand-in Bazel writes where the test wrote none (tools/test/generate-xml.sh, or test-setup.sh:
      # "Generated test.log (if the file is not UTF-8..." then the log; a single case, passed on exit status 0).
      # That stand-in is the only report of a shell test and of the cc_tests without GoogleTest (the fuzz drivers,
      # the C, dlopen and main tests): a binary counts as GoogleTest when it holds GoogleTest's
      # TEST_PREMATURE_EXIT_FILE; one not found is not trusted.
      reports=() bad=0
      for x in "${xmls[@]}"; do
        if [ -e "${x%/*}/test.exited_prematurely" ]; then
          echo "  $stage: $target exited before its test cases ended (${x%/*}/test.exited_prematurely): counted" \
            "as failed"
          bad=$((bad + 1))
        elif [ "$status" = PASSED ] &&
          grep -qE '^[[:space:]]*(<system-out>)?Generated test\.log \(if the file is not UTF-8' "$x" &&
          ! is_not_googletest "$x" "$target"; then
          echo "  $stage: $target PASSED but wrote no test.xml of its own (${x%/*}: Bazel's stand-in), and is a" \
            "GoogleTest binary (or its binary was not found): counted as failed"
          bad=$((bad + 1))
        else
          reports+=("$x")
        fi
      done
      [ ${#reports[@]} -gt 0 ] && read -r p f s < <(awk '
        /<testsuite / {
          t = e = fl = sk = d = 0
          if (match($0, / tests="[0-9]+"/)) t = substr($0, RSTART + 8, RLENGTH - 9)
          if (match($0, / failures="[0-9]+"/)) fl = substr($0, RSTART + 11, RLENGTH - 12)
          if (match($0, / errors="[0-9]+"/)) e = substr($0, RSTART + 9, RLENGTH - 10)
          if (match($0, / skipped="[0-9]+"/)) sk = substr($0, RSTART + 10, RLENGTH - 11)
          if (match($0, / disabled="[0-9]+"/)) d = substr($0, RSTART + 11, RLENGTH - 12)
          fail += fl + e; skip += sk + d; pass += t - fl - e - sk - d
        }
        END { print pass + 0, fail + 0, skip + 0 }' "${reports[@]}")
      f=$((f + bad))
      # GoogleTest exits 0 when its filter selects nothing (a renamed test under --gtest_filter): a silent pass.
      if [ "$status" = PASSED ] && [ $((p + f + s)) -eq 0 ]; then
        echo "  $stage: $target PASSED but ran no test case: counted as failed"
        f=1
      fi
      [ "$list_skips" = 1 ] && [ "$s" -gt 0 ] && list_skipped "$stage" "${reports[@]}"
      # Under CI and as root, the scratch file systems (tmpfs, ext4 on a failing loop device), private tmpfs mounts,
      # seccomp filters (DenySystemCall: a failing msync, a refused system call) and the tracing of a child's opens
      # that the write-back failure tests and others stand on must be there: a case skipped for want of one (a
      # container without CAP_SYS_ADMIN, loop devices, seccomp or ptrace) fails, as the promise it checks would
      # otherwise pass unchecked.
      if [ "$in_ci" = 1 ] && [ "$stage" = tests ] && [ "$(id -u)" -eq 0 ] && [ "$s" -gt 0 ]; then
        x=$(list_skipped "$stage" "${reports[@]}" |
          grep -cE ': skipped [^ ]*: (skip: |[A-Z_]+: )?(ScratchFs|MountPrivateTmpfs|DenySystemCall|trace_opens): ')
        if [ "$x" -gt 0 ]; then
          echo "  $stage: $target: $x case(s) skipped for want of a scratch file system, mount, seccomp or ptrace," \
            "as root under CI: failed"
          s=$((s - x)) f=$((f + x))
        fi
      fi
    fi
    # A target that failed although its cases passed (a sanitizer report at exit, a crash, a timeout, a
    # build failure) counts as one failed case. So does FLAKY: it failed at least once.
    if [ "$status" != "PASSED" ] && [ "$f" -eq 0 ]; then f=1; fi
    if [ "$status" != "PASSED" ]; then
      echo "  $stage: $target $status"
      # Nothing ran for a target that did not build: a log in its folder is an earlier run's.
      if [ "$status" != FAILED_TO_BUILD ] && [ "$status" != NO_STATUS ]; then
        show_failures "$stage" "$dir" "$bep" "$target"
      fi
    fi
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
  done < <(sed -nE "s#^(//[^ ]+) +$cached_re$status_re([ ,].*)?\$#\\1 \\4#p" "$log" | sed -E 's/ /_/2g')
}

# is_not_googletest XML TARGET: whether TARGET's executable, beside the folder of its report XML (bin/PKG/NAME for
# testlogs/PKG/NAME[/shard_*]/test.xml), is found and lacks GoogleTest's TEST_PREMATURE_EXIT_FILE (a shell test's
# script, a cc_test with a main of its own)
is_not_googletest() {
  local xml=$1 rel=${2#//} root
  rel=${rel/://}; rel=${rel#/}
  root=${xml%/testlogs/"$rel"/*}
  [ "$root" != "$xml" ] && [ -f "$root/bin/$rel" ] && ! grep -qaF TEST_PREMATURE_EXIT_FILE "$root/bin/$rel"
}

# show_failures STAGE DIR [BEP TARGET]: what a failed target printed, from its test.log (one per shard: this run's, as
# the build event file BEP names them, else those in DIR): each failed GoogleTest
# case from its `[ RUN ]` line to its `[  FAILED  ]` line (the first 40 lines of each, 120 in all), or, where no case
# failed (a crash, a timeout, a sanitizer's report at exit), the log's last 30 lines. A failure that shows up once
# in CI must be readable from CI's output alone.
show_failures() {
  local stage=$1 dir=$2 bep=${3:-} target=${4:-} log shown=0
  local -a logs=()
  if [ -n "$bep" ] && [ -s "$bep" ]; then mapfile -t logs < <(bep_outputs "$bep" "$target" test.log); fi
  [ ${#logs[@]} -gt 0 ] || logs=("$dir"/test.log "$dir"/shard_*_of_*/test.log)
  for log in "${logs[@]}"; do
    [ -f "$log" ] || continue
    if grep -qE '^\[  FAILED  \] [^ ]+ \(' "$log"; then
      awk -v stage="$stage" '
        /^\[ RUN      \] / { n = 0 }
        { if (n < 40) case_lines[n] = $0; n++ }
        /^\[  FAILED  \] [^ ]+ \(/ {
          for (i = 0; i < n && i < 40 && printed < 120; i++) { print "    " stage ": " case_lines[i]; printed++ }
          n = 0
        }' "$log"
    else
      tail -30 "$log" | sed "s/^/    $stage: /"
    fi
    shown=1
  done
  [ $shown -eq 1 ] || echo "    $stage: no test.log in $dir"
}

# list_skipped STAGE XML...: `  STAGE: skipped Suite.Case: reason` for each skipped GoogleTest case
list_skipped() {
  local stage=$1; shift
  awk -v stage="$stage" '
    /<testcase / { name = ""; if ($0 ~ / result="skipped"/ && match($0, / name="[^"]*"/)) {
        name = substr($0, RSTART + 7, RLENGTH - 8)
        if (match($0, / classname="[^"]*"/)) name = substr($0, RSTART + 12, RLENGTH - 13) "." name } }
    /<skipped / && name != "" {
      why = ""
      if (match($0, / message="[^"]*"/)) why = substr($0, RSTART + 10, RLENGTH - 11)
      sub(/^[^&]*&#x0A;/, "", why); sub(/&#x0A;.*/, "", why)  # drop "file:line", keep the first line
      gsub(/&quot;/, "\"", why); gsub(/&apos;/, "'\''", why); gsub(/&lt;/, "<", why); gsub(/&gt;/, ">", why)
      gsub(/&amp;/, "\\&", why)
      print "  " stage ": skipped " name ": " why; name = ""
    }' "$@"
}

# bazel_stage NAME [bazel flags...]: `${bazel[@]} test //...` with the flags, in the current folder; counts the
# results (and lists the skipped cases of the plain runs: those without --config). With --nocache_test_results
# (always under CI) every result must come from a run in this stage.
bazel_stage() {
  local name=$1; shift
  current_stage=$name
  local start=$SECONDS before_p=$passed before_f=$failed before_s=$skipped list_skips=1 no_cached=0 flag
  local log="$log_dir/$name.log" bep="$bep_dir/$name.bep.json"
  for flag in "$@"; do
    case $flag in
      --config=*) list_skips=0 ;;
      --nocache_test_results) no_cached=1 ;;
    esac
  done
  # Under CI every test runs in every stage (compiles still come from the caches): a result an earlier run left in
  # the output base would otherwise count as this run's. Outside CI a warm rerun takes the cached results.
  if [ "$in_ci" = 1 ] && [ $no_cached -eq 0 ]; then
    set -- "$@" --nocache_test_results
    no_cached=1
  fi
  "${bazel[@]}" test --keep_going --build_event_json_file="$bep" "${bazel_test_flags[@]}" "$@" //... >"$log" 2>&1
  local rc=$?
  if ! grep -qE "^//[^ ]+ +$cached_re$status_re" "$log"; then
    echo "  $name: bazel test produced no results (exit $rc):"; tail -30 "$log" | sed 's/^/    /'
    failed=$((failed + 1))
  else
    count_bazel_results "$log" "$("${bazel[@]}" info "$@" bazel-testlogs 2>/dev/null)" "$name" $list_skips $no_cached \
      "$bep"
    if [ $rc -ne 0 ]; then
      echo "  $name: bazel exited $rc:"; grep -E "^(ERROR|FAILED|FAIL: )" "$log" | head -20 | sed 's/^/    /'
      [ $failed -eq $before_f ] && failed=$((failed + 1))
    fi
  fi
  echo "stage $name: $((passed - before_p)) passed, $((failed - before_f)) failed," \
    "$((skipped - before_s)) skipped ($((SECONDS - start)) s)"
}

# copy_tree DEST: this checkout's files (tracked and untracked-but-not-ignored, as they are now) into DEST
copy_tree() {
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    git ls-files -z --cached --others --exclude-standard |
      while IFS= read -r -d '' f; do [ -e "$f" ] && printf '%s\0' "$f"; done |
      tar --null -T - -cf - | tar -C "$1" -xf -
  else
    tar --exclude=./.git --exclude='./bazel-*' --exclude='./examples/consumer/bazel-*' -cf - . | tar -C "$1" -xf -
  fi
}

# unprivileged_stage: the plain `bazel test //...` as user pmem2ci (created if missing), from a copy of the tree
# in its home (the checkout may not be readable to it), with its own Bazel output root in its home
unprivileged_stage() {
  local user=pmem2ci home src start=$SECONDS
  if [ "$(id -u)" -ne 0 ]; then
    echo "stage unprivileged: skipped (needs root to create and become user $user; this run is unprivileged already)"
    skipped=$((skipped + 1))
    return
  fi
  if ! id -u "$user" >/dev/null 2>&1 && ! useradd --system --create-home --shell /usr/sbin/nologin "$user"; then
    echo "stage unprivileged: 0 passed, 1 failed (useradd $user failed)"; failed=$((failed + 1)); return
  fi
  current_stage=unprivileged
  home=$(getent passwd "$user" | cut -d: -f6)
  # A user made elsewhere may have /, /nonexistent or a shared folder as its home: only a home of its own (a folder
  # of /home or /var/lib, no symbolic link) is this stage's to give to it.
  case $home in
    /home/?* | /var/lib/?*) ;;
    *) home="" ;;
  esac
  if [ -z "$home" ] || [ -L "$home" ] || [ -L "$home/.cache" ] || [[ "$home" == *..* ]]; then
    echo "stage unprivileged: 0 passed, 1 failed (user $user needs a home of its own in /home or /var/lib)"
    failed=$((failed + 1)); return
  fi
  src=$home/pmem2
  # The copy, the output root and the build event file are the same for every checkout on this machine: one run's
  # stage at a time, the others waiting for this lock (held to the stage's end; kept from the commands the stage
  # runs, so that no Bazel server it starts holds it on).
  local lock=$home/unprivileged.lock lock_fd
  if [ -L "$lock" ] || ! exec {lock_fd}>>"$lock"; then
    echo "stage unprivileged: 0 passed, 1 failed (cannot open the lock $lock)"; failed=$((failed + 1)); return
  fi
  if ! flock -n "$lock_fd"; then
    echo "  unprivileged: waiting for another run's unprivileged stage to end (lock $lock)"
    if ! flock "$lock_fd"; then
      exec {lock_fd}>&-
      echo "stage unprivileged: 0 passed, 1 failed (cannot lock $lock)"; failed=$((failed + 1)); return
    fi
    start=$SECONDS # the copy's time, below
  fi
  # Only what this stage writes changes owner: the home itself, the copy, and the Bazel output root (-R follows no
  # symbolic link; -h changes a link rather than what it points to).
  if ! { mkdir -p "$home/.cache" && chown -h "$user:" "$home" && chown -R "$user:" "$home/.cache" &&
    rm -rf "$src" && mkdir "$src" && copy_tree "$src" && chown -R "$user:" "$src"; } {lock_fd}>&-; then
    exec {lock_fd}>&-
    echo "stage unprivileged: 0 passed, 1 failed (cannot copy the tree to $src)"; failed=$((failed + 1)); return
  fi
  # Every test runs here, whatever an earlier run left in this user's output base or the disk cache holds.
  local -a cache_flags=(--nocache_test_results)
  local from_cache=""
  if [ -n "$disk_cache" ] && chown -R "$user:" "$disk_cache"; then
    cache_flags+=(--disk_cache="$disk_cache")
    from_cache=", compiles from the tests stage's disk cache"
  fi
  echo "  unprivileged: as $user (uid $(id -u "$user")) in $src (copied in $((SECONDS - start)) s$from_cache)"
  # PATH: this run's own (see disk_cache above); folders the user cannot read are skipped by every lookup.
  bazel=(runuser -u "$user" -- env -i HOME="$home" USER="$user" LOGNAME="$user" LANG=C.UTF-8 PATH="$PATH"
    bazel --output_user_root="$home/.cache/bazel/_bazel_$user") # Bazel's default output root for that user
  if ! pushd "$src" >/dev/null; then
    exec {lock_fd}>&-
    echo "stage unprivileged: 0 passed, 1 failed (cannot enter $src)"; failed=$((failed + 1)); bazel=(bazel); return
  fi
  bep_dir=$home # the build event file is written by that user
  bazel_stage unprivileged "${cache_flags[@]}" {lock_fd}>&-
  rm -f "$home/unprivileged.bep.json"
  bep_dir=$log_dir
  "${bazel[@]}" shutdown >/dev/null 2>&1 {lock_fd}>&- # its server would linger for hours
  exec {lock_fd}>&-
  bazel=(bazel)
  popd >/dev/null || return
}

if [ $quick -eq 0 ]; then
  current_stage=lint start=$SECONDS log="$log_dir/lint.log"
  bash scripts/lint.sh >"$log" 2>&1
  rc=$?
  grep -v '^lint: ' "$log" | sed 's/^/  lint: /'
  line=$(grep -E '^lint: [0-9]+ passed' "$log" | tail -1)
  if [[ "$line" =~ ^lint:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed,\ ([0-9]+)\ skipped ]]; then
    passed=$((passed + BASH_REMATCH[1])) failed=$((failed + BASH_REMATCH[2])) skipped=$((skipped + BASH_REMATCH[3]))
    [ $rc -ne 0 ] && [ "${BASH_REMATCH[2]}" -eq 0 ] && failed=$((failed + 1))
    echo "stage lint: ${BASH_REMATCH[1]} passed, ${BASH_REMATCH[2]} failed, ${BASH_REMATCH[3]} skipped" \
      "($((SECONDS - start)) s)"
  else
    echo "stage lint: no result line (exit $rc)"; failed=$((failed + 1))
  fi
fi

if [ $quick -eq 0 ]; then
  # The README's other command, the demo (scripts/demo.sh), as a new user runs it: it must end with the quickstart's
  # greeting, after `pmem2 info` printed its granularity both ways.
  current_stage=demo start=$SECONDS log="$log_dir/demo.log"
  bash scripts/demo.sh >"$log" 2>&1
  rc=$?
  if [ $rc -eq 0 ] && [ "$(grep -c '^granularity:' "$log")" -eq 2 ] &&
    tail -1 "$log" | grep -q ': wrote "hello, persistent world" at [a-z_]* granularity$'; then
    passed=$((passed + 1))
    echo "stage demo: 1 passed, 0 failed ($((SECONDS - start)) s)"
  else
    failed=$((failed + 1))
    echo "stage demo: 0 passed, 1 failed (exit $rc; $((SECONDS - start)) s):"; tail -20 "$log" | sed 's/^/    /'
  fi
fi

bazel_stage tests ${disk_cache:+--disk_cache="$disk_cache"}
if [ $quick -eq 0 ]; then
  # asan-ubsan builds every target: with -O1 it is GCC's only optimizing build of the benchmarks (the plain stage
  # compiles at -O0, and GCC's -Wmaybe-uninitialized and the like, errors here, need optimization). tsan builds
  # only what its tests need.
  bazel_stage asan-ubsan --config=asan-ubsan
  bazel_stage tsan --config=tsan --build_tests_only

  # A consumer workspace that knows pmem2 only through local_repository + pmem2_dependencies().
  start=$SECONDS before_p=$passed before_f=$failed
  current_stage=consumer log="$log_dir/consumer.log"
  # Under CI its tests run again too, and a cached result fails (as in bazel_stage).
  consumer_flags=("${bazel_test_flags[@]}")
  [ $in_ci -eq 1 ] && consumer_flags+=(--nocache_test_results)
  (cd examples/consumer &&
    bazel test --keep_going --build_event_json_file="$log_dir/consumer.bep.json" "${consumer_flags[@]}" //... &&
    bazel run //:consumer) >"$log" 2>&1
  rc=$?
  count_bazel_results "$log" "$(cd examples/consumer && bazel info bazel-testlogs 2>/dev/null)" consumer 0 $in_ci \
    "$log_dir/consumer.bep.json"
  # The binary's output and its exit status (a crash at exit after "consumer ok" fails).
  if [ $rc -eq 0 ] && grep -q "^consumer ok" "$log"; then passed=$((passed + 1)); else failed=$((failed + 1)); fi
  if [ $rc -ne 0 ]; then echo "  consumer: exit $rc"; tail -20 "$log" | sed 's/^/    /'; fi
  # The same workspace built with clang: pmem2's sources compile there too (GCC-only pragmas and C++20 extensions
  # GCC accepts in C++17 once broke it). One result: the build and its test.
  clang_log="$log_dir/consumer-clang.log"
  if (cd examples/consumer && bazel test "${consumer_flags[@]}" --repo_env=CC=clang //...) >"$clang_log" 2>&1; then
    passed=$((passed + 1))
  else
    failed=$((failed + 1)); echo "  consumer with clang failed:"; tail -20 "$clang_log" | sed 's/^/    /'
  fi
  echo "stage consumer: $((passed - before_p)) passed, $((failed - before_f)) failed ($((SECONDS - start)) s)"
  (cd examples/consumer && bazel shutdown) >/dev/null 2>&1 # its server would linger for hours

  # Everything built and tested with clang, a consumer's compiler as much as GCC: warning-free (.bazelrc's -Werror for
  # pmem2's own files) and its tests passing, in an output base of its own (CC decides the toolchain Bazel configures:
  # in the main one it would rebuild everything twice). Not nt_stream_registers_test, whose checks are of GCC's code
  # (tag gcc_codegen).
  # One per checkout, as Bazel's own output bases are: two checkouts sharing one would rebuild at every switch.
  # $HOME's, not XDG_CACHE_HOME's: a run re-executed as root under sudo -E keeps the CI user's XDG_CACHE_HOME, and
  # root's output base would land in that user's cache (sudo -H gives root its own HOME for that reason).
  bazel=(bazel --output_base="$HOME/.cache/pmem2-clang-bazel/$(pwd -P | md5sum | cut -c1-16)")
  bazel_stage clang --repo_env=CC=clang --test_tag_filters=-gcc_codegen
  "${bazel[@]}" shutdown >/dev/null 2>&1 # its server would linger for hours
  bazel=(bazel)

  # Always run (bash, not the exec bit): PMEM2_SKIP_DAX_VM=1 is the only way to skip it, and not under CI.
  if [ $in_ci -eq 1 ] && [ "${PMEM2_SKIP_DAX_VM:-0}" = 1 ]; then
    echo "stage dax_vm: 0 passed, 1 failed (PMEM2_SKIP_DAX_VM=1 under CI (CI=$CI): CI must run the DAX VM;" \
      "unset PMEM2_SKIP_DAX_VM)"
    failed=$((failed + 1))
  else
    current_stage=dax_vm start=$SECONDS
    log="$log_dir/dax_vm.log"
    bash testing/dax_vm/run.sh >"$log" 2>&1
    rc=$?
    grep -E "^(PASS|FAIL|INFO)" "$log" | sed 's/^/  dax_vm: /'
    line=$(grep -E "^dax_vm: " "$log" | tail -1)
    echo "stage ${line:-dax_vm: no result line} ($((SECONDS - start)) s)"
    if [[ "$line" =~ ^dax_vm:\ ([0-9]+)\ passed,\ ([0-9]+)\ failed ]]; then
      passed=$((passed + BASH_REMATCH[1])) failed=$((failed + BASH_REMATCH[2]))
      [ $rc -ne 0 ] && [ "${BASH_REMATCH[2]}" -eq 0 ] && failed=$((failed + 1))
    elif [[ "$line" != *skipped* ]] || [ $rc -ne 0 ]; then
      tail -20 "$log" | sed 's/^/    /'
      failed=$((failed + 1))
    else
      skipped=$((skipped + 1)) # the whole stage, as the final line counts it
    fi
  fi

  unprivileged_stage
fi

echo "$passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
