#!/usr/bin/env bash
# postgres.sh starts a throwaway PostgreSQL server for sluice's tests.
#
#   eval "$(scripts/postgres.sh start)"   # prints export SLUICE_TEST_POSTGRES_DSN=... lines
#   scripts/postgres.sh stop [DIR]        # stops it (DIR defaults to $SLUICE_TEST_POSTGRES_DIR)
#
# On a fresh Debian machine it installs the postgresql package with apt-get when no
# server binary is found. The server runs as the postgres user (initdb refuses root)
# with fsync on, listens on a free localhost port, and keeps its data in a temp
# directory. "start" is idempotent: when the server recorded in $SLUICE_TEST_POSTGRES_DIR
# (or the default state dir) still answers, it prints the same exports again.
# It prints nothing but the exports on success; errors go to stderr.
set -euo pipefail

STATE_FILE="${SLUICE_TEST_POSTGRES_STATE:-${TMPDIR:-/tmp}/sluice-test-postgres.env}"
DB_NAME=sluice_test
RUN_USER=postgres

die() { echo "postgres.sh: $*" >&2; exit 1; }

as_user() {
	if [ "$(id -u)" -eq 0 ]; then
		runuser -u "$RUN_USER" -- "$@"
	else
		"$@"
	fi
}

find_bindir() {
	local d
	for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
		if [ -x "$d/postgres" ] && [ -x "$d/initdb" ] && [ -x "$d/pg_ctl" ]; then
			echo "$d"
			return 0
		fi
	done
	if command -v pg_ctl >/dev/null 2>&1 && command -v initdb >/dev/null 2>&1; then
		dirname "$(readlink -f "$(command -v pg_ctl)")"
		return 0
	fi
	return 1
}

install_server() {
	[ "$(id -u)" -eq 0 ] || die "PostgreSQL is not installed and installing it needs root (apt-get install postgresql)"
	command -v apt-get >/dev/null 2>&1 || die "PostgreSQL is not installed and apt-get is not available"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null || die "apt-get update failed"
	apt-get install -y -qq --no-install-recommends postgresql >/dev/null || die "apt-get install postgresql failed"
}

free_port() {
	local p
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 20000))
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	die "no free port found"
}

print_exports() {
	# shellcheck disable=SC1090
	. "$1"
	echo "export SLUICE_TEST_POSTGRES_DSN='postgres://$RUN_USER@127.0.0.1:$PGPORT/$DB_NAME?sslmode=disable'"
	echo "export SLUICE_TEST_POSTGRES_DIR='$PGROOT'"
}

running() { # running STATE_FILE
	[ -f "$1" ] || return 1
	# shellcheck disable=SC1090
	. "$1"
	[ -d "$PGROOT/data" ] || return 1
	"$BINDIR/pg_isready" -q -h 127.0.0.1 -p "$PGPORT" -d "$DB_NAME" -U "$RUN_USER" 2>/dev/null
}

start() {
	if running "$STATE_FILE"; then
		print_exports "$STATE_FILE"
		return 0
	fi
	if [ -f "$STATE_FILE" ]; then # a server recorded earlier is gone: clean up after it
		(stop "$(. "$STATE_FILE"; echo "$PGROOT")") >/dev/null 2>&1 || rm -f "$STATE_FILE"
	fi
	local bindir root port
	bindir="$(find_bindir)" || { install_server; bindir="$(find_bindir)" || die "no PostgreSQL server binaries found after install"; }
	if [ "$(id -u)" -eq 0 ]; then
		id "$RUN_USER" >/dev/null 2>&1 || die "user $RUN_USER does not exist (it comes with the postgresql package)"
	fi
	root="$(mktemp -d "${TMPDIR:-/tmp}/sluice-pg.XXXXXX")"
	chmod 755 "$root"
	mkdir -p "$root/data" "$root/run"
	[ "$(id -u)" -ne 0 ] || chown -R "$RUN_USER": "$root"
	port="$(free_port)"
	as_user "$bindir/initdb" -D "$root/data" -U "$RUN_USER" --auth=trust -E UTF8 --locale=C.UTF-8 >"$root/initdb.log" 2>&1 ||
		{ cat "$root/initdb.log" >&2; die "initdb failed"; }
	as_user "$bindir/pg_ctl" -D "$root/data" -l "$root/server.log" -w -t 60 -o \
		"-c listen_addresses=127.0.0.1 -p $port -k $root/run -c fsync=on -c synchronous_commit=on -c max_connections=200" \
		start >/dev/null 2>&1 || { cat "$root/server.log" >&2; die "server did not start"; }
	for _ in $(seq 1 60); do
		"$bindir/pg_isready" -q -h 127.0.0.1 -p "$port" -U "$RUN_USER" && break
		sleep 0.5
	done
	as_user "$bindir/createdb" -h 127.0.0.1 -p "$port" -U "$RUN_USER" "$DB_NAME" || die "createdb failed"
	printf 'BINDIR=%s\nPGROOT=%s\nPGPORT=%s\n' "$bindir" "$root" "$port" >"$root/state.env"
	cp "$root/state.env" "$STATE_FILE"
	print_exports "$STATE_FILE"
}

stop() {
	local dir="${1:-${SLUICE_TEST_POSTGRES_DIR:-}}" state
	if [ -z "$dir" ] && [ -f "$STATE_FILE" ]; then
		# shellcheck disable=SC1090
		dir="$(. "$STATE_FILE"; echo "$PGROOT")"
	fi
	[ -n "$dir" ] || die "stop: no data dir given and none recorded"
	state="$dir/state.env"
	[ -f "$state" ] || die "stop: $dir is not a directory made by postgres.sh start"
	# shellcheck disable=SC1090
	. "$state"
	as_user "$BINDIR/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
	if [ -f "$STATE_FILE" ] && grep -q "PGROOT=$dir\$" "$STATE_FILE"; then
		rm -f "$STATE_FILE"
	fi
	rm -rf "$dir"
}

case "${1:-}" in
start) start ;;
stop) stop "${2:-}" ;;
*) die "usage: $0 start | stop [DIR]" ;;
esac
