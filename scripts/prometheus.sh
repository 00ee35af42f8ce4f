#!/usr/bin/env bash
# prometheus.sh starts a throwaway Prometheus server for sluice's verification tests.
#
#   eval "$(scripts/prometheus.sh start)"   # prints export SLUICE_TEST_PROMETHEUS_*=... lines
#   scripts/prometheus.sh stop [DIR]        # stops it (DIR defaults to $SLUICE_TEST_PROMETHEUS_DIR)
#
# On a fresh Debian machine it installs the prometheus package with apt-get when no
# prometheus binary is found (the package's own service is not used). The server
# listens on a free loopback port, keeps its data in a temp directory with a
# retention of 100 years, and holds:
#   - deterministic data backfilled with `promtool tsdb create-blocks-from
#     openmetrics`: series named sluice_test_* every 15 s for one hour from
#     1700000000 (2023-11-14T22:13:20Z), described in internal/verify/prometheus;
#   - whatever a test serves on $SLUICE_TEST_PROMETHEUS_EXPORTER (host:port), which
#     the server scrapes every second under job "sluice-test".
# "start" is idempotent: when the server recorded in the state file still answers,
# it prints the same exports again. It prints nothing but the exports on success;
# errors go to stderr.
set -euo pipefail

STATE_FILE="${SLUICE_TEST_PROMETHEUS_STATE:-${TMPDIR:-/tmp}/sluice-test-prometheus.env}"
BASE=1700000000

# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

# openmetrics writes the backfilled series: per slot a constant error ratio, a
# request counter growing by a fixed amount per sample, a latency that cycles
# through five values, and a series that is always NaN.
openmetrics() {
	awk -v base="$BASE" 'BEGIN {
		print "# TYPE sluice_test_error_ratio gauge"
		for (t = 0; t <= 3600; t += 15) {
			printf "sluice_test_error_ratio{slot=\"blue\"} 0.05 %d\n", base + t
			printf "sluice_test_error_ratio{slot=\"green\"} 0.01 %d\n", base + t
		}
		print "# TYPE sluice_test_requests counter"
		for (t = 0; t <= 3600; t += 15) {
			printf "sluice_test_requests_total{slot=\"blue\"} %d %d\n", t / 15 * 30, base + t
			printf "sluice_test_requests_total{slot=\"green\"} %d %d\n", t / 15 * 270, base + t
		}
		print "# TYPE sluice_test_latency_ms gauge"
		for (t = 0; t <= 3600; t += 15) {
			i = (t / 15) % 5
			printf "sluice_test_latency_ms{slot=\"blue\"} %d %d\n", 150 + 10 * i, base + t
			printf "sluice_test_latency_ms{slot=\"green\"} %d %d\n", 100 + 10 * i, base + t
		}
		print "# TYPE sluice_test_nan gauge"
		for (t = 0; t <= 3600; t += 15) {
			printf "sluice_test_nan NaN %d\n", base + t
		}
		print "# EOF"
	}'
}

print_exports() {
	# shellcheck disable=SC1090
	. "$1"
	echo "export SLUICE_TEST_PROMETHEUS_URL='http://127.0.0.1:$PORT'"
	echo "export SLUICE_TEST_PROMETHEUS_EXPORTER='127.0.0.1:$EXPORTER_PORT'"
	echo "export SLUICE_TEST_PROMETHEUS_DIR='$ROOT'"
}

ready() { # ready PORT: GET /-/ready answers 200 (bash's /dev/tcp, so curl is not needed)
	local line
	(
		exec 3<>"/dev/tcp/127.0.0.1/$1" || exit 1
		printf 'GET /-/ready HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n' >&3
		IFS= read -r -t 2 line <&3 || exit 1
		case "$line" in "HTTP/"*" 200"*) exit 0 ;; esac
		exit 1
	) 2>/dev/null
}

running() { # running STATE_FILE
	[ -f "$1" ] || return 1
	# shellcheck disable=SC1090
	. "$1"
	[ -d "$ROOT/data" ] || return 1
	kill -0 "$PID" 2>/dev/null && ready "$PORT"
}

launch() { # launch ROOT PORT: starts the server in the background, prints its pid
	prometheus --config.file="$1/prometheus.yml" --storage.tsdb.path="$1/data" \
		--storage.tsdb.retention.time=100y --web.listen-address="127.0.0.1:$2" \
		>"$1/server.log" 2>&1 </dev/null &
	echo $!
}

wait_ready() { # wait_ready PID PORT: up to 30 s, while the server lives
	for _ in $(seq 1 120); do
		ready "$2" && return 0
		kill -0 "$1" 2>/dev/null || return 1
		sleep 0.25
	done
	return 1
}

start() {
	if running "$STATE_FILE"; then
		print_exports "$STATE_FILE"
		return 0
	fi
	clean_stale ROOT # a server recorded earlier is gone: clean up after it
	command -v prometheus >/dev/null 2>&1 && command -v promtool >/dev/null 2>&1 || apt_install Prometheus prometheus
	local root port exporter
	root="$(mktemp -d "${TMPDIR:-/tmp}/sluice-prom.XXXXXX")"
	mkdir -p "$root/data"
	exporter="$(free_port)"
	openmetrics >"$root/backfill.om"
	promtool tsdb create-blocks-from openmetrics "$root/backfill.om" "$root/data" >"$root/backfill.log" 2>&1 ||
		{ cat "$root/backfill.log" >&2; rm -rf "$root"; die "backfill failed"; }
	cat >"$root/prometheus.yml" <<YAML
global:
  scrape_interval: 1s
  evaluation_interval: 1s
scrape_configs:
  - job_name: sluice-test
    static_configs:
      - targets: ['127.0.0.1:$exporter']
YAML
	local pid attempt
	for attempt in 1 2 3; do # a port taken between the check and the bind: try another
		port="$(free_port "$exporter")"
		pid="$(launch "$root" "$port")"
		wait_ready "$pid" "$port" && break
		grep -q "address already in use" "$root/server.log" && [ "$attempt" -lt 3 ] && continue
		kill "$pid" 2>/dev/null || true
		cat "$root/server.log" >&2
		rm -rf "$root"
		die "server did not become ready"
	done
	record "$root" 'ROOT=%s\nPORT=%s\nEXPORTER_PORT=%s\nPID=%s\n' "$root" "$port" "$exporter" "$pid"
}

stop() {
	local dir
	dir="$(stop_dir "${1:-${SLUICE_TEST_PROMETHEUS_DIR:-}}" ROOT)" || exit 1
	# shellcheck disable=SC1090
	. "$dir/state.env"
	# Only the recorded pid, and only when it is a prometheus using this dir.
	if kill -0 "$PID" 2>/dev/null && tr '\0' ' ' <"/proc/$PID/cmdline" 2>/dev/null | grep -q -- "--storage.tsdb.path=$dir/data"; then
		kill "$PID"
		for _ in $(seq 1 40); do kill -0 "$PID" 2>/dev/null || break; sleep 0.25; done
	fi
	forget_dir "$dir" ROOT
}

case "${1:-}" in
start) start ;;
stop) stop "${2:-}" ;;
*) die "usage: $0 start | stop [DIR]" ;;
esac
