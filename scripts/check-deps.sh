#!/bin/sh
# Prints the Debian packages that are missing for a build ("build"), for
# the tests ("test"), for the benchmarks ("bench": build, test and bench)
# or for the kernel matrix ("test-kernels": everything),
# one per line; prints nothing when all are there.
# The list lives in scripts/deps.list so that the Makefile, this check and
# install-deps.sh cannot disagree.
want=${1:-test}
dir=$(dirname "$0")
grep -v '^#' "$dir/deps.list" | while read -r what pkg why; do
	[ -n "$what" ] || continue
	# test-kernels (qemu...) is asked for by name only: make test needs none of it
	case "$want:$why" in
	test-kernels:*) ;;
	bench:test-kernels*) continue ;;
	bench:*) ;;
	*:test-kernels* | *:bench*) continue ;;
	build:test*) continue ;;
	esac
	case "$what" in
	/*) [ -e "$what" ] && continue ;;
	*) command -v "$what" >/dev/null 2>&1 && continue
	   [ -x "/usr/sbin/$what" ] && continue ;;
	esac
	echo "$pkg"
done | sort -u
