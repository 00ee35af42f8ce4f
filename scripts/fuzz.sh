#!/usr/bin/env bash
# fuzz.sh runs every Go fuzz target of sluice (each func FuzzX in a _test.go file
# outside tools/) for a short while, one after another, and stops at the first
# failure. The failing input is saved under the package's testdata/fuzz/FuzzX/,
# where plain `go test` replays it from then on.
#
#   scripts/fuzz.sh                      # every target, 5s each (part of the test command)
#   FUZZTIME=10m scripts/fuzz.sh Threshold   # targets whose name contains Threshold, 10 minutes each
#
# FUZZTIME is go test's -fuzztime (a duration, or Nx for N inputs); FUZZ_PARALLEL is
# the number of fuzzing workers (default 1: the test machine is shared).
set -euo pipefail
cd "$(dirname "$0")/.."

command -v go >/dev/null || { echo "fuzz.sh: Go is required (https://go.dev/dl)" >&2; exit 1; }

fuzztime=${FUZZTIME:-5s}
parallel=${FUZZ_PARALLEL:-1}
filter=${1:-}

# "dir name" per target, from the sources, so a new target is picked up by itself.
targets=$(grep -rHo --include='*_test.go' --exclude-dir=tools --exclude-dir=.git '^func Fuzz[A-Za-z0-9_]*' . |
	sed -E 's|^(.*)/[^/]*_test\.go:func (Fuzz[A-Za-z0-9_]*)$|\1 \2|' | sort -u)
if [ -z "$targets" ]; then
	echo "fuzz.sh: no fuzz targets found" >&2
	exit 1
fi

n=0
while read -r dir name; do
	if [ -n "$filter" ] && [[ "$name" != *"$filter"* ]]; then
		continue
	fi
	echo "fuzz.sh: $name in $dir for $fuzztime" >&2
	go test -run='^$' -fuzz="^${name}\$" -fuzztime="$fuzztime" -parallel="$parallel" "$dir"
	n=$((n + 1))
done <<<"$targets"
if [ "$n" -eq 0 ]; then
	echo "fuzz.sh: no fuzz target matches $filter" >&2
	exit 1
fi
echo "fuzz.sh: $n fuzz targets passed ($fuzztime each)" >&2
