#!/usr/bin/env bash
# tests/train_cli.sh BUILD_DIR [BUILD_DIR2] -- `lmic train` end to end: resume equivalence
# (2N steps == N steps, checkpoint, --resume to 2N; model files compared with
# cmp), thread-count independence, SIGINT writes a checkpoint that resumes, a
# damaged checkpoint is refused, the trained model is a normal model file
# (`lmic model info`, `lmic score`), usage errors. With a second build (other
# compiler or flags, e.g. `make B=build-o2 OPT=-O2`), the two builds must train
# identical models.
# Last line: "train_cli: N passed, M failed".
set -u
B=${1:-build}
case $B in /*) ;; *) B=$PWD/$B ;; esac
B2=${2:-}
case $B2 in /*|"") ;; *) B2=$PWD/$B2 ;; esac
cd "$(dirname "$0")/.." || exit 1
LMIC=$B/lmic
tmp=$(mktemp -d /tmp/lmic-train-cli.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
check() { local name=$1; shift; if "$@" >"$tmp/out" 2>&1; then ok "$name"; else bad "$name"; tail -n 3 "$tmp/out"; fi; }

D="--data librispeech --path samples/speech16k --val-frac 0.1 --val-every 4 --val-windows 4"
A="$D --preset 200k --context 128 --batch 2 --seq 64 --lr 1e-3 --warmup 2 --cosine-steps 8 --clip 1 --seed 5 -f"
check "8 steps" "$LMIC" train $A --steps 8 -o "$tmp/full.lmic"
check "4 steps" "$LMIC" train $A --steps 4 --every 2 -o "$tmp/half.lmic"
check "resume 4 -> 8 on 2 threads" "$LMIC" train $A --steps 8 --threads 2 --resume "$tmp/half.lmic.ckpt" -o "$tmp/res.lmic"
check "resumed model == uninterrupted model (cmp)" cmp "$tmp/full.lmic" "$tmp/res.lmic"
check "8 steps on 2 threads" "$LMIC" train $A --steps 8 --threads 2 -o "$tmp/full2.lmic"
check "2 threads == 1 thread (cmp)" cmp "$tmp/full.lmic" "$tmp/full2.lmic"
if [ -n "$B2" ]; then
    check "8 steps, second build" "$B2/lmic" train $A --steps 8 --threads 2 -o "$tmp/other.lmic"
    check "second build == first build (cmp)" cmp "$tmp/full.lmic" "$tmp/other.lmic"
fi
check "trained model: model info" "$LMIC" model info "$tmp/full.lmic"
check "trained model: score" "$LMIC" score --model "$tmp/full.lmic" --data librispeech --path samples/speech16k --chunk-size 128

# SIGINT: finishes the step, writes the checkpoint and the model, exits 0
"$LMIC" train $A --steps 100000 --print-every 1 -o "$tmp/sig.lmic" 2>"$tmp/sig.log" &
pid=$!
for _ in $(seq 100); do grep -q "^step [1-9]" "$tmp/sig.log" 2>/dev/null && break; sleep 0.1; done
kill -INT $pid
wait $pid
rc=$?
if [ $rc -eq 0 ] && grep -q "interrupted" "$tmp/sig.log" && [ -s "$tmp/sig.lmic.ckpt" ] && [ -s "$tmp/sig.lmic" ]; then
    ok "SIGINT writes a checkpoint and the model"
else
    bad "SIGINT writes a checkpoint and the model (rc $rc)"; tail -n 3 "$tmp/sig.log"
fi
n=$(sed -n 's/.*interrupted (signal 2) at step \([0-9]*\).*/\1/p' "$tmp/sig.log")
check "the interrupted run resumes" "$LMIC" train $A --steps $((n + 2)) --resume "$tmp/sig.lmic.ckpt" -o "$tmp/sig2.lmic"

# a damaged checkpoint is refused
cp "$tmp/half.lmic.ckpt" "$tmp/bad.ckpt"
printf '\x55' | dd of="$tmp/bad.ckpt" bs=1 seek=5000 conv=notrunc 2>/dev/null
if "$LMIC" train $A --steps 8 --resume "$tmp/bad.ckpt" -o "$tmp/x.lmic" 2>"$tmp/err"; then
    bad "damaged checkpoint refused"
else
    grep -q "damaged checkpoint" "$tmp/err" && ok "damaged checkpoint refused" || { bad "damaged checkpoint message"; cat "$tmp/err"; }
fi
head -c 1000 "$tmp/half.lmic.ckpt" > "$tmp/short.ckpt"
if "$LMIC" train $A --steps 8 --resume "$tmp/short.ckpt" -o "$tmp/x.lmic" 2>/dev/null; then bad "truncated checkpoint refused"; else ok "truncated checkpoint refused"; fi

# usage errors exit 2
k=0
for args in "--steps 3" "-o $tmp/y.lmic" "$A --steps 3 --seq 4096 -o $tmp/y.lmic" "$A --steps 3 --bogus -o $tmp/y.lmic"; do
    k=$((k + 1))
    "$LMIC" train $args >/dev/null 2>&1
    rc=$?
    what=("" "no -o" "no --steps" "--seq > context" "unknown option")
    [ $rc -eq 2 ] && ok "usage error exits 2: ${what[$k]}" || bad "usage error exits 2 (got $rc): ${what[$k]}"
done
echo "train_cli: $pass passed, $fail failed"
[ "$fail" -eq 0 ]
