#!/usr/bin/env bash
# model_speed.sh -- how fast lmic's model runs, beside the PyTorch model
# (dev/model.py) on the same inputs.
#
# usage: bench/model_speed.sh [BUILD_DIR]   (default build; run from anywhere)
#   environment: PRESETS ("200k 800k 3.2m"), THREADS ("1 2"), BATCHES ("1 16"),
#                T (chunk size = context, 256), REPEAT (best of, 1),
#                PYTHON (/usr/bin/python3, Debian's, which has torch)
#
# For each preset, a seeded random model (`lmic model new --context T`) and
# seeded random chunks (`lmic chunks --data random`; the content does not
# change the work). Measures bytes/s of
#   whole:       the whole-sequence forward pass (`lmic score`, batch B), and
#   incremental: decoding one position at a time (`lmic score --incremental`)
# at every batch size and thread count; torch.set_num_threads matches.
# The PyTorch incremental mode is a real KV-cache decode loop (Model.decode).
#
# What is timed: lmic's wall clock for the whole `lmic score` process (model
# load and arithmetic coding included, both small beside the model at these
# sizes); PyTorch's forward passes only (torch import and model load excluded),
# after one warm-up batch. So the ratio, if anything, flatters PyTorch.
#
# Before timing a preset it verifies that the two agree on that model (the
# first two chunks, log-probs within 1e-4, as tests/parity.sh), so the table
# never races two different functions.
#
# PyTorch's speed depends on the BLAS it loads, printed in the header and the
# CSV: Debian's python3-torch uses whatever libblas.so.3 is selected, netlib's
# reference BLAS unless an optimised one (libopenblas0) is installed; to try
# one without installing it, point LD_LIBRARY_PATH at its libblas.so.3
# (lmic links no BLAS).
#
# Both lmic and PyTorch use OpenMP: with --threads 2 on a machine whose other
# cores are busy, both slow down badly (spinning waits). The header prints the
# load average; numbers taken under load are not worth much.
#
# Prints a table; writes bench/results/model_speed.csv with ratio = lmic/PyTorch.
set -euo pipefail
B=${1:-build}
case $B in /*) ;; *) B=$PWD/$B ;; esac
cd "$(dirname "$0")/.."
LMIC=$B/lmic
PY=${PYTHON:-/usr/bin/python3}
PRESETS=${PRESETS:-200k 800k 3.2m}
THREADS=${THREADS:-1 2}
BATCHES=${BATCHES:-1 16}
T=${T:-256}
REPEAT=${REPEAT:-1}
SEED=777
OUT=bench/results/model_speed.csv

[ -x "$LMIC" ] || { echo "model_speed: $LMIC not built (make)" >&2; exit 1; }
"$PY" -c "import torch" 2>/dev/null || { echo "model_speed: $PY cannot import torch (apt-get install python3-torch)" >&2; exit 1; }
work=$(mktemp -d /tmp/lmic-speed.XXXXXX)
trap 'rm -rf "$work"' EXIT
mkdir -p bench/results

# Chunks per preset: a multiple of the largest batch, enough for ~1 s or more.
chunks_for() { case $1 in 3.2m) echo 16 ;; *) echo 32 ;; esac; }
now() { date +%s.%N; }

cpu=$(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -n 1)
torchv=$("$PY" -c 'import torch; print(torch.__version__)')
blas=$("$PY" -c '
import torch
torch.ones(64, 64) @ torch.ones(64, 64)
libs = [l.split()[-1] for l in open("/proc/self/maps") if "blas" in l.lower() or "mkl" in l.lower()]
print(libs[0] if libs else "unknown")')
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
echo "model_speed: lmic $commit ($LMIC), torch $torchv, $cpu, chunk $T, seed $SEED, best of $REPEAT"
echo "PyTorch BLAS: $blas"
echo "PyTorch incremental = KV-cache decode loop (dev/model.py Model.decode)"
load=$(cut -d' ' -f1 /proc/loadavg)
echo "load average $load on $(nproc) CPUs$( [ "$(echo "$load > 0.5" | bc -l)" = 1 ] && echo ' -- WARNING: the machine is busy; timings will be noisy')"
echo "preset,mode,batch,threads,bytes,lmic_bytes_per_s,torch_bytes_per_s,ratio_lmic_over_torch,chunk,cpu,torch,blas,commit" >"$OUT"
printf '%-6s %-12s %5s %7s %8s %14s %14s %8s\n' preset mode batch threads bytes "lmic B/s" "torch B/s" ratio

for preset in $PRESETS; do
    n=$(chunks_for "$preset")
    model=$work/$preset.lmic
    "$LMIC" model new --preset "$preset" --seed $SEED --context "$T" -o "$model" -f 2>/dev/null
    data="--data random --seed $SEED --chunk-size $T --num-chunks $n"
    # shellcheck disable=SC2086
    "$LMIC" chunks $data -o "$work/tokens.bin" -f 2>/dev/null
    bytes=$((n * T))
    # Verify before timing: lmic and PyTorch compute the same function.
    # shellcheck disable=SC2086
    "$LMIC" score --model "$model" --data random --seed $SEED --chunk-size "$T" --num-chunks 2 \
        --no-progress --dump-logp "$work/check.logp" >/dev/null
    head -c $((2 * T)) "$work/tokens.bin" >"$work/check.bin"
    echo "$preset $model $work/check.bin $T $work/check.logp" >"$work/manifest"
    if ! "$PY" dev/model.py compare "$work/manifest" >"$work/check.out"; then
        cat "$work/check.out" >&2
        echo "model_speed: lmic and PyTorch disagree on $preset; not timing it" >&2
        exit 1
    fi
    for mode in whole incremental; do
        inc=""
        [ $mode = incremental ] && inc=--incremental
        for batch in $BATCHES; do
            for threads in $THREADS; do
                best=""
                for _ in $(seq "$REPEAT"); do
                    t0=$(now)
                    # shellcheck disable=SC2086
                    "$LMIC" score --model "$model" $data --batch "$batch" --threads "$threads" $inc \
                        --no-progress >/dev/null
                    t1=$(now)
                    s=$(echo "$t1 - $t0" | bc -l)
                    if [ -z "$best" ] || [ "$(echo "$s < $best" | bc -l)" = 1 ]; then best=$s; fi
                done
                lmic_bps=$(echo "$bytes / $best" | bc -l)
                torch_bps=$("$PY" dev/model.py bench "$model" "$work/tokens.bin" "$T" --mode $mode \
                    --batch "$batch" --threads "$threads" --repeat "$REPEAT" |
                    sed -n 's/.*bytes_per_s=\([0-9.]*\).*/\1/p')
                ratio=$(echo "$lmic_bps / $torch_bps" | bc -l)
                printf '%-6s %-12s %5d %7d %8d %14.0f %14.0f %8.2f\n' "$preset" $mode "$batch" "$threads" \
                    $bytes "$lmic_bps" "$torch_bps" "$ratio"
                printf '%s,%s,%d,%d,%d,%.1f,%.1f,%.4f,%d,"%s",%s,%s,%s\n' "$preset" $mode "$batch" "$threads" \
                    $bytes "$lmic_bps" "$torch_bps" "$ratio" "$T" "$cpu" "$torchv" "$blas" "$commit" >>"$OUT"
            done
        done
    done
done
echo "model_speed: wrote $OUT"
