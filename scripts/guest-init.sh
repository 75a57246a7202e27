#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the arena test VM (see scripts/vm-run.sh).  Kernel messages go to
# ttyS0; everything the host parses goes to ttyS1 (test results, demo
# output) and ttyS2 (dmesg at the end).  Kernel command line:
#   arenatest=check|demo|bench  what to run (not "arena.x=": that would
#                             be a module parameter of arena.ko)
#   arenatest_timeout=SECS    per-program timeout
#   arenatest_only="a b"      not used here: vm-run.sh only packs those tests
#   arenatest_disk=vda        a scratch disk is attached: load the driver
#                             modules listed in /lib/modules/arena-vm/order,
#                             wait for /dev/vda, export ARENA_TEST_DISK
#   arenatest_env=NAME=VALUE  export NAME=VALUE to the tests (repeatable;
#                             make TEST_ENV="NAME=VALUE ...")

/bin/busybox mkdir -p /proc /sys /dev /tmp /run /bin /sbin /usr/bin /usr/sbin
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s
# /tools: programs vm-run.sh packed with --tools (arenastat, ...).
export PATH=/tools:/bin:/sbin:/usr/bin:/usr/sbin HOME=/tmp TERM=dumb
# This machine is the tests' own: a test may change a system-wide setting
# (a sysctl) for its run and restore it, which it never does on a host.
export ARENA_TEST_VM=1
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mkdir -p /dev/pts /dev/shm
mount -t devpts devpts /dev/pts
mount -t tmpfs tmpfs /dev/shm
mount -t tmpfs tmpfs /tmp
mount -t debugfs debugfs /sys/kernel/debug
ulimit -c 0

MODE=check
TMO=300
DISK=
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	arenatest=*) MODE=${arg#*=} ;;
	arenatest_timeout=*) TMO=${arg#*=} ;;
	arenatest_disk=*) DISK=${arg#*=} ;;
	arenatest_env=?*=*) export "${arg#*=}" ;;
	esac
done

OUT=/dev/ttyS1
DMESG=/dev/ttyS2
stty -F $OUT raw -echo 2>/dev/null
stty -F $DMESG raw -echo 2>/dev/null

