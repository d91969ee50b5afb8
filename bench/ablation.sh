#!/usr/bin/env bash
# ablation.sh -- issue 6's ablation: what each part of lmic's pipeline buys,
# per category, beside flac -8 on the same files (bench/codec_speed.sh does
# the work and verifies every decode). Variants, all with the built-in model
# (or MODEL):
#   raw-lm      --predict none --coder lm   the byte LM on the samples themselves
#   pred-plain  --coder plain               predictor + the plain adaptive coder (no LM)
#   pred-lm     --coder lm                  predictor + the LM
#   pred-mix    --coder mix                 predictor + the LM mixed with the plain model
#   auto        (the default)               per chunk, the shorter of pred-plain and pred-mix
#   pred-lm-adapt --coder lm --adapt        pred-lm, the model adapting online (docs/format.md)
#   auto-adapt  --adapt                     auto, the model adapting online
# usage: bench/ablation.sh [BUILD_DIR]   environment: DIRS (the dev categories),
#   MAXFILES (24), THREADS (2), VARIANTS ("raw-lm pred-plain pred-lm auto"),
#   OUT (bench/results/ablation.csv)
set -euo pipefail
B=${1:-build}
DIRS=${DIRS:?set DIRS to the category directories, e.g. DEV/speech16k DEV/music_stereo16}
OUT=${OUT:-bench/results/ablation.csv}
VARIANTS=${VARIANTS:-"raw-lm pred-plain pred-lm pred-mix auto"}
tmp=$(mktemp -d /tmp/lmic-ablation.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
first=1
for v in $VARIANTS; do
  case $v in
    raw-lm) opts="--predict none --coder lm" ;;
    pred-plain) opts="--coder plain" ;;
    pred-lm) opts="--coder lm" ;;
    pred-mix) opts="--coder mix" ;;
    auto) opts="" ;;
    pred-lm-adapt) opts="--coder lm --adapt" ;;
    auto-adapt) opts="--adapt" ;;
    *) echo "ablation: unknown variant $v" >&2; exit 2 ;;
  esac
  echo "== $v: ${opts:-(defaults)}"
  OPTS="$opts" MAXFILES=${MAXFILES:-24} THREADS=${THREADS:-2} DIRS="$DIRS" OUT="$tmp/$v.csv" \
    bash bench/codec_speed.sh "$B"
  if [ $first = 1 ]; then sed -n 1p "$tmp/$v.csv" | sed 's/^/variant,/' > "$OUT"; first=0; fi
  sed -n '2,$p' "$tmp/$v.csv" | sed "s/^/$v,/" >> "$OUT"
done
echo "ablation: wrote $OUT"
