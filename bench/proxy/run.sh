#!/usr/bin/env bash
# Benchmark sluice's built-in proxy against nginx with the same 90/10 weighted
# split and upstream keep-alive. Each proxy is pinned to CPU 0; wrk and the two
# backends share CPU 1. The proxies run side by side and are measured in
# alternating rounds: nginx, sluice (its HTTP/1.1 event loop), sluice-nc (the
# event loop without coalescing) and sluice-fh (the event loop off: the fasthttp
# path); the last two are the same binary with a flag, baselines of the same run.
# Each backend kind (BACKENDS: fasthttp, the repository's backend answering 1 KiB; static,
# nginx serving a 1 KiB file) is measured at each concurrency (CONNS).
# Usage: [ROUNDS=3] [CONNS="64 256"] [BACKENDS="fasthttp static"] [IDLE_WAIT=0] bench/proxy/run.sh [duration, default 10s]
set -euo pipefail

DUR=${1:-10s}
CONNS=${CONNS:-64 256}
BACKENDS=${BACKENDS:-fasthttp static}
ROUNDS=${ROUNDS:-3}
IDLE_WAIT=${IDLE_WAIT:-0} # seconds to wait for an idle machine before each round
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
SLUICEFH_ADDR=127.0.0.1:18082
SLUICENC_ADDR=127.0.0.1:18083
CLK_TCK=$(getconf CLK_TCK)

# start_backends starts the two backends of a kind on CPU 1 and records their pids.
BACKEND_PIDS=()
start_backends() { # kind
	case "$1" in
	fasthttp)
		taskset -c 1 "$WORK/backend" -listen "$GREEN" -name green & BACKEND_PIDS+=($!)
		taskset -c 1 "$WORK/backend" -listen "$BLUE" -name blue & BACKEND_PIDS+=($!)
		;;
	static)
		mkdir -p "$WORK/static/logs" "$WORK/static/www"
		head -c 1024 /dev/zero | tr '\0' x >"$WORK/static/www/index.html"
		cat >"$WORK/static/nginx.conf" <<CONF
daemon off;
master_process off;
worker_processes 1;
pid $WORK/static/nginx.pid;
error_log $WORK/static/logs/error.log warn;
events { worker_connections 4096; }
http {
	access_log off;
	client_body_temp_path $WORK/static/body;
	proxy_temp_path $WORK/static/proxy;
	fastcgi_temp_path $WORK/static/fastcgi;
	uwsgi_temp_path $WORK/static/uwsgi;
	scgi_temp_path $WORK/static/scgi;
	keepalive_requests 1000000;
	server { listen $GREEN; root $WORK/static/www; add_header X-Slot green; }
	server { listen $BLUE; root $WORK/static/www; add_header X-Slot blue; }
}
CONF
		taskset -c 1 "$NGINX" -p "$WORK/static" -c "$WORK/static/nginx.conf" & BACKEND_PIDS+=($!)
		;;
	*) echo "unknown backend kind $1 (use fasthttp or static)" >&2; exit 2 ;;
	esac
	PIDS+=("${BACKEND_PIDS[@]}")
	for a in "$GREEN" "$BLUE"; do wait_port "$a"; done
}
stop_backends() {
	for pid in "${BACKEND_PIDS[@]}"; do kill "$pid" 2>/dev/null || true; done
	for pid in "${BACKEND_PIDS[@]}"; do wait "$pid" 2>/dev/null || true; done
	BACKEND_PIDS=()
}

wait_port() {
	for _ in $(seq 1 100); do
		curl -fsS -o /dev/null "http://$1/" && return 0
		sleep 0.1
	done
	echo "nothing answers on $1" >&2
	exit 1
}

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
		keepalive 512; # at least the most connections measured (256), so nginx never closes one it will need again
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
taskset -c 0 "$NGINX" -p "$WORK/nginx" -c "$WORK/nginx/nginx.conf" & NGINX_PID=$!; PIDS+=($!)
GOMAXPROCS=1 taskset -c 0 "$WORK/sluiceproxy" -listen "$SLUICE_ADDR" -green "$GREEN" -blue "$BLUE" -blue-weight 10 & SLUICE_PID=$!; PIDS+=($!)
GOMAXPROCS=1 taskset -c 0 "$WORK/sluiceproxy" -listen "$SLUICEFH_ADDR" -green "$GREEN" -blue "$BLUE" -blue-weight 10 -no-event-loop & SLUICEFH_PID=$!; PIDS+=($!)
GOMAXPROCS=1 taskset -c 0 "$WORK/sluiceproxy" -listen "$SLUICENC_ADDR" -green "$GREEN" -blue "$BLUE" -blue-weight 10 -no-coalesce & SLUICENC_PID=$!; PIDS+=($!)

start_backends "${BACKENDS%% *}"
for a in "$NGINX_ADDR" "$SLUICE_ADDR" "$SLUICEFH_ADDR" "$SLUICENC_ADDR"; do wait_port "$a"; done

