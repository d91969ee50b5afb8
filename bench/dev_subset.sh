#!/usr/bin/env bash
# dev_subset.sh -- lmic's bytes on a fixed subset of every dev category
# (bench/dev-subset.txt: 163 files, paths under DEV), summed per category: a
# quick way to compare two builds, models or option sets on the same files.
# Every file is decompressed and compared before it counts.
# usage: DEV=DIR bash bench/dev_subset.sh LABEL [BUILD_DIR] [-- lmic compress options...]
#   environment: DEV (the dev corpus, required), LIST (bench/dev-subset.txt),
#   JOBS (files at a time, 2; each on 1 thread)
set -euo pipefail
label=${1:?usage: DEV=DIR bash bench/dev_subset.sh LABEL [BUILD_DIR] [-- options...]}
shift
B=build
if [ $# -gt 0 ] && [ "$1" != -- ]; then B=$1; shift; fi
[ $# -gt 0 ] && [ "$1" = -- ] && shift
case $B in /*) ;; *) B=$PWD/$B ;; esac
DEV=${DEV:?set DEV to the dev corpus directory}
LIST=${LIST:-bench/dev-subset.txt}
tmp=$(mktemp -d /tmp/lmic-subset.XXXXXX)
trap 'rm -rf "$tmp"' EXIT
export B DEV tmp
opts=
[ $# -gt 0 ] && opts=$(printf '%q ' "$@")  # quoted for the eval below (none: no argument)
export opts
. "$(dirname "$0")/roundtrip.sh"
# one REL: prints "category bytes", or fails if the round trip does.
one() {
  local o=$tmp/$(basename "$1").$BASHPID
  eval "roundtrip \"$B/lmic\" \"$DEV/$1\" \"$o\" $opts" || return 1
  echo "${1%%/*} $(stat -c %s "$o.lmic")"
  rm -f "$o.lmic" "$o.wav"
}
export -f one
xargs -P "${JOBS:-2}" -I{} bash -c 'one "$@"' _ {} < "$LIST" > "$tmp/sizes"
[ "$(wc -l < "$tmp/sizes")" = "$(grep -c . "$LIST")" ] || { echo "dev_subset: some files failed" >&2; exit 1; }
sort "$tmp/sizes" | awk -v l="$label" '{ s[$1] += $2; t += $2; if (!($1 in seen)) { seen[$1] = 1; o[n++] = $1 } }
  END { printf "%s", l; for (i = 0; i < n; i++) printf " %s=%d", o[i], s[o[i]]; printf " total=%d\n", t }'
