#!/bin/sh
# Runs every test suite: the busted specs under Lua 5.4 and under LuaJIT, then the acceptance of
# the fake cloud by the official JavaScript SDK. Ends with one line: "N passed, M failed".
# Usage: sh spec/run.sh [busted args...]   (e.g. sh spec/run.sh spec/client_spec.lua)
set -u
cd "$(dirname "$0")/.." || exit 2

BUSTED=${BUSTED:-/usr/bin/busted}
passed=0
failed=0
pending=0
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT INT TERM

# add the counts of a busted summary line ("A successes / B failures / C errors / D pending : T seconds")
busted_suite() {
  name=$1; shift
  echo "== $name"
  "$@" 2>&1 | tee "$tmp/out"
  line=$(grep -E '^[0-9]+ successes? / [0-9]+ failures? / [0-9]+ errors? / [0-9]+ pending' "$tmp/out" | tail -n 1)
  if [ -z "$line" ]; then
    echo "!! $name: busted printed no summary (crashed?)"
    failed=$((failed + 1))
    return
  fi
  s=$(echo "$line" | sed -E 's#^([0-9]+) succ.*#\1#')
  f=$(echo "$line" | sed -E 's#^[0-9]+ [a-z]+ / ([0-9]+) fail.*#\1#')
  e=$(echo "$line" | sed -E 's#^.* / ([0-9]+) errors? /.*#\1#')
  p=$(echo "$line" | sed -E 's#^.* / ([0-9]+) pending.*#\1#')
  passed=$((passed + s))
  failed=$((failed + f + e))
  pending=$((pending + p))
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

busted_suite "busted (Lua 5.4)" lua5.4 "$BUSTED" "$@"
busted_suite "busted (LuaJIT)" luajit "$BUSTED" "$@"
if [ $# -eq 0 ] && [ -f spec/js/run.sh ]; then
  line_suite "official JavaScript SDK against the fake cloud" sh spec/js/run.sh
fi

# a pending busted test is a check that did not run: it fails the run
if [ "$pending" -gt 0 ]; then
  echo "!! $pending pending: see the lines marked pending above (counted as failures)"
  failed=$((failed + pending))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
