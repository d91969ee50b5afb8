#!/usr/bin/env bash
# codec_speed.sh -- `lmic compress` / `decompress` beside `flac -8` on the same
# files: ratio, bits per sample and x real time, per category (a directory).
# FLAC runs with --no-padding --no-seektable: its default 8 KB of padding is
# not needed to decode and would dwarf short files.
#
# usage: bench/codec_speed.sh [BUILD_DIR]   (default build; run from the repo)
#   environment: DIRS ("samples/speech16k samples/music"), THREADS (2),
#                MODEL (empty: the built-in model), OPTS (more `lmic compress`
#                options, e.g. "--predict none"), MAXFILES (all: else an even
#                spread of at most that many files per directory, in path
#                order), OUT (bench/results/codec_speed.csv)
#
# Every .lmic file is decompressed and compared byte for byte with its source
# before anything is reported (and every .flac decoded and compared by
# samples); a mismatch stops the run. The CSV records the load average: with
# other jobs on the machine (OpenMP threads spin), the times mean little. Times are wall clock of the whole lmic
# process (model load included). x real time = audio seconds / wall seconds.
# Prints a table; writes bench/results/codec_speed.csv.
set -euo pipefail
B=${1:-build}
LMIC=$(cd "$B" && pwd)/lmic
DIRS=${DIRS:-"samples/speech16k samples/music"}
THREADS=${THREADS:-2}
MODEL_OPT=()
[ -n "${MODEL:-}" ] && MODEL_OPT=(--model "$MODEL")
read -r -a EXTRA <<< "${OPTS:-}"
MAXFILES=${MAXFILES:-0}
tmp=$(mktemp -d /tmp/lmic-codec-bench.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
out=${OUT:-bench/results/codec_speed.csv}
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
model=$("$LMIC" --version | sed -n 's/^built-in model: //p')
[ -n "${MODEL:-}" ] && model=$MODEL
echo "codec_speed: $cpu, $THREADS threads, load $(cut -d' ' -f1-3 /proc/loadavg), model $model, options '${OPTS:-}'"
echo "category,files,wav_bytes,seconds,lmic_bytes,lmic_ratio,lmic_bits_per_sample,flac_bytes,flac_ratio,compress_x_realtime,decompress_x_realtime,threads,load,cpu,model,options,commit" > "$out"
printf '%-22s %5s %10s %8s %10s %8s %8s %8s %9s %9s\n' category files "WAV B" seconds "lmic B" "lmic %" "bits/s" "flac %" "comp x" "decomp x"
now() { date +%s.%N; }
for dir in $DIRS; do
  cat=$(basename "$dir")
  n=0 wav=0 lm=0 fl=0 secs=0 tc=0 td=0 samples=0
  mapfile -t files < <(ls "$dir"/*.wav | sort)
  if [ "$MAXFILES" -gt 0 ] && [ "${#files[@]}" -gt "$MAXFILES" ]; then
    mapfile -t files < <(printf '%s\n' "${files[@]}" | awk -v n="${#files[@]}" -v k="$MAXFILES" \
      'int((NR - 1) * k / n) != int(NR * k / n)')
  fi
  for f in "${files[@]}"; do
    cp "$f" "$tmp/a.wav"
    t0=$(now); "$LMIC" compress -q -f --threads "$THREADS" "${MODEL_OPT[@]}" "${EXTRA[@]}" "$tmp/a.wav"; t1=$(now)
    "$LMIC" decompress -q -f --threads "$THREADS" "${MODEL_OPT[@]}" "$tmp/a.wav.lmic" -o "$tmp/b.wav"; t2=$(now)
    cmp -s "$tmp/a.wav" "$tmp/b.wav" || { echo "codec_speed: $f does not round-trip" >&2; exit 1; }
    flac -s -f -8 --no-padding --no-seektable -o "$tmp/a.flac" "$tmp/a.wav"
    flac -s -f -d -o "$tmp/c.wav" "$tmp/a.flac"
    read -r s ns < <(python3 - "$tmp/a.wav" "$tmp/c.wav" <<'PY'
import struct, sys
def info(p):
    b = open(p, "rb").read(); i = 12; fmt = None
    while i + 8 <= len(b):
        n = struct.unpack("<I", b[i + 4:i + 8])[0]
        if b[i:i + 4] == b"fmt ": fmt = struct.unpack("<HHIIHH", b[i + 8:i + 24])
        if b[i:i + 4] == b"data": return fmt, b[i + 8:i + 8 + n]
        i += 8 + n + (n & 1)
(fa, a), (fc, c) = info(sys.argv[1]), info(sys.argv[2])
assert a == c, "flac does not round-trip"
frames = len(a) // fa[4]
print(frames / fa[2], frames * fa[1])
PY
)
    n=$((n + 1)); wav=$((wav + $(stat -c %s "$f"))); lm=$((lm + $(stat -c %s "$tmp/a.wav.lmic")))
    fl=$((fl + $(stat -c %s "$tmp/a.flac")))
    secs=$(echo "$secs + $s" | bc -l); samples=$((samples + ns))
    tc=$(echo "$tc + $t1 - $t0" | bc -l); td=$(echo "$td + $t2 - $t1" | bc -l)
  done
  row=$(python3 -c "
n,wav,secs,lm,fl,tc,td,ns=$n,$wav,$secs,$lm,$fl,$tc,$td,$samples
print(f'{n},{wav},{secs:.3f},{lm},{100*lm/wav:.2f},{8*lm/ns:.3f},{fl},{100*fl/wav:.2f},{secs/tc:.2f},{secs/td:.2f}')")
  echo "$cat,$row,$THREADS,$(cut -d' ' -f1 /proc/loadavg),\"$cpu\",\"$model\",\"${OPTS:-}\",$commit" >> "$out"
  IFS=, read -r a b c d e f2 g h i j <<< "$row"
  printf '%-22s %5s %10s %8s %10s %8s %8s %8s %9s %9s\n' "$cat" "$a" "$b" "$c" "$d" "$e" "$f2" "$h" "$i" "$j"
done
echo "codec_speed: wrote $out"
