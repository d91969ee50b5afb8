#!/usr/bin/env python3
"""tests/corrupt.py B -- the corruption sweep: damaged .lmic files must fail
cleanly, never crash, hang or decode to wrong samples.

Real audio (cuts of samples/speech16k and samples/music, the music with
--stereo ms and overlapping windows) and a generated 24-bit stereo WAV with
extra chunks are compressed with the built CLI and fuzz/tiny.lmm (context 64)
in short chunks (--chunk), so that each file has a hundred or more. Each
.lmic file is then damaged:
  (a) flip: one seeded random bit at each of >= 1000 positions in all
      (header, index and payload, by share of the file, at least 100 each);
  (b) cut: truncated at every chunk boundary and at random lengths;
  (c) swap and dup: two chunks' payloads swapped (any pair, and neighbours
      of equal size, so the index still adds up); one chunk's payload
      written twice; an index entry swapped with its neighbour (header CRC
      recomputed, so the entry's own CRC must catch it).
`lmic decompress -o OUT` then runs on each under `timeout`. A case passes
when it ends in a clear error (exit 1, one line "lmic: error: ..." on
stderr, no output file, nothing left in the directory) or in an output that
is byte-identical to the original WAV. Anything else -- a signal (exit >=
128), a hang (124), exit 0 with different bytes, any other exit -- fails.
The detection rate (clean errors + identical outputs over all cases) must
be 100 %.

The seed is printed; LMIC_CORRUPT_SEED=S repeats a run. Last line:
"corrupt: N passed, M failed" (one per check, not per case).
"""
import concurrent.futures as cf
import os
import random
import re
import shutil
import struct
import subprocess
import sys
import tempfile
import time
import wave
import zlib

B = sys.argv[1] if len(sys.argv) > 1 else 'build'
LMIC = os.path.abspath(f'{B}/lmic')
INDEX = os.path.abspath(f'{B}/lmic_index')
MODEL = os.path.abspath('fuzz/tiny.lmm')
SEED = int(os.environ.get('LMIC_CORRUPT_SEED', '20261128'))
JOBS = int(os.environ.get('LMIC_CORRUPT_JOBS', '2'))
NFLIP = 1100       # bit flips over all files
NCUT_RANDOM = 40   # random truncation lengths per file
NSWAP = 25         # payload swaps per file (and as many equal-size neighbours)
NDUP = 25          # duplicated payloads per file
TIMEOUT = 30

passed = failed = 0


def ok(msg):
    global passed
    passed += 1
    print(f'ok   {msg}', flush=True)


def bad(msg, detail=''):
    global failed
    failed += 1
    print(f'FAIL {msg}', flush=True)
    if detail:
        print(f'  {detail}', flush=True)


def cut_wav(src, dst, start, frames):
    r = wave.open(src, 'rb')
    r.setpos(start)
    data = r.readframes(frames)
    w = wave.open(dst, 'wb')
    w.setnchannels(r.getnchannels())
    w.setsampwidth(r.getsampwidth())
    w.setframerate(r.getframerate())
    w.writeframes(data)
    w.close()


def gen_wav24(dst, rng, frames=1500):
    """Stereo 24-bit at 48 kHz, a LIST chunk before the data and a chunk after it."""
    import math
    pcm = bytearray()
    for i in range(frames):
        for c in range(2):
            v = int((math.sin(i * (0.031 + 0.017 * c)) * 0.5 + rng.uniform(-0.02, 0.02)) * (2 ** 23 - 1))
            pcm += (v & 0xFFFFFF).to_bytes(3, 'little')
    fmt = struct.pack('<HHIIHH', 1, 2, 48000, 48000 * 6, 6, 24)
    lst = b'INFOISFT\x06\x00\x00\x00lmic\x00\x00'
    body = (b'WAVE' + b'fmt ' + struct.pack('<I', len(fmt)) + fmt + b'LIST' + struct.pack('<I', len(lst)) + lst
            + b'data' + struct.pack('<I', len(pcm)) + pcm + b'junk' + struct.pack('<I', 3) + b'xyz\x00')
    open(dst, 'wb').write(b'RIFF' + struct.pack('<I', len(body)) + body)


def layout(path):
    out = subprocess.run([INDEX, path], capture_output=True, text=True, check=True).stdout.split('\n')
    hs = int(out[0].split()[1])
    entries = [tuple(int(x) for x in l.split()[1:]) for l in out[1:] if l.startswith('entry')]
    chunks = [tuple(int(x) for x in l.split()[1:]) for l in out[1:] if l.startswith('chunk')]
    return hs, entries, chunks  # entries: (offset, size, count, mode); chunks: (offset, size, mode)


