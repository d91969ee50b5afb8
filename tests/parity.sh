#!/usr/bin/env bash
# tests/parity.sh BUILD_DIR -- the C forward pass against the PyTorch model
# (dev/model.py), which is written from the reference's transformer.py.
#
# For every preset with each option (sinusoidal/rotary positions, post/pre-LN,
# float32/float16 storage), a seeded random model from `lmic model new`; seeded
# random tokens and a few chunks of real speech (samples/speech16k) from `lmic
# chunks`; `lmic score --dump-logp` against dev/model.py on the same tokens.
# A case passes when no log-probability differs by more than TOL (1e-4).
#
# lmic's initialiser sets every bias to 0 and every layer-norm gain to 1, so
# its models cannot tell a dropped bias or a swapped gain from the real thing:
# the "py-random" models (written by dev/modelfile.py random, read by lmic
# through its ordinary loader) have random biases, gains and offsets too.
# dev/model.py's own self-test (reader checks, KV cache = whole sequence)
# runs first.
#
# torch must be importable by Debian's /usr/bin/python3 (python3-torch): a
# missing torch is a failure, never a skip. Last line: "parity: N passed, M failed".
set -u
B=${1:-build}
case $B in /*) ;; *) B=$PWD/$B ;; esac
PY=${PYTHON:-/usr/bin/python3}
TOL=1e-4
CTX=128        # --context for every model: it only bounds T
SEED=1234      # models use SEED+k, data SEED; printed so a failure can be rerun
cd "$(dirname "$0")/.." || exit 1
LMIC=$B/lmic

finish() { echo "parity: $1 passed, $2 failed"; [ "$2" -eq 0 ]; exit $?; }

if [ ! -x "$LMIC" ]; then echo "FAIL $LMIC not built"; finish 0 1; fi
if ! "$PY" -c "import torch, numpy" 2>/dev/null; then
    echo "FAIL $PY cannot import torch (apt-get install python3-torch)"; finish 0 1
fi

tmp=$(mktemp -d /tmp/lmic-parity.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
bad() { echo "FAIL $1"; fail=$((fail + 1)); }

# The tokens: random bytes (every value, every position) and real 8-bit speech.
T=$CTX
"$LMIC" chunks --data random --seed $SEED --chunk-size $T --num-chunks 3 -o "$tmp/random.bin" -f \
    2>/dev/null || bad "lmic chunks --data random"
"$LMIC" chunks --data librispeech --path samples/speech16k --chunk-size $T --num-chunks 3 \
    -o "$tmp/speech.bin" -f 2>/dev/null || bad "lmic chunks --data librispeech"
data_opts() {  # the same loader options as above, for lmic score
    case $1 in
    random) echo "--data random --seed $SEED --chunk-size $T --num-chunks 3" ;;
    speech) echo "--data librispeech --path samples/speech16k --chunk-size $T --num-chunks 3" ;;
    esac
}

echo "parity: seed $SEED, context $CTX, tolerance $TOL, $("$PY" -c 'import torch; print("torch", torch.__version__)')"
if "$PY" dev/model.py selftest >"$tmp/selftest" 2>&1; then
    echo "ok   dev/model.py selftest"; pass=$((pass + 1))
else
    cat "$tmp/selftest"; bad "dev/model.py selftest"
fi

: >"$tmp/manifest"
k=0
for preset in dm-default 200k 800k 3.2m; do
    for variant in base rotary pre-ln f16 rotary+pre-ln+f16 py-random py-random+rotary+pre-ln+f16; do
        k=$((k + 1))
        opts=""
        case $variant in *rotary*) opts="$opts --positions rotary" ;; esac
        case $variant in *pre-ln*) opts="$opts --norm pre" ;; esac
        case $variant in *f16*) opts="$opts --f16" ;; esac
        model="$tmp/m$k.lmic"
        case $variant in
        py-random*) maker="$PY dev/modelfile.py random" ;;
        *) maker="$LMIC model new" ;;
        esac
        # shellcheck disable=SC2086
        if ! $maker --preset $preset --seed $((SEED + k)) --context $CTX $opts \
            -o "$model" -f 2>"$tmp/err"; then
            bad "$preset $variant: $maker $opts: $(head -c 300 "$tmp/err")"; continue
        fi
        for data in random speech; do
            name="$preset/$variant/$data"
            # shellcheck disable=SC2046
            if ! "$LMIC" score --model "$model" $(data_opts $data) --no-progress \
                --dump-logp "$tmp/c$k-$data.logp" >/dev/null 2>"$tmp/err"; then
                bad "$name: lmic score: $(head -c 300 "$tmp/err")"; continue
            fi
            echo "$name $model $tmp/$data.bin $T $tmp/c$k-$data.logp" >>"$tmp/manifest"
        done
    done
done

# The full default context (2048) for the 200k preset: positions far beyond
# CTX, where lmic's own sin/cos meet large angles (sinusoid and rotary tables).
# One chunk each (PyTorch's attention is slow at T = 2048).
T=2048
"$LMIC" chunks --data random --seed $SEED --chunk-size $T --num-chunks 1 -o "$tmp/random-long.bin" -f \
    2>/dev/null || bad "lmic chunks --data random (long)"
"$LMIC" chunks --data librispeech --path samples/speech16k --chunk-size $T --num-chunks 1 \
    -o "$tmp/speech-long.bin" -f 2>/dev/null || bad "lmic chunks --data librispeech (long)"
for variant in base/random py-random+rotary+pre-ln/speech; do
    k=$((k + 1))
    model="$tmp/m$k.lmic"
    name="200k/context-2048/$variant"
    data=${variant#*/}
    case $variant in
    base/*) "$LMIC" model new --preset 200k --seed $((SEED + k)) -o "$model" -f 2>"$tmp/err" ;;
    *) "$PY" dev/modelfile.py random --preset 200k --seed $((SEED + k)) --positions rotary --norm pre \
        -o "$model" 2>"$tmp/err" ;;
    esac || { bad "$name: model: $(head -c 300 "$tmp/err")"; continue; }
    opts="--data random --seed $SEED"
    [ "$data" = speech ] && opts="--data librispeech --path samples/speech16k"
    # shellcheck disable=SC2086
    if ! "$LMIC" score --model "$model" $opts --chunk-size $T --num-chunks 1 --no-progress \
        --dump-logp "$tmp/c$k-$data.logp" >/dev/null 2>"$tmp/err"; then
        bad "$name: lmic score: $(head -c 300 "$tmp/err")"; continue
    fi
    echo "$name $model $tmp/$data-long.bin $T $tmp/c$k-$data.logp" >>"$tmp/manifest"
done

"$PY" dev/model.py compare "$tmp/manifest" --tol $TOL >"$tmp/out" 2>&1
cat "$tmp/out"
p=$(grep -c '^ok ' "$tmp/out")
f=$(grep -c '^FAIL' "$tmp/out")
n=$(grep -c . "$tmp/manifest")
pass=$((pass + p))
fail=$((fail + f))
# compare must have judged every case it was given (a crash is a failure).
if [ $((p + f)) -ne "$n" ]; then bad "dev/model.py compare judged $((p + f)) of $n cases"; fi
finish $pass $fail
