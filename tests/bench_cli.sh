#!/usr/bin/env bash
# bench_cli.sh -- `lmic bench` on three small WAVs made here (two categories:
# 16 kHz 16-bit mono, 8 kHz 8-bit stereo) with the fuzzers' tiny model
# (fuzz/tiny.lmm): the table, the CSV's rows and columns and sane numbers
# (rates, bits per sample, the adjusted rate, lmic verified byte for byte),
# --files, the plots when gnuplot is there, a missing tool left out with a
# note, and peers that lie: a fake flac whose decode has one flipped bit, a
# fake xz that adds a byte, a gzip that fails -- each one error line, exit 1,
# no CSV and no scratch files left behind.
# usage: tests/bench_cli.sh [BUILD_DIR]; last line "bench: N passed, M failed".
set -u
cd "$(dirname "$0")/.." || exit 1
B=${1:-build}
LMIC=$(cd "$B" && pwd)/lmic
T=$(mktemp -d /tmp/lmic-bench-test-XXXXXX)
trap 'rm -rf "$T"' EXIT
. tests/lib.sh
M=fuzz/tiny.lmm
export TMPDIR=$T/scratch   # bench's scratch directories go here: it must end empty
mkdir -p "$TMPDIR"

python3 - "$T" <<'PY'
import math, os, random, struct, sys
d = sys.argv[1]
rng = random.Random(7)
def wav(path, rate, ch, bits, frames):
    out = bytearray()
    for t in range(frames):
        for c in range(ch):
            s = 0.4 * math.sin(2 * math.pi * (220 + 110 * c) * t / rate) + rng.uniform(-0.02, 0.02)
            if bits == 8: out.append(max(0, min(255, int(128 + 127 * s))))
            else: out += struct.pack("<h", int(32767 * s))
    align = ch * bits // 8
    fmt = struct.pack("<HHIIHH", 1, ch, rate, rate * align, align, bits)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(out)) + out
    body += b"\0" * (len(out) & 1)
    open(path, "wb").write(b"RIFF" + struct.pack("<I", len(body)) + body)
os.makedirs(d + "/speech", exist_ok=True)
os.makedirs(d + "/pcm8", exist_ok=True)
wav(d + "/speech/a.wav", 16000, 1, 16, 4000)
wav(d + "/speech/b.wav", 16000, 1, 16, 2401)
wav(d + "/pcm8/c.wav", 8000, 2, 8, 3001)
open(d + "/speech/notes.txt", "w").write("not audio\n")
PY

# the codecs this machine can run (make deps installs them all)
codecs=lmic
have() { command -v "$1" >/dev/null 2>&1; }
have flac && codecs="$codecs,flac"
have wavpack && have wvunpack && codecs="$codecs,wavpack"
have xz && codecs="$codecs,xz"
have gzip && codecs="$codecs,gzip"
echo "bench: codecs here: $codecs"

# --- a whole run
plot=(); have gnuplot && plot=(--plot "$T/plots")
if "$LMIC" bench "$T/speech" "$T/pcm8/" --model "$M" --threads 2 --csv "$T/b.csv" "${plot[@]}" \
     >"$T/out" 2>"$T/err"; then ok run; else bad run "$(cat "$T/err")"; fi
grep -q '^speech .* lmic ' "$T/out" && grep -q '^pcm8 .* lmic ' "$T/out" && ok table || bad table "$(cat "$T/out")"
fp=$("$LMIC" model info "$M" | sed -n 's/^fingerprint: *//p')
params=$("$LMIC" model info "$M" | sed -n 's/^parameters: *//p')
if python3 - "$T/b.csv" "$codecs" "$fp" "$params" <<'PY'; then ok csv; else bad csv; fi
import csv, sys
rows = list(csv.DictReader(open(sys.argv[1])))
codecs, fp, params = sys.argv[2].split(","), sys.argv[3], int(sys.argv[4])
need = ("category files wav_bytes audio_seconds samples format codec compressed_bytes rate_pct adjusted_pct "
        "bits_per_sample encode_x_realtime decode_x_realtime verified threads load1 cpu model_params "
        "model_fingerprint tool_version").split()
missing = [c for c in need if c not in rows[0]]
assert not missing, missing
assert [(r["category"], r["codec"]) for r in rows] == [(c, k) for c in ("speech", "pcm8") for k in codecs], rows
want = {"speech": (2, 6401, 6401 / 16000, "16000/1/16"), "pcm8": (1, 6002, 3001 / 8000, "8000/2/8")}
for r in rows:
    files, samples, secs, fmt = want[r["category"]]
    assert int(r["files"]) == files and int(r["samples"]) == samples and r["format"] == fmt, r
    assert abs(float(r["audio_seconds"]) - secs) < 1e-3, r
    size = int(r["compressed_bytes"]); wav = int(r["wav_bytes"]); rate = float(r["rate_pct"])
    assert 0 < rate < 110 and abs(rate - 100 * size / wav) < 1e-3, r
    assert abs(float(r["bits_per_sample"]) - 8 * size / samples) < 1e-3, r
    assert float(r["encode_x_realtime"]) > 0 and float(r["decode_x_realtime"]) > 0, r
    assert r["verified"] == ("samples" if r["codec"] in ("flac", "wavpack") else "bytes"), r
    assert r["model_fingerprint"] == fp and int(r["model_params"]) == params, r
    if r["codec"] == "lmic":
        assert r["threads"] == "2", r
        assert abs(float(r["adjusted_pct"]) - 100 * (size + 2 * params) / wav) < 1e-3, r
    else:
        assert r["adjusted_pct"] == "" and r["threads"] == "1", r