N=0
emit() { echo "$*" > $OUT; }
result() { # status name [directive]
	N=$((N + 1))
	if [ "$1" = 0 ]; then emit "ok $N arena-init: $2${3:+ # $3}"
	else emit "not ok $N arena-init: $2${3:+ # $3}"; fi
}
# A program may ask for more than the per-program timeout with a line
# "# arena-timeout: SECS" in its first 4 KiB (a script's header comment).
prog_timeout() { # path
	t=$(head -c 4096 "$1" | sed -n 's/^# arena-timeout: *\([0-9][0-9]*\) *$/\1/p' | head -n 1)
	if [ -n "$t" ] && [ "$t" -gt "$TMO" ]; then echo "$t"; else echo "$TMO"; fi
}
run_prog() { # kind(ktap|raw) path
	name=${2##*/}
	emit "# arena-runner: begin $name $1"
	t0=$(date +%s)
	(cd /tmp && exec timeout -k 10 "$(prog_timeout "$2")" "$2") > $OUT 2>&1 < /dev/null
	rc=$?
	emit "# arena-runner: end $name exit=$rc time=$(($(date +%s) - t0))s"
}

emit "# arena-guest: mode=$MODE kernel=$(uname -r) cpus=$(nproc)"

# Loopback up, and one UDP connect each over IPv4 and IPv6 (nslookup
# connects its socket) while nothing else runs: the first one seeds
# udp_ehashfn()'s net_get_random_once(), whose static key a worker then
# switches off by patching kernel text. Under multi-threaded TCG a vCPU
# running a test's first UDP connect at that moment has met the patch's
# temporary int3 (an Oops in udp_ehashfn(), 7.3 lane,
# Documentation/libarena-apr.rst); done here, the patch lands at boot.
ip link set lo up 2>/dev/null || ifconfig lo 127.0.0.1 up 2>/dev/null
nslookup -timeout=1 -retry=1 localhost 127.0.0.1 >/dev/null 2>&1
nslookup -timeout=1 -retry=1 localhost ::1 >/dev/null 2>&1
sleep 1

KMEMLEAK=/sys/kernel/debug/kmemleak
if [ -w $KMEMLEAK ]; then
	echo scan > $KMEMLEAK
	echo clear > $KMEMLEAK	# forget whatever the boot leaked
	# No periodic scans: each takes minutes of a CPU under TCG; the
	# scans after rmmod below are the ones that count.
	echo scan=off > $KMEMLEAK
fi

# The scratch disk for the O_DIRECT tests: its driver modules (dependencies
# first, as vm-run.sh resolved them from the kernel's modules.dep), then the
# device node, which devtmpfs creates when virtio_blk has probed.
if [ -n "$DISK" ]; then
	ok=0
	MODS=/lib/modules/arena-vm
	if [ -r $MODS/order ]; then
		while read -r m; do
			[ -n "$m" ] || continue
			if [ -d "/sys/module/$m" ]; then
				continue
			elif out=$(insmod "$MODS/$m.ko" 2>&1); then
				emit "# arena-guest: insmod $m"
			else
				emit "# arena-guest: insmod $m: $out"
			fi
		done < $MODS/order
	fi
	i=0
	while [ $i -lt 50 ]; do
		[ -b /dev/$DISK ] && { ok=1; break; }
		i=$((i + 1))
		sleep 0.1
	done
	if [ $ok = 1 ]; then
		export ARENA_TEST_DISK=/dev/$DISK
		result 0 "scratch disk /dev/$DISK"
	else
		emit "# arena-guest: no /dev/$DISK after 5s; tests that need it skip"
		result 1 "scratch disk /dev/$DISK"
	fi
fi

loaded=0
if out=$(insmod /arena.ko 2>&1); then
	loaded=1
	result 0 "insmod arena.ko"
else
	emit "# $out"
	result 1 "insmod arena.ko"
fi

case "$MODE" in
check)
	for t in /tests/*; do
		[ -f "$t" ] && [ -x "$t" ] && run_prog ktap "$t"
	done
	;;
demo)
	if [ -x /demo/arena-demo ]; then
		run_prog raw /demo/arena-demo
	else
		result 1 "run /demo/arena-demo (missing)"
	fi
	# Then the pool-lifetime bug of APR programs (examples/apr_uaf.c):
	# stock APR reads stale data, libarena-apr.so faults at the pointer.
	if [ -x /demo/apr_uaf ] && [ -r /demo/libarena-apr.so ]; then
		cat > /tmp/apr-demo <<'APRDEMO'
#!/bin/sh
echo
echo "=== An unmodified APR program keeps a request-pool string past"
echo "=== apr_pool_clear(), first on stock APR:"
/demo/apr_uaf clear
echo "(exit status $?: it carried on with another request's data)"
echo
echo "=== The same binary with LD_PRELOAD=libarena-apr.so (each pool an arena):"
LD_PRELOAD=/demo/libarena-apr.so /demo/apr_uaf clear
echo "(exit status $?: SIGSEGV at the stale pointer) The kernel's report:"
dmesg | grep 'arena: use-after-free: .*(apr_uaf)' | tail -n 1
APRDEMO
		chmod +x /tmp/apr-demo
		run_prog raw /tmp/apr-demo
	fi
	;;
bench)
	nb=0
	for b in /bench/*; do
		[ -f "$b" ] && [ -x "$b" ] || continue
		nb=$((nb + 1))
		run_prog raw "$b"
	done
	[ $nb -gt 0 ] || result 1 "run /bench/* (none packed)"
	;;
*)
	result 1 "unknown mode '$MODE'"
	;;
esac

if [ $loaded = 1 ]; then
	# A reference dropped asynchronously may need a moment.
	i=0
	until out=$(rmmod arena 2>&1); do
		i=$((i + 1))
		[ $i -ge 5 ] && break
		sleep 1
	done
	if [ $i -ge 5 ]; then
		emit "# $out"
		result 1 "rmmod arena"
	else
		result 0 "rmmod arena"
	fi
else
	result 0 "rmmod arena" "SKIP module not loaded"
fi

dmesg > $DMESG
if [ -w $KMEMLEAK ]; then
	echo scan > $KMEMLEAK
	echo scan > $KMEMLEAK
	cat $KMEMLEAK > $DMESG
fi
emit "ARENA-GUEST-DONE"
sync
sleep 1
poweroff -f
