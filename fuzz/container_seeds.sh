#!/usr/bin/env bash
# fuzz/container_seeds.sh LMIC OUTDIR -- .lmic seeds for fuzz_container, made
# now with the built CLI and fuzz/tiny.lmm (the target's model), so that they
# follow the container format of this checkout: the WAV seeds of
# fuzz/seeds/fuzz_audio/ with each layout and mid/side, and one raw-only file.
set -euo pipefail
LMIC=$1 OUT=$2
mkdir -p "$OUT"
M=fuzz/tiny.lmm
for f in fuzz/seeds/fuzz_audio/*.wav fuzz/seeds/fuzz_audio/*.aiff; do
  n=$(basename "$f")
  "$LMIC" compress -q -f --threads 1 --model $M "$f" -o "$OUT/$n.lmic"
  "$LMIC" compress -q -f --threads 1 --model $M --layout planar "$f" -o "$OUT/$n.planar.lmic"
done
for f in fuzz/seeds/fuzz_audio/stereo24.wav fuzz/seeds/fuzz_audio/music.wav; do
  "$LMIC" compress -q -f --threads 1 --model $M --stereo ms "$f" -o "$OUT/$(basename "$f").ms.lmic"
done
"$LMIC" compress -q -f --threads 1 --model $M --layout channel:0 fuzz/seeds/fuzz_audio/mono16.wav \
  -o "$OUT/mono16.channel.lmic"
