#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Boot a kernel in qemu (TCG, no KVM needed) with an initramfs holding
# busybox, arena.ko, the selftests and the examples, run them, and summarize.
# Modules are only ever loaded inside the VM, never on this machine.
#
# scripts/vm-run.sh --kernel IMAGE --module arena.ko [options]
#   --mode check|demo|bench
#                       check: run every selftest (default); demo: run
#                       /demo/arena-demo and show its output; bench: run
#                       every /bench/* program and show its output
#   --tests DIR         selftest programs (every executable file in DIR)
#   --demo DIR          example programs, packed as /demo/*
#   --bench DIR         benchmark programs, packed as /bench/* (bench mode)
#   --tools "A B"       tools (files, or directories of executables), packed
#                       as /tools/*, which is on the guest's PATH; repeatable
#   --files "A B"       more files (absolute paths on this machine) packed
#                       at the same paths, with their shared libraries, for
#                       programs the tests run (apache2, the modules it
#                       dlopen()s, ab); a missing one is left out; repeatable
#   --tree DIR:PATH     the directory tree DIR, packed as it is at PATH
#                       (e.g. /apr-test: APR's test programs and data files,
#                       selftests/apr_testall.sh --stage); repeatable
#   --only "a b"        only these selftests (bench mode: these programs)
#   --out DIR           logs and initramfs (default build/vm/<kernel version>)
#   --timeout SECS      whole VM run (default 1200)
#   --test-timeout SECS per program inside the guest (default 300)
#   --append ARGS       extra kernel command line
#   --smp N, --mem SIZE guest CPUs (2) and memory (2G)
#   --cpu MODEL         QEMU -cpu model (default $VM_CPU, else "max"), e.g.
#                       "max,erms=off": TCG emulates rep stosb (ERMS) a byte
#                       at a time, so with erms on the guest's clear_page
#                       costs several times more (bench/README.md)
#   --modules-dir DIR   the booted kernel's modules (default
#                       /lib/modules/<kernel version>), for the disk driver
#   --no-disk           do not attach the scratch disk (check mode only)
#
# In check mode the guest gets a scratch disk: DISK_MIB (64) MiB raw image
# $OUT/disk.img on virtio-blk, /dev/vda in the guest, whose path the tests
# find in $ARENA_TEST_DISK.  It is rewritten before every boot: the first
# 8 MiB hold a pattern (4 KiB block i starts with i as a 64-bit
# little-endian number, the rest of the block is the byte i & 0xff; see
# selftests/arena_helpers.h), the rest is zero.  If virtio_pci/virtio_blk are
# modules of the booted kernel, they and their dependencies (from that
# kernel's modules.dep; .ko, .ko.xz, .ko.zst, .ko.gz) are unpacked into the
# initramfs and loaded by /init, in dependency order, before the tests.
#
# Dynamically linked programs work too: for every program packed (tests,
# demo, bench, tools, and the executables and .so files of a --tree), the
# shared libraries `ldd` resolves on this machine and the ELF interpreter
# are copied into the initramfs at the same paths (/lib/x86_64-linux-gnu/...,
# /lib64/ld-linux-x86-64.so.2), once each. The
# host's userspace stands in for the guest's: both are Debian 12, and the
# guest kernel only needs to run it. A library `ldd` cannot find is an error.
# The list is left in $OUT/initramfs-libs.txt.
#
# A guest kernel panic before /init has run (no "# arena-guest:" line yet:
# arena.ko not loaded, no test started) is the booted kernel's own, under
# multi-threaded TCG its text patching racing a vCPU; the guest is booted
# once more, the first boot's logs kept as *.boot1.log and its panic shown.
# A panic after that, or in the second boot, fails the run.
#
# Leaves in --out: console.log (kernel console, ttyS0), ktap.log (test output,
# ttyS1), dmesg.log (ttyS2), summary.txt, cpu.txt (the -cpu model),
# initramfs.cpio.gz, disk.img.  The
# test output streams live to stdout; the last line printed is "N passed, N
# failed[, N skipped]" from scripts/ktap-summary.sh, whose exit status is ours.
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)

