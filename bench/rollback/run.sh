#!/usr/bin/env bash
# Measure how fast sluice rolls a bad canary back, with the sequential judge and
# with a fixed-interval threshold judge, in one run (the judges alternate rounds).
# Usage: bench/rollback/run.sh [flags of the Go program, e.g. -rounds 10 -fixed-interval 10s]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$(mktemp -d /tmp/sluice-rollback.XXXXXX)
trap 'rm -rf "$BIN"' EXIT
(cd "$ROOT" && go build -o "$BIN/rollback" ./bench/rollback)
"$BIN/rollback" "$@"