# to_ms converts a wrk latency ("812.00us", "1.52ms", "1.01s") to milliseconds.
to_ms() {
	awk -v v="$1" 'BEGIN {
		if (v ~ /us$/) { sub(/us$/, "", v); printf "%.3f", v / 1000 }
		else if (v ~ /ms$/) { sub(/ms$/, "", v); printf "%.3f", v }
		else if (v ~ /s$/) { sub(/s$/, "", v); printf "%.3f", v * 1000 }
		else printf "nan" }'
}

# wait_idle waits (at most IDLE_WAIT seconds) until the machine is at least 85%
# idle for 3 s in a row, so a round is not measured while neighbours load the CPUs.
wait_idle() {
	[ "$IDLE_WAIT" -gt 0 ] && command -v vmstat >/dev/null || return 0
	local end=$((SECONDS + IDLE_WAIT)) ok=0 idle
	while [ $SECONDS -lt $end ]; do
		idle=$(vmstat 1 2 | tail -1 | awk '{print $15}')
		if [ "$idle" -ge 85 ]; then ok=$((ok + 1)); else ok=0; fi
		[ $ok -ge 3 ] && return 0
	done
	echo "(the machine did not become idle within ${IDLE_WAIT}s; measuring anyway)" >&2
}

# cpu0 prints CPU 0's busy and total jiffies; proc_jiffies prints a process's.
cpu0() { awk '$1 == "cpu0" {print $2 + $3 + $4, $2 + $3 + $4 + $5 + $6 + $7 + $8}' /proc/stat; } # busy excludes (soft)irq time, which the kernel does not charge to the proxy
proc_jiffies() { awk '{print $14 + $15}' "/proc/$1/stat"; }
# proc_split prints a process's user and kernel jiffies; proc_sleeps the times its
# threads went to sleep (voluntary context switches), each a wake-up to pay for.
proc_split() { awk '{print $14, $15}' "/proc/$1/stat"; }
proc_sleeps() { cat /proc/"$1"/task/*/status 2>/dev/null | awk '/^voluntary_ctxt_switches/ {n += $2} END {print n + 0}'; }

run() { # name addr round pid
	wait_idle
	taskset -c 1 wrk -t1 -c"$CONN" -d2s "http://$2/" >/dev/null # warm the pools
	local b0 t0 p0 b1 t1 p1 w0 w1 u0 k0 u1 k1 z0 z1
	read -r b0 t0 < <(cpu0); p0=$(proc_jiffies "$4"); w0=$(date +%s.%N)
	read -r u0 k0 < <(proc_split "$4"); z0=$(proc_sleeps "$4")
	taskset -c 1 wrk -t1 -c"$CONN" -d"$DUR" --latency "http://$2/" >"$WORK/$1.$3.txt"
	read -r b1 t1 < <(cpu0); p1=$(proc_jiffies "$4"); w1=$(date +%s.%N)
	read -r u1 k1 < <(proc_split "$4"); z1=$(proc_sleeps "$4")
	# Share of CPU 0 used by anything but the proxy under test during the round.
	local others
	others=$(awk -v b=$((b1 - b0)) -v t=$((t1 - t0)) -v p=$((p1 - p0)) 'BEGIN {
		o = (b - p) / (t > 0 ? t : 1) * 100; printf "%.0f", (o < 0 ? 0 : o) }')
	local rps p50 p99 errs reqs cpu percpu
	rps=$(awk '/^Requests\/sec/ {print $2}' "$WORK/$1.$3.txt")
	reqs=$(awk '/requests in/ {print $1}' "$WORK/$1.$3.txt")
	p50=$(to_ms "$(awk '$1 == "50%" {print $2}' "$WORK/$1.$3.txt")")
	p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$WORK/$1.$3.txt")")
	errs=$(awk '/Non-2xx|Socket errors/ {printf "%s ", $0}' "$WORK/$1.$3.txt")
	# The proxy's own CPU: its share of CPU 0, and requests per CPU-second, which is
	# what one core would serve if the proxy, not wrk and the backends, were the
	# bottleneck.
	read -r cpu percpu < <(awk -v j=$((p1 - p0)) -v hz="$CLK_TCK" -v w0="$w0" -v w1="$w1" -v n="$reqs" 'BEGIN {
		s = j / hz; printf "%.0f %.0f\n", s / (w1 - w0) * 100, (s > 0 ? n / s : 0) }')
	# Where a request's CPU goes: microseconds of user and kernel time, and sleeps.
	local usr sys sleeps
	read -r usr sys sleeps < <(awk -v u=$((u1 - u0)) -v k=$((k1 - k0)) -v z=$((z1 - z0)) -v hz="$CLK_TCK" -v n="$reqs" 'BEGIN {
		n = (n > 0 ? n : 1); printf "%.1f %.1f %.2f\n", u / hz / n * 1e6, k / hz / n * 1e6, z / n }')
	printf '%-9s %5s %12s %10s %10s %6s%% %11s %8s%% %6s %6s %6s  %s\n' "$1" "$3" "$rps" "$p50" "$p99" "$cpu" "$percpu" "$others" "$usr" "$sys" "$sleeps" "${errs:-none}" | tee -a "$RESULTS"
}

# measure runs ROUNDS alternating rounds of the proxies and prints the cleanest
# rounds and the ratios for one backend kind and concurrency.
measure() { # kind
	RESULTS="$WORK/results.$1.$CONN"
	echo
	echo "backends: $1; weighted 90/10 split, 1 KiB responses, wrk -t1 -c$CONN -d$DUR --latency;"
	echo "proxy on CPU 0 (sluice with GOMAXPROCS=1, nginx with 1 worker); wrk and backends on CPU 1"
	printf '%-9s %5s %12s %10s %10s %7s %11s %9s %6s %6s %6s  %s\n' proxy round "requests/s" "p50 ms" "p99 ms" "cpu" "req/cpu-s" "others" "usr-us" "sys-us" sleeps errors
	# Rotate the order each round so a neighbour's load hits all alike.
	local order=(nginx sluice sluice-nc sluice-fh)
	for r in $(seq 1 "$ROUNDS"); do
		for name in "${order[@]}"; do
			case $name in
			nginx) run nginx "$NGINX_ADDR" "$r" "$NGINX_PID" ;;
			sluice) run sluice "$SLUICE_ADDR" "$r" "$SLUICE_PID" ;;
			sluice-nc) run sluice-nc "$SLUICENC_ADDR" "$r" "$SLUICENC_PID" ;;
			sluice-fh) run sluice-fh "$SLUICEFH_ADDR" "$r" "$SLUICEFH_PID" ;;
			esac
		done
		order=("${order[@]:1}" "${order[0]}")
	done
	echo "(cpu: the proxy's own share of CPU 0; req/cpu-s: requests per second of the proxy's CPU time;"
	echo " others: share of CPU 0 used by other processes during the round, it should be near 0;"
	echo " usr-us, sys-us: the proxy's user and kernel CPU per request in microseconds; sleeps: its"
	echo " threads' voluntary context switches per request, each a wake-up paid for)"
	local n s c f
	n=$(summary nginx); s=$(summary sluice); c=$(summary sluice-nc); f=$(summary sluice-fh)
	echo "cleanest rounds (requests/s p50 p99 req/cpu-s others): nginx $n; sluice $s; sluice-nc $c; sluice-fh $f"
	awk -v k="$1" -v c="$CONN" -v n="$n" -v s="$s" -v nc="$c" -v f="$f" 'BEGIN {
		split(n, N, " "); split(s, S, " "); split(nc, C, " "); split(f, F, " ")
		printf "%-8s %5s %10.2fx %9.2fx %8.2fx %8.2fx %11.2fx %11.2fx\n", k, c, S[1] / N[1], S[4] / N[4], S[2] / N[2], S[3] / N[3], C[4] / N[4], F[4] / N[4] }' >>"$WORK/ratios"
	tail -1 "$WORK/ratios" | awk '{printf "sluice/nginx: throughput %s, per CPU-second %s, p50 %s, p99 %s; without coalescing per CPU-second %s, fasthttp path %s of nginx\n", $3, $4, $5, $6, $7, $8}'
	rounds
}

# rounds prints sluice's per CPU-second and p99 against nginx's round by round:
# the claim is for every round, not only the cleanest.
rounds() {
	awk '$1 == "nginx" {cpu[$2] = $7; p99[$2] = $5} $1 == "sluice" {scpu[$2] = $7; sp99[$2] = $5}
		END {printf "round by round, sluice/nginx per CPU-second (p99 sluice/nginx ms):"
			for (r = 1; r in cpu; r++) printf " %.2fx (%s/%s)", scpu[r] / cpu[r], sp99[r], p99[r]
			print ""}' "$RESULTS"
}

# summary: a proxy's cleanest round of the current set, the one in which other
# processes used the least of CPU 0 (ties: the faster one).
summary() { # name -> "rps p50 p99 req/cpu-s others"
	grep "^$1 " "$RESULTS" | tr -d '%' | sort -k8,8n -k3,3nr | awk 'NR == 1 {print $3, $4, $5, $7, $8}'
}

first=1
for kind in $BACKENDS; do
	[ $first -eq 1 ] || { stop_backends; start_backends "$kind"; }
	first=0
	for CONN in $CONNS; do measure "$kind"; done
done

echo
echo "sluice/nginx, cleanest round of each set (throughput and per CPU-second above 1 is better; latency below 1;"
echo "no-coalesce, fasthttp: the event loop without coalescing and the general HTTP/1.1 path, requests per"
echo "CPU-second against nginx's):"
printf '%-8s %5s %11s %10s %9s %9s %12s %12s\n' backend conns throughput "per-cpu-s" p50 p99 no-coalesce fasthttp
cat "$WORK/ratios"
