#!/bin/bash
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# scripts/kernel-vm.sh NAME COMMAND [ARG...]: boots kernel NAME of
# scripts/kernels.list under qemu, runs COMMAND inside as root, prints its
# output (stdout and stderr together) and exits with its status.
#
# The guest is a VM with its own kernel, processes and sockets; it sees the
# host's root filesystem read-only, tmpfs on /tmp, /run, /var/tmp, and one
# writable directory, TT_VM_DIR (default build/kernels/vm/NAME), at the same
# path as on the host: the command's files and the logs go there
# (console.log: the kernel's console; dmesg.log; out.log: the output; rc).
# The command runs in the current directory (it must be visible in the
# guest: TT_VM_DIR or a directory not under /tmp, /run, /var/tmp), with the
# host's PATH and every TT_* variable.
#
# Environment: TT_VM_MEM (MiB, 4096), TT_VM_CPUS (2), TT_VM_TIMEOUT (s, 3600),
# TT_VM_ACCEL (tcg; "kvm" tries KVM first, where /dev/kvm is there, then TCG),
# TT_VM_TCG (single: one host thread for all guest CPUs; multi: one each),
# TT_VM_CGROUP (v2, as Debian boots; v1: the legacy layout, memory in v1),
# TT_VM_SYSCTL (host: the host's socket buffer limits; kernel: its defaults).
set -eu
here=$(cd "$(dirname "$0")" && pwd)
root=$(dirname "$here")

die() { echo "kernel-vm: $*" >&2; exit 125; }

