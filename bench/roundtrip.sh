# roundtrip.sh -- sourced by the bench scripts that count lmic's bytes file by
# file (dev_subset.sh, whole_category.sh): one compress, decompress and compare.
#
# roundtrip LMIC FILE PREFIX [compress options...]: writes PREFIX.lmic and
# PREFIX.wav (1 thread each) and fails, naming FILE, unless the WAV that comes
# back is FILE byte for byte. The caller reads what it needs from PREFIX.lmic
# and removes both.
roundtrip() {
  local lmic=$1 f=$2 o=$3
  shift 3
  "$lmic" compress -q -f --threads 1 "$@" -o "$o.lmic" "$f"
  "$lmic" decompress -q -f --threads 1 -o "$o.wav" "$o.lmic"
  cmp -s "$f" "$o.wav" || { echo "$f does not round-trip" >&2; return 1; }
}
export -f roundtrip
