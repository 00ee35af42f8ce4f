#!/usr/bin/env bash
# Users' view of server crashes and router upgrades: 500 requests/s open loop through
# the builtin router while the server is SIGKILLed and restarted 20 times and the
# router process is upgraded 5 times; then the same schedule (without upgrades)
# with the router inside the server, for comparison.
# Usage: bench/restart/run.sh [flags of the Go program, e.g. -rate 1000 -modes separate]
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
BIN=$(mktemp -d /tmp/sluice-restart-bin.XXXXXX)
trap 'rm -rf "$BIN"' EXIT
chmod 0755 "$BIN" # the instances run the sample app from here as nobody
(cd "$ROOT" && go build -o "$BIN/sluice" ./cmd/sluice && go build -o "$BIN/restart" ./bench/restart)
"$BIN/restart" -sluice "$BIN/sluice" "$@"
