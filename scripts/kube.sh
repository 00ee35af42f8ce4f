#!/usr/bin/env bash
# kube.sh runs a throwaway Kubernetes control plane for sluice's Kubernetes tests:
# etcd, kube-apiserver, kube-controller-manager and kube-scheduler built from the
# Kubernetes Go modules (tools/kube), kwok simulating a few nodes whose pods become
# Ready, the real Istio and Gateway API CRDs, so the API server validates every
# object sluice writes, and prometheus-operator's ServiceMonitor CRD (for the chart's
# optional ServiceMonitor).
#
#   eval "$(scripts/kube.sh start)"   # prints export SLUICE_TEST_KUBECONFIG=... lines
#   scripts/kube.sh stop [DIR]        # stops it (DIR defaults to $SLUICE_TEST_KUBE_DIR)
#   scripts/kube.sh build             # only builds the binaries
#
# The binaries are built once into ${SLUICE_KUBE_BIN:-~/.cache/sluice/kube-bin} and
# rebuilt only when tools/kube changes (a cold build takes several minutes and a few
# GB of build cache). Everything listens on 127.0.0.1 only; etcd keeps its data in
# /dev/shm when it exists. "start" is idempotent: when the control plane recorded in
# the state file still answers, it prints the same exports again. It prints nothing
# but the exports on success; errors, with the failing component's log, go to stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS="$ROOT/tools/kube"
BIN="${SLUICE_KUBE_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice/kube-bin}"
STATE_FILE="${SLUICE_TEST_KUBE_STATE:-${TMPDIR:-/tmp}/sluice-test-kube.env}"
K8S_VERSION=v1.37.2
KWOK_VERSION=v0.8.0
ISTIO_API_VERSION=v1.32.0
GATEWAY_API_VERSION=v1.6.3
PROMETHEUS_OPERATOR_VERSION=v0.85.0
NODES=3

# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh" # die, free_port, clean_stale

stamp() {
	{
		echo "$K8S_VERSION $KWOK_VERSION $(go version)"
		cat "$TOOLS/go.mod" "$TOOLS/go.sum"
		find "$TOOLS/cmd" -type f -name '*.go' | sort | xargs cat
	} | sha256sum | cut -d' ' -f1
}

build() {
	command -v go >/dev/null || die "Go is required (https://go.dev/dl)"
	local want
	want="$(stamp)"
	if [ -f "$BIN/stamp" ] && [ "$(cat "$BIN/stamp")" = "$want" ]; then
		return 0
	fi
	mkdir -p "$BIN"
	rm -f "$BIN/stamp"
	echo "kube.sh: building etcd, kube-apiserver, kube-controller-manager, kube-scheduler and kwok into $BIN (once; about 10 minutes on 2 cores with an empty Go build cache)" >&2
	local ver="k8s.io/component-base/version"
	local ldflags="-s -w -X $ver.gitVersion=$K8S_VERSION -X $ver.gitMajor=1 -X $ver.gitMinor=37 -X $ver.gitTreeState=clean"
	(cd "$TOOLS" && go build -ldflags "$ldflags" -o "$BIN/" \
		k8s.io/kubernetes/cmd/kube-apiserver k8s.io/kubernetes/cmd/kube-controller-manager \
		k8s.io/kubernetes/cmd/kube-scheduler ./cmd/kubetool) >"$BIN/build.log" 2>&1 ||
		{ cat "$BIN/build.log" >&2; die "building the Kubernetes binaries failed"; }
	(cd "$TOOLS" && go build -ldflags "-s -w" -o "$BIN/etcd" go.etcd.io/etcd/server/v3) >"$BIN/build.log" 2>&1 ||
		{ cat "$BIN/build.log" >&2; die "building etcd failed"; }
	(cd "$TOOLS" && GOBIN="$BIN" GOFLAGS= go install -ldflags "-s -w" "sigs.k8s.io/kwok/cmd/kwok@$KWOK_VERSION") >"$BIN/build.log" 2>&1 ||
		{ cat "$BIN/build.log" >&2; die "building kwok failed"; }
	echo "$want" >"$BIN/stamp"
}

