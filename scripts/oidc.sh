#!/usr/bin/env bash
# oidc.sh starts a real OpenID Connect provider for sluice's single sign-on tests: the
# certified OP of github.com/zitadel/oidc/v3 (pkg/op), built from tools/oidc once into
# ${SLUICE_OIDC_BIN:-~/.cache/sluice/oidc-bin} (Dex is not served by the Go module
# proxy past v2.13, which predates Go modules).
#
#   eval "$(scripts/oidc.sh start)"   # prints export SLUICE_TEST_OIDC_...=... lines
#   scripts/oidc.sh stop              # stops it
#
# It serves discovery, JWKS, the authorization-code flow with PKCE and a login form on
# a free 127.0.0.1 port, with two clients and test users (password in
# SLUICE_TEST_OIDC_PASSWORD):
#   client sluice (secret in SLUICE_TEST_OIDC_CLIENT_SECRET), redirect
#     http://127.0.0.1:*/api/v1/oidc/callback; client other, for wrong-audience tokens
#   vera  (vera@example.com)  groups sluice-viewers
#   dora  (dora@example.com)  groups sluice-deployers, staff
#   abe   (abe@example.com)   groups sluice-approvers
#   nora  (nora@example.com)  no groups
# "start" is idempotent: when the provider recorded in the state file still answers,
# it prints the same exports again. Errors go to stderr.
set -euo pipefail

ROOT="$(cd "$(dirname "$0")/.." && pwd)"
TOOLS="$ROOT/tools/oidc"
BIN="${SLUICE_OIDC_BIN:-${XDG_CACHE_HOME:-$HOME/.cache}/sluice/oidc-bin}"
STATE_FILE="${SLUICE_TEST_OIDC_STATE:-${TMPDIR:-/tmp}/sluice-test-oidc.env}"
PASSWORD=sluice-test-password

# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

stamp() {
	{
		go version
		cat "$TOOLS/go.mod" "$TOOLS/go.sum" "$TOOLS"/*.go
	} | sha256sum | cut -d' ' -f1
}

build() {
	command -v go >/dev/null || die "Go is required (https://go.dev/dl)"
	local want
	want="$(stamp)"
	if [ -x "$BIN/sluice-oidc-provider" ] && [ -f "$BIN/stamp" ] && [ "$(cat "$BIN/stamp")" = "$want" ]; then
		return 0
	fi
	mkdir -p "$BIN"
	rm -f "$BIN/stamp"
	(cd "$TOOLS" && go build -o "$BIN/sluice-oidc-provider" .) >"$BIN/build.log" 2>&1 ||
		{ cat "$BIN/build.log" >&2; die "building tools/oidc failed"; }
	echo "$want" >"$BIN/stamp"
}

print_exports() {
	# shellcheck disable=SC1090
	. "$1"
	echo "export SLUICE_TEST_OIDC_ISSUER='http://127.0.0.1:$PORT'"
	echo "export SLUICE_TEST_OIDC_CLIENT_ID='sluice'"
	echo "export SLUICE_TEST_OIDC_CLIENT_SECRET='$SECRET'"
	echo "export SLUICE_TEST_OIDC_PASSWORD='$PASSWORD'"
	echo "export SLUICE_TEST_OIDC_DIR='$DIR'"
}

answers() { # answers PORT: the discovery document answers 200 (bash's /dev/tcp, no curl needed)
	local status
	status="$(timeout 3 bash -c 'exec 3<>"/dev/tcp/127.0.0.1/$1" &&
		printf "GET /.well-known/openid-configuration HTTP/1.0\r\nHost: 127.0.0.1:%s\r\n\r\n" "$1" >&3 &&
		head -n 1 <&3' _ "$1" 2>/dev/null)" || return 1
	[[ "$status" == *" 200 "* ]]
}

running() {
	[ -f "$STATE_FILE" ] || return 1
	# shellcheck disable=SC1090
	. "$STATE_FILE"
	[ "${STAMP:-}" = "$(stamp)" ] && kill -0 "$PID" 2>/dev/null && answers "$PORT"
}

write_config() { # write_config FILE SECRET
	cat >"$1" <<JSON
{"clients": [
  {"id": "sluice", "secret": "$2", "redirectGlobs": ["http://127.0.0.1:*/api/v1/oidc/callback", "http://localhost:*/api/v1/oidc/callback"]},
  {"id": "other", "secret": "$2-other", "redirectGlobs": ["http://127.0.0.1:*/callback"]}
 ],
 "users": [
  {"id": "u-vera", "username": "vera", "password": "$PASSWORD", "email": "vera@example.com", "groups": ["sluice-viewers"]},
  {"id": "u-dora", "username": "dora", "password": "$PASSWORD", "email": "dora@example.com", "groups": ["sluice-deployers", "staff"]},
  {"id": "u-abe", "username": "abe", "password": "$PASSWORD", "email": "abe@example.com", "groups": ["sluice-approvers"]},
  {"id": "u-nora", "username": "nora", "password": "$PASSWORD", "email": "nora@example.com", "groups": []}
 ]}
JSON
}

start() {
	build
	if running; then
		print_exports "$STATE_FILE"
		return 0
	fi
	[ ! -f "$STATE_FILE" ] || stop >/dev/null 2>&1 || true
	local dir port secret pid
	dir="$(mktemp -d "${TMPDIR:-/tmp}/sluice-oidc.XXXXXX")"
	port="$(free_port)"
	secret="$(head -c 24 /dev/urandom | base64 | tr -d '/+=')"
	write_config "$dir/provider.json" "$secret"
	setsid "$BIN/sluice-oidc-provider" -addr "127.0.0.1:$port" -config "$dir/provider.json" >"$dir/provider.log" 2>&1 </dev/null &
	pid=$!
	for _ in $(seq 1 100); do
		answers "$port" && break
		kill -0 "$pid" 2>/dev/null || { cat "$dir/provider.log" >&2; die "the provider exited"; }
		sleep 0.2
	done
	answers "$port" || { cat "$dir/provider.log" >&2; die "the provider does not answer on port $port"; }
	printf 'PID=%s\nPORT=%s\nSECRET=%s\nDIR=%s\nSTAMP=%s\n' "$pid" "$port" "$secret" "$dir" "$(stamp)" >"$STATE_FILE"
	chmod 600 "$STATE_FILE"
	print_exports "$STATE_FILE"
}

stop() {
	[ -f "$STATE_FILE" ] || return 0
	# shellcheck disable=SC1090
	. "$STATE_FILE"
	kill "$PID" 2>/dev/null || true
	rm -rf "$DIR" "$STATE_FILE"
}

case "${1:-}" in
start) start ;;
stop) stop ;;
*) die "usage: $0 start | stop" ;;
esac
