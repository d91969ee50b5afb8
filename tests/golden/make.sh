#!/usr/bin/env bash
# make.sh -- regenerates the golden .lmic files that tests/golden.sh pins.
# Run it only when the format or the coding arithmetic changes on purpose
# (and then bump LMIC_FILE_VERSION or say why not in the commit).
#
# usage: bash tests/golden/make.sh [BUILD_DIR]   (from the repository root)
#
# Inputs (committed): short excerpts of the shipped samples and two signals
# made here (24-bit stereo, 8-bit mono); model.lmm, a tiny model (d_model 16, one layer) trained for
# 200 steps on samples/ residuals, so that chunks really are LM-coded. The model
# is kept as committed (retraining it on today's residuals gives other weights,
# and so other golden bytes for no reason); RETRAIN=1 trains it afresh.
set -euo pipefail
B=${1:-build}
L=$B/lmic
G=tests/golden
python3 - "$G" <<'PY'
import math, struct, sys, wave
g = sys.argv[1]
def excerpt(src, dst, start, n):
    w = wave.open(src); w.setpos(start); d = w.readframes(n)
    o = wave.open(dst, 'wb'); o.setparams(w.getparams()); o.writeframes(d); o.close()
excerpt('samples/speech16k/pocketsphinx-cards__004.wav', g + '/speech16.wav', 8000, 12000)
excerpt('samples/music/sonicpi-stereo__loop_garzul.wav', g + '/music16.wav', 20000, 6000)
# 24-bit stereo: two detuned tones and a seeded noise floor; 8-bit: a chirp.
x = 12345
def rnd():
    global x
    x = (x * 1103515245 + 12345) & 0x7fffffff
    return x / 0x7fffffff - 0.5
fr = []
for t in range(3001):
    for c in range(2):
        v = 0.4 * math.sin(2 * math.pi * (440 + 3 * c) * t / 48000) + 1e-3 * rnd()
        fr.append(struct.pack('<i', int(v * 8388607))[:3])
o = wave.open(g + '/tone24.wav', 'wb'); o.setnchannels(2); o.setsampwidth(3); o.setframerate(48000)
o.writeframes(b''.join(fr)); o.close()
b = bytes(128 + int(100 * math.sin(2 * math.pi * (200 + t / 8) * t / 11025)) for t in range(2999))
o = wave.open(g + '/chirp8.wav', 'wb'); o.setnchannels(1); o.setsampwidth(1); o.setframerate(11025)
o.writeframes(b); o.close()
PY
if [ "${RETRAIN:-0}" = 1 ] || [ ! -f "$G/model.lmm" ]; then
  "$L" train --data audio --path samples --predict normal --chunk-size 2048 --d-model 16 --layers 1 \
      --heads 2 --context 256 --seq 128 --batch 8 --lr 3e-3 --steps 200 --threads 1 --val-frac 0 \
      --print-every 1000 -o "$G/model.tmp.lmm" -f 2>/dev/null
  mv "$G/model.tmp.lmm" "$G/model.lmm"
  rm -f "$G/model.tmp.lmm.ckpt"
fi
# name options: one file per setting worth pinning
while read -r name wav opts; do
  "$L" compress -q -f --threads 1 --model "$G/model.lmm" $opts -o "$G/$name.lmic" "$G/$wav"
done < "$G/cases.txt"
echo "golden: regenerated $(wc -l < "$G/cases.txt") files"
