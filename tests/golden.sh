#!/usr/bin/env bash
# golden.sh -- the .lmic format and the coding arithmetic, pinned: every
# case in tests/golden/cases.txt must compress to exactly the committed .lmic
# bytes, and every committed .lmic must decompress to exactly its WAV, with
# this build and with the two builds tests/crossbuild.sh made (gcc -O0, clang
# -O3 -march=native) when they are there. tests/golden/make.sh regenerates
# the files, for deliberate format changes only.
#
# usage: bash tests/golden.sh [BUILD_DIR]
set -u
B=${1:-build}
G=tests/golden
T=$(mktemp -d /tmp/lmic-golden.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib.sh
bins="$B/lmic"
for x in build-gcc-O0/lmic build-clang-O3/lmic; do
  [ -x "$x" ] && [ "$x" -nt include/lmic.h ] && bins="$bins $x"
done
while read -r name wav opts; do
  for L in $bins; do
    if "$L" compress -q -f --threads 2 --model "$G/model.lmm" $opts -o "$T/$name.lmic" "$G/$wav" &&
       cmp -s "$T/$name.lmic" "$G/$name.lmic"; then ok "$name: $L compresses to the golden bytes"
    else bad "$name: $L does not compress to the golden bytes" "$(cmp "$T/$name.lmic" "$G/$name.lmic" 2>&1)"; fi
    if "$L" decompress -q -f --threads 1 --model "$G/model.lmm" -o "$T/$name.wav" "$G/$name.lmic" &&
       cmp -s "$T/$name.wav" "$G/$wav"; then ok "$name: $L restores the WAV from the golden file"
    else bad "$name: $L does not restore the WAV from the golden file"; fi
  done
done < "$G/cases.txt"
echo "golden: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
