#!/bin/sh
# Installs the build and test dependencies from Debian's packages:
# install-deps.sh [build|test|bench|test-kernels] (test, the default, is build + test).
# Safe to run again: it installs only what scripts/check-deps.sh reports.
set -eu
dir=$(dirname "$0")
missing=$("$dir/check-deps.sh" "${1:-test}")
[ -z "$missing" ] && exit 0
if [ "$(id -u)" -ne 0 ]; then
	echo "install-deps: missing packages: $missing" >&2
	echo "install-deps: run as root (sudo make ...) or: apt-get install $missing" >&2
	exit 1
fi
echo "install-deps: installing: $missing" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing >&2
