#!/usr/bin/env bash
# tests/crossbuild.sh -- determinism across builds and run options (rule 1:
# the decoder computes the encoder's CDFs bit for bit, whatever the machine).
#
# Builds lmic twice more, gcc -O0 (build-gcc-O0/) and clang -O3 -march=native
# (build-clang-O3/), then, for a random 200k model (sinusoidal post-LN, rotary,
# pre-LN) on 8-bit speech (samples/speech16k) and 16-bit music (samples/music),
# compares the `lmic score --dump-cdf` bytes of
#   gcc -O0 against clang -O3 -march=native,
#   --threads 1 against --threads 2,
#   whole-sequence against --incremental (KV cache),
#   --batch 1 against --batch 16,
# and one run that changes all four at once. Also checks that both builds
# write the same model file for the same seed.
# Last line: "crossbuild: N passed, M failed"; non-zero exit on any failure.
set -u
cd "$(dirname "$0")/.." || exit 1
SEED=4242
CTX=256
G="build-gcc-O0"
K="build-clang-O3"

pass=0 fail=0
ok() { echo "ok   $1"; pass=$((pass + 1)); }
bad() { echo "FAIL $1"; fail=$((fail + 1)); }
finish() { echo "crossbuild: $pass passed, $fail failed"; [ "$fail" -eq 0 ]; exit $?; }

# CFLAGS from the environment would replace OPT (the Makefile's CFLAGS ?=).
mkdir -p $G $K
if ! env -u CFLAGS make -s -j2 B=$G CC=gcc OPT=-O0 $G/lmic >$G/make.log 2>&1; then
    bad "make $G/lmic (see $G/make.log)"
fi
if ! env -u CFLAGS make -s -j2 B=$K CC=clang OPT='-O3 -march=native' $K/lmic >$K/make.log 2>&1; then
    bad "make $K/lmic (see $K/make.log)"
fi
# A failed build leaves the previous binary behind: never test that one.
if [ "$fail" -ne 0 ]; then finish; fi

tmp=$(mktemp -d /tmp/lmic-crossbuild.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
echo "crossbuild: seed $SEED, context $CTX, $(gcc --version | head -n 1), $(clang --version | head -n 1)"

# 18 chunks: one full batch of 16 and a partial one.
data_opts() {
    case $1 in
    speech) echo "--data librispeech --path samples/speech16k --chunk-size $CTX --num-chunks 18" ;;
    music) echo "--data audio --path samples/music --depth 16 --chunk-size $CTX --num-chunks 18" ;;
    esac
}

# run NAME BUILD MODEL DATA [score options...]: the CDFs into $tmp/NAME.cdf
run() {
    local name=$1 build=$2 model=$3 data=$4
    shift 4
    # shellcheck disable=SC2046
    if ! "$build/lmic" score --model "$model" $(data_opts "$data") --no-progress "$@" \
        --dump-cdf "$tmp/$name.cdf" >/dev/null 2>"$tmp/err"; then
        bad "$name: $build/lmic score $*: $(head -c 300 "$tmp/err")"
        rm -f "$tmp/$name.cdf"
    fi
}

# same LABEL A B: the two dumps exist, are whole, non-empty, and identical.
same() {
    local label=$1 a=$tmp/$2.cdf b=$tmp/$3.cdf
    if [ ! -f "$a" ] || [ ! -f "$b" ]; then bad "$label (a run failed)"; return; fi
    local n
    n=$(stat -c %s "$a")
    if [ "$n" -eq 0 ] || [ $((n % (257 * 4))) -ne 0 ]; then bad "$label: $n bytes is not whole CDFs"; return; fi
    if cmp -s "$a" "$b"; then
        ok "$label ($((n / 1028)) CDFs)"
    else
        local byte
        byte=$(cmp "$a" "$b" 2>/dev/null | awk '{print $5}' | tr -d ,)
        bad "$label: differ from byte ${byte:-?} (CDF $(( (${byte:-1} - 1) / 1028 )) of $((n / 1028)))"
    fi
}

for variant in sinusoidal rotary pre-ln; do
    opts=""
    case $variant in rotary) opts="--positions rotary" ;; pre-ln) opts="--norm pre" ;; esac
    m=$tmp/$variant.lmic
    # shellcheck disable=SC2086
    if ! $G/lmic model new --preset 200k --seed $SEED --context $CTX $opts -o "$m" -f 2>/dev/null ||
        ! $K/lmic model new --preset 200k --seed $SEED --context $CTX $opts -o "$m.clang" -f 2>/dev/null; then
        bad "$variant: lmic model new $opts"; continue
    fi
    if cmp -s "$m" "$m.clang"; then ok "$variant: same model file from gcc -O0 and clang -O3"
    else bad "$variant: gcc -O0 and clang -O3 write different model files for seed $SEED"; fi
    for data in speech music; do
        v="$variant/$data"
        run "$variant-$data-ref" $G "$m" $data --threads 1 --batch 1
        run "$variant-$data-clang" $K "$m" $data --threads 1 --batch 1
        run "$variant-$data-t2" $K "$m" $data --threads 2 --batch 1
        run "$variant-$data-inc" $K "$m" $data --threads 1 --batch 1 --incremental
        run "$variant-$data-b16" $K "$m" $data --threads 1 --batch 16
        run "$variant-$data-all" $G "$m" $data --threads 2 --batch 16 --incremental
        same "$v: gcc -O0 = clang -O3 -march=native" "$variant-$data-ref" "$variant-$data-clang"
        same "$v: --threads 1 = --threads 2" "$variant-$data-clang" "$variant-$data-t2"
        same "$v: whole sequence = --incremental" "$variant-$data-clang" "$variant-$data-inc"
        same "$v: --batch 1 = --batch 16" "$variant-$data-clang" "$variant-$data-b16"
        same "$v: gcc -O0 t1 b1 = gcc -O0 t2 b16 --incremental" "$variant-$data-ref" "$variant-$data-all"
    done
done
finish
