#!/bin/sh
# Runs the test suites and ends with one line: "N passed, M failed".
#   sh spec/run.sh           (make test) the unit layer under Lua 5.1, 5.2, 5.3, 5.4 and LuaJIT, then every
#                            spec under Lua 5.4 and under LuaJIT, then the official JavaScript SDK against
#                            the fake cloud
#   sh spec/run.sh --unit    (make unit) the unit layer only: the files spec/unit.lua lists, without their
#                            #integration tests, no server started (USAGE_SPEC_UNIT=1), one line per Lua
#                            with its time; UNIT_JOBS interpreters at once (default 2)
#   sh spec/run.sh ARGS...   busted ARGS under Lua 5.4 and LuaJIT (e.g. sh spec/run.sh spec/client_spec.lua)
# A check that did not run is a failure: a pending test, a suite that says SKIPPED, a missing interpreter.
set -u
cd "$(dirname "$0")/.." || exit 2

BUSTED=${BUSTED:-/usr/bin/busted}
UNIT_LUAS=${UNIT_LUAS:-lua5.1 lua5.2 lua5.3 lua5.4 luajit}
passed=0
failed=0
pending=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# add the counts of a busted summary line ("A successes / B failures / C errors / D pending : T seconds")
# in the output file $2 of suite $1
busted_count() {
  name=$1
  line=$(grep -E '^[0-9]+ successes? / [0-9]+ failures? / [0-9]+ errors? / [0-9]+ pending' "$2" | tail -n 1)
  if [ -z "$line" ]; then
    echo "!! $name: busted printed no summary (crashed?)"
    failed=$((failed + 1))
    suite_line="no summary"
    return
  fi
  s=$(echo "$line" | sed -E 's#^([0-9]+) succ.*#\1#')
  f=$(echo "$line" | sed -E 's#^[0-9]+ [a-z]+ / ([0-9]+) fail.*#\1#')
  e=$(echo "$line" | sed -E 's#^.* / ([0-9]+) errors? /.*#\1#')
  p=$(echo "$line" | sed -E 's#^.* / ([0-9]+) pending.*#\1#')
  passed=$((passed + s))
  failed=$((failed + f + e))
  pending=$((pending + p))
  suite_line="$s passed, $((f + e)) failed, $p pending"
}

busted_suite() {
  name=$1; shift
  echo "== $name"
  "$@" 2>&1 | tee "$tmp/out"
  busted_count "$name" "$tmp/out"
}

# add the counts of a line "N passed, M failed"
line_suite() {
  name=$1; shift
  echo "== $name"
  "$@" 2>&1 | tee "$tmp/out"
  line=$(grep -E '^[0-9]+ passed, [0-9]+ failed$' "$tmp/out" | tail -n 1)
  if [ -z "$line" ]; then
    echo "!! $name: no 'N passed, M failed' line"
    failed=$((failed + 1))
    return
  fi
  passed=$((passed + $(echo "$line" | sed -E 's#^([0-9]+) passed.*#\1#')))
  failed=$((failed + $(echo "$line" | sed -E 's#^.*, ([0-9]+) failed$#\1#')))
  # a suite that could not run is a failure, not a pass (a skipped check would go unnoticed)
  if grep -q '^SKIPPED:' "$tmp/out"; then
    echo "!! $name: skipped, counted as a failure"
    failed=$((failed + 1))
  fi
}

now() { date +%s.%N; }

# the unit layer under every Lua; one summary line per interpreter at the end
# the unit layer under every Lua, UNIT_JOBS interpreters at a time (default 2: the specs of one Lua run in
# one process; their outputs are printed whole, in order); one summary line per interpreter at the end
unit_layer() {
  files=$(lua5.4 -e 'for _, f in ipairs(dofile("spec/unit.lua").unit) do print(f) end') || {
    echo "!! unit layer: cannot read spec/unit.lua with lua5.4"
    failed=$((failed + 1))
    return
  }
  : >"$tmp/unit-times"
  running=0
  ran=""
  for lua in $UNIT_LUAS; do
    core=build/$lua/usage/core.so
    if ! command -v "$lua" >/dev/null 2>&1; then
      echo "!! unit layer: $lua is not installed (make deps), counted as a failure"
      echo "unit layer under $lua: not run ($lua is not installed)" >>"$tmp/unit-times"
      failed=$((failed + 1))
      continue
    fi
    if [ ! -f "$core" ]; then
      echo "!! unit layer: $core is missing (make build; its headers come with make deps), counted as a failure"
      echo "unit layer under $lua: not run ($core is missing)" >>"$tmp/unit-times"
      failed=$((failed + 1))
      continue
    fi
    ran="$ran $lua"
    (
      t0=$(now)
      # shellcheck disable=SC2086 # one word per file
      env USAGE_SPEC_UNIT=1 "$lua" "$BUSTED" --exclude-tags=integration $files >"$tmp/unit-$lua.out" 2>&1
      t1=$(now)
      echo "$t0 $t1" | awk '{ printf "%.1f", $2 - $1 }' >"$tmp/unit-$lua.time"
    ) &
    running=$((running + 1))
    if [ "$running" -ge "${UNIT_JOBS:-2}" ]; then
      wait
      running=0
    fi
  done
  wait
  for lua in $ran; do
    echo "== unit layer (${lua})"
    cat "$tmp/unit-$lua.out"
    busted_count "unit layer (${lua})" "$tmp/unit-$lua.out"
    echo "unit layer under $lua: $suite_line in $(cat "$tmp/unit-$lua.time" 2>/dev/null) s" >>"$tmp/unit-times"
  done
  cat "$tmp/unit-times"
}

if [ "${1:-}" = "--unit" ]; then
  unit_layer
elif [ $# -gt 0 ]; then
  busted_suite "busted (Lua 5.4)" lua5.4 "$BUSTED" "$@"
  busted_suite "busted (LuaJIT)" luajit "$BUSTED" "$@"
else
  unit_layer
  busted_suite "busted (Lua 5.4)" lua5.4 "$BUSTED"
  busted_suite "busted (LuaJIT)" luajit "$BUSTED"
  if [ -f spec/js/run.sh ]; then
    line_suite "official JavaScript SDK against the fake cloud" sh spec/js/run.sh
  fi
  cat "$tmp/unit-times"
fi

# a pending busted test is a check that did not run: it fails the run
if [ "$pending" -gt 0 ]; then
  echo "!! $pending pending: see the lines marked pending above (counted as failures)"
  failed=$((failed + pending))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