def run_case(args):
    """Decompresses one damaged file; returns (kind, detail) with kind one of
    'error', 'identical' or 'FAIL'."""
    tmp, name, data, orig = args
    d = os.path.join(tmp, name)
    os.mkdir(d)
    src = os.path.join(d, 'x.wav.lmic')
    out = os.path.join(d, 'out.wav')
    open(src, 'wb').write(data)
    try:
        p = subprocess.run(['timeout', '-s', 'KILL', str(TIMEOUT), LMIC, 'decompress', '-q', '--threads', '1',
                            '--model', MODEL, '-o', out, src], capture_output=True)
    finally:
        pass
    err = p.stderr.decode(errors='replace')
    rest = sorted(set(os.listdir(d)) - {'x.wav.lmic', 'out.wav'})
    kind, detail = 'FAIL', ''
    if p.returncode == 0:
        if os.path.exists(out) and open(out, 'rb').read() == orig and not rest:
            kind = 'identical'
        else:
            detail = 'exit 0 but the output differs from the original (wrong samples written silently)'
    elif p.returncode == 1:
        lines = err.splitlines()
        if os.path.exists(out) or rest:
            detail = f'exit 1 but files were left: {["out.wav"] if os.path.exists(out) else []}{rest}'
        elif len(lines) != 1 or not lines[0].startswith('lmic: error: '):
            detail = f'exit 1 without a one-line error: {err[:300]!r}'
        else:
            kind, detail = 'error', lines[0]
    elif p.returncode in (124, 137, -9):
        detail = f'hang: killed after {TIMEOUT} s'
    else:
        detail = f'exit {p.returncode} (crash?): {err[-300:]!r}'
    shutil.rmtree(d)
    return name, kind, detail


