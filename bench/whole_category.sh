#!/usr/bin/env bash
# whole_category.sh -- lmic's rate over whole corpus categories, counted the way
# ../shared/corpus/BASELINES-dev.md counts the other codecs: every byte of
# every .lmic file over the PCM bytes of the audio (frames x channels x bytes
# per sample). Every file is decompressed and compared with its WAV first.
#
# usage: bench/whole_category.sh [BUILD_DIR]
#   environment: DIRS (category directories, required), OPTS (`lmic compress`
#   options, e.g. "--coder plain"), JOBS (files at a time, 2; each on 1 thread),
#   OUT (bench/results/whole_category.csv)
set -euo pipefail
B=${1:-build}
case $B in /*) ;; *) B=$PWD/$B ;; esac
LMIC=$B/lmic
DIRS=${DIRS:?set DIRS to the category directories}
JOBS=${JOBS:-2}
OUT=${OUT:-bench/results/whole_category.csv}
tmp=$(mktemp -d /tmp/lmic-whole.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
. "$(dirname "$0")/roundtrip.sh"
# one FILE: prints "lmic_bytes pcm_bytes", or fails if the round trip does.
one() {
  local o=$tmp/$(basename "$1").$BASHPID opts
  read -r -a opts <<< "${OPTS:-}"
  roundtrip "$LMIC" "$1" "$o" "${opts[@]}" || return 1
  echo "$(stat -c %s "$o.lmic") $("$LMIC" info "$o.lmic" | awk '/^audio:/ {
    for (i = 1; i <= NF; i++) { if ($i ~ /channel/) c = $(i - 1); if ($i ~ /-bit/) b = $i + 0; if ($i == "frames") f = $(i - 1) }
    print f * c * b / 8 }')"
  rm -f "$o.lmic" "$o.wav"
}
export -f one
export LMIC OPTS tmp
echo "category,files,pcm_bytes,lmic_bytes,lmic_rate_of_pcm,options,commit" > "$OUT"
for d in $DIRS; do
  cat=$(basename "$d")
  ls "$d"/*.wav | xargs -P "$JOBS" -I{} bash -c 'one "$1"' _ {} > "$tmp/sizes"
  n=$(wc -l < "$tmp/sizes")
  [ "$n" -eq "$(ls "$d"/*.wav | wc -l)" ] || { echo "whole_category: $cat: a file failed" >&2; exit 1; }
  read -r lb pb <<< "$(awk '{ l += $1; p += $2 } END { print l, p }' "$tmp/sizes")"
  rate=$(echo "scale=4; 100 * $lb / $pb" | bc)
  printf '%-18s %4d files  %6.2f %% of PCM bytes\n' "$cat" "$n" "$rate"
  echo "$cat,$n,$pb,$lb,$(printf %.2f "$rate"),${OPTS:-} --threads 1,$commit" >> "$OUT"
done
echo "whole_category: wrote $OUT"
