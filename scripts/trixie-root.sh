#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# The build root of the newest-kernel lane: a Debian trixie tree made with
# debootstrap, holding gcc-14, make and the newest 7.x kernel of
# trixie-backports (linux-image-<ver> and linux-headers-<ver>), in a cache
# outside the checkout. arena.ko for that lane is built inside it with
# chroot (scripts/kmod-in-root.sh) and the VM boots its /boot/vmlinuz-<ver>
# with its /lib/modules/<ver>/. Why a root and not the host: the 7.x headers
# build with -fmin-function-alignment, which needs gcc 14 (bookworm has 12),
# and their objtool and other host programs are linked against trixie's
# glibc. The 7.x image is never installed on this machine.
#
#   scripts/trixie-root.sh      make the root unless cached; print "ROOT KVER"
#
# The root is $ARENA_CACHE/trixie-root/<key>/, where <key> hashes what
# goes into it: the Debian source (scripts/debian-source.sh: the machine's
# own bookworm mirror and keyring), the suites, the package list, the
# pinned kernel if any and RECIPE below (bump it when the steps change).
# A change of any of them makes a new root; an unchanged key is reused
# without touching the network. The kernel version is resolved when the
# root is made (the newest linux-image-7.*-amd64 of trixie-backports, by
# apt-cache inside the root) and recorded in ROOT/.kver. To follow a newer
# upload to trixie-backports, pin it with ARENA_KVER_NEW or delete the
# cache. The root is built in a temporary directory next to it and moved
# into place complete, its .done marker already inside, under a lock, so an
# interrupted or concurrent run never leaves a half-made root behind.
# Cold, it takes about three minutes on a fast link (some 200 MB
# downloaded, 850 MB on disk).
#
# Environment: ARENA_CACHE (default ~/.cache/arena), ARENA_KVER_NEW (a
# version to install instead of the newest, e.g. 7.3.4+deb13-amd64).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
CACHE=${ARENA_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/arena}
ROOTS=$CACHE/trixie-root
SUITE=trixie
BPO=trixie-backports
SERIES=7
PIN=${ARENA_KVER_NEW:-}
# build-essential is gcc-14 on trixie; named too so a change of trixie's
# default compiler cannot silently change the lane.
BASE_PKGS=build-essential,gcc-14,make,kmod,ca-certificates
RECIPE=1

log() { echo "trixie-root: $*" >&2; }
die() { echo "trixie-root: error: $*" >&2; exit 1; }

[ "$(id -u)" = 0 ] || die "debootstrap and chroot need root"
command -v debootstrap >/dev/null || die "debootstrap missing (scripts/deps.sh installs it)"

read -r URI KEY < <("$HERE/debian-source.sh" bookworm) || die "no Debian source"
key=$(printf '%s\n' "uri=$URI" "keyring=$KEY" "suites=$SUITE $BPO" \
	"base=$BASE_PKGS" "series=$SERIES" "pin=$PIN" "recipe=$RECIPE" |
	sha256sum | cut -c1-16)
ROOT=$ROOTS/$key

done_root() {
	[ -f "$ROOT/.done" ] && [ -s "$ROOT/.kver" ] || return 1
	echo "$ROOT $(cat "$ROOT/.kver")"
}
done_root && exit 0

mkdir -p "$ROOTS"
exec 9> "$ROOTS/.lock"
flock 9
done_root && exit 0	# made by a concurrent run while we waited

# debootstrap mounts /proc and /sys in the tree while it configures
# packages and unmounts them when done; if it is killed, they would stay
# (and rm --one-file-system would leave them and the tree): undo them first.
cleanup() {
	findmnt -rn -o TARGET | grep -F "$tmp/" | sort -r |
		while read -r m; do umount -l "$m" || true; done
	rm -rf --one-file-system "$tmp" "$tmp.log"
}
tmp=$(mktemp -d "$ROOTS/.build.XXXXXX")
trap cleanup EXIT
trap 'exit 130' INT TERM
chmod 0755 "$tmp"	# mktemp's 0700 would become the root's /
start=$(date +%s)
log "debootstrap $SUITE from $URI into $tmp (cached as $ROOT)"
kr=()
[ "$KEY" = - ] || kr=(--keyring="$KEY")
debootstrap --variant=minbase --include="$BASE_PKGS" ${kr[@]+"${kr[@]}"} \
	"$SUITE" "$tmp" "$URI" > "$tmp.log" 2>&1 ||
	{ tail -n 30 "$tmp.log" >&2; die "debootstrap failed"; }
rm -f "$tmp.log"

# The root's apt: trixie and trixie-backports from the same mirror and key.
rm -f "$tmp/etc/apt/sources.list"
{
	echo "Types: deb"
	echo "URIs: $URI"
	echo "Suites: $SUITE $BPO"
	echo "Components: main"
	[ "$KEY" = - ] || echo "Signed-By: $KEY"
} > "$tmp/etc/apt/sources.list.d/debian.sources"
if [ "$KEY" != - ]; then
	mkdir -p "$tmp$(dirname "$KEY")"
	cp "$KEY" "$tmp$KEY"
fi

in_root() {
	LC_ALL=C DEBIAN_FRONTEND=noninteractive chroot "$tmp" "$@"
}
# Downloads as root: apt's _apt user cannot write the partial/ directories
# here (it warns, then falls back to root anyway).
APT=(apt-get -o Acquire::Retries=3 -o APT::Sandbox::User=root)
in_root "${APT[@]}" update -q >&2

kver=$PIN
if [ -z "$kver" ]; then
	# Every linux-image-7.*-amd64 the index holds (backports keeps several
	# uploads), newest first; the first with a headers package wins.
	for v in $(in_root apt-cache pkgnames "linux-image-$SERIES." |
		   sed -n "s/^linux-image-\($SERIES\.[0-9.]*+deb[0-9]*-amd64\)\$/\1/p" |
		   sort -V -r); do
		if in_root apt-cache show "linux-headers-$v" >/dev/null 2>&1; then
			kver=$v
			break
		fi
	done
	[ -n "$kver" ] || die "no linux-image-$SERIES.*-amd64 with headers in $BPO"
fi
in_root apt-cache policy "linux-image-$kver" >&2
log "installing linux-image-$kver and linux-headers-$kver from $BPO"
# INITRD=No: the VM boots the kernel with its own initramfs
# (scripts/vm-run.sh), so the root needs no initrd of its own.
INITRD=No in_root "${APT[@]}" install -y -q \
	--no-install-recommends -t "$BPO" \
	"linux-image-$kver" "linux-headers-$kver" </dev/null >&2
in_root apt-get clean

[ -r "$tmp/boot/vmlinuz-$kver" ] || die "no /boot/vmlinuz-$kver in the root"
[ -r "$tmp/lib/modules/$kver/modules.dep" ] || die "no modules.dep for $kver in the root"
[ -f "$tmp/usr/src/linux-headers-$kver/Makefile" ] || die "no headers for $kver in the root"
in_root gcc-14 --version | head -n1 >&2

echo "$kver" > "$tmp/.kver"
touch "$tmp/.done"
rm -rf --one-file-system "$ROOT"	# a leftover without .done
mv -T "$tmp" "$ROOT"
trap - EXIT
log "made $ROOT ($kver) in $(( $(date +%s) - start ))s"
done_root