# module_dir prints where a module version is in the module cache, downloading it
# through the Go module proxy when needed.
module_dir() {
	(cd "$TOOLS" && go mod download -json "$1" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')
}

# kwok_stages writes kwok's own node and pod stages, with pod-ready told to skip pods
# of registry.invalid images, followed by sluice's image-pull-error stage.
kwok_stages() {
	local dir="$1/kustomize/stage" out="$2" skip
	skip="    - key: '.spec.containers.[] | select( .image | startswith(\"registry.invalid/\") ) | .name'\n      operator: 'DoesNotExist'"
	{
		cat "$dir/node/fast/node-initialize.yaml"
		echo "---"
		cat "$dir/node/heartbeat-with-lease/node-heartbeat-with-lease.yaml"
		echo "---"
		sed "/^  selector:/,/^    matchExpressions:/{/^    matchExpressions:/a\\
$skip
}" "$dir/pod/fast/pod-ready.yaml"
		echo "---"
		cat "$dir/pod/fast/pod-complete.yaml"
		echo "---"
		cat "$dir/pod/fast/pod-delete.yaml"
		echo "---"
		cat "$TOOLS/kwok/pod-image-pull-error.yaml"
	} >"$out"
	grep -q 'registry.invalid' "$out" || die "could not adapt kwok's pod-ready stage"
}

# launch NAME CMD... starts a component in the background with its log in $root.
launch() {
	local name="$1"
	shift
	setsid "$@" >"$root/$name.log" 2>&1 </dev/null &
	echo "$name $!" >>"$root/pids"
}

# check NAME fails with the component's log when it has exited.
check() {
	local pid
	pid="$(awk -v n="$1" '$1 == n {print $2}' "$root/pids")"
	kill -0 "$pid" 2>/dev/null && return 0
	tail -n 30 "$root/$1.log" >&2
	return 1
}

fail() {
	local name
	for name in etcd kube-apiserver kube-controller-manager kube-scheduler kwok; do
		[ -f "$root/$name.log" ] || continue
		check "$name" 2>/dev/null || { echo "--- $name exited; last lines of its log:" >&2; tail -n 30 "$root/$name.log" >&2; }
	done
	stop "$root" >/dev/null 2>&1 || true
	die "$*"
}

print_exports() {
	# shellcheck disable=SC1090
	. "$1"
	echo "export SLUICE_TEST_KUBECONFIG='$KROOT/kubeconfig'"
	echo "export SLUICE_TEST_KUBE_DIR='$KROOT'"
}

running() { # running STATE_FILE
	[ -f "$1" ] || return 1
	# shellcheck disable=SC1090
	. "$1"
	[ -f "$KROOT/kubeconfig" ] || return 1
	"$BIN/kubetool" wait "$KROOT/kubeconfig" 3s >/dev/null 2>&1
}