MODE=check KERNEL="" MODULE="" TESTS_DIR="" DEMO_DIR="" BENCH_DIR="" ONLY="" OUT="" TOOLS="" TREES=""
FILES=""
TIMEOUT=1200 TEST_TIMEOUT=300 APPEND="" SMP=2 MEM=2G MODDIR="" DISK=1
CPU=${VM_CPU:-max}
DISK_MIB=${DISK_MIB:-64}
DISK_PATTERN_MIB=8
DISK_MODULES="virtio_pci virtio_blk"
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
	--bench) BENCH_DIR=${2-} ;;
	--tools) TOOLS="$TOOLS ${2-}" ;;
	--files) FILES="$FILES ${2-}" ;;
	--tree) TREES="$TREES ${2-}" ;;
	--only) ONLY=${2-} ;;
	--out) OUT=${2-} ;;
	--timeout) TIMEOUT=${2-} ;;
	--test-timeout) TEST_TIMEOUT=${2-} ;;
	--append) APPEND=${2-} ;;
	--smp) SMP=${2-} ;;
	--mem) MEM=${2-} ;;
	--cpu) CPU=${2-} ;;
	--modules-dir) MODDIR=${2-} ;;
	--no-disk) DISK=0; shift; continue ;;
	-h|--help) sed -n '3,/^set -e/{/^set -e/d;s/^# \{0,1\}//p}' "$0"; exit 0 ;;
	*) die "unknown argument '$1' (see --help)" ;;
	esac
	shift 2 || die "$1 needs a value"
done

case "$MODE" in check|demo|bench) ;; *) die "--mode must be check, demo or bench" ;; esac
[ -r "$KERNEL" ] || die "kernel image '$KERNEL' not readable"
[ -r "$MODULE" ] || die "module '$MODULE' not found (build it first)"
[ -n "$CPU" ] || die "--cpu needs a model"
[ -x "$BUSYBOX" ] || die "$BUSYBOX missing (apt-get install busybox-static)"
command -v "$QEMU" >/dev/null || die "$QEMU missing (apt-get install qemu-system-x86)"

KREL=$(basename "$KERNEL")
KREL=${KREL#vmlinuz-}
KREL=${KREL#bzImage-}
OUT=${OUT:-$TOP/build/vm/$KREL}
mkdir -p "$OUT"
OUT=$(cd "$OUT" && pwd)
[ "$MODE" = check ] || DISK=0
if [ -z "$MODDIR" ] && [ -d "/lib/modules/$KREL" ]; then
	MODDIR=/lib/modules/$KREL
fi

# ---- initramfs ------------------------------------------------------------
STAGE=$OUT/initramfs
rm -rf "$STAGE"
mkdir -p "$STAGE"/{bin,sbin,usr/bin,usr/sbin,dev,proc,sys,tmp,run,tests,demo,bench,tools}
cp "$BUSYBOX" "$STAGE/bin/busybox"
install -m 0755 "$HERE/guest-init.sh" "$STAGE/init"
cp "$MODULE" "$STAGE/arena.ko"

# The shared libraries of a dynamically linked program (see above).
declare -A lib_done=()
nlibs=0 ndyn=0
: > "$OUT/initramfs-libs.txt"
pack_libs() { # program
	local out line lib
	# "not a dynamic executable" (exit 1) or "statically linked": none.
	out=$(LC_ALL=C ldd "$1" 2>/dev/null) || return 0
	case "$out" in *"=>"*|*/ld-*) ;; *) return 0 ;; esac
	ndyn=$((ndyn + 1))
	while read -r line; do
		case "$line" in
		*"=> not found"*)
			die "${1#"$TOP"/}: shared library ${line%% *} not found on this machine" ;;
		*"=> /"*) lib=${line#*=> } ;;	# libmnl.so.0 => /lib/...so.0 (0x...)
		/*) lib=$line ;;		# /lib64/ld-linux-x86-64.so.2 (0x...)
		*) continue ;;			# linux-vdso.so.1 (0x...)
		esac
		lib=${lib%% (0x*}
		[ -z "${lib_done[$lib]:-}" ] || continue
		lib_done[$lib]=1
		[ -r "$lib" ] || die "${1#"$TOP"/}: $lib not readable"
		mkdir -p "$STAGE${lib%/*}"
		cp -L "$lib" "$STAGE$lib"
		echo "$lib" >> "$OUT/initramfs-libs.txt"
		nlibs=$((nlibs + 1))
	done <<< "$out"
}

ntests=0
pack_one() { # file destdir
	local n=${1##*/}

	cp "$1" "$STAGE/$2/$n"
	pack_libs "$1"
	[ "$2" = tests ] && ntests=$((ntests + 1))
	return 0
}
pack() { # srcdir destdir [names]
	local f n
	[ -n "$1" ] && [ -d "$1" ] || return 0
	for f in "$1"/*; do
		[ -f "$f" ] && [ -x "$f" ] || continue
		n=${f##*/}
		if [ -n "${3:-}" ]; then
			case " $3 " in *" $n "*) ;; *) continue ;; esac
		fi
		pack_one "$f" "$2"
	done
	return 0
}
[ "$MODE" = check ] && pack "$TESTS_DIR" tests "$ONLY"
pack "$DEMO_DIR" demo
[ "$MODE" = bench ] && pack "$BENCH_DIR" bench "$ONLY"
for t in $TOOLS; do
	if [ -d "$t" ]; then
		pack "$t" tools
	elif [ -f "$t" ] && [ -x "$t" ]; then
		pack_one "$t" tools
	else
		echo "vm-run: warning: tool '$t' is not an executable file or a directory (not built?)" >&2
	fi
