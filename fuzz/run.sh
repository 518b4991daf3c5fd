#!/bin/sh
# Run one libFuzzer target for a bounded time (called by `make fuzz`).
# Usage: sh fuzz/run.sh TARGET SECONDS
# The seeds in fuzz/corpus/TARGET are read, never written: new inputs go to build/fuzz/corpus/TARGET,
# crashes to build/fuzz/artifacts/TARGET-*, the log to build/fuzz/TARGET.log.
set -u
t=$1 secs=$2
bin=build/fuzz/fuzz_$t
work=build/fuzz/corpus/$t
art=build/fuzz/artifacts
log=build/fuzz/$t.log
mkdir -p "$work" "$art"
dict=""
[ -f "fuzz/dict/$t.dict" ] && dict="-dict=fuzz/dict/$t.dict"

ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:exitcode=86}
UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export ASAN_OPTIONS UBSAN_OPTIONS

# -timeout: one input taking more than 10 s is a hang; -rss_limit_mb: runaway memory is a failure.
# shellcheck disable=SC2086
"$bin" -max_total_time="$secs" -timeout=10 -rss_limit_mb=2048 -max_len=8192 -print_final_stats=1 \
  -artifact_prefix="$art/$t-" $dict "$work" "fuzz/corpus/$t" >"$log" 2>&1
rc=$?
runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -n 1)
corpus=$(find "$work" -type f | wc -l)
if [ "$rc" -eq 0 ] && ! grep -qE '==ERROR|runtime error:|deadly signal|Test unit written' "$log"; then
  echo "PASS fuzz $t: ${runs:-?} runs in ${secs}s, ${cov:-cov: ?}, work corpus $corpus inputs (log $log)"
  exit 0
fi
echo "FAIL fuzz $t: exit $rc (log $log); reproduce with: $bin $art/$t-<crash file>"
grep -E -A25 '==ERROR|runtime error:|deadly signal|fuzz_json:' "$log" | head -n 60
ls "$art"/"$t"-* 2>/dev/null
exit 1
