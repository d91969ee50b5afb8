#!/usr/bin/env bash
# tests/fuzz_replay.sh B -- replays every fuzz target's seeds and the inputs
# fuzzing once crashed on (tests/fuzz/NAME/), with $B/fuzz-replay/NAME (the
# targets built with the normal compiler and fuzz/replay.c as main), so that
# an old finding cannot come back unnoticed; under `make asan`/`make ubsan`
# they run sanitized. .lmic seeds are made now (fuzz/container_seeds.sh).
# Last line: "fuzz_replay: N passed, M failed".
set -u
cd "$(dirname "$0")/.." || exit 1
B=${1:-build}
T=$(mktemp -d /tmp/lmic-fuzz-replay.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib.sh
bash fuzz/container_seeds.sh "$B/lmic" "$T/container" 2>"$T/seeds.err" \
  && ok "container seeds made ($(ls "$T/container" | wc -l) .lmic files)" \
  || bad "container seeds" "$(head -c 300 "$T/seeds.err")"
for bin in "$B"/fuzz-replay/fuzz_*; do
  t=$(basename "$bin")
  dirs=()
  [ -d "fuzz/seeds/$t" ] && dirs+=("fuzz/seeds/$t")
  [ -d "tests/fuzz/$t" ] && dirs+=("tests/fuzz/$t")
  [ "$t" = fuzz_container ] && dirs+=("$T/container")
  if out=$(timeout 300 "$bin" "${dirs[@]}" 2>&1); then
    ok "$t: $(echo "$out" | tail -n 1 | sed 's/.*: //')"
  else
    bad "$t" "$(echo "$out" | tail -n 5)"
  fi
done
echo "fuzz_replay: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
