#!/usr/bin/env bash
# test.sh runs every test of sluice on a fresh Debian machine. It starts the real
# servers the tests talk to — PostgreSQL, Prometheus, VictoriaLogs (built once from its
# Go module), headless Chromium for the web UI, and a Kubernetes control plane with the
# Istio and Gateway API CRDs (built once from the Kubernetes Go modules, then cached),
# an OpenID Connect provider (built once from tools/oidc) —
# installing Debian packages when absent,
# then checks formatting and vet and runs the whole suite with the race detector.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v go >/dev/null || { echo "test.sh: Go is required (https://go.dev/dl)" >&2; exit 1; }

cleanup() {
	scripts/postgres.sh stop >/dev/null 2>&1 || true
	scripts/prometheus.sh stop >/dev/null 2>&1 || true
	scripts/kube.sh stop >/dev/null 2>&1 || true
	scripts/oidc.sh stop >/dev/null 2>&1 || true
}
trap cleanup EXIT

eval "$(scripts/postgres.sh start)"
eval "$(scripts/prometheus.sh start)"
eval "$(scripts/chromium.sh)"
eval "$(scripts/victorialogs.sh)"
eval "$(scripts/kube.sh start)"
eval "$(scripts/oidc.sh start)"

unformatted=$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go'))
if [ -n "$unformatted" ]; then
	echo "test.sh: gofmt would change:" >&2
	echo "$unformatted" >&2
	exit 1
fi
go vet ./...
go test -race -count=1 -timeout 30m "$@" ./...
# deploy/ (Helm chart, manifests) and the image tool are modules of their own.
for m in tools/deploy tools/image; do
	(cd "$m" && go vet ./... && go test -race -count=1 -timeout 20m ./...)
done
# A short run of every fuzz target (5s each); docs/testing.md says how to run longer.
scripts/fuzz.sh
