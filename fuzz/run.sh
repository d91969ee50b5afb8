#!/usr/bin/env bash
# fuzz/run.sh B SECONDS NAME... -- `make fuzz-run`: runs each libFuzzer target
# $B/fuzz/NAME for SECONDS seconds (niced) on the seeds in fuzz/seeds/NAME/,
# the regression inputs in tests/fuzz/NAME/ and, for fuzz_container, .lmic
# seeds made now (fuzz/container_seeds.sh). What a run adds to the corpus
# stays in $B/fuzz/corpus/NAME/ (not checked in); a crash is written to
# $B/fuzz/crashes/ and fails the run: copy it to tests/fuzz/NAME/ once fixed,
# so that `make test` replays it. Prints executions per target.
set -u
B=$1 SECS=$2; shift 2
fail=0
mkdir -p "$B/fuzz/crashes"
printf '%-16s %8s %12s %10s %s\n' target seconds executions exec/s result
for t in "$@"; do
  corpus=$B/fuzz/corpus/$t
  mkdir -p "$corpus"
  dirs=("$corpus")
  [ -d "fuzz/seeds/$t" ] && dirs+=("fuzz/seeds/$t")
  [ -d "tests/fuzz/$t" ] && dirs+=("tests/fuzz/$t")
  if [ "$t" = fuzz_container ]; then
    rm -rf "$B/fuzz/gen-seeds"
    bash fuzz/container_seeds.sh "$B/lmic" "$B/fuzz/gen-seeds" 2>/dev/null || { echo "$t: making seeds failed"; fail=1; }
    dirs+=("$B/fuzz/gen-seeds")
  fi
  log=$B/fuzz/$t.log
  # -rss_limit_mb bounds memory (a hostile length must not make us allocate
  # gigabytes); -timeout catches hangs (fuzz_audio's two reads may each
  # take audio_io's 5 s limit on libsndfile); one process, so seeds are
  # reproducible with the printed seed.
  nice -n 10 "$B/fuzz/$t" -max_total_time="$SECS" -timeout=30 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$B/fuzz/crashes/$t-" "${dirs[@]}" >"$log" 2>&1
  rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -n 1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -n 1)
  res=ok
  if [ $rc -ne 0 ]; then
    res="FAILED (exit $rc, see $log)"; fail=1
    grep -E 'INFO: Seed|ERROR|SUMMARY|FUZZ_CHECK|Test unit written' "$log" | head -n 6
    # CI keeps no files: print a small finding itself, to rebuild with base64 -d.
    for f in "$B/fuzz/crashes/$t-"*; do
      [ -f "$f" ] && [ "$(wc -c <"$f")" -le 4096 ] && { echo "$(basename "$f") (base64):"; base64 -w 0 "$f"; echo; }
    done
  fi
  printf '%-16s %8s %12s %10s %s\n' "$t" "$SECS" "${execs:-?}" "${rate:-?}" "$res"
done
exit $fail
