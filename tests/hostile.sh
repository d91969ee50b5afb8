#!/usr/bin/env bash
# tests/hostile.sh B -- hostile input: WAV, AIFF and FLAC headers that lie
# (sizes beyond the file, 4 GB claims, absurd channel counts and rates,
# zero frames), a chunk that sends libsndfile's parser spinning, and model
# files that claim huge dimensions. Each must end either in one clear line
# on stderr and exit 1 with no output file, or (where the input is merely
# odd: zero frames, a wrong RIFF size) in a byte-identical round trip, or
# (where libsndfile reads the frames a file really holds, whatever its
# header claims) in a clean compress and test. Runs under `ulimit -v`
# (1.5 GB), so memory that follows a header's claims instead of the data
# fails the test (not under ASan, which reserves terabytes of address space).
# Last line: "hostile: N passed, M failed".
set -u
cd "$(dirname "$0")/.." || exit 1
B=${1:-build}
LMIC=$(cd "$B" && pwd)/lmic
M=$(pwd)/fuzz/tiny.lmm
T=$(mktemp -d /tmp/lmic-hostile.XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib.sh
case ${LMIC_SANITIZER:-} in
  asan) echo "hostile: no ulimit -v under ASan" ;;
  *) ulimit -v 1500000 ;;
esac

python3 - "$T" <<'PY'
import struct, sys
d = sys.argv[1]
def wav(name, ch=1, rate=8000, bits=16, frames=100, tag=1, align=None, data_len=None, riff_len=None,
        fmt_len=None, pcm=None):
    align = ch * bits // 8 if align is None else align
    fmt = struct.pack('<HHIIHH', tag, ch, rate, (rate * align) & 0xFFFFFFFF, align & 0xFFFF, bits)
    pcm = bytes((i * 7) & 255 for i in range(frames * max(align, 1))) if pcm is None else pcm
    body = (b'WAVE' + b'fmt ' + struct.pack('<I', len(fmt) if fmt_len is None else fmt_len) + fmt
            + b'data' + struct.pack('<I', len(pcm) if data_len is None else data_len) + pcm)
    riff = len(body) if riff_len is None else riff_len
    open(f'{d}/{name}.wav', 'wb').write(b'RIFF' + struct.pack('<I', riff) + body)
wav('data-beyond-file', data_len=100000)
wav('data-4g', data_len=0xFFFFFFF0)
wav('fmt-4g', fmt_len=0xFFFFFFF0)
wav('channels-0', ch=0, align=2)
wav('channels-65535', ch=65535, frames=1)
wav('channels-257', ch=257, frames=1)
wav('rate-0', rate=0)
wav('rate-4g', rate=0xFFFFFFFF)
wav('bits-0', bits=0, align=2)
wav('align-lies', align=7)
wav('zero-frames', frames=0)
wav('riff-size-lies', riff_len=0xFFFFFFFF)
wav('riff-size-small', riff_len=4)
open(f'{d}/riff-only.wav', 'wb').write(b'RIFF\xff\xff\xff\xffWAVE')
open(f'{d}/empty.wav', 'wb').write(b'')
# AIFF that claims 2^31-1 frames of 8 channels, holding 16 bytes.
comm = struct.pack('>hIh', 8, 0x7FFFFFFF, 16) + b'\x40\x0b\xfa\x00\x00\x00\x00\x00\x00\x00'
ssnd = struct.pack('>II', 0, 0) + bytes(16)
body = b'AIFF' + b'COMM' + struct.pack('>I', len(comm)) + comm + b'SSND' + struct.pack('>I', 0x7FFFFFF0) + ssnd
open(f'{d}/aiff-2g-frames.aiff', 'wb').write(b'FORM' + struct.pack('>I', len(body)) + body)
# RF64 (libsndfile's to parse, not lmic's) around the LIST chunk of the WAV
# that fuzz_audio found (tests/fuzz/fuzz_audio/): libsndfile 1.2's sf_open
# spins on it for minutes without reading on.
w = open('tests/fuzz/fuzz_audio/wav-list-chunk-claims-4g-libsndfile-hang', 'rb').read()
ds64 = b'ds64' + struct.pack('<IQQQI', 28, len(w) + 28, 8, 2, 0)
open(f'{d}/rf64-list-spins.wav', 'wb').write(b'RF64' + struct.pack('<I', 0xFFFFFFFF) + b'WAVE' + ds64 + w[12:])
# Model files: a valid header's dimensions made huge (file a few bytes long).
def model(name, cfg, nparams=0, size=200):
    h = b'LMICMODL' + struct.pack('<II', 1, 0) + struct.pack('<7i', *cfg) + struct.pack('<Q', nparams) + bytes(16)
    open(f'{d}/{name}.lmm', 'wb').write(h + bytes(max(0, size - len(h))))
