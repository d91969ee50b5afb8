#!/usr/bin/env bash
# Runs every test: the unit runner, then the CLI tests. Prints one closing line.
set -u
B=${1:-build}
fail=0
"$B/test_lmic" | tee /tmp/lmic-unit.$$ || fail=1
unit=$(tail -n 1 /tmp/lmic-unit.$$); rm -f /tmp/lmic-unit.$$
up=$(echo "$unit" | sed -n 's/.* \([0-9]*\) passed.*/\1/p'); uf=$(echo "$unit" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
bash tests/cli.sh "$B" | tee /tmp/lmic-cli.$$ || fail=1
cli=$(tail -n 1 /tmp/lmic-cli.$$); rm -f /tmp/lmic-cli.$$
cp=$(echo "$cli" | sed -n 's/.* \([0-9]*\) passed.*/\1/p'); cf=$(echo "$cli" | sed -n 's/.* \([0-9]*\) failed.*/\1/p')
p=$(( ${up:-0} + ${cp:-0} )); f=$(( ${uf:-1} + ${cf:-1} ))
[ "$fail" -ne 0 ] && [ "$f" -eq 0 ] && f=1
echo "total: $p passed, $f failed"
[ "$fail" -eq 0 ] && [ "$f" -eq 0 ]
