#!/bin/sh
# SPDX-License-Identifier: GPL-2.0 OR BSD-2-Clause
# /init of the guest's initramfs, run by busybox as pid 1 (see kernel-vm.sh).
#
# The guest sees the host's root filesystem read-only (virtiofs tag "root"),
# the guest kernel's package (tag "kernel": its modules and config) and one
# writable directory (tag "run", mounted at its host path, holding the
# command and its results). Everything the guest writes elsewhere goes to
# tmpfs. The command runs in a
# chroot of that tree; pid 1 stays here so that the kernel's module loader,
# which runs in pid 1's root, finds the wrapper below.
# No set -e: pid 1 must not exit (the kernel would panic); a step that fails
# says so on the host's terminal and the command shows what it lacks.
PATH=/bin:/sbin:/usr/bin:/usr/sbin
export PATH
/bin/busybox --install -s

mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev

arg() { tr ' ' '\n' < /proc/cmdline | sed -n "s/^$1=//p" | tail -n 1; }
run=$(arg tt_run)
R=/newroot

# the kernel console is quiet; this is what reaches the host's terminal
say() { echo "kernel-vm(guest): $*" > /dev/ttyS1; }
halt() {
	[ -n "$1" ] && say "$1"
	dmesg > "$R$run/dmesg.log" 2>/dev/null
	sync
	# qemu runs with -no-reboot: a reboot ends it at once, ACPI or not
	echo b > /proc/sysrq-trigger
	sleep 10
}
stty -F /dev/ttyS1 raw -echo 2>/dev/null

# virtio, fuse and virtiofs are modules in some kernels (6.1 cloud)
while read -r m; do
	insmod "/modules/$m" || say "cannot load module $m"
done < /modules/order

# The host's files, read-only, under a tmpfs overlay: the guest can write
# anywhere, as on a machine of its own, and nothing reaches the host.
mkdir -p /lower /upper $R
mount -t virtiofs -o ro root /lower || halt "cannot mount the host's root filesystem over virtiofs (see console.log)"
mount -t tmpfs tmpfs /upper
mkdir -p /upper/data /upper/work
mount -t overlay -o lowerdir=/lower,upperdir=/upper/data,workdir=/upper/work overlay $R ||
	halt "cannot mount an overlay on the host's root filesystem"
# what the host left in these is not the guest's
for d in tmp run var/tmp; do
	[ -d "$R/$d" ] && mount -t tmpfs -o mode=1777 tmpfs "$R/$d"
done
mount -t proc proc $R/proc
mount -t sysfs sysfs $R/sys
mount -t devtmpfs devtmpfs $R/dev
mkdir -p $R/dev/pts $R/dev/shm
mount -t devpts -o newinstance,ptmxmode=0666,mode=620 devpts $R/dev/pts
ln -sf pts/ptmx $R/dev/ptmx 2>/dev/null
mount -t tmpfs -o mode=1777 tmpfs $R/dev/shm
# cgroup v2 with the controllers enabled below the root, as systemd leaves
# it; or (tt_cgroup=v1) the legacy layout of hosts that keep it, memory
# among the v1 hierarchies, which kernels without CONFIG_MEMCG_V1 refuse
if [ "$(arg tt_cgroup)" = v1 ]; then
	mount -t tmpfs -o mode=755 cgroup $R/sys/fs/cgroup
	for c in memory pids cpu,cpuacct; do
		mkdir -p "$R/sys/fs/cgroup/$c"
		mount -t cgroup -o "$c" cgroup "$R/sys/fs/cgroup/$c" || say "no cgroup v1 $c hierarchy on this kernel"
	done
	mkdir -p $R/sys/fs/cgroup/unified
	mount -t cgroup2 cgroup2 $R/sys/fs/cgroup/unified
else
	mount -t cgroup2 cgroup2 $R/sys/fs/cgroup
	for c in memory cpu pids io; do
		echo "+$c" > $R/sys/fs/cgroup/cgroup.subtree_control 2>/dev/null
	done
fi
mount -t bpf bpf $R/sys/fs/bpf
mount -t tracefs tracefs $R/sys/kernel/tracing 2>/dev/null
mount -t debugfs debugfs $R/sys/kernel/debug 2>/dev/null

# the guest kernel's modules, so that modprobe (nftables, veth...) works;
# /lib may be a symlink into /usr: resolve it inside the new root
# and its config where Debian puts it (bpftool feature probe reads it)
mkdir -p /kernel
mount -t virtiofs -o ro kernel /kernel || say "cannot mount the guest kernel's package"
mods=$(chroot $R readlink -f /lib/modules)/$(uname -r)
mkdir -p "$R$mods" $R/boot
mount --bind /kernel/modules "$R$mods" || say "cannot mount the guest kernel's modules"
cp /kernel/config "$R/boot/config-$(uname -r)" 2>/dev/null
printf '#!/bin/sh\nexec chroot %s /sbin/modprobe "$@"\n' $R > /sbin/tt-modprobe
chmod 755 /sbin/tt-modprobe
echo /sbin/tt-modprobe > /proc/sys/kernel/modprobe

mkdir -p "$R$run"
mount -t virtiofs run "$R$run" || halt "cannot mount the run directory $run"
ip link set lo up
hostname tt-guest

# stdout and stderr of the command reach the host through the second serial port
chroot $R /bin/sh "$run/cmd" > /dev/ttyS1 2>&1 < /dev/null
echo $? > "$R$run/rc"
halt ""
