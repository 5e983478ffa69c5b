#!/bin/sh
# Regenerates the pinned vmlinux.h for this machine's architecture from the
# running kernel's BTF. The build never reads /sys/kernel/btf itself: the
# pinned header keeps builds reproducible across build hosts.
set -eu
arch=$(uname -m | sed -e 's/x86_64/x86/' -e 's/aarch64/arm64/')
rel=$(uname -r | cut -d. -f1,2)
dir=$(dirname "$0")/../vmlinux/$arch
btf=${1:-/sys/kernel/btf/vmlinux}
[ -r "$btf" ] || { echo "gen-vmlinux: $btf not readable: kernel built without CONFIG_DEBUG_INFO_BTF?" >&2; exit 1; }
mkdir -p "$dir"
bpftool btf dump file "$btf" format c > "$dir/vmlinux-$rel.h"
ln -sf "vmlinux-$rel.h" "$dir/vmlinux.h"
echo "wrote $dir/vmlinux-$rel.h"