[ $# -ge 2 ] || die "usage: scripts/kernel-vm.sh NAME COMMAND [ARG...] (NAME from scripts/kernels.list)"
name=$1
shift
[ "$(id -u)" = 0 ] || die "must run as root (virtiofsd serves the host's files as root): sudo scripts/kernel-vm.sh"
qemu=$(command -v qemu-system-x86_64) || die "qemu-system-x86_64 is missing: sudo scripts/install-deps.sh test-kernels"
virtiofsd=/usr/lib/qemu/virtiofsd
[ -x $virtiofsd ] || die "$virtiofsd is missing (Debian's qemu-system-common): sudo scripts/install-deps.sh test-kernels"
# the initramfs has no libc: busybox must be Debian's static build
[ -x /bin/busybox ] && ! ldd /bin/busybox >/dev/null 2>&1 && /bin/busybox --list | grep -qx cpio ||
	die "a static busybox is needed for the guest's initramfs: apt-get install busybox-static"
[ -x /sbin/modprobe ] || [ -x /usr/sbin/modprobe ] ||
	die "modprobe is missing (the guest uses the host's, from kmod): sudo scripts/install-deps.sh test-kernels"

kdir=$("$here/kernel-fetch.sh" "$name") || exit 125
kver=$(basename "$kdir")
mem=${TT_VM_MEM:-4096}
cpus=${TT_VM_CPUS:-2}
limit=${TT_VM_TIMEOUT:-3600}
vmdir=${TT_VM_DIR:-$root/build/kernels/vm/$name}
mkdir -p "$vmdir"
vmdir=$(cd "$vmdir" && pwd)
# mounted after the guest's own /tmp and /run: any directory but these will do
case $vmdir in /proc/* | /sys/* | /dev/*) die "TT_VM_DIR=$vmdir: choose a directory of a real filesystem" ;; esac
# it travels on the kernel's command line, which splits at blanks
case $vmdir in *[[:space:]]*) die "TT_VM_DIR='$vmdir' has a blank: choose a path without one" ;; esac
rm -f "$vmdir"/{cmd,rc,started,time,out.log,console.log,dmesg.log,virtiofsd.log}

tmp=$(mktemp -d /tmp/tt-vm.XXXXXX)
pids=()
cleanup() {
	local p
	for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
	for p in "${pids[@]}"; do wait "$p" 2>/dev/null || true; done
	rm -rf "$tmp"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# --- the initramfs: busybox, the init script, the modules virtiofs needs
ird=$tmp/initrd
mkdir -p "$ird"/{bin,sbin,usr/bin,usr/sbin,proc,sys,dev,modules}
cp /bin/busybox "$ird/bin/busybox"
ln -s busybox "$ird/bin/sh"
cp "$here/kernel-vm-init.sh" "$ird/init"
chmod 755 "$ird/init"
: > "$ird/modules/order"
# modprobe -d wants ROOT/lib/modules/VERSION: give it a view of the cache
mkdir -p "$tmp/kroot/lib/modules"
ln -s "$kdir/modules" "$tmp/kroot/lib/modules/$kver"
for m in virtio_pci virtiofs overlay; do
	modprobe -d "$tmp/kroot" -S "$kver" --show-depends "$m" ||
		die "the $kver modules lack $m (virtiofs and overlay are how the guest reaches the host's files)"
done | awk '$1 == "insmod" && !seen[$2]++ { print $2 }' > "$tmp/deps"
while read -r ko; do
	base=$(basename "$ko")
	# busybox insmod reads plain .ko only
	case $base in
	*.ko.xz) /bin/busybox xz -dc "$ko" > "$ird/modules/${base%.xz}"; base=${base%.xz} ;;
	*.ko.gz) /bin/busybox gzip -dc "$ko" > "$ird/modules/${base%.gz}"; base=${base%.gz} ;;
	*.ko) cp "$ko" "$ird/modules/$base" ;;
	*) die "$ko: a compression busybox cannot undo; add it here" ;;
	esac
	echo "$base" >> "$ird/modules/order"
done < "$tmp/deps"
(cd "$ird" && find . | /bin/busybox cpio -o -H newc 2>/dev/null | gzip -1) > "$tmp/initrd.img"

# --- the command, as a script the guest's /bin/sh runs in the chroot
{
	echo "cd $(printf %q "$PWD") || { echo 'kernel-vm: $(printf %q "$PWD") is not visible in the guest' >&2; exit 125; }"
	printf 'export PATH=%q HOME=/root TT_VM_DIR=%q TT_VM_KERNEL=%q\n' "$PATH" "$vmdir" "$name"
	env | grep -E '^(TT_[A-Za-z0-9_]*|LANG|LC_ALL)=' | grep -Ev '^TT_VM_(DIR|KERNEL)=' |
		while IFS='=' read -r k v; do printf 'export %s=%q\n' "$k" "$v"; done
	# the host's socket buffer limits, not the kernel's defaults: the suite
	# was written on hosts tuned so (test 30 needs a send buffer over 1 MiB)
	if [ "${TT_VM_SYSCTL:-host}" = host ]; then
		for k in net.core.wmem_max net.core.rmem_max net.ipv4.tcp_wmem net.ipv4.tcp_rmem; do
			printf 'sysctl -q -w %s=%q\n' "$k" "$(sysctl -n "$k" | tr '\t' ' ')"
		done
	fi
	# created by the guest, stamped by the host's clock: boot time = its mtime - start
	echo ': > "$TT_VM_DIR/started"'
	printf 'exec'
	printf ' %q' "$@"
	echo
} > "$vmdir/cmd"

# --- the shares: one virtiofsd each, stopped with qemu
# The root share is a read-only bind of the host's filesystems in a mount
# namespace of its own: a guest cannot write to the host's files even by
# remounting. Pseudo filesystems and /run, /tmp are left out: the guest has its own.
share_root() {
	local sock=$1 mnt=$tmp/root t
	mkdir "$mnt"
	unshare -m --propagation private /bin/sh -c '
		mnt=$1; shift
		mount --bind / "$mnt" && mount -o remount,bind,ro "$mnt" || exit 1
		findmnt -rn -o TARGET,SOURCE | while read -r t s; do
			case $t in / | /proc* | /sys* | /dev* | /run* | /tmp* | /var/tmp*) continue ;; esac
			case $s in /dev/*) ;; *) continue ;; esac
			mount --bind "$t" "$mnt$t" && mount -o remount,bind,ro "$mnt$t"
		done
		exec "$@"' sh "$mnt" $virtiofsd --socket-path="$sock" -o source="$mnt" \
		-o cache=always -o log_level=err 2>>"$vmdir/virtiofsd.log" &
	pids+=($!)
}
share() {
	$virtiofsd --socket-path="$1" -o source="$2" -o cache="$3" -o log_level=err 2>>"$vmdir/virtiofsd.log" &
	pids+=($!)
}
share_root "$tmp/root.sock"
share "$tmp/kernel.sock" "$kdir" always
share "$tmp/run.sock" "$vmdir" none
for s in root kernel run; do
	for _ in $(seq 100); do [ -S "$tmp/$s.sock" ] && break; sleep 0.05; done
	[ -S "$tmp/$s.sock" ] || die "virtiofsd for the $s share did not start"
done

# qemu takes the first -accel that starts; KVM that starts and then fails
# to emulate (nested, on these machines) is why TCG is the default. One TCG
# thread for both guest CPUs: with one per CPU (thread=multi) a 6.12 guest
# once ran a stale int3 of the kernel's own code patching and panicked, and
# on these 2 busy cores multi was no faster (6.12, whole suite: 344 s multi,
# 333 s single; CI subset: 120 s multi, 99 s single).
accel=(-accel "tcg,thread=${TT_VM_TCG:-single}")
if [ "${TT_VM_ACCEL:-tcg}" = kvm ] && [ -w /dev/kvm ]; then accel=(-accel kvm "${accel[@]}"); fi
fs_args=()
for s in root kernel run; do
	fs_args+=(-chardev "socket,id=$s,path=$tmp/$s.sock"
		-device "vhost-user-fs-pci,chardev=$s,tag=$s")
done
start=$(date +%s.%N)
# -no-reboot: the guest ends the VM by rebooting; panic=-1 makes a panic do the same
timeout "$limit" "$qemu" -nodefaults -no-user-config -display none -no-reboot \
	"${accel[@]}" -cpu max -smp "$cpus" -m "$mem" \
	-object "memory-backend-memfd,id=mem,size=${mem}M,share=on" -machine pc,memory-backend=mem \
	-kernel "$kdir/vmlinuz" -initrd "$tmp/initrd.img" \
	-append "console=ttyS0 quiet panic=-1 tt_run=$vmdir tt_cgroup=${TT_VM_CGROUP:-v2}" \
	-serial "file:$vmdir/console.log" -serial "file:$vmdir/out.log" \
	"${fs_args[@]}" &
qpid=$!
pids+=($qpid)
# shows the output as it comes; ends when qemu does
tail -n +1 -s 0.2 -F --pid=$qpid "$vmdir/out.log" 2>/dev/null &
tpid=$!
pids+=($tpid)
qrc=0
wait $qpid || qrc=$?
wait $tpid 2>/dev/null || true
end=$(date +%s.%N)
echo "$start $end" > "$vmdir/time"

if [ $qrc = 124 ]; then
	echo "kernel-vm: $name ($kver): stopped after TT_VM_TIMEOUT=${limit}s; the kernel's console is in $vmdir/console.log" >&2
	exit 124
fi
if [ ! -s "$vmdir/rc" ]; then
	why="the guest ended without the command's status (qemu exit $qrc)"
	if grep -q 'Kernel panic' "$vmdir/console.log"; then
		why="the guest kernel panicked: $(grep -m1 -E '(Oops|BUG|Kernel panic)' "$vmdir/console.log" |
			sed 's/^\[ *[0-9.]*\] //')"
	fi
	echo "kernel-vm: $name ($kver): $why; the kernel's console is in $vmdir/console.log:" >&2
	tail -n 20 "$vmdir/console.log" >&2 || true
	exit 125
fi
exit "$(cat "$vmdir/rc")"
