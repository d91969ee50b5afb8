#!/usr/bin/env bash
# codec_cli.sh -- `lmic compress | decompress | test | info` end to end:
#   a round-trip grid (1 sample, silence, full scale, sine, noise x 8/16/24/32-bit
#   integer and 32-bit float x 1/2/6 channels x interleave/planar/mid-side x odd
#   lengths), byte-identical WAV restore with extra chunks and
#   WAVE_FORMAT_EXTENSIBLE, FLAC input, stdin/stdout, -f, --depth 8, model
#   mismatch, corruption and truncation (the damaged chunk named, no output
#   left), random data within 100.1 %, and the cross-build round trip (gcc -O0
#   and clang -O3 -march=native from tests/crossbuild.sh, 1 vs 2 threads).
# Models: a 200k model with context 64, trained for a few seconds on samples/
# (so chunks are both LM-coded and stored raw), or a random one if training
# is unavailable. Seeds are fixed.
# usage: tests/codec_cli.sh [BUILD_DIR]; last line "codec: N passed, M failed".
set -u
cd "$(dirname "$0")/.." || exit 1
B=${1:-build}
LMIC=$(cd "$B" && pwd)/lmic
T=$(mktemp -d /tmp/lmic-codec-XXXXXX)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"

# --- models
M=$T/m.lmm
if "$LMIC" train --data audio --path samples --chunk-size 64 --preset 200k --context 64 --steps 150 \
     --batch 8 --seq 64 --lr 5e-3 --seed 5 --print-every 1000 -o "$M" >"$T/train.log" 2>&1; then
  echo "codec: model trained for 150 steps (context 64)"
else
  "$LMIC" model new --preset 200k --context 64 --seed 5 -o "$M" 2>/dev/null
  echo "codec: lmic train unavailable; a random model (context 64)"
fi
"$LMIC" model new --preset 200k --context 64 --seed 6 -o "$T/other.lmm" 2>/dev/null
[ -s "$M" ] && ok model || bad model

# --- the grid
python3 - "$T" <<'PY'
import math, os, random, struct, sys
d = sys.argv[1]
rng = random.Random(1234)

