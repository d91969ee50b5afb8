#!/usr/bin/env bash
# fuzz/tiny_model.sh -- makes fuzz/tiny.lmm, the model that the fuzz targets
# and tests/corrupt.sh use: C 16, L 1, NH 2, widening 4, context 64 (12k
# parameters, so a fuzzer decodes thousands of inputs a second), random
# weights (seed 1) trained briefly on samples/speech16k so that it really
# compresses audio and the LM-coded chunk path gets exercised, not only raw
# chunks. Run from the repository root after `make`; the result is checked in.
set -euo pipefail
B=${1:-build}
tmp=$(mktemp -d /tmp/lmic-tiny.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/new.c" <<'C'
#include <stdio.h>
#include "lmic.h"
int main(int argc, char **argv) {
    lmic_model_config c = {16, 1, 2, 4, 64, LMIC_POS_SINUSOIDAL, LMIC_NORM_POST};
    lmic_model *m;
    lmic_buf b = {0};
    if (argc != 2 || lmic_model_new_random(&c, 1, &m) || lmic_model_save(m, 0, &b)) return 1;
    FILE *f = fopen(argv[1], "wb");
    if (!f || fwrite(b.data, 1, b.size, f) != b.size || fclose(f)) return 1;
    return 0;
}
C
cc -std=c11 -Iinclude "$tmp/new.c" "$B/liblmic.a" $(pkg-config --libs sndfile flac zlib liblzma libpng) \
   -lm -fopenmp -o "$tmp/new"
"$tmp/new" "$tmp/init.lmm"
"$B/lmic" train --model "$tmp/init.lmm" --data audio --path samples/speech16k --seq 64 --batch 32 \
    --steps 300 --lr 1e-2 --seed 1 --threads 1 --print-every 100 -o "$tmp/tiny.lmm" -f
cp "$tmp/tiny.lmm" fuzz/tiny.lmm
"$B/lmic" model info fuzz/tiny.lmm
