#!/usr/bin/env bash
# load.sh -- lmic under load: NFILES audio files compressed and decompressed
#   procs    by JOBS parallel processes, one file and one thread each (xargs -P)
#   threads  one process per file, one after another, --threads THREADS
#   batch    one process for all files (lmic compress a.wav b.wav ...), --threads THREADS
# Every output is checked before anything is reported: each decompressed WAV
# byte for byte against its source, and each mode's .lmic files against the
# first mode's (the bytes must not depend on threads or processes). Peak
# memory is the largest "Maximum resident set size" that /usr/bin/time -v
# reports for any one lmic process of the mode.
#
# usage: bench/load.sh [BUILD_DIR]   (run from the repository root)
#   environment: NFILES (50), SECONDS_EACH (0.25: length of each file), JOBS (2),
#                THREADS (2), MODEL (empty: the built-in model)
# Files: cuts of samples/speech16k and samples/music at different offsets,
# and generated 24-bit stereo and 8-bit mono WAVs (seeded). Writes
# bench/results/load.csv and prints a table; exits 1 on any mismatch.
set -euo pipefail
B=${1:-build}
LMIC=$(cd "$B" && pwd)/lmic
NFILES=${NFILES:-50}
SECS=${SECONDS_EACH:-0.25}
JOBS=${JOBS:-2}
THREADS=${THREADS:-2}
MODEL_OPT=()
[ -n "${MODEL:-}" ] && MODEL_OPT=(--model "$(cd "$(dirname "$MODEL")" && pwd)/$(basename "$MODEL")")
[ -x /usr/bin/time ] || { echo "load: needs /usr/bin/time (Debian package time)" >&2; exit 1; }
tmp=$(mktemp -d /tmp/lmic-load.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
out=bench/results/load.csv
commit=$(git rev-parse --short HEAD 2>/dev/null || echo unknown)
cpu=$(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ *//')
model=${MODEL:-built-in}
python3 - "$tmp/src" "$NFILES" "$SECS" <<'PY'
import math, os, random, struct, sys, wave
d, n, secs = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
os.makedirs(d)
rng = random.Random(50)
srcs = ['samples/speech16k/pocketsphinx-cards__002.wav', 'samples/speech16k/pocketsphinx-cards__004.wav',
        'samples/speech16k/pocketsphinx-raw__something.wav', 'samples/music/sonicpi-stereo__loop_garzul.wav']
for i in range(n):
    k = i % 6
    if k < 4:
        r = wave.open(srcs[k], 'rb')
        frames = min(int(secs * r.getframerate()), r.getnframes())
        r.setpos(rng.randrange(0, r.getnframes() - frames + 1))
        data = r.readframes(frames)
        ch, sw, rate = r.getnchannels(), r.getsampwidth(), r.getframerate()
    else:  # generated: 24-bit stereo 48 kHz, or 8-bit mono 8 kHz
        ch, sw, rate = (2, 3, 48000) if k == 4 else (1, 1, 8000)
        f0 = rng.uniform(100, 1000)
        out = bytearray()
        for t in range(int(secs * rate)):
            for c in range(ch):
                v = math.sin(2 * math.pi * f0 * (1 + 0.01 * c) * t / rate) * 0.4 + rng.gauss(0, 0.01)
                q = int(v * (2 ** (8 * sw - 1) - 1))
                out += bytes([(q + 128) & 255]) if sw == 1 else (q & (2 ** (8 * sw) - 1)).to_bytes(sw, 'little')
        data = bytes(out)
    w = wave.open(f'{d}/f{i:03d}.wav', 'wb')
    w.setnchannels(ch); w.setsampwidth(sw); w.setframerate(rate); w.writeframes(data); w.close()
PY
bytes=$(cat "$tmp"/src/*.wav | wc -c)
echo "load: $NFILES files, $bytes WAV bytes, $cpu, jobs $JOBS, threads $THREADS, load $(cut -d' ' -f1-3 /proc/loadavg), model $model"
[ -f "$out" ] || echo "mode,files,wav_bytes,jobs,threads,compress_s,decompress_s,peak_rss_compress_kb,peak_rss_decompress_kb,identical,load,cpu,model,commit" > "$out"
printf '%-8s %5s %5s %8s %10s %10s %14s %14s %s\n' mode jobs thr files "comp s" "decomp s" "comp peak KB" "decomp peak KB" check
now() { date +%s.%N; }
peak() { cat "$1"/*.rss 2>/dev/null | sort -n | tail -n 1; }
# run_mode NAME JOBS THREADS: compresses and decompresses every file in $tmp/NAME.
run_mode() {
  local name=$1 jobs=$2 thr=$3 d=$tmp/$1
  mkdir -p "$d/c" "$d/d" "$d/rc" "$d/rd"
  cp "$tmp"/src/*.wav "$d/c/"
  local t0 t1 t2
  t0=$(now)
  if [ "$name" = batch ]; then
    /usr/bin/time -f %M -o "$d/rc/all.rss" "$LMIC" compress -q --threads "$thr" "${MODEL_OPT[@]}" "$d"/c/*.wav
  else
    ls "$d"/c/*.wav | xargs -P "$jobs" -I{} sh -c '/usr/bin/time -f %M -o "$0/rc/$(basename "$1").rss" \
      "$2" compress -q --threads "$3" $4 "$1"' "$d" {} "$LMIC" "$thr" "${MODEL_OPT[*]}"
  fi
  t1=$(now)
  for f in "$d"/c/*.wav.lmic; do mv "$f" "$d/d/"; done
  if [ "$name" = batch ]; then
    /usr/bin/time -f %M -o "$d/rd/all.rss" "$LMIC" decompress -q --threads "$thr" "${MODEL_OPT[@]}" "$d"/d/*.lmic
  else
    ls "$d"/d/*.lmic | xargs -P "$jobs" -I{} sh -c '/usr/bin/time -f %M -o "$0/rd/$(basename "$1").rss" \
      "$2" decompress -q --threads "$3" $4 "$1"' "$d" {} "$LMIC" "$thr" "${MODEL_OPT[*]}"
  fi
  t2=$(now)
  local check=ok n=0
  for f in "$tmp"/src/*.wav; do
    b=$(basename "$f")
    cmp -s "$f" "$d/d/$b" || { check="FAIL $b does not round-trip"; break; }
    if [ -d "$tmp/procs/d" ] && [ "$name" != procs ]; then
      cmp -s "$tmp/procs/d/$b.lmic" "$d/d/$b.lmic" || { check="FAIL $b.lmic differs from procs mode"; break; }
    fi
    n=$((n + 1))
  done
  local tc td pc pd
  tc=$(awk "BEGIN { print $t1 - $t0 }"); td=$(awk "BEGIN { print $t2 - $t1 }")
  pc=$(peak "$d/rc"); pd=$(peak "$d/rd")
  printf '%-8s %5s %5s %8s %10.2f %10.2f %14s %14s %s\n' "$name" "$jobs" "$thr" "$n" "$tc" "$td" "$pc" "$pd" "$check"
  echo "$name,$NFILES,$bytes,$jobs,$thr,$tc,$td,$pc,$pd,$([ "$check" = ok ] && echo yes || echo no),$(cut -d' ' -f1 /proc/loadavg),\"$cpu\",$model,$commit" >> "$out"
  [ "$check" = ok ]
}
run_mode procs "$JOBS" 1
run_mode threads 1 "$THREADS"
run_mode batch 1 "$THREADS"
echo "load: every file round-trips byte for byte; .lmic bytes equal across the modes; $out"
