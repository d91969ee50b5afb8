#!/usr/bin/env bash
# tests/gradcheck.sh BUILD_DIR -- lmic's training gradients against PyTorch
# autograd (dev/grad_check.py, on dev/model.py's model).
#
# For sinusoidal/rotary positions x post/pre-LN (and one 8-head model on two
# threads): a seeded random model with random biases and gains (dev/modelfile.py
# random), one batch of real speech windows (samples/speech16k) sampled by
# `lmic train --steps 0 --dump-grads`, which writes the batch, lmic's loss and
# its gradient; dev/grad_check.py recomputes both with autograd for the same
# weights and batch. Every parameter tensor must agree to a relative difference
# (2-norm of the difference over 2-norm of torch's gradient) of at most 1e-3,
# and the loss to 1e-5. torch must be importable by Debian's /usr/bin/python3: a
# missing torch is a failure, never a skip.
# Last line: "gradcheck: N passed, M failed".
set -u
B=${1:-build}
case $B in /*) ;; *) B=$PWD/$B ;; esac
PY=${PYTHON:-/usr/bin/python3}
SEED=4321
cd "$(dirname "$0")/.." || exit 1
LMIC=$B/lmic
pass=0 fail=0
finish() { echo "gradcheck: $pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit $?; }
if [ ! -x "$LMIC" ]; then echo "FAIL $LMIC not built"; fail=1; finish; fi
if ! "$PY" -c "import torch, numpy" 2>/dev/null; then
    echo "FAIL $PY cannot import torch (apt-get install python3-torch)"; fail=1; finish
fi
tmp=$(mktemp -d /tmp/lmic-gradcheck.XXXXXX)
trap 'rm -rf "$tmp"' EXIT

k=0
for cfg in "200k sinusoidal post 1" "200k rotary post 1" "200k sinusoidal pre 1" "200k rotary pre 1" \
           "dm-default rotary pre 2"; do
    set -- $cfg
    k=$((k + 1))
    name="$1-$2-$3-threads$4"
    "$PY" dev/modelfile.py random --preset "$1" --positions "$2" --norm "$3" --context 96 \
        --seed $((SEED + k)) -o "$tmp/m.lmic" || { echo "FAIL $name: modelfile.py"; fail=$((fail + 1)); continue; }
    if ! "$LMIC" train --model "$tmp/m.lmic" --data librispeech --path samples/speech16k \
            --batch 3 --seq 96 --steps 0 --val-frac 0 --seed $((SEED + k)) --threads "$4" \
            --dump-grads "$tmp/g.bin" -o "$tmp/out.lmic" -f 2>"$tmp/err"; then
        echo "FAIL $name: lmic train: $(tail -n 1 "$tmp/err")"; fail=$((fail + 1)); continue
    fi
    "$PY" dev/grad_check.py check "$tmp/m.lmic" "$tmp/g.bin" >"$tmp/out" 2>&1
    line=$(grep -E '^gradcheck: [0-9]+ passed, [0-9]+ failed' "$tmp/out" | tail -n 1)
    p=$(echo "$line" | sed -n 's/.* \([0-9]*\) passed.*/\1/p')
    f=$(echo "$line" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
    [ -z "$p" ] && { p=0; f=1; cat "$tmp/out"; }
    pass=$((pass + p)); fail=$((fail + f))
    echo "$name (seed $((SEED + k))): $p tensors ok, $f failed; $(grep '^worst' "$tmp/out")"
    grep '^FAIL' "$tmp/out" | sed "s/^/  $name: /"
done
finish
