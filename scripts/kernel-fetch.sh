#!/bin/sh
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# scripts/kernel-fetch.sh NAME: makes one kernel of scripts/kernels.list
# ready to boot and prints its directory, build/kernels/<version>/.
# NAME is a name of the list (6.1-cloud) or a Debian package name.
#
# The package is unpacked, not installed: nothing on the host changes, and
# the result is cached (build/ is git-ignored) until `make clean`.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")
cache=${TT_KERNELS_DIR:-$root/build/kernels}

die() { echo "kernel-fetch: $*" >&2; exit 1; }

[ $# -eq 1 ] || die "usage: scripts/kernel-fetch.sh NAME (a name of scripts/kernels.list or a package)"
name=$1
pkg=$(awk -v n="$name" '!/^#/ && $1 == n { print $2 }' "$here/kernels.list")
case $name in linux-image-*) pkg=$name ;; esac
[ -n "$pkg" ] || die "no kernel named '$name' in scripts/kernels.list: use one of its names or a linux-image-* package"
[ "$pkg" != - ] || die "'$name' is the running kernel: there is nothing to fetch"

# linux-image-6.1.0-50-cloud-amd64-unsigned ships /boot/vmlinuz-6.1.0-50-cloud-amd64
kver=${pkg#linux-image-}
kver=${kver%-unsigned}
dir=$cache/$kver
if [ -f "$dir/.ready" ]; then
	echo "$dir"
	exit 0
fi

[ "$(id -u)" = 0 ] || die "must run as root (depmod and apt-get write files owned by root): sudo make test-kernels"
command -v depmod >/dev/null 2>&1 || [ -x /usr/sbin/depmod ] || [ -x /sbin/depmod ] ||
	die "depmod is missing: sudo scripts/install-deps.sh test-kernels"
PATH=$PATH:/usr/sbin:/sbin

mkdir -p "$cache"
tmp=$(mktemp -d "$cache/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT INT TERM
echo "kernel-fetch: downloading $pkg" >&2
# apt's sandbox user cannot write into root's build tree
download() { (cd "$tmp" && apt-get -q -o APT::Sandbox::User=root download "$pkg" >&2); }
# a fresh machine's package lists may be missing or older than the archive
if ! download && ! { apt-get -q update >&2 && download; }; then
	die "apt-get cannot download $pkg: Debian may have dropped that version; pick one with
  apt-cache search linux-image | grep unsigned   and edit scripts/kernels.list"
fi
mkdir "$tmp/tree"
dpkg-deb -x "$tmp"/*.deb "$tmp/tree"
[ -f "$tmp/tree/boot/vmlinuz-$kver" ] || die "$pkg has no /boot/vmlinuz-$kver: is it a linux-image package?"
# Debian 12 packages put modules in /lib, later ones in /usr/lib
mods=$tmp/tree/lib/modules/$kver
[ -d "$mods" ] || mods=$tmp/tree/usr/lib/modules/$kver
[ -d "$mods" ] || die "$pkg has no modules directory for $kver"
# modprobe in the guest needs modules.dep, which the package leaves to its postinst
depmod -b "${mods%/lib/modules/$kver}" "$kver"

rm -rf "$dir"
mkdir -p "$dir"
mv "$tmp/tree/boot/vmlinuz-$kver" "$dir/vmlinuz"
mv "$tmp/tree/boot/config-$kver" "$dir/config" 2>/dev/null || true
mv "$mods" "$dir/modules"
echo "$pkg" > "$dir/package"
touch "$dir/.ready"
echo "$dir"
