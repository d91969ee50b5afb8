#!/usr/bin/env bash
# cli.sh -- tests of the lmic command line: the defaults work, every bad input
# ends in one clear error line and a non-zero exit, no partial output is left.
# usage: tests/cli.sh [BUILD_DIR]
set -u
B=${1:-build}
LMIC=$(cd "$B" && pwd)/lmic
T=$(mktemp -d /tmp/lmic-cli-XXXXXX)
trap 'rm -rf "$T"' EXIT
. "$(dirname "$0")/lib.sh"

# --- the defaults and the report
"$LMIC" --version | grep -q '^lmic [0-9]' && ok version || bad version
"$LMIC" --help | grep -q 'usage: lmic' && ok help || bad help
if "$LMIC" eval >"$T/eval" 2>"$T/err" && grep -q '^gzip ' "$T/eval" && grep -q '^lzma2 ' "$T/eval" \
   && grep -q '^png ' "$T/eval" && grep -q '^flac ' "$T/eval"; then ok eval_defaults
else bad eval_defaults "$(cat "$T/err")"; fi
if "$LMIC" eval --json --compressor gzip,flac > "$T/j" && python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["chunks"] > 0 and j["raw_bytes"] == 2048 * j["chunks"]
for c in j["compressors"]:
    assert 0.05 < c["chunked_rate"] < 1.2 and 0.05 < c["whole_rate"] < 1.2, c
    # the header is counted once: chunked bytes = sum - header * (chunks - 1)
    assert c["chunked_bytes"] == c["chunk_bytes_sum"] - c["header_bytes"] * (j["chunks"] - 1)
' "$T/j"; then ok eval_json; else bad eval_json; fi
# Random bytes do not compress: every codec's chunked rate is above 100 %.
if "$LMIC" eval --data random --num-chunks 16 --seed 3 --json > "$T/r" && python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert all(c["chunked_rate"] > 1.0 for c in j["compressors"]), j
' "$T/r"; then ok eval_random_incompressible; else bad eval_random_incompressible; fi
# Every data kind and layout runs.
"$LMIC" eval --data audio --path samples/music --depth native --stereo ms --compressor gzip,flac >/dev/null 2>"$T/err" \
  && ok eval_audio_ms || bad eval_audio_ms "$(cat "$T/err")"
"$LMIC" eval --data audio --path samples/music --layout channel:1 --depth 8 --compressor flac >/dev/null 2>"$T/err" \
  && ok eval_audio_channel || bad eval_audio_channel "$(cat "$T/err")"
"$LMIC" eval --data text --path README.md --keep-partial --compressor lzma2-9e,png >/dev/null 2>"$T/err" \
  && ok eval_text || bad eval_text "$(cat "$T/err")"
# lmic's own codec as an eval row: on 8-bit speech chunks it beats FLAC's
# chunked rate; random chunks stay exactly their size (stored as they are);
# 16-bit stereo runs too (every chunk is decoded and compared inside).
if "$LMIC" eval --data librispeech --path samples/speech16k --compressor lmic,flac --json > "$T/lj" 2>"$T/err" \
   && python3 -c '
import json, sys
c = {x["name"]: x for x in json.load(open(sys.argv[1]))["compressors"]}
assert 0.05 < c["lmic"]["chunked_rate"] < c["flac"]["chunked_rate"], c
' "$T/lj"; then ok eval_lmic_row; else bad eval_lmic_row "$(cat "$T/err" "$T/lj")"; fi
if "$LMIC" eval --data random --num-chunks 8 --seed 5 --compressor lmic --json > "$T/lr" && python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
assert j["compressors"][0]["chunked_rate"] == 1.0, j
' "$T/lr"; then ok eval_lmic_random_raw; else bad eval_lmic_random_raw "$(cat "$T/lr")"; fi
"$LMIC" eval --data audio --path samples/music --depth native --stereo ms --compressor lmic >/dev/null 2>"$T/err" \
  && ok eval_lmic_stereo16 || bad eval_lmic_stereo16 "$(cat "$T/err")"

# --- lmic eval agrees with the codecs' own tools (within 1 point)
if bash bench/eval_vs_cli.sh --check 1 --lmic "$LMIC" --data librispeech --path samples/speech16k > "$T/vs" 2>&1; then
  ok eval_matches_cli_tools
else bad eval_matches_cli_tools "$(tr '\n' ' ' < "$T/vs")"; fi

# --- chunks: the stream is the paper's 8-bit speech, output only when complete
"$LMIC" chunks -o "$T/s.bin" 2>/dev/null && [ "$(stat -c %s "$T/s.bin")" -eq $((2048 * 42)) ] \
  && ok chunks_default || bad chunks_default
expect_error chunks_no_overwrite 1 'file exists' -- "$LMIC" chunks -o "$T/s.bin"
"$LMIC" chunks -f --num-chunks 1 -o "$T/s.bin" 2>/dev/null && [ "$(stat -c %s "$T/s.bin")" -eq 2048 ] \
  && ok chunks_force || bad chunks_force

