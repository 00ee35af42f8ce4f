#!/usr/bin/env bash
# Benchmark sluice's built-in proxy against nginx with the same 90/10 weighted
# split and upstream keep-alive. Each proxy is pinned to CPU 0; wrk and the two
# backends share CPU 1. Usage: bench/proxy/run.sh [duration] (default 10s).
set -euo pipefail

DUR=${1:-10s}
CONNS=${CONNS:-64}
ROOT=$(cd "$(dirname "$0")/../.." && pwd)
WORK=$(mktemp -d /tmp/sluice-bench.XXXXXX)
PIDS=()

cleanup() {
	for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	rm -rf "$WORK"
}
trap cleanup EXIT INT TERM

need() { command -v "$1" >/dev/null 2>&1; }
if ! need nginx || ! need wrk; then
	echo "installing nginx and wrk from Debian packages" >&2
	SUDO=""; [ "$(id -u)" -ne 0 ] && SUDO=sudo
	$SUDO apt-get update -qq
	$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx-light wrk ||
		$SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nginx wrk
fi
NGINX=$(command -v nginx || echo /usr/sbin/nginx)

echo "building backend and sluiceproxy" >&2
(cd "$ROOT" && go build -o "$WORK/backend" ./bench/proxy/backend && go build -o "$WORK/sluiceproxy" ./bench/proxy/sluiceproxy)

GREEN=127.0.0.1:19001
BLUE=127.0.0.1:19002
NGINX_ADDR=127.0.0.1:18080
SLUICE_ADDR=127.0.0.1:18081

taskset -c 1 "$WORK/backend" -listen "$GREEN" -name green & PIDS+=($!)
taskset -c 1 "$WORK/backend" -listen "$BLUE" -name blue & PIDS+=($!)

mkdir -p "$WORK/nginx/logs"
cat >"$WORK/nginx/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $WORK/nginx/nginx.pid;
error_log $WORK/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $WORK/nginx/body;
	proxy_temp_path $WORK/nginx/proxy;
	fastcgi_temp_path $WORK/nginx/fastcgi;
	uwsgi_temp_path $WORK/nginx/uwsgi;
	scgi_temp_path $WORK/nginx/scgi;
	upstream app {
		server $GREEN weight=90;
		server $BLUE weight=10;
		keepalive 128;
	}
	server {
		listen $NGINX_ADDR;
		location / {
			proxy_pass http://app;
			proxy_http_version 1.1;
			proxy_set_header Connection "";
		}
	}
}
CONF
taskset -c 0 "$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" & PIDS+=($!)
GOMAXPROCS=1 taskset -c 0 "$WORK/sluiceproxy" -listen "$SLUICE_ADDR" -green "$GREEN" -blue "$BLUE" -blue-weight 10 & PIDS+=($!)

wait_port() {
	for _ in $(seq 1 100); do
		curl -fsS -o /dev/null "http://$1/" && return 0
		sleep 0.1
	done
	echo "nothing answers on $1" >&2
	exit 1
}
for a in "$GREEN" "$BLUE" "$NGINX_ADDR" "$SLUICE_ADDR"; do wait_port "$a"; done

# to_ms converts a wrk latency ("812.00us", "1.52ms", "1.01s") to milliseconds.
to_ms() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
		else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
		else printf "nan" }'
}

run() { # name addr
	taskset -c 1 wrk -t1 -c"$CONNS" -d2s "http://$2/" >/dev/null # warm pools
	taskset -c 1 wrk -t1 -c"$CONNS" -d"$DUR" --latency "http://$2/" >"$WORK/$1.txt"
	local rps p50 p99 errs
	rps=$(awk '/^Requests\/sec/ {print $2}' "$WORK/$1.txt")
	p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$WORK/$1.txt")")
	p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$WORK/$1.txt")")
	errs=$(awk '/Non-2xx|Socket errors/ {print}' "$WORK/$1.txt" | tr '\n' ' ')
	printf '%s %s %s %s\n' "$rps" "$p50" "$p99" "${errs:-none}" >"$WORK/$1.res"
}

run nginx "$NGINX_ADDR"
run sluice "$SLUICE_ADDR"

read -r N_RPS N_P50 N_P99 N_ERR < <(cut -d' ' -f1-3 "$WORK/nginx.res"; true)
read -r S_RPS S_P50 S_P99 < <(cut -d' ' -f1-3 "$WORK/sluice.res"; true)
N_ERR=$(cut -d' ' -f4- "$WORK/nginx.res")
S_ERR=$(cut -d' ' -f4- "$WORK/sluice.res")

echo
echo "weighted 90/10 split, 1 KiB responses, wrk -t1 -c$CONNS -d$DUR, proxy on CPU 0, wrk+backends on CPU 1"
printf '%-8s %12s %10s %10s  %s\n' proxy "requests/s" "p50 ms" "p99 ms" errors
printf '%-8s %12s %10s %10s  %s\n' nginx "$N_RPS" "$N_P50" "$N_P99" "$N_ERR"
printf '%-8s %12s %10s %10s  %s\n' sluice "$S_RPS" "$S_P50" "$S_P99" "$S_ERR"
awk -v sr="$S_RPS" -v nr="$N_RPS" -v s50="$S_P50" -v n50="$N_P50" -v s99="$S_P99" -v n99="$N_P99" 'BEGIN {
	printf "sluice/nginx: throughput %.2fx, p50 %.2fx, p99 %.2fx\n", sr / nr, s50 / n50, s99 / n99 }'
