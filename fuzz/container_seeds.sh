#!/usr/bin/env bash
# fuzz/container_seeds.sh LMIC OUTDIR -- .lmic seeds for fuzz_container, made
# now with the built CLI and fuzz/tiny.lmm (the target's model), so that they
# follow the container format of this checkout: the seeds of
# fuzz/seeds/fuzz_audio/ in short chunks (several per file), each layout,
# mid/side, every predictor effort, windows with overlap, default chunks.
set -euo pipefail
LMIC=$1 OUT=$2
mkdir -p "$OUT"
M=fuzz/tiny.lmm
c() { "$LMIC" compress -q -f --threads 1 --model $M "$@"; }
for f in fuzz/seeds/fuzz_audio/*.wav fuzz/seeds/fuzz_audio/*.aiff; do
  n=$(basename "$f")
  c --chunk 24 "$f" -o "$OUT/$n.lmic"
  c --chunk 40 --layout planar --predict none "$f" -o "$OUT/$n.planar.lmic"
done
for f in fuzz/seeds/fuzz_audio/stereo24.wav fuzz/seeds/fuzz_audio/music.wav; do
  c --chunk 32 --stereo ms --predict high "$f" -o "$OUT/$(basename "$f").ms.lmic"
done
c --chunk 50 --window 32 --overlap 16 --predict fast fuzz/seeds/fuzz_audio/speech.wav -o "$OUT/speech.window.lmic"
c fuzz/seeds/fuzz_audio/speech.wav -o "$OUT/speech.default.lmic"
c --chunk 30 --layout channel:0 fuzz/seeds/fuzz_audio/mono16.wav -o "$OUT/mono16.channel.lmic"
