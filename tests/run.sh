#!/usr/bin/env bash
# Runs every test suite and prints one closing line with the totals. Each
# suite ends with "NAME: N passed, M failed" and exits non-zero on failure.
#   unit        build/test_lmic: the C unit tests
#   cli         tests/cli.sh: the command line, bad input, eval vs CLI tools
#   parity      tests/parity.sh: the C model against the PyTorch reference
#   crossbuild  tests/crossbuild.sh: gcc -O0 vs clang -O3 -march=native, threads,
#               batch, whole vs incremental: identical CDFs
#   gradcheck   tests/gradcheck.sh: training gradients against PyTorch autograd
#   train       tests/train_cli.sh: lmic train, resume == uninterrupted, signals
#   codec       tests/codec_cli.sh: compress/decompress/test/info round trips,
#               damage, and .lmic files across the two builds crossbuild made
#   corrupt     tests/corrupt.py: >= 1000 bit flips, truncations, swapped and
#               duplicated chunks in real .lmic files: clean errors only
#   hostile     tests/hostile.sh: lying WAV/AIFF/FLAC headers, huge model
#               dimensions: clear errors, bounded memory (ulimit -v)
#   golden      tests/golden.sh: committed .lmic files, compressed and restored
#               byte for byte by this build and the cross-builds
#   bench       tests/bench_cli.sh: lmic bench beside flac/wavpack/xz/gzip on
#               generated WAVs: CSV rows and numbers; a peer's wrong decode fails
#   fuzz_replay tests/fuzz_replay.sh: every fuzz target on its seeds and on
#               the inputs fuzzing crashed on (tests/fuzz/)
# LMIC_SKIP="NAME ..." leaves suites out (make asan/ubsan SAN_SKIP=...);
# each skipped suite is named.
set -u
B=${1:-build}
pass=0; fail=0
suite() {
  local name=$1; shift
  case " ${LMIC_SKIP:-} " in *" $name "*) echo "$name: skipped (LMIC_SKIP)"; return;; esac
  local log; log=$(mktemp)
  "$@" 2>&1 | tee "$log"
  local rc=${PIPESTATUS[0]}
  local last; last=$(grep -E '^[a-z_]+: [0-9]+ passed, [0-9]+ failed' "$log" | tail -n 1)
  rm -f "$log"
  local p f
  p=$(echo "$last" | sed -n 's/.* \([0-9]*\) passed.*/\1/p')
  f=$(echo "$last" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
  [ -z "$p" ] && { p=0; f=1; }                 # no summary: the suite crashed
  [ "$rc" -ne 0 ] && [ "${f:-0}" -eq 0 ] && f=1  # failed without saying so
  pass=$((pass + p)); fail=$((fail + f))
}
suite unit "$B/test_lmic"
suite cli bash tests/cli.sh "$B"
suite parity bash tests/parity.sh "$B"
suite crossbuild bash tests/crossbuild.sh
suite codec bash tests/codec_cli.sh "$B"
suite gradcheck bash tests/gradcheck.sh "$B"
suite train_cli bash tests/train_cli.sh "$B"
suite corrupt python3 tests/corrupt.py "$B"
suite hostile bash tests/hostile.sh "$B"
suite golden bash tests/golden.sh "$B"
suite bench bash tests/bench_cli.sh "$B"
suite fuzz_replay bash tests/fuzz_replay.sh "$B"
echo "total: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
