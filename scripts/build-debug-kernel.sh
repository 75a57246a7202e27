#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build the debug kernel lane: Debian's linux-source-6.1 with KASAN,
# lockdep, DEBUG_VM, DEBUG_PAGEALLOC, kmemleak and fault injection, into a
# cache outside the checkout keyed by the source version and this script's
# configuration, only when it is missing. Prints the build directory (the
# KDIR to build arena.ko against; its arch/x86/boot/bzImage is the kernel).
#
#   scripts/build-debug-kernel.sh [--print-dir | --deps]
#
# --deps only installs what the build needs (apt), so that .ci/run can do
# that before it starts the build in the background next to make check.
# Two builds never run at once: the second waits for the first (flock) and
# then finds its .done.
#
# About 25 minutes on 2 cores; run it in the background while you work.
# Environment: ARENA_CACHE (default ~/.cache/arena), JOBS (default nproc).
set -euo pipefail

CACHE=${ARENA_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/arena}
SRC_PKG=linux-source-6.1
JOBS=${JOBS:-$(nproc)}

# Start from x86_64 defconfig plus what a KVM/QEMU guest needs, then what
# the selftests use, then the debug options (syzkaller's list, trimmed to
# what 6.1 has). The last block drops what a serial-console TCG guest with
# one virtio disk never uses (i915 and the other DRM drivers, sound, USB,
# wireless, Ethernet drivers, netfilter, IPv6, md, ATA, NFS), which keeps a
# cold CI run's kernel build short (Documentation/reliability.rst).
FRAGMENT='
CONFIG_MODULES=y
CONFIG_MODULE_UNLOAD=y
CONFIG_TRANSPARENT_HUGEPAGE=y
CONFIG_TRANSPARENT_HUGEPAGE_ALWAYS=y
CONFIG_NUMA=y
CONFIG_MEMCG=y
CONFIG_DEVTMPFS=y
CONFIG_DEVTMPFS_MOUNT=y
CONFIG_BLK_DEV_INITRD=y
CONFIG_RD_GZIP=y
CONFIG_TMPFS=y
CONFIG_VIRTIO=y
CONFIG_VIRTIO_PCI=y
CONFIG_VIRTIO_BLK=y
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y
CONFIG_IO_URING=y
CONFIG_DEBUG_FS=y
CONFIG_FTRACE=y
CONFIG_FUNCTION_TRACER=n
CONFIG_DEBUG_INFO_NONE=y
CONFIG_KASAN=y
CONFIG_KASAN_INLINE=y
CONFIG_PROVE_LOCKING=y
CONFIG_PROVE_RCU=y
CONFIG_DEBUG_ATOMIC_SLEEP=y
CONFIG_DEBUG_VM=y
CONFIG_DEBUG_VM_PGFLAGS=y
CONFIG_DEBUG_LIST=y
CONFIG_DEBUG_PAGEALLOC=y
CONFIG_PAGE_OWNER=y
CONFIG_PAGE_TABLE_CHECK=y
CONFIG_DEBUG_KMEMLEAK=y
CONFIG_DEBUG_KMEMLEAK_DEFAULT_OFF=n
CONFIG_DEBUG_KMEMLEAK_MEM_POOL_SIZE=16000
CONFIG_FAULT_INJECTION=y
CONFIG_FAILSLAB=y
CONFIG_FAIL_PAGE_ALLOC=y
CONFIG_FAULT_INJECTION_DEBUG_FS=y
CONFIG_FAULT_INJECTION_USERCOPY=y
CONFIG_FAULT_INJECTION_STACKTRACE_FILTER=y
CONFIG_FUNCTION_ERROR_INJECTION=y
CONFIG_FAIL_FUNCTION=y
CONFIG_GUP_TEST=y
CONFIG_DETECT_HUNG_TASK=y
CONFIG_SOFTLOCKUP_DETECTOR=y
CONFIG_UBSAN=y
CONFIG_UBSAN_BOUNDS=y
CONFIG_MEMCG_KMEM=y
CONFIG_CGROUPS=y
CONFIG_DRM=n
CONFIG_AGP=n
CONFIG_SOUND=n
CONFIG_USB_SUPPORT=n
CONFIG_WLAN=n
CONFIG_WIRELESS=n
CONFIG_CFG80211=n
CONFIG_ETHERNET=n
CONFIG_NETFILTER=n
CONFIG_IPV6=n
CONFIG_MD=n
CONFIG_ATA=n
CONFIG_INPUT_MOUSE=n
CONFIG_INPUT_JOYSTICK=n
CONFIG_INPUT_TABLET=n
CONFIG_INPUT_TOUCHSCREEN=n
CONFIG_HID=n
CONFIG_NETWORK_FILESYSTEMS=n
CONFIG_SECURITY_SELINUX=n
'

command -v dpkg-query >/dev/null || { echo "needs Debian" >&2; exit 1; }
SRC_VER=$(dpkg-query -W -f='${Version}' "$SRC_PKG")
KEY=$( { echo "$SRC_VER"; echo "$FRAGMENT"; } | sha256sum | cut -c1-16)
DIR=$CACHE/debug-kernel/$SRC_VER-$KEY

[ "${1:-}" = --print-dir ] && { echo "$DIR"; [ -f "$DIR/.done" ]; exit; }
if [ "${1:-}" != --deps ]; then
	mkdir -p "$CACHE/debug-kernel"
	exec 9> "$CACHE/debug-kernel/.lock"
	flock 9
	if [ -f "$DIR/.done" ]; then
		echo "$DIR"
		exit 0
	fi
fi

log() { echo "debug-kernel: $*" >&2; }
need=()
for p in flex bison bc libelf-dev libssl-dev xz-utils "$SRC_PKG" build-essential; do
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null)" = installed ] ||
		need+=("$p")
done
if [ ${#need[@]} -gt 0 ]; then
	log "installing ${need[*]}"
	DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Retries=3 update -q >&2
	DEBIAN_FRONTEND=noninteractive apt-get -o Acquire::Retries=3 install -y -q \
		--no-install-recommends "${need[@]}" </dev/null >&2
fi
[ "${1:-}" = --deps ] && exit 0
rm -rf "$DIR"
mkdir -p "$DIR"
log "unpacking $SRC_PKG $SRC_VER into $DIR"
tar -xaf /usr/src/$SRC_PKG.tar.* -C "$DIR" --strip-components=1
cd "$DIR"
make -s x86_64_defconfig kvm_guest.config >&2
printf '%s\n' "$FRAGMENT" | grep '^CONFIG_' > arena-debug.config
scripts/kconfig/merge_config.sh -m .config arena-debug.config >&2
make -s olddefconfig >&2
# merge_config reports what did not stick; fail if a debug option is lost.
for opt in KASAN PROVE_LOCKING DEBUG_VM DEBUG_PAGEALLOC DEBUG_KMEMLEAK \
	   FAILSLAB FAIL_PAGE_ALLOC FAULT_INJECTION_DEBUG_FS VIRTIO_BLK \
	   TRANSPARENT_HUGEPAGE MEMCG; do
	grep -q "^CONFIG_$opt=y" .config || { log "CONFIG_$opt did not stick"; exit 1; }
done
log "building with $JOBS jobs (about 25 minutes on 2 cores)"
make -s -j"$JOBS" bzImage modules >&2
make -s -j"$JOBS" modules_prepare >&2
touch .done
echo "$DIR"