def main():
    t0 = time.time()
    rng = random.Random(SEED)
    print(f'corrupt: seed {SEED} (LMIC_CORRUPT_SEED), model {MODEL}, {JOBS} jobs', flush=True)
    tmp = tempfile.mkdtemp(prefix='lmic-corrupt.')
    try:
        srcs = []
        cut_wav('samples/speech16k/pocketsphinx-cards__002.wav', f'{tmp}/speech.wav', 9000, 6000)
        srcs.append(('speech', f'{tmp}/speech.wav', ['--chunk', '40']))
        cut_wav('samples/music/sonicpi-stereo__loop_garzul.wav', f'{tmp}/music.wav', 30000, 3000)
        srcs.append(('music-ms', f'{tmp}/music.wav', ['--stereo', 'ms', '--chunk', '24', '--window', '32',
                                                      '--overlap', '16']))
        gen_wav24(f'{tmp}/gen24.wav', rng)
        srcs.append(('gen24', f'{tmp}/gen24.wav', ['--layout', 'planar', '--chunk', '64', '--predict', 'high']))
        files = []
        for name, wav, opts in srcs:
            lm = f'{tmp}/{name}.wav.lmic'
            subprocess.run([LMIC, 'compress', '-q', '--threads', '1', '--model', MODEL] + opts + [wav, '-o', lm],
                           check=True)
            dec = f'{tmp}/{name}.check.wav'
            subprocess.run([LMIC, 'decompress', '-q', '--threads', '1', '--model', MODEL, lm, '-o', dec], check=True)
            orig = open(wav, 'rb').read()
            if open(dec, 'rb').read() != orig:
                bad(f'{name}: the undamaged file does not round-trip')
                continue
            hs, ent, chk = layout(lm)
            data = open(lm, 'rb').read()
            nlm = sum(1 for e in ent if e[3] == 0)
            ok(f'{name}: {len(orig)} WAV bytes -> {len(data)} .lmic bytes (header+index {hs}), '
               f'{len(chk)} chunks ({nlm} LM-coded), {len(ent)} index entries')
            files.append((name, data, hs, ent, chk, orig))
        cases = []  # (category, file name, case name, bytes, original WAV)
        total = sum(len(f[1]) for f in files)
        for name, data, hs, ent, chk, orig in files:
            # (a) bit flips: positions in proportion to the file's size, at least
            # 100 in the fixed header (with the WAV prefix), the index and the payload.
            fixed = min(hs, 200)  # the fixed header fields and the WAV bytes kept verbatim, roughly
            n = max(300, NFLIP * len(data) // total)
            regions = [(0, fixed, 100), (fixed, hs, 100), (hs, len(data), n - 200)]
            for lo, hi, k in regions:
                if hi <= lo:
                    continue
                for _ in range(k):
                    pos, bit = rng.randrange(lo, hi), rng.randrange(8)
                    b = bytearray(data)
                    b[pos] ^= 1 << bit
                    cases.append(('flip', name, f'{name}-flip-{pos}-{bit}', bytes(b), orig))
            # (b) truncation: every chunk boundary (the index's end, each payload's
            # end but the last) and random lengths.
            cuts = {hs} | {off + size for off, size, _ in chk} | {rng.randrange(0, len(data)) for _ in range(NCUT_RANDOM)}
            cuts.discard(len(data))
            for c in sorted(cuts):
                cases.append(('cut', name, f'{name}-cut-{c}', data[:c], orig))
            # (c) swaps and duplicates of whole chunk payloads.
            for k in range(NSWAP if len(chk) > 1 else 0):
                i, j = sorted(rng.sample(range(len(chk)), 2))
                (oi, si, _), (oj, sj, _) = chk[i], chk[j]
                b = data[:oi] + data[oj:oj + sj] + data[oi + si:oj] + data[oi:oi + si] + data[oj + sj:]
                cases.append(('swap', name, f'{name}-swap-{i}-{j}', b, orig))
            same = [i for i in range(len(chk) - 1) if chk[i][1] == chk[i + 1][1]]
            for i in rng.sample(same, min(NSWAP, len(same))):
                (oi, si, _), (oj, sj, _) = chk[i], chk[i + 1]
                b = data[:oi] + data[oj:oj + sj] + data[oi:oi + si] + data[oj + sj:]
                cases.append(('swap', name, f'{name}-swap-equal-{i}', b, orig))
            for k in range(NDUP):
                i = rng.randrange(len(chk))
                o, s = chk[i][0], chk[i][1]
                b = data[:o + s] + data[o:o + s] + data[o + s:]
                cases.append(('dup', name, f'{name}-dup-{i}', b, orig))
            # An index entry swapped with its neighbour, the header CRC made good
            # again: only the entries' own CRCs (or the MD5) can tell. The entries
            # are found by re-encoding them the way the index stores them.
            # (Skipped silently when the format is not the one this knows.)
            for k in range(10):
                b = swap_index_entries(data, hs, ent, rng)
                if b is not None:
                    cases.append(('swap', name, f'{name}-index-swap-{k}', b, orig))
        by = {}
        detail = {}
        kinds = {}  # the errors reported, numbers and names taken out
        with cf.ThreadPoolExecutor(JOBS) as ex:
            for (cat, fname, cname, _, _), (name, kind, why) in zip(
                    cases, ex.map(run_case, [(tmp, f'{i:05d}-{c[2]}', c[3], c[4]) for i, c in enumerate(cases)])):
                key = (cat, fname)
                by.setdefault(key, {'error': 0, 'identical': 0, 'FAIL': 0})[kind] += 1
                if kind == 'FAIL':
                    detail.setdefault(key, []).append(f'{name}: {why}')
                elif kind == 'error':
                    k = re.sub(r'[0-9]+', 'N', why.split(': ', 3)[-1])
                    kinds[k] = kinds.get(k, 0) + 1
        ncase = len(cases)
        nfail = sum(v['FAIL'] for v in by.values())
        nident = sum(v['identical'] for v in by.values())
        for cat in ('flip', 'cut', 'swap', 'dup'):
            for fname, *_ in files:
                v = by.get((cat, fname))
                if not v:
                    continue
                n = sum(v.values())
                msg = f'{cat:4} {fname}: {n} cases, {v["error"]} clean errors, {v["identical"]} identical outputs'
                if v['FAIL']:
                    bad(msg + f', {v["FAIL"]} FAILED', '\n  '.join(detail[(cat, fname)][:10]))
                else:
                    ok(msg)
        for k, n in sorted(kinds.items(), key=lambda x: -x[1]):
            print(f'     {n:5d} x {k}')
        nflip = sum(sum(v.values()) for (c, _), v in by.items() if c == 'flip')
        rate = 100.0 * (ncase - nfail) / ncase if ncase else 0.0
        msg = (f'detection rate {rate:.2f} %: {ncase - nfail} of {ncase} damaged files ended in a clean error '
               f'or a byte-identical output ({nident} identical; {nflip} bit flips), {time.time() - t0:.0f} s')
        if nfail == 0 and nflip >= 1000:
            ok(msg)
        else:
            bad(msg)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    print(f'corrupt: {passed} passed, {failed} failed', flush=True)
    return 1 if failed else 0


def swap_index_entries(data, hs, ent, rng):
    """v1/v2 index: entries are a varint and a CRC-32 each, right before the
    4-byte header CRC; the header size is at byte 12. Swaps two neighbouring
    entries of the same kind and size and recomputes the header CRC."""
    if data[8:12] not in (b'\x01\x00\x00\x00', b'\x02\x00\x00\x00'):
        return None
    recs, pos = [], hs - 4
    for off, size, count, mode in reversed(ent):
        v = (count << 1) | 1 if mode == 1 else size << 1
        enc = bytearray()
        while True:
            enc.append((v & 0x7F) | (0x80 if v > 0x7F else 0))
            v >>= 7
            if not v:
                break
        pos -= len(enc) + 4
        recs.append((pos, len(enc) + 4))
    recs.reverse()
    same = [i for i in range(len(ent) - 1) if ent[i][1:] == ent[i + 1][1:]]
    if not same:
        return None
    i = rng.choice(same)
    (p1, n1), (p2, n2) = recs[i], recs[i + 1]
    b = bytearray(data)
    b[p1:p1 + n1 + n2] = data[p2:p2 + n2] + data[p1:p1 + n1]
    if bytes(b) == data:
        return None
    b[hs - 4:hs] = struct.pack('<I', zlib.crc32(bytes(b[:hs - 4])))
    return bytes(b)


if __name__ == '__main__':
    sys.exit(main())