model('model-c4096-l64-ctx65536', (4096, 64, 8, 16, 65536, 0, 0), nparams=2 ** 31)
model('model-params-2e63', (64, 4, 4, 4, 2048, 0, 0), nparams=2 ** 63)
model('model-negative', (-64, -4, 4, 4, 2048, 0, 0))
model('model-ctx-2g', (64, 4, 4, 4, 2 ** 31 - 1, 0, 0))
model('model-truncated', (16, 1, 2, 4, 64, 0, 0), size=60)
PY
# FLAC whose STREAMINFO claims 2^36-1 samples (a 4 GB+ claim), and 2^28.
python3 - "$T" <<'PY'
import math, struct, sys, wave
d = sys.argv[1]
w = wave.open(f'{d}/small.wav', 'wb'); w.setnchannels(1); w.setsampwidth(2); w.setframerate(8000)
w.writeframes(b''.join(struct.pack('<h', int(8000 * math.sin(i / 5))) for i in range(2000))); w.close()
PY
flac -s --no-padding --no-seektable -o "$T/small.flac" "$T/small.wav"
python3 - "$T" <<'PY'
import sys
d = sys.argv[1]
b = bytearray(open(f'{d}/small.flac', 'rb').read())
# STREAMINFO starts at byte 8 (after 'fLaC' and its block header); the
# 36-bit total-samples field is the low 4 bits of byte 8+13 and bytes 8+14..17.
for name, n in (('flac-2e36', 2 ** 36 - 1), ('flac-2e28', 2 ** 28)):
    c = bytearray(b)
    c[21] = (c[21] & 0xF0) | (n >> 32)
    c[22:26] = (n & 0xFFFFFFFF).to_bytes(4, 'big')
    open(f'{d}/{name}.flac', 'wb').write(c)
PY

# compress_error NAME FILE: exit 1, one line, no output file.
compress_error() {
  expect_error "$1" 1 "^lmic: error: " -- "$LMIC" compress -q --threads 1 --model "$M" "$2" -o "$T/out.lmic"
  [ -e "$T/out.lmic" ] && { bad "$1: output left"; rm -f "$T/out.lmic"; }
}
# accepted NAME FILE: libsndfile reads what the header's honest part says
# (the frames the file really holds): compresses, and decodes cleanly.
accepted() {
  if "$LMIC" compress -q --threads 1 --model "$M" "$2" -o "$T/ac.lmic" 2>"$T/err" &&
     "$LMIC" test -q --threads 1 --model "$M" "$T/ac.lmic" 2>>"$T/err"; then ok "$1: read as what it holds"
  else bad "$1" "$(head -c 300 "$T/err")"; fi
  rm -f "$T/ac.lmic"
}
# roundtrip NAME FILE: compresses, and decompresses to the same bytes.
roundtrip() {
  if "$LMIC" compress -q --threads 1 --model "$M" "$2" -o "$T/rt.lmic" 2>"$T/err" &&
     "$LMIC" decompress -q --threads 1 --model "$M" "$T/rt.lmic" -o "$T/rt.wav" 2>>"$T/err" &&
     cmp -s "$2" "$T/rt.wav"; then ok "$1: byte-identical round trip"
  else bad "$1" "$(head -c 300 "$T/err")"; fi
  rm -f "$T/rt.lmic" "$T/rt.wav"
}
for n in data-beyond-file data-4g fmt-4g channels-0 channels-65535 channels-257 rate-0 rate-4g bits-0 \
         riff-only empty; do
  compress_error "wav $n" "$T/$n.wav"
done
accepted "wav block align lies (libsndfile)" "$T/align-lies.wav"
roundtrip "wav zero-frames" "$T/zero-frames.wav"
roundtrip "wav riff-size-lies" "$T/riff-size-lies.wav"
roundtrip "wav riff-size-small" "$T/riff-size-small.wav"
accepted "aiff 2^31 frames claimed, 1 held" "$T/aiff-2g-frames.aiff"
start=$SECONDS
expect_error "rf64 that sends libsndfile spinning" 1 "did not finish reading it within 5 s of CPU time" -- \
  "$LMIC" compress -q --threads 1 --model "$M" "$T/rf64-list-spins.wav" -o "$T/out.lmic"
[ -e "$T/out.lmic" ] && { bad "rf64 spinning: output left"; rm -f "$T/out.lmic"; }
[ $((SECONDS - start)) -le 30 ] || bad "rf64 spinning: took $((SECONDS - start)) s"
compress_error "flac 2^36 samples claimed" "$T/flac-2e36.flac"
compress_error "flac 2^28 samples claimed" "$T/flac-2e28.flac"
for n in model-c4096-l64-ctx65536 model-params-2e63 model-negative model-ctx-2g model-truncated; do
  expect_error "$n" 1 "^lmic: error: .*model file" -- "$LMIC" compress -q --model "$T/$n.lmm" "$T/small.wav" -o "$T/out.lmic"
  expect_error "$n (model info)" 1 "^lmic: error: " -- "$LMIC" model info "$T/$n.lmm"
done
echo "hostile: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
