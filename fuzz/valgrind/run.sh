#!/bin/sh
# valgrind memcheck over the C core (called by `make valgrind`).
# Usage: sh fuzz/valgrind/run.sh workload LUA VALGRIND REQUESTS
#        sh fuzz/valgrind/run.sh specs LUA VALGRIND BUSTED [spec files...]
# A run passes when valgrind reports no memory error, no definitely or indirectly lost block at all
# (suppressions in fuzz/valgrind/usage.supp cover third-party global state only) and no leaked or
# still-reachable block allocated from usage.core (after lua_close every session, multi and buffer
# must be freed). Logs: build/valgrind/<what>.log.
set -u
what=$1 lua=$2 valgrind=$3
shift 3
mkdir -p build/valgrind
log=build/valgrind/$what.log
out=build/valgrind/$what.out
# --keep-debuginfo: lua_close dlcloses usage.core before the leak check; keep its symbols so that a
# leak from it is reported with file and line. Child processes (nginx of the fake) are not traced.
vg() {
  "$valgrind" --tool=memcheck --leak-check=full --show-leak-kinds=all --errors-for-leak-kinds=definite,indirect \
    --error-exitcode=99 --keep-debuginfo=yes --num-callers=40 --suppressions=fuzz/valgrind/usage.supp \
    --log-file="$log" "$@"
}

start=$(date +%s)
case $what in
  workload)
    LUA_CPATH="build/$lua/?.so;;" vg "$lua" fuzz/valgrind/workload.lua "$1" >"$out" 2>&1
    rc=$?
    detail=$(grep -E '^workload: [0-9]+ requests' "$out" | sed 's/^workload: //')
    ;;
  specs)
    busted=$1
    shift
    vg "$lua" "$busted" "$@" >"$out" 2>&1
    rc=$?
    detail=$(grep -E '^[0-9]+ successes? / [0-9]+ failures?' "$out" | tail -n 1)
    ;;
  *)
    echo "usage: $0 workload|specs ..." >&2
    exit 2
    ;;
esac
secs=$(( $(date +%s) - start ))

errors=$(sed -n 's/^==[0-9]*== ERROR SUMMARY: \([0-9]*\) errors.*/\1/p' "$log" | tail -n 1)
definite=$(sed -n 's/^==[0-9]*==    definitely lost: \([0-9,]*\) bytes.*/\1/p' "$log" | tail -n 1)
indirect=$(sed -n 's/^==[0-9]*==    indirectly lost: \([0-9,]*\) bytes.*/\1/p' "$log" | tail -n 1)
reachable=$(sed -n 's/^==[0-9]*==    still reachable: \([0-9,]*\) bytes.*/\1/p' "$log" | tail -n 1)
# loss records whose allocation stack passes through usage.core (its sources or the .so)
ours=$(awk '
  /^==[0-9]+== [0-9,]+ (\([0-9,]+ direct, [0-9,]+ indirect\) )?bytes in [0-9,]+ blocks are/ { inrec = 1; hit = 0; next }
  inrec && /^==[0-9]+== *$/ { if (hit) n++; inrec = 0; next }
  inrec && (/usage\/core\.so/ || /\((http|multi|json|parse|codec|core)\.c:[0-9]+\)/) { hit = 1 }
  END { if (inrec && hit) n++; print n + 0 }' "$log")

summary="errors=${errors:-?} definitely_lost=${definite:-0} indirectly_lost=${indirect:-0} still_reachable=${reachable:-0} core_records=$ours"
if [ "$rc" -eq 0 ] && [ "${errors:-1}" = 0 ] && [ "$ours" = 0 ] && [ -n "$detail" ]; then
  echo "PASS valgrind $what ($lua): $detail; $summary (${secs}s, log $log)"
  exit 0
fi
echo "FAIL valgrind $what ($lua): exit $rc; ${detail:-no result line}; $summary (${secs}s, log $log)"
grep -E -B2 -A25 'Invalid|uninitialised|definitely lost in|indirectly lost in|Mismatched' "$log" | head -n 100
tail -n 20 "$out"
exit 1