start() {
	build
	if running "$STATE_FILE"; then
		print_exports "$STATE_FILE"
		return 0
	fi
	clean_stale KROOT # a control plane recorded earlier is gone: clean up after it
	local base=/dev/shm etcd_port peer_port api_port istio gwapi promop kwok_dir
	# etcd preallocates 64 MB WAL segments: use /dev/shm only when it has room (a
	# container's default /dev/shm is 64 MB).
	if ! [ -d "$base" ] || ! [ -w "$base" ] || [ "$(df -Pm "$base" | awk 'NR == 2 {print $4}')" -lt 1024 ]; then
		base="${TMPDIR:-/tmp}"
	fi
	root="$(mktemp -d "$base/sluice-kube.XXXXXX")"
	: >"$root/pids"
	etcd_port="$(free_port)"
	peer_port="$(free_port "$etcd_port")"
	api_port="$(free_port "$etcd_port" "$peer_port")"
	"$BIN/kubetool" certs "$root" "$api_port" || fail "making certificates failed"
	kwok_dir="$(module_dir "sigs.k8s.io/kwok@$KWOK_VERSION")" && [ -d "$kwok_dir" ] || fail "kwok $KWOK_VERSION not in the module cache"
	istio="$(module_dir "istio.io/api@$ISTIO_API_VERSION")" && [ -d "$istio" ] || fail "istio.io/api $ISTIO_API_VERSION not in the module cache"
	gwapi="$(module_dir "sigs.k8s.io/gateway-api@$GATEWAY_API_VERSION")" && [ -d "$gwapi" ] || fail "gateway-api $GATEWAY_API_VERSION not in the module cache"
	promop="$(module_dir "github.com/prometheus-operator/prometheus-operator@$PROMETHEUS_OPERATOR_VERSION")" && [ -d "$promop" ] ||
		fail "prometheus-operator $PROMETHEUS_OPERATOR_VERSION not in the module cache"
	kwok_stages "$kwok_dir" "$root/kwok.yaml"

	launch etcd "$BIN/etcd" --name default --data-dir "$root/etcd" --unsafe-no-fsync --log-level error \
		--listen-client-urls "http://127.0.0.1:$etcd_port" --advertise-client-urls "http://127.0.0.1:$etcd_port" \
		--listen-peer-urls "http://127.0.0.1:$peer_port" --initial-advertise-peer-urls "http://127.0.0.1:$peer_port" \
		--initial-cluster "default=http://127.0.0.1:$peer_port"
	launch kube-apiserver "$BIN/kube-apiserver" --etcd-servers "http://127.0.0.1:$etcd_port" \
		--bind-address 127.0.0.1 --advertise-address 127.0.0.1 --secure-port "$api_port" \
		--endpoint-reconciler-type none --service-cluster-ip-range 10.96.0.0/16 \
		--tls-cert-file "$root/apiserver.crt" --tls-private-key-file "$root/apiserver.key" \
		--client-ca-file "$root/ca.crt" --authorization-mode RBAC \
		--service-account-issuer https://kubernetes.default.svc --service-account-key-file "$root/sa.pub" \
		--service-account-signing-key-file "$root/sa.key" --enable-priority-and-fairness=false \
		--profiling=false --v 0
	"$BIN/kubetool" wait "$root/kubeconfig" 90s >"$root/wait.log" 2>&1 || { cat "$root/wait.log" >&2; fail "the API server did not become ready"; }
	launch kube-controller-manager "$BIN/kube-controller-manager" --kubeconfig "$root/kubeconfig" \
		--leader-elect=false --secure-port 0 --service-account-private-key-file "$root/sa.key" \
		--root-ca-file "$root/ca.crt" --use-service-account-credentials=false --profiling=false \
		--horizontal-pod-autoscaler-sync-period 1s
	launch kube-scheduler "$BIN/kube-scheduler" --kubeconfig "$root/kubeconfig" --leader-elect=false \
		--secure-port 0 --profiling=false
	launch kwok "$BIN/kwok" --kubeconfig "$root/kubeconfig" --config "$root/kwok.yaml" --manage-all-nodes=true \
		--node-lease-duration-seconds 40 --cidr 10.244.0.1/16 --node-ip 127.0.0.1
	"$BIN/kubetool" apply "$root/kubeconfig" 60s "$istio/kubernetes/customresourcedefinitions.gen.yaml" \
		"$gwapi"/config/crd/standard/gateway.networking.k8s.io_*.yaml \
		"$promop/example/prometheus-operator-crd/monitoring.coreos.com_servicemonitors.yaml" >"$root/apply.log" 2>&1 ||
		{ cat "$root/apply.log" >&2; fail "installing the Istio, Gateway API and ServiceMonitor CRDs failed"; }
	for name in kube-controller-manager kube-scheduler kwok; do # a bad flag shows by now
		check "$name" 2>/dev/null || fail "$name exited"
	done
	"$BIN/kubetool" wait "$root/kubeconfig" 60s sa >"$root/wait.log" 2>&1 || { cat "$root/wait.log" >&2; fail "the default service account did not appear (is kube-controller-manager running?)"; }
	"$BIN/kubetool" nodes "$root/kubeconfig" "$NODES" 60s >"$root/nodes.log" 2>&1 || { cat "$root/nodes.log" >&2; fail "the kwok nodes did not become Ready"; }
	for name in etcd kube-apiserver kube-controller-manager kube-scheduler kwok; do
		check "$name" || fail "$name exited"
	done
	printf 'KROOT=%s\n' "$root" >"$root/state.env"
	cp "$root/state.env" "$STATE_FILE"
	print_exports "$STATE_FILE"
}

stop() {
	local dir="${1:-${SLUICE_TEST_KUBE_DIR:-}}" name pid
	if [ -z "$dir" ] && [ -f "$STATE_FILE" ]; then
		# shellcheck disable=SC1090
		dir="$(. "$STATE_FILE"; echo "$KROOT")"
	fi
	[ -n "$dir" ] || die "stop: no directory given and none recorded"
	[ -f "$dir/pids" ] || die "stop: $dir is not a directory made by kube.sh start"
	# Stop in reverse order of start: clients first, etcd last.
	tac "$dir/pids" | while read -r name pid; do
		kill -TERM "$pid" 2>/dev/null || continue
		for _ in $(seq 1 50); do
			kill -0 "$pid" 2>/dev/null || break
			sleep 0.1
		done
		kill -KILL "$pid" 2>/dev/null || true
	done
	if [ -f "$STATE_FILE" ] && grep -q "KROOT=$dir\$" "$STATE_FILE"; then
		rm -f "$STATE_FILE"
	fi
	rm -rf "$dir"
}

case "${1:-}" in
start) start ;;
stop) stop "${2:-}" ;;
build) build ;;
*) die "usage: $0 start | stop [DIR] | build" ;;
esac
