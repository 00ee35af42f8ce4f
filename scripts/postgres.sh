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

# shellcheck source=scripts/lib.sh
. "$(dirname "$0")/lib.sh"

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
	clean_stale PGROOT # a server recorded earlier is gone: clean up after it
	local bindir root port
	bindir="$(find_bindir)" || { apt_install PostgreSQL postgresql; bindir="$(find_bindir)" || die "no PostgreSQL server binaries found after install"; }
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
	record "$root" 'BINDIR=%s\nPGROOT=%s\nPGPORT=%s\n' "$bindir" "$root" "$port"
}

stop() {
	local dir
	dir="$(stop_dir "${1:-${SLUICE_TEST_POSTGRES_DIR:-}}" PGROOT)" || exit 1
	# shellcheck disable=SC1090
	. "$dir/state.env"
	as_user "$BINDIR/pg_ctl" -D "$dir/data" -m fast -w stop >/dev/null 2>&1 || true
	forget_dir "$dir" PGROOT
}

case "${1:-}" in
start) start ;;
stop) stop "${2:-}" ;;
*) die "usage: $0 start | stop [DIR]" ;;
esac
