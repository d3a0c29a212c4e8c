#!/usr/bin/env bash
# The repository's linters, as CI runs them (a stage of scripts/test.sh; scripts/install-deps.sh installs both):
#   ShellCheck  every shell script: files whose first line is a sh/bash shebang, *.sh files and files that declare
#               `# shellcheck shell=...` (sourced ones); `source=` directives are followed (-x), relative to the
#               script's folder
#   buildifier  formatting and lint warnings of BUILD, BUILD.bazel, WORKSPACE, MODULE.bazel and *.bzl files
# Only files of the checkout count (git's tracked and untracked-but-not-ignored files): no bazel-* output trees.
# Prints each finding, one `PASS|FAIL|INFO <linter>...` line per linter, and ends with
# `lint: N passed, N failed, N skipped`; exits 1 if a linter failed.
#
#   scripts/lint.sh            check
#   scripts/lint.sh --format   reformat the BUILD/.bzl files in place (buildifier --mode=fix; no lint fixes)
set -uo pipefail

# 1: buildifier's findings fail the lint. 0: they are reported (INFO, counted as skipped) but do not fail, until
# the BUILD files have been formatted once with `scripts/lint.sh --format`.
BUILDIFIER_FAILS=1

# Lint warnings turned off, each with its reason:
#   native-sh-test  Bazel 4.2.3 (Debian's) has sh_test built in; rules_shell needs a newer Bazel and a download
BUILDIFIER_WARNINGS=-native-sh-test

cd "$(dirname "$0")/.." || exit 1
passed=0 failed=0 skipped=0

# repo_files: the checkout's files, one per line, without .git and Bazel's output trees
repo_files() {
  if git rev-parse --is-inside-work-tree >/dev/null 2>&1; then
    # -z: names as they are (git quotes a name with a quote, backslash or non-ASCII byte otherwise, which no test
    # below would then find)
    git ls-files -z --cached --others --exclude-standard |
      while IFS= read -r -d '' f; do [ -f "$f" ] && printf '%s\n' "$f"; done
  else
    find . \( -name .git -o -name 'bazel-*' \) -prune -o -type f -print | sed 's|^\./||'
  fi
}

is_shell_script() {
  case $1 in *.sh) return 0 ;; esac
  head -n 3 "$1" 2>/dev/null |
    grep -qE '^#![[:space:]]*(/usr)?/bin/(env[[:space:]]+)?(ba|da|k)?sh([[:space:]]|$)|^# shellcheck shell='
}

# The version scripts/install-deps.sh pins (its formatting rules change between versions), wherever it is first
# found: an older buildifier earlier on the list would fail files the pinned one formatted.
find_buildifier() {
  local b version
  version=$(sed -n 's/^buildifier_version=\([0-9.]*\).*/\1/p' scripts/install-deps.sh)  # from the root (cd above)
  for b in /usr/local/bin/buildifier "${HOME:-/nonexistent}/.local/bin/buildifier" "$(command -v buildifier)"; do
    [ -n "$b" ] && [ -x "$b" ] && "$b" --version 2>/dev/null | grep -q "version: $version\b" && { echo "$b"; return 0; }
  done
  return 1
}

mapfile -t files < <(repo_files | sort)
shell_files=() build_files=()
for f in "${files[@]}"; do
  case ${f##*/} in
    BUILD | BUILD.bazel | WORKSPACE | WORKSPACE.bazel | MODULE.bazel | *.bzl) build_files+=("$f") ;;
    *) is_shell_script "$f" && shell_files+=("$f") ;;
  esac
done

if [ "${1:-}" = --format ]; then
  buildifier=$(find_buildifier) || { echo "buildifier not found: run scripts/install-deps.sh" >&2; exit 1; }
  exec "$buildifier" --mode=fix -v "${build_files[@]}"
fi

# --- shellcheck ---------------------------------------------------------------------------------------------
if ! command -v shellcheck >/dev/null; then
  echo "FAIL shellcheck: not installed (scripts/install-deps.sh installs it)"
  failed=$((failed + 1))
else
  out=$(shellcheck -x -P SCRIPTDIR --format=gcc "${shell_files[@]}" 2>&1)
  rc=$?
  [ -n "$out" ] && echo "$out"
  version=$(shellcheck --version | sed -n 's/^version: //p')
  if [ $rc -eq 0 ]; then
    echo "PASS shellcheck $version (${#shell_files[@]} scripts)"
    passed=$((passed + 1))
  else
    echo "FAIL shellcheck $version: $(grep -c . <<<"$out") findings in ${#shell_files[@]} scripts"
    failed=$((failed + 1))
  fi
fi

# --- buildifier ---------------------------------------------------------------------------------------------
if [ "$BUILDIFIER_FAILS" = 1 ]; then verdict=FAIL; else verdict=INFO; fi
if ! buildifier=$(find_buildifier); then
  echo "$verdict buildifier: the pinned version is not installed (scripts/install-deps.sh installs it)"
  out="" rc=2
else
  out=$("$buildifier" --mode=check --lint=warn --warnings="$BUILDIFIER_WARNINGS" "${build_files[@]}" 2>&1)
  rc=$?
  [ -n "$out" ] && echo "$out"
  version=$("$buildifier" --version | sed -n 's/^buildifier version: *\([^ ]*\).*/\1/p')
fi
if [ $rc -eq 0 ]; then
  echo "PASS buildifier $version (${#build_files[@]} files)"
  passed=$((passed + 1))
else
  if [ -n "$buildifier" ]; then
    echo "$verdict buildifier $version: $(grep -c ' # reformat$' <<<"$out") of ${#build_files[@]} files need" \
      "formatting (scripts/lint.sh --format), $(grep -cE '^[^ ]+:[0-9]+: ' <<<"$out") lint warnings"
  fi
  if [ "$BUILDIFIER_FAILS" = 1 ]; then failed=$((failed + 1)); else skipped=$((skipped + 1)); fi
fi

echo "lint: $passed passed, $failed failed, $skipped skipped"
[ $failed -eq 0 ]
