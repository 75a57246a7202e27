#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# binarytrees_apr_preload (issue 16 item 5): the speed of pool-heavy code
# under libarena-apr.so. Packed as /bench/binarytrees_apr_preload and run by
# the bench VM's /init (make bench). It runs the bench's APR binary-trees
# program, unmodified (binarytrees.c -DUSE_APR, linked dynamically against
# Debian's libapr-1.so.0: /tools/binarytrees_apr), alternately stock and with
# LD_PRELOAD=/tools/libarena-apr.so, ROUNDS times (BT_PRELOAD_ROUNDS, default
# 3; 1 with ARENA_BENCH_QUICK), each process doing the program's usual runs
# (3 at depth 16; quick: 1 at depth 12). The program's "@bt impl=apr" lines
# are relabelled impl=apr_dyn backend=none (stock) and impl=apr_preload
# backend=kernel (preloaded), which bench/alloc/report.sh turns into §4.4.1.
#
# The kernel backend must be the one the preloaded run used: the module's
# /sys/kernel/arena counters are read around each process, and the script
# fails (exit 1) unless arenas_created grew during the preloaded run and
# did not during the stock one. The changes are printed per process:
#   @btk impl=apr_dyn|apr_preload round=R runs=N user_s=... sys_s=...
#        arenas_created=... arenas_freed=... small_runs_mapped=...
#        chunks_mapped=... pages_zeroed=... uaf_faults=...
# (user_s, sys_s: the process's user and system CPU, from busybox time),
# and last the system calls of one run of each at depth 12 (@btsys, below).
BIN=/tools/binarytrees_apr
SO=/tools/libarena-apr.so
SYS=/sys/kernel/arena
CTRS="arenas_created arenas_freed small_runs_mapped chunks_mapped pages_zeroed uaf_faults"

fail() { echo "# binarytrees_apr_preload: FAIL: $*"; exit 1; }

[ -x "$BIN" ] || fail "$BIN missing (make bench packs build/bench/preload/ as /tools)"
[ -r "$SO" ] || fail "$SO missing"
[ -c /dev/arena ] || fail "no /dev/arena: the kernel backend is not there"
[ -r $SYS/arenas_created ] || fail "no $SYS/arenas_created"

if [ -n "${ARENA_BENCH_QUICK:-}" ]; then
	depth=12 runs=1 rounds=${BT_PRELOAD_ROUNDS:-1}
else
	depth=16 runs=3 rounds=${BT_PRELOAD_ROUNDS:-3}
fi

# The process's user and system CPU (the whole process: its runs and the
# waits between them), from busybox time's wait4() rusage.
timed() {
	if command time -f x true > /dev/null 2>&1; then
		command time -f "@btt user_s=%U sys_s=%S" "$@"
	else
		"$@"
	fi
}

snap() { # prefix: the counters into ${prefix}_<name>
	for c in $CTRS; do
		eval "$1_$c=$(cat "$SYS/$c" 2>/dev/null || echo 0)"
	done
}

# One process: impl label, then the command's environment.
run() { # impl backend [VAR=value]
	impl=$1 backend=$2
	shift 2
	snap b
	# The game output only from the very first process of each kind.
	timed env "$@" "$BIN" $depth $runs > /tmp/bt.out 2>&1
	rc=$?
	snap a
	if [ $round = 1 ]; then
		grep -v '^@bt' /tmp/bt.out
	fi
	sed -n "s/^@bt impl=apr backend=[^ ]* /@bt impl=$impl backend=$backend /p" /tmp/bt.out
	[ $rc = 0 ] || fail "$impl: $BIN exited with status $rc"
	line="@btk impl=$impl round=$round runs=$runs $(sed -n 's/^@btt //p' /tmp/bt.out)"
	for c in $CTRS; do
		eval "d=\$((a_$c - b_$c))"
		line="$line $c=$d"
	done
	echo "$line"
	eval "created=\$((a_arenas_created - b_arenas_created))"
}

echo "# binarytrees_apr_preload: $BIN (dynamic, libapr-1.so.0), depth $depth, $runs runs a process, $rounds rounds of stock then LD_PRELOAD=$SO"
round=1 created=0 d=0
while [ "$round" -le "$rounds" ]; do
	run apr_dyn none
	[ "$created" = 0 ] || fail "stock APR: arenas_created grew by $created (something else is using /dev/arena)"
	run apr_preload kernel LD_PRELOAD=$SO
	[ "$created" -gt 0 ] || fail "LD_PRELOAD=$SO: arenas_created did not grow: not the kernel backend"
	echo "# binarytrees_apr_preload: round $round: the preloaded process created $created arenas on the kernel backend"
	round=$((round + 1))
done

# System calls, untimed (every ptrace stop is slow): one process of one run
# of each kind at depth 12 under /tools/syscount, "@btsys impl=... total=...
# ioctl=... depth=12 clears=N" (N: the apr_pool_clear calls of the run).
if [ -x /tools/syscount ]; then
	sd=12 clears=0 d=4
	while [ $d -le $sd ]; do
		clears=$((clears + (1 << (sd - d + 4))))
		d=$((d + 2))
	done
	/tools/syscount apr_dyn "$BIN" $sd 1 2>&1 > /dev/null |
		sed -n "s/^@btsys .*/& depth=$sd clears=$clears/p"
	/tools/syscount apr_preload env LD_PRELOAD="$SO" "$BIN" $sd 1 2>&1 > /dev/null |
		sed -n "s/^@btsys .*/& depth=$sd clears=$clears/p"
fi
rm -f /tmp/bt.out
