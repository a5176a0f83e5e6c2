#!/bin/busybox sh
# /init of the ftvm Linux initramfs (internal/initramfs): load the virtio
# modules, mount the kernel file systems, configure eth0 from the kernel
# command line (ftvm.ip=ADDR/PREFIX, ftvm.gw=GATEWAY), print the marker and
# run a shell on the console. PID 1 turns busybox's poweroff, reboot and
# halt signals into the system calls; leaving the shell powers off.
# A command after "--" on the kernel command line (the kernel passes it to
# /init as arguments; quote it there to keep it one) runs instead of the
# shell, with sh -c, and its end powers off: --append 'console=ttyS0 --
# "sha256sum /tmp/f"'.
/bin/busybox mkdir -p /proc /sys /dev /tmp /mnt /usr/bin /usr/sbin /sbin
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s /bin
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/ TERM=vt100
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev
mount -t tmpfs tmpfs /tmp
while read -r m; do
	insmod "/lib/modules/$m" || echo "ftvm-init: insmod $m failed"
done < /etc/modules
ip link set lo up
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	ftvm.ip=*) addr="${arg#ftvm.ip=}" ;;
	ftvm.gw=*) gw="${arg#ftvm.gw=}" ;;
	esac
done
if [ -n "$addr" ]; then
	ip link set eth0 up && ip addr add "$addr" dev eth0 || echo "ftvm-init: eth0 $addr failed"
	[ -n "$gw" ] && ip route add default via "$gw"
fi
trap 'sync; poweroff -f' USR2
trap 'sync; reboot -f' TERM
trap 'sync; halt -f' USR1
echo "ftvm-init: ready"
if [ $# -gt 0 ]; then
	echo "ftvm-init: running: $*"
	sh -c "$*"
	echo "ftvm-init: exit status $?"
else
	setsid cttyhack sh &
	wait $!
fi
sync
poweroff -f
