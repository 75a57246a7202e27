#!/bin/busybox sh
# SPDX-License-Identifier: GPL-2.0
#
# /init of the arena test VM (see scripts/vm-run.sh).  Kernel messages go to
# ttyS0; everything the host parses goes to ttyS1 (test results, demo
# output) and ttyS2 (dmesg at the end).  Kernel command line:
#   arenatest=check|demo      what to run (not "arena.x=": that would be a
#                             module parameter of arena.ko)
#   arenatest_timeout=SECS    per-program timeout
#   arenatest_only="a b"      not used here: vm-run.sh only packs those tests

/bin/busybox mkdir -p /proc /sys /dev /tmp /run /bin /sbin /usr/bin /usr/sbin
/bin/busybox mount -t proc proc /proc
/bin/busybox --install -s
export PATH=/bin:/sbin:/usr/bin:/usr/sbin HOME=/tmp TERM=dumb
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
for arg in $(cat /proc/cmdline); do
	case "$arg" in
	arenatest=*) MODE=${arg#*=} ;;
	arenatest_timeout=*) TMO=${arg#*=} ;;
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
run_prog() { # kind(ktap|raw) path
	name=${2##*/}
	emit "# arena-runner: begin $name $1"
	t0=$(date +%s)
	(cd /tmp && exec timeout -k 10 "$TMO" "$2") > $OUT 2>&1 < /dev/null
	rc=$?
	emit "# arena-runner: end $name exit=$rc time=$(($(date +%s) - t0))s"
}

emit "# arena-guest: mode=$MODE kernel=$(uname -r) cpus=$(nproc)"

KMEMLEAK=/sys/kernel/debug/kmemleak
if [ -w $KMEMLEAK ]; then
	echo scan > $KMEMLEAK
	echo clear > $KMEMLEAK	# forget whatever the boot leaked
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
