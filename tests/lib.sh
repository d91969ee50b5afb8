# lib.sh -- what the shell test suites share: counters, ok/bad, and
# expect_error. Source it after setting T (a scratch directory).
pass=0; fail=0
ok()  { pass=$((pass + 1)); echo "ok   $1"; }
bad() { fail=$((fail + 1)); echo "FAIL $1"; [ -n "${2:-}" ] && echo "  $2"; }

# expect_error NAME WANT_EXIT PATTERN -- CMD...: the command exits WANT_EXIT and
# prints exactly one line on stderr, which matches PATTERN.
expect_error() {
  local name=$1 want=$2 pat=$3; shift 4
  "$@" >"$T/out" 2>"$T/err"; local rc=$?
  local lines; lines=$(wc -l <"$T/err")
  if [ $rc -ne "$want" ]; then bad "$name" "exit $rc, wanted $want: $(head -c 300 "$T/err")"
  elif [ "$lines" -ne 1 ]; then bad "$name" "stderr has $lines lines: $(head -c 300 "$T/err")"
  elif ! grep -q -- "$pat" "$T/err"; then bad "$name" "stderr: $(cat "$T/err")"
  else ok "$name"; fi
}
