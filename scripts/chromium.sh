#!/bin/sh
# Installs headless Chromium (Debian package `chromium`) for the web UI's browser tests
# when it is missing, and prints the line that points the tests at it:
#
#   eval "$(scripts/chromium.sh)"
#
# Everything but the final export goes to stderr so eval sees only that line.
set -eu

bin=${SLUICE_TEST_CHROMIUM:-/usr/bin/chromium}
if [ ! -x "$bin" ]; then
	bin=/usr/bin/chromium
	if [ ! -x "$bin" ]; then
		sudo=""
		if [ "$(id -u)" != 0 ]; then
			sudo=sudo
		fi
		echo "chromium.sh: installing chromium (Debian package)" >&2
		$sudo apt-get update >&2
		DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y --no-install-recommends chromium >&2
	fi
fi
"$bin" --version >&2
echo "export SLUICE_TEST_CHROMIUM=$bin"
