#!/usr/bin/env bash
# size_sweep.sh -- the shape of the paper's Figure 2 for lmic: compression rate
# against model size. Trains one model per shape on the same data with the
# same budget (same steps, batch, sequence length, schedule and seed), then
# compresses the same dev files with each (--coder lm: the model alone on the
# predictor's residuals, so the model is all that differs) and reports, per
# category, the rate and the adjusted rate (the model counted at 2 bytes per
# parameter, over the WAV bytes coded, as the paper's Table 1 does).
#
# usage: bench/size_sweep.sh [BUILD_DIR]
#   environment: DATA (training directory of WAVs, required; e.g. the default
#     model's mix, models/README.md), DIRS (dev category directories,
#     required), SHAPES ("32:1 64:2 64:4 128:4": d_model:layers, 4 heads,
#     context 1024), STEPS (300), BATCH (16), SEQ (512), THREADS (2),
#     MAXFILES (6 files per category, an even spread), WORK (/tmp/lmic-sweep,
#     kept: models and logs), OUT (bench/results/size_sweep.csv),
#     PLOT (bench/results/plots/size_sweep.png; needs gnuplot),
#     REFERENCE (a trained model evaluated on the same files for comparison,
#     e.g. models/default.lmm; empty: none)
# Every file is decompressed and compared before its size counts.
set -euo pipefail
B=${1:-build}
case $B in /*) ;; *) B=$PWD/$B ;; esac
LMIC=$B/lmic
DATA=${DATA:?set DATA to the training directory}
DIRS=${DIRS:?set DIRS to the dev category directories}
SHAPES=${SHAPES:-"32:1 64:2 64:4 128:4"}
STEPS=${STEPS:-300} BATCH=${BATCH:-16} SEQ=${SEQ:-512} THREADS=${THREADS:-2} MAXFILES=${MAXFILES:-6}
WORK=${WORK:-/tmp/lmic-sweep}
OUT=${OUT:-bench/results/size_sweep.csv}
PLOT=${PLOT:-bench/results/plots/size_sweep.png}
mkdir -p "$WORK"
echo "shape,params,train_tokens,train_seconds,val_bits_per_byte,category,files,wav_bytes,lmic_bytes,rate,adjusted_rate" > "$OUT"
# evaluate NAME MODEL PARAMS TOKENS SECONDS VAL: one CSV row per category.
evaluate() {
  local name=$1 M=$2 params=$3 tokens=$4 secs=$5 val=$6 d cat n step wb lb k f rate adj
  for d in $DIRS; do
    cat=$(basename "$d")
    n=$(ls "$d"/*.wav | wc -l)
    step=$(( (n + MAXFILES - 1) / MAXFILES ))
    wb=0 lb=0 k=0
    for f in $(ls "$d"/*.wav | awk -v s="$step" 'NR % s == 1 || s == 1'); do
      "$LMIC" compress -q -f --threads "$THREADS" --model "$M" --coder lm -o "$WORK/a.lmic" "$f"
      "$LMIC" decompress -q -f --threads "$THREADS" --model "$M" -o "$WORK/a.wav" "$WORK/a.lmic"
      cmp -s "$f" "$WORK/a.wav" || { echo "size_sweep: $f does not round-trip" >&2; exit 1; }
      wb=$((wb + $(stat -c %s "$f"))); lb=$((lb + $(stat -c %s "$WORK/a.lmic"))); k=$((k + 1))
    done
    rate=$(echo "scale=4; 100 * $lb / $wb" | bc)
    adj=$(echo "scale=4; 100 * ($lb + 2 * $params) / $wb" | bc)
    echo "$name,$params,$tokens,$secs,$val,$cat,$k,$wb,$lb,$rate,$adj" >> "$OUT"
    printf '   %-18s %2d files  rate %6.2f %%  adjusted %7.2f %%\n' "$cat" "$k" "$rate" "$adj"
  done
}
for shape in $SHAPES; do
  C=${shape%:*} L=${shape#*:}
  M=$WORK/c${C}l${L}.lmm
  if [ ! -s "$M" ]; then  # (a model already in WORK is reused)
    "$LMIC" train --data audio --path "$DATA" --predict normal --chunk-size 32768 --d-model "$C" --layers "$L" \
      --heads 4 --context 1024 --seq "$SEQ" --batch "$BATCH" --lr 2e-3 --warmup $((STEPS / 20 + 1)) \
      --cosine-steps "$STEPS" --clip 1.0 --steps "$STEPS" --threads "$THREADS" --val-every "$STEPS" \
      --print-every 50 -f -o "$M" > "$WORK/c${C}l${L}.log" 2>&1
  fi
  secs=$(grep -o 'steps in [0-9.]* s' "$WORK/c${C}l${L}.log" | awk '{ print $3 }')
  params=$("$LMIC" model info "$M" | awk '/^parameters:/ { print $2 }')
  val=$(grep -o 'validation [0-9.]* bits/byte' "$WORK/c${C}l${L}.log" | tail -1 | awk '{ print $2 }')
  echo "== C $C L $L: $params parameters, validation $val bits/byte, trained in $secs s"
  evaluate "c${C}l${L}" "$M" "$params" $((STEPS * BATCH * SEQ)) "$secs" "$val"
done
if [ -n "${REFERENCE:-}" ]; then
  params=$("$LMIC" model info "$REFERENCE" | awk '/^parameters:/ { print $2 }')
  echo "== reference $REFERENCE: $params parameters"
  evaluate "reference" "$REFERENCE" "$params" "" "" ""
fi
echo "size_sweep: wrote $OUT"
if command -v gnuplot >/dev/null; then
  mkdir -p "$(dirname "$PLOT")"
  cats=$(cut -d, -f6 "$OUT" | sed 1d | sort -u)
  # the trained shapes only: the reference has another budget
  plots=""
  for c in $cats; do
    grep -v '^reference,' "$OUT" | grep ",$c," | cut -d, -f2,10 | tr , ' ' | sort -n > "$WORK/$c.dat"
    plots="$plots${plots:+, }'$WORK/$c.dat' using 1:2 with linespoints title '$c'"
  done
  gnuplot -e "set terminal png size 800,500; set output '$PLOT'; set logscale x;
    set xlabel 'model parameters'; set ylabel 'rate % (model alone, --coder lm)';
    set title 'lmic: rate against model size ($STEPS steps x $BATCH x $SEQ tokens each)';
    set key outside; plot $plots"
  echo "size_sweep: plotted $PLOT"
fi
