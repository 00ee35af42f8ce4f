#!/usr/bin/env bash
# test.sh runs every test of sluice on a fresh Debian machine: it starts a throwaway
# PostgreSQL (installing it when absent), checks formatting and vet, and runs the
# whole suite with the race detector against SQLite and PostgreSQL.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v go >/dev/null || { echo "test.sh: Go is required (https://go.dev/dl)" >&2; exit 1; }

# Real servers the tests talk to; each script installs its Debian package when absent.
eval "$(scripts/postgres.sh start)"
trap 'scripts/postgres.sh stop >/dev/null 2>&1 || true' EXIT
eval "$(scripts/prometheus.sh start)"
eval "$(scripts/chromium.sh)"
trap 'scripts/postgres.sh stop >/dev/null 2>&1 || true; scripts/prometheus.sh stop >/dev/null 2>&1 || true' EXIT

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "test.sh: gofmt would change:" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...
go test -race -count=1 -timeout 20m "$@" ./...
