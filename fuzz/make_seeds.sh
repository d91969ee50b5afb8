#!/usr/bin/env bash
# fuzz/make_seeds.sh -- writes the checked-in seed corpora (small files):
#   fuzz/seeds/fuzz_audio/      WAV (8/16/24/32-bit, float, extensible, extra
#                               chunks, odd sizes), AIFF and FLAC
#   fuzz/seeds/fuzz_model/      tiny model files (C 2-4, context 1-8; rotary,
#                               pre-LN, float16)
#   fuzz/seeds/fuzz_roundtrip/  the roundtrip target's input: 2 setting bytes,
#                               then samples (silence, a ramp, a sine, noise)
# The .lmic seeds for fuzz_container are made at run time (fuzz/container_seeds.sh),
# since the container format changes. Run from the repository root after `make`.
set -euo pipefail
B=${1:-build}
S=fuzz/seeds
rm -rf $S/fuzz_audio $S/fuzz_model $S/fuzz_roundtrip
mkdir -p $S/fuzz_audio $S/fuzz_model $S/fuzz_roundtrip
python3 - "$S" <<'PY'
import math, random, struct, sys, wave
S = sys.argv[1]
rng = random.Random(8)

def samples(n, ch, bits):
    out = []
    for i in range(n):
        for c in range(ch):
            v = math.sin(i * (0.05 + 0.03 * c)) * 0.6 + rng.uniform(-0.1, 0.1)
            out.append(int(v * (2 ** (bits - 1) - 1)))
    return out

