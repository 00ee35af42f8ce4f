# shellcheck shell=bash
# lib.sh holds what the throwaway-server scripts (postgres.sh, prometheus.sh,
# oidc.sh, kube.sh) share. They source it; it defines functions only. A script sets
# STATE_FILE, the file recording its running server, before calling those that use it.

die() { echo "$(basename "$0"): $*" >&2; exit 1; }

# apt_install NAME PACKAGE installs a server's Debian package, or dies saying why it
# cannot (not root, no apt-get).
apt_install() {
	[ "$(id -u)" -eq 0 ] || die "$1 is not installed and installing it needs root (apt-get install $2)"
	command -v apt-get >/dev/null 2>&1 || die "$1 is not installed and apt-get is not available"
	export DEBIAN_FRONTEND=noninteractive
	apt-get update -qq >/dev/null || die "apt-get update failed"
	apt-get install -y -qq --no-install-recommends "$2" >/dev/null || die "apt-get install $2 failed"
}

# free_port [EXCEPT...] prints a free loopback port below Linux's ephemeral range, so
# that other programs' outgoing connections are unlikely to take it before we bind;
# never one of EXCEPT (ports chosen earlier that nothing listens on yet).
free_port() {
	local p x
	for _ in $(seq 1 50); do
		p=$((20000 + RANDOM % 12000))
		for x in "$@"; do [ "$p" != "$x" ] || continue 2; done
		if ! (exec 3<>"/dev/tcp/127.0.0.1/$p") 2>/dev/null; then
			echo "$p"
			return 0
		fi
	done
	die "no free port found"
}

# clean_stale KEY cleans up after a server recorded in $STATE_FILE that is gone:
# stop on the directory recorded under KEY, or else forgetting the record.
clean_stale() {
	[ -f "$STATE_FILE" ] || return 0
	# shellcheck disable=SC1090
	(stop "$(. "$STATE_FILE"; eval "echo \"\$$1\"")") >/dev/null 2>&1 || rm -f "$STATE_FILE"
}

# record ROOT FORMAT ARGS... writes a started server's state (KEY=value lines, as
# printf FORMAT ARGS... writes them) into ROOT/state.env and $STATE_FILE, and prints
# its exports.
record() {
	local root="$1"
	shift
	# shellcheck disable=SC2059
	printf "$@" >"$root/state.env"
	cp "$root/state.env" "$STATE_FILE"
	print_exports "$STATE_FILE"
}

# stop_dir DIR KEY prints the directory of the server to stop: DIR, else the one
# recorded under KEY in $STATE_FILE; it dies when there is none, or when it is not a
# directory that start made.
stop_dir() {
	local dir="$1"
	if [ -z "$dir" ] && [ -f "$STATE_FILE" ]; then
		# shellcheck disable=SC1090
		dir="$(. "$STATE_FILE"; eval "echo \"\$$2\"")"
	fi
	[ -n "$dir" ] || die "stop: no data dir given and none recorded"
	[ -f "$dir/state.env" ] || die "stop: $dir is not a directory made by $(basename "$0") start"
	echo "$dir"
}

# forget_dir DIR KEY removes a stopped server's directory, and $STATE_FILE when it
# records that directory under KEY.
forget_dir() {
	if [ -f "$STATE_FILE" ] && grep -q "$2=$1\$" "$STATE_FILE"; then
		rm -f "$STATE_FILE"
	fi
	rm -rf "$1"
}
