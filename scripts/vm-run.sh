#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a kernel in qemu (TCG, no KVM needed) with an initramfs holding
# busybox, arena.ko, the selftests and the examples, run them, and summarize.
# Modules are only ever loaded inside the VM, never on this machine.
#
# scripts/vm-run.sh --kernel IMAGE --module arena.ko [options]
#   --mode check|demo   check: run every selftest (default); demo: run
#                       /demo/arena-demo and show its output
#   --tests DIR         selftest programs (every executable file in DIR)
#   --demo DIR          example programs, packed as /demo/*
#   --only "a b"        only these selftests
#   --out DIR           logs and initramfs (default build/vm/<kernel version>)
#   --timeout SECS      whole VM run (default 1200)
#   --test-timeout SECS per program inside the guest (default 300)
#   --append ARGS       extra kernel command line
#   --smp N, --mem SIZE guest CPUs (2) and memory (2G)
#
# Leaves in --out: console.log (kernel console, ttyS0), ktap.log (test output,
# ttyS1), dmesg.log (ttyS2), summary.txt, initramfs.cpio.gz.  The test output
# streams live to stdout; the last line printed is "N passed, N failed[, N
# skipped]" from scripts/ktap-summary.sh, whose exit status is ours.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)

MODE=check KERNEL="" MODULE="" TESTS_DIR="" DEMO_DIR="" ONLY="" OUT=""
TIMEOUT=1200 TEST_TIMEOUT=300 APPEND="" SMP=2 MEM=2G
BUSYBOX=${BUSYBOX:-/bin/busybox}
QEMU=${QEMU:-qemu-system-x86_64}

die() { echo "vm-run: error: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
	case "$1" in
	--mode) MODE=${2-} ;;
	--kernel) KERNEL=${2-} ;;
	--module) MODULE=${2-} ;;
	--tests) TESTS_DIR=${2-} ;;
	--demo) DEMO_DIR=${2-} ;;
	--only) ONLY=${2-} ;;
	--out) OUT=${2-} ;;
	--timeout) TIMEOUT=${2-} ;;
	--test-timeout) TEST_TIMEOUT=${2-} ;;
	--append) APPEND=${2-} ;;
	--smp) SMP=${2-} ;;
	--mem) MEM=${2-} ;;
	-h|--help) sed -n '3,/^set -e/{/^set -e/d;s/^# \{0,1\}//p}' "$0"; exit 0 ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
	shift 2 || die "$1 needs a value"
done

case "$MODE" in check|demo) ;; *) die "--mode must be check or demo" ;; esac
[ -r "$KERNEL" ] || die "kernel image '$KERNEL' not readable"
[ -r "$MODULE" ] || die "module '$MODULE' not found (build it first)"
[ -x "$BUSYBOX" ] || die "$BUSYBOX missing (apt-get install busybox-static)"
command -v "$QEMU" >/dev/null || die "$QEMU missing (apt-get install qemu-system-x86)"

KREL=$(basename "$KERNEL")
KREL=${KREL#vmlinuz-}
KREL=${KREL#bzImage-}
OUT=${OUT:-$TOP/build/vm/$KREL}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)

# ---- initramfs ------------------------------------------------------------
STAGE=$OUT/initramfs
rm -rf "$STAGE"
mkdir -p "$STAGE"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,tests,demo}
cp "$BUSYBOX" "$STAGE/bin/busybox"
install -m 0755 "$HERE/guest-init.sh" "$STAGE/init"
cp "$MODULE" "$STAGE/arena.ko"

ntests=0
pack() { # srcdir destdir [names]
	local f n
	[ -n "$1" ] && [ -d "$1" ] || return 0
	for f in "$1"/*; do
		[ -f "$f" ] && [ -x "$f" ] || continue
		n=${f##*/}
		if [ -n "${3:-}" ]; then
			case " $3 " in *" $n "*) ;; *) continue ;; esac
		fi
		cp "$f" "$STAGE/$2/$n"
		[ "$2" = tests ] && ntests=$((ntests + 1))
	done
	return 0
}
[ "$MODE" = check ] && pack "$TESTS_DIR" tests "$ONLY"
pack "$DEMO_DIR" demo
if [ "$MODE" = check ] && [ $ntests = 0 ]; then
	echo "vm-run: warning: no selftest programs in '${TESTS_DIR:-}'${ONLY:+ matching '$ONLY'}" >&2