done
for t in $TREES; do
	src=${t%%:*} dst=${t#*:}
	[ -d "$src" ] && [ "$dst" != "$t" ] && [ "${dst#/}" != "$dst" ] ||
		die "--tree $t: want an existing DIR and an absolute PATH, DIR:PATH"
	mkdir -p "$STAGE$dst"
	cp -R "$src/." "$STAGE$dst/"
	while IFS= read -r f; do
		pack_libs "$f"
	done < <(find "$src" -type f \( -perm -u+x -o -name '*.so' -o -name '*.so.*' \))
done
nfiles=0
for f in $FILES; do
	case "$f" in /*) ;; *) die "--files: '$f' is not an absolute path" ;; esac
	[ -f "$f" ] || continue
	mkdir -p "$STAGE${f%/*}"
	cp -L "$f" "$STAGE$f"
	pack_libs "$f"
	nfiles=$((nfiles + 1))
done
if [ "$MODE" = check ] && [ $ntests = 0 ]; then
	echo "vm-run: warning: no selftest programs in '${TESTS_DIR:-}'${ONLY:+ matching '$ONLY'}" >&2
fi

# ---- scratch disk ---------------------------------------------------------
# Kernel modules the disk needs, dependencies first, unpacked into
# /lib/modules/arena-vm/ with their load order in /lib/modules/arena-vm/order.
# A driver built into the kernel (modules.builtin) needs nothing.
mod_name() { # path -> module name as the kernel spells it
	local n=${1##*/}
	n=${n%%.ko*}
	echo "${n//-/_}"
}
declare -A mod_dep=() mod_done=()
mod_order=()
mod_visit() { # relative path in modules.dep
	local d
	[ -z "${mod_done[$1]:-}" ] || return 0
	mod_done[$1]=1
	for d in ${mod_dep[$1]-}; do
		mod_visit "$d"
	done
	mod_order+=("$1")
}
mod_unpack() { # src dst.ko
	case "$1" in
	*.ko) cp "$1" "$2" ;;
	*.ko.xz) xz -dc "$1" > "$2" ;;
	*.ko.zst) command -v zstd >/dev/null ||
			die "$1 is zstd-compressed: apt-get install zstd"
		  zstd -qdc "$1" > "$2" ;;
	*.ko.gz) gzip -dc "$1" > "$2" ;;
	*) die "cannot unpack module $1" ;;
	esac
}
if [ $DISK = 1 ]; then
	nmods=0
	if [ -n "$MODDIR" ] && [ -r "$MODDIR/modules.dep" ]; then
		declare -A by_name=() builtin=()
		while IFS=: read -r m deps; do
			mod_dep[$m]=$deps
			by_name[$(mod_name "$m")]=$m
		done < "$MODDIR/modules.dep"
		if [ -r "$MODDIR/modules.builtin" ]; then
			while read -r m; do
				builtin[$(mod_name "$m")]=1
			done < "$MODDIR/modules.builtin"
		fi
		for n in $DISK_MODULES; do
			if [ -n "${builtin[$n]:-}" ]; then
				continue
			elif [ -n "${by_name[$n]:-}" ]; then
				mod_visit "${by_name[$n]}"
			else
				echo "vm-run: warning: $n is neither built into nor a module of $KREL ($MODDIR)" >&2
			fi
		done
		mkdir -p "$STAGE/lib/modules/arena-vm"
		: > "$STAGE/lib/modules/arena-vm/order"
		for m in ${mod_order[@]+"${mod_order[@]}"}; do
			n=$(mod_name "$m")
			mod_unpack "$MODDIR/$m" "$STAGE/lib/modules/arena-vm/$n.ko"
			echo "$n" >> "$STAGE/lib/modules/arena-vm/order"
			nmods=$((nmods + 1))
		done
	else
		echo "vm-run: warning: no modules.dep in '${MODDIR:-/lib/modules/$KREL}'; assuming $DISK_MODULES are built in (--modules-dir)" >&2
	fi
	# The pattern the selftests check (selftests/arena_helpers.h).
	rm -f "$OUT/disk.img"
	perl -e 'binmode STDOUT; for my $i (0 .. $ARGV[0] * 256 - 1) {
		print pack("Q<", $i), chr($i & 0xff) x 4088 }' "$DISK_PATTERN_MIB" \
		> "$OUT/disk.img"
	truncate -s "${DISK_MIB}M" "$OUT/disk.img"
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
CMDLINE="console=ttyS0 panic=-1 oops=panic loglevel=7 arenatest=$MODE arenatest_timeout=$TEST_TIMEOUT"
DISK_ARGS=()
if [ $DISK = 1 ]; then
	CMDLINE="$CMDLINE arenatest_disk=vda"
	# cache=unsafe: host page cache, no flushes; the guest's O_DIRECT still
	# bypasses the guest's page cache, which is what the tests are about.
	DISK_ARGS=(-drive "file=$OUT/disk.img,format=raw,if=none,id=d0,cache=unsafe"
		   -device virtio-blk-pci,drive=d0)
