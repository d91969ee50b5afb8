#!/bin/sh
# tokenise_experiment.sh -- reruns issue 6's measurement
# (bench/results/tokenise-experiment.md): residual dump, lmic's own trainer on
# offset vs zig-zag tokens, the PyTorch stand-in with side inputs, the count
# model. About 2 hours on two busy cores; set SEEDS / VARIANTS to do less.
#
#   sh bench/tokenise_experiment.sh [OUT_DIR (/tmp/tokexp)]
#
# Needs the corpus under /tmp/corpus/{train,dev}/speech16k and Debian's
# python3-torch (/usr/bin/python3). Debian's torch links the reference BLAS
# (BLAS_INFO=generic, ~3 GFLOP/s); OPENBLAS_DIR, if set, is put first on
# LD_LIBRARY_PATH for the PyTorch runs only (e.g. libopenblas0-pthread's .deb
# unpacked with dpkg -x: .../usr/lib/x86_64-linux-gnu/openblas-pthread).
# The numbers do not depend on it beyond float rounding.
set -e
D=${1:-/tmp/tokexp}
B=${B:-/tmp/btok}
SEEDS=${SEEDS:-"1 2"}
VARIANTS=${VARIANTS:-"offset zigzag offset+pred zigzag+pred offset+mag"}
PY=/usr/bin/python3
mkdir -p "$D"
make -j2 B="$B" "$B/liblmic.a" "$B/tools/audio_io.o"
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Iinclude -Itools bench/dump_residuals.c \
    "$B/tools/audio_io.o" "$B/liblmic.a" $(pkg-config --libs sndfile) -lz -lm -fopenmp -o "$B/dump_residuals"
cc -O2 -std=c11 -D_POSIX_C_SOURCE=200809L -Wall -Wextra -Iinclude bench/tokenise_train.c \
    "$B/liblmic.a" -lz -lm -fopenmp -o "$B/tokenise_train"
"$B/dump_residuals" "$D/train" 0 /tmp/corpus/train/speech16k/*.wav
"$B/dump_residuals" "$D/dev" 0 /tmp/corpus/dev/speech16k/*.wav
nice -n 10 $PY bench/side_info_stats.py "$D" > "$D/side_info_stats.md"
for s in $SEEDS; do
    for v in offset zigzag; do
        nice -n 10 "$B/tokenise_train" "$D" $v $s 1200 "$D/results_c.jsonl" 8192 1024
    done
    for v in $VARIANTS; do
        LD_LIBRARY_PATH=${OPENBLAS_DIR:+$OPENBLAS_DIR:}$LD_LIBRARY_PATH OPENBLAS_NUM_THREADS=1 \
        nice -n 10 $PY bench/tokenise_experiment.py --data "$D" --variant $v --seed $s --steps 400 \
            --batch 16 --dev-windows 1024 --held-windows 256 --out "$D/results_torch.jsonl"
    done
done
# Does the magnitude input's gain survive twice the budget?
for v in offset offset+mag; do
    LD_LIBRARY_PATH=${OPENBLAS_DIR:+$OPENBLAS_DIR:}$LD_LIBRARY_PATH OPENBLAS_NUM_THREADS=1 \
    nice -n 10 $PY bench/tokenise_experiment.py --data "$D" --variant $v --seed 1 --steps 800 \
        --batch 16 --dev-windows 1024 --held-windows 256 --out "$D/results_torch800.jsonl"
done
$PY bench/tokenise_experiment.py --table "$D/results_c.jsonl,$D/results_torch.jsonl,$D/results_torch800.jsonl"