def wav(path, ch, bits, is_float, samples, extensible=False, extra=b"", tail=b""):
    """samples: a list of frames (lists of ints, or floats for is_float)."""
    out = bytearray()
    for fr in samples:
        for x in fr:
            if is_float: out += struct.pack("<f", x)
            elif bits == 8: out.append((x + 128) & 0xFF)
            else: out += (x & ((1 << bits) - 1)).to_bytes(bits // 8, "little")
    align = ch * bits // 8
    if extensible:
        guid = struct.pack("<H", 3 if is_float else 1) + bytes.fromhex("000000001000800000aa00389b71")
        fmt = struct.pack("<HHIIHHHHI", 0xFFFE, ch, 44100, 44100 * align, align, bits, 22, bits,
                          (1 << ch) - 1) + guid
    else:
        fmt = struct.pack("<HHIIHH", 3 if is_float else 1, ch, 44100, 44100 * align, align, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + extra
    body += b"data" + struct.pack("<I", len(out)) + bytes(out) + (b"\0" if len(out) & 1 else b"") + tail
    open(path, "wb").write(b"RIFF" + struct.pack("<I", len(body)) + body)

def signal(kind, n, ch, bits, is_float):
    lo, hi = (-1.0, 1.0) if is_float else (-(1 << (bits - 1)), (1 << (bits - 1)) - 1)
    fr = []
    for t in range(n):
        row = []
        for c in range(ch):
            if kind == "silence": v = 0.0 if is_float else 0
            elif kind == "full": v = (hi if (t + c) % 2 else lo)
            elif kind == "sine":
                s = math.sin(2 * math.pi * 440 * (c + 1) * t / 44100) * 0.9
                v = s if is_float else int(round(s * hi))
            else:
                v = rng.uniform(-1, 1) if is_float else rng.randint(lo, hi)
            row.append(v)
        fr.append(row)
    return fr

os.makedirs(d + "/grid", exist_ok=True)
lengths = {"silence": 77, "full": 53, "sine": 301, "noise": 97, "one": 1}
for bits, fl in ((8, 0), (16, 0), (24, 0), (32, 0), (32, 1)):
    for ch in (1, 2, 6):
        for kind, n in lengths.items():
            k = "noise" if kind == "one" else kind
            name = "%s-%d%s-%dch.wav" % (kind, bits, "f" if fl else "", ch)
            wav(os.path.join(d, "grid", name), ch, bits, fl, signal(k, n, ch, bits, fl))
# Odd headers and extra chunks, restored byte for byte.
os.makedirs(d + "/odd", exist_ok=True)
s = signal("sine", 1001, 2, 24, 0)
wav(d + "/odd/ext24.wav", 2, 24, 0, s, extensible=True)
lst = b"LIST" + struct.pack("<I", 26) + b"INFOINAM" + struct.pack("<I", 13) + b"a test title\0\0"
bext = b"bext" + struct.pack("<I", 5) + b"hello\0"
wav(d + "/odd/list16.wav", 1, 16, 0, signal("sine", 999, 1, 16, 0), extra=lst + bext,
    tail=b"id3 " + struct.pack("<I", 4) + b"tag!")
wav(d + "/odd/extfloat.wav", 6, 32, 1, signal("sine", 203, 6, 32, 1), extensible=True, extra=lst)
wav(d + "/odd/odd8.wav", 1, 8, 0, signal("sine", 333, 1, 8, 0), tail=b"junk")   # pad byte, then junk
wav(d + "/odd/empty.wav", 2, 16, 0, [])
# A trailing partial frame inside the data chunk.
p = d + "/odd/partial.wav"
wav(p, 2, 16, 0, signal("sine", 100, 2, 16, 0))
b = bytearray(open(p, "rb").read())
b[40:44] = struct.pack("<I", 401)
b += b"\x07"          # 401 data bytes: 100 frames and one stray byte
b[4:8] = struct.pack("<I", len(b) - 8)
open(p, "wb").write(bytes(b))
# Real speech (3001 frames of the shipped sample): the trained model codes it.
b = open("samples/speech16k/pocketsphinx-cards__002.wav", "rb").read()
assert b[36:40] == b"data"
pcm = b[44:44 + 2 * 3001]
open(d + "/odd/speech.wav", "wb").write(b"RIFF" + struct.pack("<I", 36 + len(pcm)) + b[8:40]
                                       + struct.pack("<I", len(pcm)) + pcm + b"\0")
# Random 8-bit mono: incompressible.
open(d + "/noise.raw", "wb").write(bytes(rng.getrandbits(8) for _ in range(200000)))
wav(d + "/random8.wav", 1, 8, 0, [[x - 128] for x in open(d + "/noise.raw", "rb").read()])
PY
ngrid=$(ls "$T"/grid/*.wav | wc -l)

# roundtrip LABEL DIR [compress options]: every WAV in DIR compressed in one
# call, decompressed in another, compared byte for byte with the original.
roundtrip() {
  local label=$1 dir=$2; shift 2
  local w=$T/rt-$label; rm -rf "$w"; mkdir -p "$w/orig"
  cp "$dir"/*.wav "$w/"
  if ! "$LMIC" compress -q --model "$M" "$@" "$w"/*.wav 2>"$T/err"; then
    bad "$label: compress" "$(head -c 300 "$T/err")"; return; fi
  mv "$w"/*.wav "$w/orig/"
  if ! "$LMIC" decompress -q --model "$M" --threads 2 "$w"/*.lmic 2>"$T/err"; then
    bad "$label: decompress" "$(head -c 300 "$T/err")"; return; fi
  local n=0 diff=""
  for f in "$w"/orig/*.wav; do
    n=$((n + 1)); cmp -s "$f" "$w/$(basename "$f")" || diff="$diff $(basename "$f")"
  done
  if [ -z "$diff" ]; then ok "$label: $n files byte-identical"; else bad "$label: differ:$diff"; fi
}
# Each coder on the grid: the model alone, the plain coder alone, both
# mixed, and auto (per chunk, mixed where it is 1/512 shorter, else plain).
roundtrip grid-interleave "$T/grid" --threads 1 --coder lm
roundtrip grid-planar "$T/grid" --layout planar --threads 2
mkdir -p "$T/stereo"; cp "$T"/grid/*-2ch.wav "$T/stereo/"
roundtrip grid-midside "$T/stereo" --stereo ms --coder mix
mkdir -p "$T/mono"; cp "$T"/grid/*-1ch.wav "$T/mono/"
roundtrip grid-channel0 "$T/mono" --layout channel:0 --coder plain
roundtrip odd-headers "$T/odd"
# Online adaptation: short windows and chunks so that most chunks have many
# segments (the model takes Adam steps between them, in encoder and decoder).
roundtrip grid-adapt "$T/grid" --threads 2 --coder lm --adapt=2,8 --window 32 --chunk 700

# Every mode occurs: speech chunks coded by the coder asked for, noise
# stored raw.
for c in lm plain mix; do
  "$LMIC" compress -q -f --model "$M" --coder $c "$T/odd/speech.wav" -o "$T/sp-$c.lmic" 2>/dev/null
  "$LMIC" info "$T/sp-$c.lmic" > "$T/info-$c" 2>&1
  "$LMIC" decompress -q -f --model "$M" "$T/sp-$c.lmic" -o "$T/sp-$c.wav" 2>/dev/null
  cmp -s "$T/odd/speech.wav" "$T/sp-$c.wav" && ok "--coder $c: round trip" || bad "--coder $c: round trip"
done
"$LMIC" info "$T/rt-odd-headers/speech.wav.lmic" > "$T/info" 2>&1
grep -q 'chunks: *1 (1 by the model, 0 by the plain coder, 0 by both mixed, 0 stored raw)' "$T/info-lm" \
  && ok "info: --coder lm codes speech with the model" || bad "info lm" "$(grep chunks: "$T/info-lm")"
grep -q 'chunks: *1 (0 by the model, 1 by the plain coder, 0 by both mixed, 0 stored raw)' "$T/info-plain" \
  && ok "info: --coder plain codes speech without it" || bad "info plain" "$(grep chunks: "$T/info-plain")"
grep -q 'chunks: *1 (0 by the model, 0 by the plain coder, 1 by both mixed, 0 stored raw)' "$T/info-mix" \
  && ok "info: --coder mix mixes them" || bad "info mix" "$(grep chunks: "$T/info-mix")"
# Auto mixes a chunk only where that saves 1/512 of its plain stream. With the
# built-in model the shipped speech gains more than that in every chunk (auto =
# mix); the shipped music, cut in chunks of 16384 frames, gains less in most
# chunks, so auto keeps some plain chunks there although mixing every chunk
# would be smaller.
for c in auto plain mix; do
  "$LMIC" compress -q -f --coder $c samples/speech16k/pocketsphinx-cards__002.wav -o "$T/as-$c.lmic" 2>/dev/null
  "$LMIC" compress -q -f --coder $c --chunk 16384 samples/music/sonicpi-stereo__loop_garzul.wav -o "$T/am-$c.lmic" 2>/dev/null
done
"$LMIC" info "$T/am-auto.lmic" > "$T/info-am" 2>&1
sz() { wc -c < "$1"; }
if cmp -s "$T/as-auto.lmic" "$T/as-mix.lmic" && [ "$(sz "$T/as-mix.lmic")" -lt "$(sz "$T/as-plain.lmic")" ] \
   && [ "$(sz "$T/am-auto.lmic")" -gt "$(sz "$T/am-mix.lmic")" ] \
   && [ "$(sz "$T/am-auto.lmic")" -le "$(sz "$T/am-plain.lmic")" ] \
   && grep -q 'chunks: *[0-9]* (0 by the model, [1-9][0-9]* by the plain coder' "$T/info-am"; then
  ok "auto: mixes where the model saves 1/512 (speech), keeps plain chunks where it saves less (music)"
else
  bad "auto margin" "speech $(sz "$T/as-auto.lmic")/$(sz "$T/as-mix.lmic")/$(sz "$T/as-plain.lmic") music $(sz "$T/am-auto.lmic")/$(sz "$T/am-mix.lmic")/$(sz "$T/am-plain.lmic")"
fi
"$LMIC" compress -q -f --model "$M" "$T/random8.wav" -o "$T/r8.lmic" 2>/dev/null
"$LMIC" info "$T/r8.lmic" > "$T/info-raw" 2>&1
# --adapt changes what the model predicts (so the stream), and info says so.
"$LMIC" compress -q -f --model "$M" --coder lm --adapt=4,8 "$T/odd/speech.wav" -o "$T/sp-ad.lmic" 2>/dev/null
"$LMIC" info "$T/sp-ad.lmic" > "$T/info-ad" 2>&1
"$LMIC" decompress -q -f --model "$M" "$T/sp-ad.lmic" -o "$T/sp-ad.wav" 2>/dev/null
cmp -s "$T/odd/speech.wav" "$T/sp-ad.wav" && ok "--adapt: round trip" || bad "--adapt: round trip"
grep -q 'adapted: *1 chunks' "$T/info-ad" && ! cmp -s "$T/sp-ad.lmic" "$T/sp-lm.lmic" \
  && ok "--adapt: the chunk is adapted, its stream differs" || bad "--adapt" "$(cat "$T/info-ad")"
expect_error "--adapt=0" 2 "steps 1..15" -- "$LMIC" compress --adapt=0 "$T/odd/speech.wav" -o "$T/x.lmic"
grep -q 'chunks: *\([0-9]*\) (0 by the model, 0 by the plain coder, 0 by both mixed, \1 stored raw)' "$T/info-raw" \
  && ok "info: noise stored raw" || bad "info raw" "$(grep chunks: "$T/info-raw")"
grep -q "^model: *[0-9a-f]\{32\}" "$T/info" && grep -q "restored byte for byte" "$T/info" \
  && ok "info: model and source" || bad "info" "$(cat "$T/info")"

# --- FLAC in, WAV out with the same samples
if command -v flac >/dev/null; then
  cp "$T/odd/list16.wav" "$T/f.wav"
  flac -s -f -o "$T/f.flac" "$T/f.wav" 2>/dev/null
  "$LMIC" compress -q --model "$M" "$T/f.flac" && "$LMIC" decompress -q --model "$M" "$T/f.flac.lmic" -o "$T/f.back.wav" \
    && python3 - "$T/f.wav" "$T/f.back.wav" <<'PY' && ok "flac in: same samples as WAV" || bad "flac in"
import sys, struct
def pcm(p):
    b = open(p, "rb").read(); i = 12
    while i + 8 <= len(b):
        n = struct.unpack("<I", b[i + 4:i + 8])[0]
        if b[i:i + 4] == b"data": return b[i + 8:i + 8 + n]
        i += 8 + n + (n & 1)
a, b = pcm(sys.argv[1]), pcm(sys.argv[2])
assert a and a == b, (len(a or b""), len(b or b""))
PY
  # By default x.flac.lmic decompresses to x.wav (it holds a WAV now).
  mkdir -p "$T/fl"; cp "$T/f.flac.lmic" "$T/fl/g.flac.lmic"
  "$LMIC" decompress -q --model "$M" "$T/fl/g.flac.lmic" && cmp -s "$T/fl/g.wav" "$T/f.back.wav" \
    && ok "flac in: x.flac.lmic -> x.wav" || bad "flac in: default name"
else ok "flac in (no flac tool: skipped)"; fi

# --- standard input and output, several files, -f
cp "$T/odd/ext24.wav" "$T/s.wav"
"$LMIC" compress -q --model "$M" - < "$T/s.wav" > "$T/s.pipe.lmic" && "$LMIC" decompress -q --model "$M" -c "$T/s.pipe.lmic" \
  | cmp -s - "$T/s.wav" && ok "stdin -> stdout round trip" || bad "stdin -> stdout round trip"
"$LMIC" compress -q --model "$M" -c "$T/s.wav" | cmp -s - "$T/s.pipe.lmic" && ok "-c writes the same bytes" || bad "-c"
"$LMIC" compress -q --model "$M" "$T/s.wav" && [ -f "$T/s.wav" ] && ok "input kept" || bad "input kept"
expect_error "compress: no overwrite" 1 "s.wav.lmic: file exists" -- "$LMIC" compress --model "$M" "$T/s.wav"
expect_error "decompress: no overwrite" 1 "s.wav: file exists" -- "$LMIC" decompress --model "$M" "$T/s.wav.lmic"
"$LMIC" decompress -q -f --model "$M" "$T/s.wav.lmic" && cmp -s "$T/s.wav" "$T/s.pipe.lmic" 2>/dev/null; \
  cmp -s "$T/s.wav" "$T/odd/ext24.wav" && ok "decompress -f" || bad "decompress -f"
expect_error "decompress: needs .lmic" 1 "does not end in .lmic" -- "$LMIC" decompress --model "$M" "$T/s.wav"
expect_error "-o with two inputs" 2 "-o names one output" -- "$LMIC" compress -o x "$T/s.wav" "$T/f.wav"
expect_error "layout channel on stereo" 1 "not lossless" -- "$LMIC" compress --model "$M" --layout channel:1 "$T/odd/partial.wav"
expect_error "model mismatch" 1 "compressed with model [0-9a-f]\{32\}, but the model in use .* is [0-9a-f]\{32\}" \
  -- "$LMIC" test --model "$T/other.lmm" "$T/s.wav.lmic"
expect_error "not an lmic file" 1 "not an .lmic file" -- "$LMIC" test --model "$M" "$T/s.wav"

# Unwritable outputs: a clean error, nothing left behind.
expect_error "unwritable output" 1 "cannot create" -- "$LMIC" compress --model "$M" "$T/s.wav" -o /nonexistent/dir/x.lmic
if [ -w /dev/full ]; then
  "$LMIC" compress -q -f --model "$M" -c "$T/s.wav" >/dev/full 2>"$T/err"; rc=$?
  [ $rc -eq 1 ] && grep -q "standard output: write error" "$T/err" && ok "full disk (stdout)" \
    || bad "full disk (stdout)" "exit $rc: $(cat "$T/err")"
fi

# --- --depth 8: lossy, said on stderr and in the header; restores as 8-bit WAV
"$LMIC" compress --model "$M" --depth 8 -o "$T/d8.lmic" "$T/odd/list16.wav" 2>"$T/err"
if grep -q "lossy" "$T/err" && "$LMIC" info "$T/d8.lmic" | grep -q "reduced to 8 bits" \
   && "$LMIC" decompress -q --model "$M" "$T/d8.lmic" -o "$T/d8.wav" && python3 - "$T/odd/list16.wav" "$T/d8.wav" <<'PY'
import sys, struct
def pcm(p):
    b = open(p, "rb").read(); i = 12
    while i + 8 <= len(b):
        n = struct.unpack("<I", b[i + 4:i + 8])[0]
        if b[i:i + 4] == b"fmt ": bits = struct.unpack("<H", b[i + 22:i + 24])[0]
        if b[i:i + 4] == b"data": return bits, b[i + 8:i + 8 + n]
        i += 8 + n + (n & 1)
(b16, a), (b8, b) = pcm(sys.argv[1]), pcm(sys.argv[2])
assert b16 == 16 and b8 == 8 and len(a) == 2 * len(b)
hi = [((int.from_bytes(a[2*i:2*i+2], "little", signed=True) >> 8) + 128) & 0xFF for i in range(len(b))]
assert bytes(hi) == b
PY
then ok "--depth 8: warned, recorded, high bytes restored"; else bad "--depth 8" "$(cat "$T/err")"; fi

# --- random data costs at most 100.1 %
"$LMIC" compress -q --model "$M" "$T/random8.wav" -o "$T/r.lmic"
a=$(stat -c %s "$T/random8.wav"); b=$(stat -c %s "$T/r.lmic")
if [ $((b * 1000)) -le $((a * 1001)) ]; then ok "random data: $b / $a bytes"; else bad "random data: $b / $a bytes (> 100.1 %)"; fi

# --- the built-in model: named by --version and info, used without --model
fp=$("$LMIC" --version | sed -n 's/^built-in model: .*fingerprint \([0-9a-f]\{32\}\)$/\1/p')
cp "$T/odd/speech.wav" "$T/builtin.wav"
if [ -n "$fp" ] && "$LMIC" compress -q "$T/builtin.wav" && "$LMIC" info "$T/builtin.wav.lmic" | grep -q "model: *$fp (the built-in model)" \
   && mv "$T/builtin.wav" "$T/builtin.orig.wav" && "$LMIC" decompress -q "$T/builtin.wav.lmic" && cmp -s "$T/builtin.wav" "$T/builtin.orig.wav"; then
  ok "built-in model $fp: round trip, named by --version and info"
else bad "built-in model" "$("$LMIC" --version)"; fi

# --- the paper's LM row in lmic eval (each chunk verified by decoding)
if "$LMIC" eval --compressor lm,gzip --model "$M" --chunk-size 64 --num-chunks 24 --json > "$T/ev" 2>"$T/err" && python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
lm = [c for c in j["compressors"] if c["name"] == "lm"][0]
assert lm["header_bytes"] == 0 and lm["whole_rate"] is None and 0.05 < lm["chunked_rate"] <= 1.0, lm
' "$T/ev"; then ok "eval --compressor lm"; else bad "eval --compressor lm" "$(cat "$T/err")"; fi
expect_error "eval lm needs a model" 1 "needs --model" -- "$LMIC" eval --compressor lm

# --- damage: every flipped byte and every cut is reported, naming the chunk
F=$T/rt-odd-headers/speech.wav.lmic
hs=$(python3 -c '
import struct, sys; b = open(sys.argv[1], "rb").read(); print(struct.unpack("<I", b[12:16])[0])' "$F")
size=$(stat -c %s "$F")
nfl=0; nbad=0; why=""
for pos in $(seq 0 $((size / 60 + 1)) $((size - 1))) $((size - 1)); do
  cp "$F" "$T/dmg.wav.lmic"
  printf "$(printf '\\%03o' $(( ($(od -An -tu1 -j "$pos" -N1 "$F") ^ 0x10) )))" \
    | dd of="$T/dmg.wav.lmic" bs=1 seek="$pos" conv=notrunc 2>/dev/null
  nfl=$((nfl + 1))
  if "$LMIC" decompress --model "$M" "$T/dmg.wav.lmic" 2>"$T/err"; then
    nbad=$((nbad + 1)); why="$why $pos(accepted)"
  elif [ -e "$T/dmg.wav" ] || ls "$T"/dmg.wav.tmp-* >/dev/null 2>&1; then
    nbad=$((nbad + 1)); why="$why $pos(output left)"
  elif [ "$pos" -ge "$hs" ] && ! grep -q "chunks\? [0-9-]* of [0-9]* .*damaged (CRC" "$T/err"; then
    nbad=$((nbad + 1)); why="$why $pos($(cat "$T/err"))"
  elif [ "$pos" -lt "$hs" ] && ! grep -q "header or chunk index is damaged\|not an .lmic file" "$T/err"; then
    nbad=$((nbad + 1)); why="$why $pos($(cat "$T/err"))"
  fi
  rm -f "$T/dmg.wav"
done
[ $nbad -eq 0 ] && ok "damage: $nfl flipped bytes reported (header: $hs bytes)" || bad "damage" "$why"
head -c $((size - 3)) "$F" > "$T/cut.wav.lmic"
expect_error "truncated payload" 1 "truncated: chunks\? [0-9-]* of [0-9]* .*incomplete" -- "$LMIC" decompress --model "$M" "$T/cut.wav.lmic"
[ -e "$T/cut.wav" ] && bad "truncated: output left" || ok "truncated: no output"
head -c $((hs - 1)) "$F" > "$T/cut2.wav.lmic"
expect_error "truncated header" 1 "damaged or truncated" -- "$LMIC" test --model "$M" "$T/cut2.wav.lmic"
{ cat "$F"; printf 'x'; } > "$T/long.wav.lmic"
expect_error "trailing bytes" 1 "1 unexpected bytes after the last chunk" -- "$LMIC" test --model "$M" "$T/long.wav.lmic"

# --- cross-build: gcc -O0 and clang -O3 -march=native (tests/crossbuild.sh builds them)
G=build-gcc-O0/lmic; K=build-clang-O3/lmic
if [ -x $G ] && [ -x $K ] && [ $G -nt tools/codec_cmd.c ] && [ $K -nt tools/codec_cmd.c ]; then
  X=$T/x; mkdir -p "$X"
  cp "$T"/grid/sine-*-2ch.wav "$T"/grid/noise-24-6ch.wav "$T"/odd/*.wav "$X/"
  cp "$T/rt-grid-interleave/sine-16-1ch.wav.lmic" "$X/ref.lmic" 2>/dev/null
  nx=0; xbad=""
  for f in "$X"/*.wav; do
    n=$(basename "$f" .wav)
    $G compress -q --threads 1 --model "$M" "$f" -o "$X/$n.g.lmic" || xbad="$xbad $n(gcc compress)"
    $K compress -q --threads 2 --model "$M" "$f" -o "$X/$n.k.lmic" || xbad="$xbad $n(clang compress)"
    cmp -s "$X/$n.g.lmic" "$X/$n.k.lmic" || xbad="$xbad $n(.lmic differ)"
    $K decompress -q --threads 2 --model "$M" "$X/$n.g.lmic" -o "$X/$n.gk.wav" && cmp -s "$f" "$X/$n.gk.wav" \
      || xbad="$xbad $n(gcc->clang)"
    $G decompress -q --threads 1 --model "$M" "$X/$n.k.lmic" -o "$X/$n.kg.wav" && cmp -s "$f" "$X/$n.kg.wav" \
      || xbad="$xbad $n(clang->gcc)"
    nx=$((nx + 1))
  done
  # Online adaptation runs the trainer's arithmetic in the coding path.
  f=$X/speech.wav
  $G compress -q --threads 1 --model "$M" --coder mix --adapt=3,8 "$f" -o "$X/ad.g.lmic" || xbad="$xbad adapt(gcc)"
  $K compress -q --threads 2 --model "$M" --coder mix --adapt=3,8 "$f" -o "$X/ad.k.lmic" || xbad="$xbad adapt(clang)"
  cmp -s "$X/ad.g.lmic" "$X/ad.k.lmic" || xbad="$xbad adapt(.lmic differ)"
  $K decompress -q --threads 2 --model "$M" "$X/ad.g.lmic" -o "$X/ad.gk.wav" && cmp -s "$f" "$X/ad.gk.wav" \
    || xbad="$xbad adapt(gcc->clang)"
  $G decompress -q --threads 1 --model "$M" "$X/ad.k.lmic" -o "$X/ad.kg.wav" && cmp -s "$f" "$X/ad.kg.wav" \
    || xbad="$xbad adapt(clang->gcc)"
  [ -z "$xbad" ] && ok "cross-build: $nx files and an adapted one, same .lmic bytes, both directions" \
    || bad "cross-build:$xbad"
else
  bad "cross-build: $G and $K missing or stale (run tests/crossbuild.sh first)"
fi

echo "codec: $pass passed, $fail failed"
[ $fail -eq 0 ]