# --- bad input: one line, non-zero exit, the file and the reason named
python3 - "$T" <<'PY'
import struct, sys
d = sys.argv[1]
def wav(path, frames, nbytes=None, fmt=1, bits=16, ch=1):
    data = b"\x01\x02" * frames
    n = len(data) if nbytes is None else nbytes
    hdr = b"RIFF" + struct.pack("<I", 36 + n) + b"WAVE" + b"fmt " + struct.pack(
        "<IHHIIHH", 16, fmt, ch, 16000, 16000 * ch * bits // 8, ch * bits // 8, bits)
    open(path, "wb").write(hdr + b"data" + struct.pack("<I", n) + data)
wav(d + "/trunc.wav", 1000, nbytes=40000)          # header promises more
wav(d + "/alaw.wav", 100, fmt=0x55)                # MP3-in-WAV: unsupported
open(d + "/garbage.wav", "wb").write(b"not audio at all" * 10)
open(d + "/empty.txt", "wb").close()
PY
expect_error missing_path 1 '/no/such/dir: No such file' -- "$LMIC" eval --data audio --path /no/such/dir
expect_error truncated_wav 1 'trunc.wav: truncated' -- "$LMIC" eval --data audio --path "$T/trunc.wav"
expect_error garbage_wav 1 'garbage.wav: cannot read audio' -- "$LMIC" eval --data audio --path "$T/garbage.wav"
expect_error unsupported_format 1 'alaw.wav: cannot read audio' -- "$LMIC" eval --data audio --path "$T/alaw.wav"
expect_error empty_data 1 'no data' -- "$LMIC" eval --data text --path "$T/empty.txt"
expect_error bad_option 2 "unknown option '--frobnicate'" -- "$LMIC" eval --frobnicate
expect_error bad_number 2 "chunk-size: 'abc'" -- "$LMIC" eval --chunk-size abc
expect_error bad_kind 2 '--data video' -- "$LMIC" eval --data video --path x
expect_error bad_layout 2 '--layout diagonal' -- "$LMIC" eval --data audio --path samples/music --layout diagonal
expect_error bad_compressor 1 "unknown compressor 'zip'" -- "$LMIC" eval --compressor gzip,zip
expect_error bad_command 2 "unknown command 'squash'" -- "$LMIC" squash
expect_error ms_needs_stereo 1 'needs 2 channels' -- "$LMIC" eval --stereo ms --data audio --path samples/speech16k
expect_error no_path_for_text 2 'needs --path' -- "$LMIC" eval --data text
# A failed run leaves no output and no temporary file behind.
expect_error chunks_fail_clean 1 'trunc.wav: truncated' -- "$LMIC" chunks --data audio --path "$T/trunc.wav" -o "$T/none.bin"
if ls "$T"/none.bin* >/dev/null 2>&1; then bad chunks_no_partial_output; else ok chunks_no_partial_output; fi

# --- models: new, info, score; damaged and foreign files refused
"$LMIC" model new --preset dm-default --seed 0 --context 64 -o "$T/m.lmm" 2>/dev/null && ok model_new || bad model_new
"$LMIC" model info "$T/m.lmm" > "$T/info" 2>&1 && grep -q '^parameters:  231936$' "$T/info" \
  && grep -q '^fingerprint: [0-9a-f]\{32\}$' "$T/info" && ok model_info || bad model_info "$(cat "$T/info")"
# The fingerprint announced by model new is the one the file holds (float16 too).
"$LMIC" model new --preset 200k --seed 1 --context 64 --f16 -o "$T/h.lmm" 2> "$T/new" \
  && [ "$(sed -n 's/.*fingerprint \([0-9a-f]*\).*/\1/p' "$T/new")" = \
       "$("$LMIC" model info "$T/h.lmm" | sed -n 's/^fingerprint: //p')" ] \
  && ok model_new_f16_fingerprint || bad model_new_f16_fingerprint "$(cat "$T/new")"
expect_error model_no_overwrite 1 'file exists' -- "$LMIC" model new --preset 200k -o "$T/m.lmm"
if "$LMIC" score --model "$T/m.lmm" --chunk-size 64 --num-chunks 4 --json > "$T/score" && python3 -c '
import json, sys
j = json.load(open(sys.argv[1]))
t = j["total"]
assert t["chunks"] == 4 and t["bytes"] == 256, t
# An untrained model is near-uniform: about 8 bits per byte, coded bytes within
# a few bytes per chunk of the integer-CDF cost.
assert 7.0 < t["bits_per_byte"] < 9.5, t
assert abs(t["cdf_bits_per_byte"] - t["bits_per_byte"]) < 0.01, t
assert 0 <= t["coded_bytes"] - t["cdf_bits_per_byte"] * 256 / 8 <= 4 * 2, t
' "$T/score"; then ok score_json; else bad score_json; fi
head -c 1000 "$T/m.lmm" > "$T/cut.lmm"
expect_error model_truncated 1 'cut.lmm: corrupt or truncated model file' -- "$LMIC" model info "$T/cut.lmm"
cp "$T/m.lmm" "$T/flip.lmm"; printf '\x55' | dd of="$T/flip.lmm" bs=1 seek=5000 conv=notrunc 2>/dev/null
expect_error model_corrupt 1 'flip.lmm: corrupt' -- "$LMIC" score --model "$T/flip.lmm"
expect_error model_foreign 1 'not an lmic model file' -- "$LMIC" score --model samples/music/sonicpi-stereo__loop_garzul.wav
expect_error model_missing 1 '/no/model: No such file' -- "$LMIC" model info /no/model
expect_error score_needs_model 2 'score needs --model' -- "$LMIC" score
expect_error score_chunk_exceeds_context 1 "exceed the model's context of 64" -- "$LMIC" score --model "$T/m.lmm"
expect_error bad_preset 2 '--preset 7b' -- "$LMIC" model new --preset 7b -o "$T/x.lmm"

echo "cli: $pass passed, $fail failed"
[ $fail -eq 0 ]
