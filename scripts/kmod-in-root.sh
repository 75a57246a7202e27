#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Build arena.ko for a kernel whose headers live in a build root
# (scripts/trixie-root.sh), not on this machine: the sources (Kbuild, kmod/,
# uapi/) are copied into ROOT/build/, built there with the root's compiler
# by `chroot ROOT make -C /usr/src/linux-headers-KVER M=... modules`, and
# the module is copied out to OUTDIR/kmod/arena.ko. Copies, not bind
# mounts: the checkout is never written from inside the root. The one
# mount the build needs, /proc (objtool reads its stack limit there), is
# made in a private mount namespace (unshare --mount-proc) that ends with
# the build, so nothing stays mounted even if the build is killed.
#
#   scripts/kmod-in-root.sh ROOT KVER SRCDIR OUTDIR [MAKE-ARGS...]
#
# The build directory is ROOT/build/<hash of SRCDIR>/ (one per checkout, so
# two checkouts sharing the cached root do not collide); it is rebuilt from
# scratch every time, as the Makefile's other kmod-lanes builds are, and
# the compiler's output is shown (V=1 in MAKE-ARGS shows the ARENA_HAVE_*
# switches kmod/Kbuild found in the headers).
set -euo pipefail

log() { echo "kmod-in-root: $*" >&2; }
die() { echo "kmod-in-root: error: $*" >&2; exit 1; }

[ $# -ge 4 ] || die "usage: $0 ROOT KVER SRCDIR OUTDIR [MAKE-ARGS...]"
ROOT=$1 KVER=$2 SRC=$3 OUT=$4
shift 4

[ "$(id -u)" = 0 ] || die "chroot needs root"
[ -f "$ROOT/.done" ] || die "$ROOT is not a finished build root (scripts/trixie-root.sh)"
[ -f "$ROOT/usr/src/linux-headers-$KVER/Makefile" ] ||
	die "no linux-headers-$KVER in $ROOT"
for f in Kbuild kmod uapi; do
	[ -e "$SRC/$f" ] || die "$SRC/$f missing"
done

rel=/build/$(realpath "$SRC" | sha256sum | cut -c1-16)
dir=$ROOT$rel
rm -rf "$dir"
mkdir -p "$dir"
cp -a "$SRC/Kbuild" "$SRC/kmod" "$SRC/uapi" "$dir/"
# Objects of a build in SRCDIR itself (another kernel's) must not be reused.
find "$dir/kmod" \( -name '*.o' -o -name '*.ko' -o -name '*.mod' -o \
	-name '*.mod.c' -o -name '.*.cmd' -o -name '*.symvers' -o \
	-name '*.order' \) -delete

LC_ALL=C unshare --mount --pid --fork --mount-proc="$ROOT/proc" \
	chroot "$ROOT" make -C "/usr/src/linux-headers-$KVER" M="$rel" "$@" modules
mkdir -p "$OUT/kmod"
cp "$dir/kmod/arena.ko" "$OUT/kmod/arena.ko.tmp"
mv "$OUT/kmod/arena.ko.tmp" "$OUT/kmod/arena.ko"