def pack(vals, bits, flt=False):
    b = bytearray()
    for v in vals:
        if flt: b += struct.pack('<f', v / 2 ** 31)
        elif bits == 8: b.append((v + 128) & 255)
        else: b += (v & (2 ** bits - 1)).to_bytes(bits // 8, 'little')
    return bytes(b)

def wav(name, ch, bits, n, tag=1, ext=False, extra=b'', tail=b''):
    data = pack(samples(n, ch, bits), bits, tag == 3)
    align = ch * bits // 8
    if ext:
        fmt = struct.pack('<HHIIHHHHI', 0xFFFE, ch, 8000, 8000 * align, align, bits, 22, bits, 0)
        fmt += struct.pack('<H', tag) + b'\x00\x00\x00\x00\x10\x00\x80\x00\x00\xaa\x00\x38\x9b\x71'
    else:
        fmt = struct.pack('<HHIIHH', tag, ch, 8000, 8000 * align, align, bits)
    body = b'WAVE' + b'fmt ' + struct.pack('<I', len(fmt)) + fmt + extra
    body += b'data' + struct.pack('<I', len(data)) + data + (b'\0' if len(data) % 2 else b'') + tail
    open(f'{S}/fuzz_audio/{name}.wav', 'wb').write(b'RIFF' + struct.pack('<I', len(body)) + body)

wav('mono16', 1, 16, 100)
wav('stereo24', 2, 24, 60)
wav('mono8-odd', 1, 8, 33)
wav('stereo32', 2, 32, 40)
wav('float', 1, 32, 50, tag=3)
wav('ext6ch16', 6, 16, 12, ext=True)
wav('list', 2, 16, 30, extra=b'LIST\x0c\x00\x00\x00INFOISFT\x00\x00\x00\x00', tail=b'junk\x02\x00\x00\x00ab')
wav('zero-frames', 1, 16, 0)
# Real audio, cut short: what fuzz/tiny.lmm codes as LM chunks (also as roundtrip inputs).
for name, path, start, n in [('speech', 'samples/speech16k/pocketsphinx-cards__002.wav', 12000, 256),
                             ('music', 'samples/music/sonicpi-stereo__loop_garzul.wav', 20000, 96)]:
    r = wave.open(path, 'rb')
    r.setpos(start)
    frames = r.readframes(n)
    w = wave.open(f'{S}/fuzz_audio/{name}.wav', 'wb')
    w.setnchannels(r.getnchannels()); w.setsampwidth(r.getsampwidth()); w.setframerate(r.getframerate())
    w.writeframes(frames)
    w.close()
    open(f'{S}/fuzz_roundtrip/{name}-16', 'wb').write(bytes([r.getnchannels() - 1 | 8, 1, 63, 63]) + frames)
# AIFF (big-endian, 80-bit rate) by hand: the aifc module is going away.
def aiff(name, ch, bits, n):
    data = b''.join((v & (2 ** bits - 1)).to_bytes(bits // 8, 'big') for v in samples(n, ch, bits))
    rate = b'\x40\x0b\xfa\x00\x00\x00\x00\x00\x00\x00'  # 8000.0
    comm = struct.pack('>hIh', ch, n, bits) + rate
    ssnd = struct.pack('>II', 0, 0) + data
    body = b'AIFF' + b'COMM' + struct.pack('>I', len(comm)) + comm + b'SSND' + struct.pack('>I', len(ssnd)) + ssnd
    open(f'{S}/fuzz_audio/{name}.aiff', 'wb').write(b'FORM' + struct.pack('>I', len(body)) + body)
aiff('mono16', 1, 16, 80)
aiff('stereo8', 2, 8, 40)
# roundtrip inputs (and the speech and music above)
# settings: channels-1 | predictor << 2 (0 none .. 3 high); width | flags;
# frames per chunk - 1; window - 1 | overlap quarters << 6 (fuzz_roundtrip.c)
def rt(name, b0, b1, b2, b3, body):
    open(f'{S}/fuzz_roundtrip/{name}', 'wb').write(bytes([b0, b1, b2, b3]) + body)
rt('silence-16-mono', 0 | 8, 1, 63, 63, bytes(256))
rt('sine-16-mono-fast', 0 | 4, 1, 31, 63, pack(samples(200, 1, 16), 16))
rt('sine-16-stereo-ms-high', 1 | 12, 1 | 16, 40, 31 | 64, pack(samples(100, 2, 16), 16))
rt('sine-24-stereo-planar', 1 | 8, 2 | 4, 20, 47 | 128, pack(samples(60, 2, 24), 24))
rt('ramp-8-mono-channel-none', 0, 0 | 8, 100, 10, bytes(range(256)))
rt('noise-32-3ch-random', 2 | 8, 3 | 32, 7, 63, bytes(rng.randrange(256) for _ in range(240)))
rt('empty', 0, 0, 0, 0, b'')
PY
flac -s -8 --no-padding --no-seektable -o $S/fuzz_audio/mono16.flac $S/fuzz_audio/mono16.wav
flac -s -5 --no-padding --no-seektable -o $S/fuzz_audio/stereo24.flac $S/fuzz_audio/stereo24.wav
# Tiny models, through the library (lmic model new has only the presets).
tmp=$(mktemp -d /tmp/lmic-seeds.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
cat >"$tmp/m.c" <<'C'
#include <stdio.h>
#include <stdlib.h>
#include "lmic.h"
static void put(const char *path, int C, int L, int NH, int W, int ctx, int pos, int norm, int f16) {
    lmic_model_config c = {C, L, NH, W, ctx, pos, norm};
    lmic_model *m;
    lmic_buf b = {0};
    if (lmic_model_new_random(&c, 7, &m) || lmic_model_save(m, f16, &b)) exit(1);
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(b.data, 1, b.size, f) != b.size || fclose(f)) exit(1);
    lmic_model_free(m);
    lmic_buf_free(&b);
}
int main(int argc, char **argv) {
    char p[4096];
    (void)argc;
    snprintf(p, sizeof p, "%s/c2-ctx4.lmm", argv[1]); put(p, 2, 1, 1, 1, 4, 0, 0, 0);
    snprintf(p, sizeof p, "%s/c4-rotary-pre.lmm", argv[1]); put(p, 4, 1, 2, 1, 8, 1, 1, 0);
    snprintf(p, sizeof p, "%s/c2-f16.lmm", argv[1]); put(p, 2, 2, 1, 2, 2, 0, 0, 1);
    return 0;
}
C
cc -std=c11 -Iinclude "$tmp/m.c" "$B/liblmic.a" $(pkg-config --libs sndfile flac zlib liblzma libpng) \
   -lm -fopenmp -o "$tmp/m"
"$tmp/m" $S/fuzz_model
ls -l $S/*
