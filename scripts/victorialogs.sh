#!/bin/sh
# Builds VictoriaLogs from its Go module (github.com/VictoriaMetrics/VictoriaLogs,
# about a minute on two cores, then cached) for the victorialogs provider's tests,
# and prints the line that points the tests at it:
#
#   eval "$(scripts/victorialogs.sh)"
#
# The tests start their own server on a loopback port. Everything but the final
# export goes to stderr so eval sees only that line.
set -eu

version=${SLUICE_VICTORIALOGS_VERSION:-v1.52.1}
dir=${XDG_CACHE_HOME:-$HOME/.cache}/sluice/victorialogs-$version
bin=$dir/victoria-logs
if [ ! -x "$bin" ]; then
	command -v go >/dev/null || { echo "victorialogs.sh: Go is required to build VictoriaLogs" >&2; exit 1; }
	echo "victorialogs.sh: building VictoriaLogs $version from its Go module into $dir (once)" >&2
	mkdir -p "$dir"
	GOBIN=$dir GOFLAGS=-buildvcs=false go install "github.com/VictoriaMetrics/VictoriaLogs/app/victoria-logs@$version" >&2
fi
"$bin" -version >&2 || true
echo "export SLUICE_TEST_VICTORIALOGS_BIN=$bin"