fi
CMDLINE="$CMDLINE${APPEND:+ $APPEND}"
echo "$CPU" > "$OUT/cpu.txt"
rm -f "$OUT/summary.txt" "$OUT"/*.boot1.log

echo "# vm-run: booting $KERNEL ($MODE$([ "$MODE" = check ] && echo ", $ntests selftest program(s)"), TCG -cpu $CPU, smp $SMP, timeout ${TIMEOUT}s)"
[ $ndyn = 0 ] || echo "# vm-run: $nlibs shared libraries for $ndyn dynamically linked program(s) in the initramfs"
[ $nfiles = 0 ] || echo "# vm-run: $nfiles more file(s) at their own paths (--files)"
[ $DISK = 0 ] || echo "# vm-run: scratch disk ${OUT#"$TOP"/}/disk.img (${DISK_MIB} MiB, virtio-blk), $nmods driver module(s) in the initramfs"
echo "# vm-run: cmdline: $CMDLINE"

# One boot, its logs in $OUT; sets qrc (qemu's status) and secs.
boot_once() {
	for f in console ktap dmesg; do : > "$OUT/$f.log"; done
	start=$(date +%s)
	timeout -k 10 "$TIMEOUT" "$QEMU" \
		-accel tcg,thread=multi -cpu "$CPU" -smp "$SMP" -m "$MEM" \
		-nodefaults -no-user-config -display none -monitor none -no-reboot \
		-kernel "$KERNEL" -initrd "$OUT/initramfs.cpio.gz" -append "$CMDLINE" \
		${DISK_ARGS[@]+"${DISK_ARGS[@]}"} \
		-chardev file,id=s0,path="$OUT/console.log",append=on -serial chardev:s0 \
		-chardev file,id=s1,path="$OUT/ktap.log",append=on -serial chardev:s1 \
		-chardev file,id=s2,path="$OUT/dmesg.log",append=on -serial chardev:s2 \
		</dev/null > "$OUT/qemu.log" 2>&1 &
	qpid=$!
	trap 'kill $qpid 2>/dev/null; exit 130' INT TERM

	# Live view of ttyS1.  In demo and bench mode, only the programs' output.
	if [ "$MODE" = demo ] || [ "$MODE" = bench ]; then
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
}

# The kernel's panic, from the first sign of trouble (the oops) on.
show_panic() {
	first=$(grep -anE "\\[ cut here \\]|BUG:|Oops|general protection|Kernel panic" "$OUT/console.log" | head -n1 | cut -d: -f1)
	tail -n "+$first" "$OUT/console.log" | tr -d "\r" | head -n 80 | sed "s/^/#   /"
}

boot_once
# A panic before /init ran (no "# arena-guest:" line: nothing of arena's
# was loaded or run) is the booted kernel's own: under multi-threaded TCG,
# its text patching can leave a vCPU on a temporary int3 (seen in
# sched_clock_cpu() at 2 s of a 6.12 boot; bench/README.md). Boot once
# more, keeping the first boot's logs as *.boot1.log and saying so; a
# second such panic fails the run as any panic does.
if grep -aq "Kernel panic" "$OUT/console.log" &&
   ! grep -aq "^# arena-guest: " "$OUT/ktap.log"; then
	echo "# vm-run: the guest kernel panicked during boot, before /init ran (arena.ko not loaded yet):"
	show_panic
	for f in console ktap dmesg qemu; do mv "$OUT/$f.log" "$OUT/$f.boot1.log"; done
	echo "# vm-run: booting once more; the first boot's logs are ${OUT#"$TOP"/}/*.boot1.log"
	boot_once
fi

if [ $qrc = 124 ] || [ $qrc = 137 ]; then
	echo "# vm-run: TIMEOUT: the guest did not finish within ${TIMEOUT}s"
elif [ $qrc != 0 ]; then
	echo "# vm-run: qemu exited with status $qrc:"
	sed 's/^/#   /' "$OUT/qemu.log" | tail -n 20
fi
if grep -aq "Kernel panic" "$OUT/console.log"; then
	echo "# vm-run: the guest kernel panicked:"
	show_panic
fi
echo "# vm-run: guest ran ${secs}s; logs in ${OUT#"$TOP"/}/"

set +e
"$HERE/ktap-summary.sh" "$OUT/ktap.log" "$OUT/console.log" "$OUT/dmesg.log" |
	tee "$OUT/summary.txt"
exit "${PIPESTATUS[0]}"
