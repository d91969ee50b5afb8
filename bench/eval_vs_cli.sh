#!/usr/bin/env bash
# eval_vs_cli.sh -- checks `lmic eval` against the codecs' own command-line
# tools (gzip -9 -n, xz -6, flac -8) on the same 8-bit chunks.
#
# usage: bench/eval_vs_cli.sh [--check POINTS] [--lmic BIN] [lmic data options...]
#   e.g. bench/eval_vs_cli.sh --data librispeech --path DIR
#
# Both sides count the chunked rate as the paper does: every chunk compressed
# alone, the tool's header (its output for one zero byte) counted once. Every
# tool output is decompressed and compared before it is counted. Prints a
# table and a CSV line per codec; with --check P exits 1 if lmic and a tool
# differ by more than P percentage points.
set -euo pipefail
check=""
lmic=build/lmic
args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --check) check=$2; shift 2 ;;
    --lmic) lmic=$2; shift 2 ;;
    *) args+=("$1"); shift ;;
  esac
done
for t in gzip xz flac python3; do command -v $t >/dev/null || { echo "eval_vs_cli: $t not found (make deps)" >&2; exit 1; }; done
work=$(mktemp -d); trap 'rm -rf "$work"' EXIT

"$lmic" chunks "${args[@]}" --chunk-size 2048 -o "$work/stream" 2>/dev/null
"$lmic" eval "${args[@]}" --chunk-size 2048 --compressor gzip,lzma2,flac --json --no-progress > "$work/lmic.json"
raw=$(stat -c %s "$work/stream")
[ "$raw" -gt 0 ] || { echo "eval_vs_cli: no data" >&2; exit 1; }
mkdir "$work/c"
split -b 2048 -d -a 6 "$work/stream" "$work/c/"
printf '\0' > "$work/zero"

# tool NAME FILE -> compressed size on stdout, after checking the round trip.
tool() {
  local name=$1 in=$2 out=$work/out
  case $name in
    gzip) gzip -9 -n -c "$in" > "$out"; gzip -dc "$out" | cmp -s - "$in" ;;
    lzma2) xz -6 -c "$in" > "$out"; xz -dc "$out" | cmp -s - "$in" ;;
    flac) flac -8 -s -f --force-raw-format --endian=little --sign=unsigned --channels=1 \
            --bps=8 --sample-rate=16000 --no-padding --no-seektable -o "$out" "$in"
          flac -d -s -c --force-raw-format --endian=little --sign=unsigned "$out" | cmp -s - "$in" ;;
  esac || { echo "eval_vs_cli: $name round trip failed on $in" >&2; exit 1; }
  stat -c %s "$out"
}

status=0
printf '%-8s %10s %10s %8s\n' codec lmic% tool% diff
for name in gzip lzma2 flac; do
  header=$(tool $name "$work/zero")
  sum=0; n=0
  for f in "$work"/c/*; do
    s=$(tool $name "$f"); sum=$((sum + s)); n=$((n + 1))
  done
  counted=$((sum - header * (n - 1)))
  row=$(python3 - "$work/lmic.json" "$name" "$counted" "$raw" "${check:-0}" <<'PY'
import json, sys
j = json.load(open(sys.argv[1])); name = sys.argv[2]
counted, raw, check = int(sys.argv[3]), int(sys.argv[4]), float(sys.argv[5])
mine = next(c for c in j["compressors"] if c["name"] == name)["chunked_rate"] * 100
tool = 100.0 * counted / raw
bad = check > 0 and abs(mine - tool) > check
print(f"{name:<8} {mine:10.2f} {tool:10.2f} {mine - tool:+8.2f}{'  DIFFERS' if bad else ''}")
print(f"csv,{name},{mine:.4f},{tool:.4f},{raw}")
sys.exit(1 if bad else 0)
PY
) || status=1
  echo "$row"
done
exit $status
