#!/bin/sh
# Run busted specs under ASan+UBSan with the sanitized core (called by `make asan`).
# Usage: sh fuzz/asan/run.sh NAME LAUNCHER CPATH_DIR BUSTED [spec files...]
#   NAME       lua5.4 | luajit (labels and the log file build/asan-NAME.log)
#   LAUNCHER   the sanitized interpreter (fuzz/asan/lua_asan.c built for NAME)
#   CPATH_DIR  directory holding usage/core.so built with the sanitizers
# Passes when busted exits 0, prints its summary, and the log holds no sanitizer report.
set -u
name=$1 launcher=$2 cpath=$3 busted=$4
shift 4
log=build/asan-$name.log
mkdir -p build

# ASan: leaks are checked at exit (the launcher keeps modules mapped, see lua_asan.c); any report
# ends the process with 86. UBSan: -fno-sanitize-recover=all makes a report fatal; 87 if it exits.
ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:exitcode=86:detect_stack_use_after_return=1:strict_string_checks=1:check_initialization_order=1:detect_invalid_pointer_pairs=1}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1:exitcode=87}
export ASAN_OPTIONS UBSAN_OPTIONS

start=$(date +%s)
# --cpath puts the sanitized core first; -e checks that it is the one require finds
"$launcher" "$busted" --cpath="$cpath/?.so" \
  -e "assert(package.searchpath('usage.core', package.cpath) == '$cpath/usage/core.so', 'not the sanitized core: ' .. tostring(package.searchpath('usage.core', package.cpath)))" \
  "$@" >"$log" 2>&1
rc=$?
secs=$(( $(date +%s) - start ))
summary=$(grep -E '^[0-9]+ successes? / [0-9]+ failures? / [0-9]+ errors? / [0-9]+ pending' "$log" | tail -n 1)
reports=$(grep -cE 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:|SUMMARY: (AddressSanitizer|UndefinedBehaviorSanitizer)' "$log")

if [ "$rc" -eq 0 ] && [ -n "$summary" ] && [ "$reports" -eq 0 ]; then
  echo "PASS asan $name: ${summary:-no summary} (${secs}s, 0 sanitizer reports, log $log)"
  exit 0
fi
echo "FAIL asan $name: exit $rc, ${summary:-no busted summary}, $reports sanitizer report line(s) (${secs}s, log $log)"
grep -nE -A30 'ERROR: (AddressSanitizer|LeakSanitizer)|runtime error:' "$log" | head -n 80
grep -E '^(Failure|Error) ->' "$log" | head -n 20
exit 1