PY
if have gnuplot; then
  for p in rates bps-lmic-vs-flac; do
    if [ "$(head -c 4 "$T/plots/$p.png" 2>/dev/null | od -An -c | tr -d ' ')" = '211PNG' ]; then ok "plot $p"
    else bad "plot $p" "$(cat "$T/err")"; fi
  done
else echo "bench: gnuplot not installed, plots not tested"; fi

# --files K: an even spread of at most K files per category
if "$LMIC" bench "$T/speech" --files 1 --codecs lmic --model "$M" --csv "$T/f.csv" >/dev/null 2>"$T/err" &&
   [ "$(sed -n 2p "$T/f.csv" | cut -d, -f3)" = 1 ]; then ok files; else bad files "$(cat "$T/err")"; fi

# a tool that is not installed: named on stderr, its codec left out
if have flac; then
  mkdir -p "$T/onlyflac" && ln -s "$(command -v flac)" "$T/onlyflac/flac"
  if PATH=$T/onlyflac "$LMIC" bench "$T/pcm8" --codecs lmic,flac,gzip --model "$M" --csv "$T/m.csv" \
       >"$T/out" 2>"$T/err" && grep -q 'gzip is not installed' "$T/err" &&
     [ "$(tail -n +2 "$T/m.csv" | cut -d, -f8 | tr '\n' ' ')" = "lmic flac " ]; then ok missing_tool
  else bad missing_tool "$(cat "$T/err")"; fi
fi

# peers that lie or fail: the run stops with one line, no CSV is left
mkdir -p "$T/fake"
if have flac; then
  cat >"$T/fake/flac" <<EOF
#!/bin/bash
# flac, but a decode comes back with one bit flipped in its last sample
"$(command -v flac)" "\$@" || exit
out=; dec=0; prev=
for a in "\$@"; do [ "\$prev" = -o ] && out=\$a; [ "\$a" = -d ] && dec=1; prev=\$a; done
[ \$dec = 1 ] && python3 -c 'import sys; p = sys.argv[1]; b = bytearray(open(p, "rb").read()); b[-2] ^= 1; open(p, "wb").write(b)' "\$out"
exit 0
EOF
  chmod +x "$T/fake/flac"
  expect_error wrong_flac_decode 1 'flac -8: .*c.wav: decoded samples differ from the WAV (frame 3000, channel' -- \
    env PATH="$T/fake:$PATH" "$LMIC" bench "$T/pcm8" --codecs flac --csv "$T/bad.csv"
  rm -f "$T/fake/flac"
fi
if have xz; then
  printf '#!/bin/bash\n"%s" "$@" || exit\ncase " $* " in *" -d "*) printf x;; esac\n' "$(command -v xz)" >"$T/fake/xz"
  chmod +x "$T/fake/xz"
  expect_error wrong_xz_decode 1 'xz -9e: .*c.wav: decoded file has 6047 bytes, the WAV 6046' -- \
    env PATH="$T/fake:$PATH" "$LMIC" bench "$T/pcm8" --codecs xz --csv "$T/bad.csv"
  rm -f "$T/fake/xz"
fi
printf '#!/bin/sh\necho "gzip: something broke" >&2\nexit 3\n' >"$T/fake/gzip"
chmod +x "$T/fake/gzip"
expect_error failing_gzip 1 'gzip -9: .*c.wav: gzip exited with status 3: gzip: something broke' -- \
  env PATH="$T/fake:$PATH" "$LMIC" bench "$T/pcm8" --codecs gzip --csv "$T/bad.csv"
[ ! -e "$T/bad.csv" ] && [ -z "$(ls "$T" | grep 'bad.csv')" ] && ok no_csv_after_failure \
  || bad no_csv_after_failure "$(ls "$T")"

# usage errors and bad directories
expect_error no_dir 2 'needs at least one directory' -- "$LMIC" bench
expect_error bad_codec 2 "unknown codec 'ogg'" -- "$LMIC" bench "$T/pcm8" --codecs lmic,ogg
mkdir -p "$T/empty"
expect_error empty_dir 1 'no \*.wav files' -- "$LMIC" bench "$T/empty" --codecs gzip
expect_error missing_dir 1 'nowhere: No such file' -- "$LMIC" bench "$T/nowhere"
[ -z "$(ls -A "$TMPDIR")" ] && ok scratch_removed || bad scratch_removed "$(ls -A "$TMPDIR")"

echo "bench: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
