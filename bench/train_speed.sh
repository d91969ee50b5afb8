#!/usr/bin/env bash
# train_speed.sh -- training throughput of `lmic train` beside the PyTorch
# reference training step (dev/grad_check.py bench: dev/model.py's model,
# autograd, torch.optim.Adam) on the same machine, model, data and threads.
#
# usage: bench/train_speed.sh [BUILD_DIR]   (default build; run from anywhere)
#   environment: PRESETS ("200k 3.2m"), SEQS ("512 2048"), THREADS ("2"),
#                BATCH (8), STEPS (lmic: 6), PY_STEPS (PyTorch: 3),
#                PYTHON (/usr/bin/python3, Debian's, which has torch),
#                APPEND=1 adds rows to the CSV instead of rewriting it
#
# Both train the same seeded model (`lmic model new --preset P --context T`)
# on random windows of the same bytes (samples/speech16k through the
# librispeech loader; `lmic chunks` writes them for PyTorch) with the same
# batch, sequence length, Adam and thread count. Measured: tokens (bytes) per
# second of whole training steps (sampling, forward, backward, update);
# lmic's own count (its progress line, checkpoint writing excluded),
# PyTorch's after one warm-up step (torch import and model load excluded).
#
# Before timing, tests/gradcheck.sh's comparison is what makes the race fair:
# the two compute the same gradients (relative difference ~1e-6).
#
# Both use OpenMP: on a machine whose other cores are busy, both slow down
# badly. The load average is printed and stored; numbers taken under load are
# not worth much.
#
# Writes bench/results/train_speed.csv (ratio = lmic / PyTorch).
set -euo pipefail
B=${1:-build}
case $B in /*) ;; *) B=$PWD/$B ;; esac
cd "$(dirname "$0")/.."
LMIC=$B/lmic
PY=${PYTHON:-/usr/bin/python3}
PRESETS=${PRESETS:-200k 3.2m}
SEQS=${SEQS:-512 2048}
THREADS=${THREADS:-2}
BATCH=${BATCH:-8}
STEPS=${STEPS:-6}
PY_STEPS=${PY_STEPS:-3}
OUT=bench/results/train_speed.csv

[ -x "$LMIC" ] || { echo "train_speed: $LMIC not built (make)" >&2; exit 1; }
"$PY" -c "import torch" 2>/dev/null || { echo "train_speed: $PY cannot import torch" >&2; exit 1; }
work=$(mktemp -d /tmp/lmic-train-speed.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p bench/results

cpu=$(grep -m1 'model name' /proc/cpuinfo | sed 's/.*: //')
torchv=$("$PY" -c "import torch; print(torch.__version__)")
echo "train_speed: $cpu, $(nproc) cores, load $(cut -d' ' -f1-3 /proc/loadavg); lmic $("$LMIC" --version | cut -d' ' -f2), torch $torchv"
"$LMIC" chunks --data librispeech --path samples/speech16k --keep-partial -o "$work/tokens.bin" -f 2>/dev/null
[ "${APPEND:-0}" = 1 ] && [ -s "$OUT" ] || echo "impl,preset,params,seq,batch,threads,steps,tokens_per_s,ratio,cpu,load,torch" > "$OUT"
printf '%-8s %6s %5s %7s %14s %14s %7s\n' preset seq batch threads "lmic tok/s" "torch tok/s" ratio
for P in $PRESETS; do
    for T in $SEQS; do
        "$LMIC" model new --preset "$P" --context "$T" --seed 1 -o "$work/m.lmic" -f 2>/dev/null
        params=$("$LMIC" model info "$work/m.lmic" | sed -n 's/^parameters: *//p')
        for TH in $THREADS; do
            load=$(cut -d' ' -f1 /proc/loadavg)
            "$LMIC" train --model "$work/m.lmic" --data librispeech --path samples/speech16k \
                --batch "$BATCH" --seq "$T" --steps "$STEPS" --threads "$TH" --val-frac 0 \
                --print-every 1000000 -o "$work/out.lmic" -f 2>"$work/log"
            c=$(sed -n 's/.* s, \([0-9.]*\) tokens\/s.*/\1/p' "$work/log" | tail -n 1)
            pyline=$("$PY" dev/grad_check.py bench "$work/m.lmic" "$work/tokens.bin" --batch "$BATCH" \
                --seq "$T" --steps "$PY_STEPS" --threads "$TH")
            p=$(echo "$pyline" | sed -n 's/.*tokens_per_s=\([0-9.]*\).*/\1/p')
            ratio=$(awk -v a="$c" -v b="$p" 'BEGIN { printf "%.2f", a / b }')
            printf '%-8s %6s %5s %7s %14.0f %14.0f %7s\n' "$P" "$T" "$BATCH" "$TH" "$c" "$p" "$ratio"
            echo "lmic,$P,$params,$T,$BATCH,$TH,$STEPS,$c,$ratio,\"$cpu\",$load,$torchv" >> "$OUT"
            echo "pytorch,$P,$params,$T,$BATCH,$TH,$PY_STEPS,$p,1.00,\"$cpu\",$load,$torchv" >> "$OUT"
        done
    done
done
echo "train_speed: wrote $OUT"