fi

# newc entry for a device node (GNU cpio cannot make one without root).
cpio_entry() { # name mode(octal) rdevmajor rdevminor
	local namesize=$((${#1} + 1))
	printf '070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X' \
		$((RANDOM + 300000)) $((8#$2)) 0 0 1 0 0 0 0 "$3" "$4" "$namesize" 0
	printf '%s\0' "$1"
	# header (110) + name padded to a multiple of 4
	local pad=$(( (4 - (110 + namesize) % 4) % 4 ))
	[ $pad = 0 ] || head -c $pad /dev/zero
}
(
	cd "$STAGE"
	find . -mindepth 1 -printf '%P\n' | LC_ALL=C sort |
		cpio -o -H newc --owner=0:0 --quiet
	# the kernel opens /dev/console for /init before anything is mounted
	cpio_entry dev/console 020600 5 1
	cpio_entry TRAILER!!! 0 0 0
) | gzip -1 > "$OUT/initramfs.cpio.gz"

# ---- boot -----------------------------------------------------------------
CMDLINE="console=ttyS0 panic=-1 oops=panic loglevel=7 arenatest=$MODE arenatest_timeout=$TEST_TIMEOUT${APPEND:+ $APPEND}"
for f in console ktap dmesg; do : > "$OUT/$f.log"; done
rm -f "$OUT/summary.txt"

echo "# vm-run: booting $KERNEL ($MODE$([ "$MODE" = check ] && echo ", $ntests selftest program(s)"), TCG, smp $SMP, timeout ${TIMEOUT}s)"
echo "# vm-run: cmdline: $CMDLINE"
start=$(date +%s)
timeout -k 10 "$TIMEOUT" "$QEMU" \
	-accel tcg,thread=multi -cpu max -smp "$SMP" -m "$MEM" \
	-nodefaults -no-user-config -display none -monitor none -no-reboot \
	-kernel "$KERNEL" -initrd "$OUT/initramfs.cpio.gz" -append "$CMDLINE" \
	-chardev file,id=s0,path="$OUT/console.log",append=on -serial chardev:s0 \
	-chardev file,id=s1,path="$OUT/ktap.log",append=on -serial chardev:s1 \
	-chardev file,id=s2,path="$OUT/dmesg.log",append=on -serial chardev:s2 \
	</dev/null > "$OUT/qemu.log" 2>&1 &
qpid=$!
trap 'kill $qpid 2>/dev/null; exit 130' INT TERM

# Live view of ttyS1.  In demo mode, show only the programs' output.
if [ "$MODE" = demo ]; then
	filter='/^# arena-runner: /d; /^ARENA-GUEST-DONE$/d; /^# arena-guest: /d'
else
	filter='/^ARENA-GUEST-DONE$/d'
fi
tail -n +1 -F --pid=$qpid "$OUT/ktap.log" 2>/dev/null | sed -u "s/\r\$//; $filter" &
tpid=$!

qrc=0
wait $qpid || qrc=$?
wait $tpid 2>/dev/null || true
trap - INT TERM
secs=$(( $(date +%s) - start ))

if [ $qrc = 124 ] || [ $qrc = 137 ]; then
	echo "# vm-run: TIMEOUT: the guest did not finish within ${TIMEOUT}s"
elif [ $qrc != 0 ]; then
	echo "# vm-run: qemu exited with status $qrc:"
	sed 's/^/#   /' "$OUT/qemu.log" | tail -n 20
fi
if grep -aq "Kernel panic" "$OUT/console.log"; then
	# show from the first sign of trouble (the oops) up to the panic
	first=$(grep -anE "\\[ cut here \\]|BUG:|Oops|general protection|Kernel panic" "$OUT/console.log" | head -n1 | cut -d: -f1)
	echo "# vm-run: the guest kernel panicked:"
	tail -n "+$first" "$OUT/console.log" | tr -d "\r" | head -n 80 | sed "s/^/#   /"
fi
echo "# vm-run: guest ran ${secs}s; logs in ${OUT#"$TOP"/}/"

set +e
"$HERE/ktap-summary.sh" "$OUT/ktap.log" "$OUT/console.log" "$OUT/dmesg.log" |
	tee "$OUT/summary.txt"
exit "${PIPESTATUS[0]}"
