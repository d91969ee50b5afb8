#!/bin/bash
# predict_stats.sh -- residual bits per sample of each predictor on the dev
# corpus, per category (lmic predict-stats; see tools/pred_cmd.c).
# Usage: bench/predict_stats.sh [CORPUS_DIR] [BUILD_DIR]   (default /tmp/corpus/dev, build)
# Stereo categories are measured as stored and as mid/side.
set -euo pipefail
DEV=${1:-/tmp/corpus/dev}
B=${2:-build}
[ -d "$DEV" ] || { echo "no corpus at $DEV (bash ../shared/corpus/build.sh /tmp/corpus dev)" >&2; exit 1; }
for dir in "$DEV"/*/; do
    cat=$(basename "$dir")
    ls "$dir"*.wav > /dev/null 2>&1 || continue
    echo "== $cat"
    nice "$B/lmic" predict-stats "$dir"*.wav | tail -3  # columns: see tools/pred_cmd.c
    if [ "$cat" = music_stereo16 ]; then
        echo "== $cat --mid-side"
        nice "$B/lmic" predict-stats --mid-side "$dir"*.wav | tail -3
    fi
done
