#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Install what building and testing arena needs on Debian 12, and unpack the
# few files we need from Debian's kernel source tarball into a cache outside
# the checkout.  apt-get only runs when a package is actually missing, so
# repeated runs take a fraction of a second.
#
#   scripts/deps.sh            install/unpack, report on stderr
#   scripts/deps.sh --config   same, then print make variables on stdout
#                              (used by the top-level Makefile: build/config.mk)
#   scripts/deps.sh --bench    also what `make bench` compares against
#                              (jemalloc, mimalloc, APR) and valgrind
#
# Environment: ARENA_CACHE (default ${XDG_CACHE_HOME:-~/.cache}/arena),
#              ARENA_SRC_PKG (default linux-source-6.1),
#              ARENA_LANES (default "stock backports newest": also install
#              the 6.12 LTS kernel from bookworm-backports for the second
#              lane, and make the trixie build root holding the newest 7.x
#              kernel of trixie-backports for the third, scripts/
#              trixie-root.sh), ARENA_KVER_NEW (pin the third lane's kernel).
set -euo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
LANES=" ${ARENA_LANES:-stock backports newest} "

SRC_PKG=${ARENA_SRC_PKG:-linux-source-6.1}
CACHE=${ARENA_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/arena}

PKGS=(build-essential qemu-system-x86 linux-image-amd64 linux-headers-amd64
      busybox-static kmod cpio libmnl-dev "$SRC_PKG" sparse xz-utils pkgconf
      dkms debhelper dh-dkms fakeroot python3-docutils libapr1-dev
      apache2-bin apache2-utils)
# dkms, debhelper, dh-dkms, fakeroot: make dkms-install and make deb, and
# the host lane's tests of both (DKMS only ever builds into a scratch tree
# there, never for the running kernel). python3-docutils (with the source
# tarball's scripts/kernel-doc): make htmldocs and its check. libapr1-dev:
# apr/ (libarena-apr.so) builds against APR's headers. apache2-bin (the
# server and its modules, no service: never the apache2 package, which
# starts a daemon on port 80) and apache2-utils (ab): the VM lanes'
# apache_test, httpd on libarena-apr.so.
# Only for `make bench` (bench/alloc/), never for `make check`.
BENCH_PKGS=(libjemalloc-dev libmimalloc-dev uuid-dev valgrind)
case " $* " in *" --bench "*) PKGS+=("${BENCH_PKGS[@]}") ;; esac
# debootstrap: the newest lane's trixie build root.
case "$LANES" in *" newest "*) PKGS+=(debootstrap) ;; esac

log() { echo "deps: $*" >&2; }
die() { echo "deps: error: $*" >&2; exit 1; }

installed() {
	[ "$(dpkg-query -W -f='${db:Status-Status}' "$1" 2>/dev/null)" = installed ]
}

command -v dpkg-query >/dev/null || die "this project expects a Debian 12 machine (no dpkg-query)"

missing=()
for p in "${PKGS[@]}"; do
	installed "$p" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
	log "installing: ${missing[*]}"
	SUDO=()
	if [ "$(id -u)" -ne 0 ]; then
		command -v sudo >/dev/null || die "not root and no sudo; install: ${missing[*]}"
		SUDO=(sudo)
	fi
	export DEBIAN_FRONTEND=noninteractive
	"${SUDO[@]}" apt-get -o Acquire::Retries=3 update -q >&2
	"${SUDO[@]}" apt-get -o Acquire::Retries=3 install -y -q --no-install-recommends \
		"${missing[@]}" </dev/null >&2
	for p in "${missing[@]}"; do
		installed "$p" || die "package $p still not installed"
	done
fi

# The stock kernel: the one the Debian metapackages point at, never uname -r.
kver_of() { # metapackage prefix
	dpkg-query -W -f='${Depends}' "$1-amd64" 2>/dev/null |
		tr ',|' '\n\n' | sed -n "s/^ *$1-\([^ ]*-amd64\).*/\1/p" | head -n1
}
KVER=$(kver_of linux-headers)
IVER=$(kver_of linux-image)
[ -n "$KVER" ] || die "cannot derive the kernel version from linux-headers-amd64"
[ "$KVER" = "$IVER" ] || die "linux-headers-amd64 ($KVER) and linux-image-amd64 ($IVER) disagree; run apt-get upgrade"
[ -d "/usr/src/linux-headers-$KVER" ] || die "/usr/src/linux-headers-$KVER missing"
[ -r "/boot/vmlinuz-$KVER" ] || die "/boot/vmlinuz-$KVER missing or unreadable"

# kselftest harness + checkpatch from the kernel source tarball, once per
# Debian version of the source package.
SRC_VER=$(dpkg-query -W -f='${Version}' "$SRC_PKG")
SRC_DIR=$CACHE/src/linux-source-$SRC_VER
NEEDED=(tools/testing/selftests/kselftest_harness.h
	tools/testing/selftests/kselftest.h
	scripts/checkpatch.pl
	scripts/kernel-doc
	scripts/spelling.txt
	scripts/const_structs.checkpatch)
have_all=1
for f in "${NEEDED[@]}"; do [ -f "$SRC_DIR/$f" ] || have_all=0; done
if [ $have_all = 0 ]; then
	tarball=$(ls /usr/src/"$SRC_PKG".tar.* 2>/dev/null | head -n1)
	[ -n "$tarball" ] || die "no /usr/src/$SRC_PKG.tar.* (package $SRC_PKG)"
	log "unpacking kselftest harness and checkpatch from $tarball into $SRC_DIR"
	mkdir -p "$CACHE/src"
	tmp=$(mktemp -d "$CACHE/src/.unpack.XXXXXX")
	trap 'rm -rf "$tmp"' EXIT
	pats=()
	for f in "${NEEDED[@]}"; do pats+=("*/$f"); done
	tar -xaf "$tarball" -C "$tmp" --strip-components=1 --wildcards "${pats[@]}"
	for f in "${NEEDED[@]}"; do [ -f "$tmp/$f" ] || die "$f not in $tarball"; done
	rm -rf "$SRC_DIR"
	mv "$tmp" "$SRC_DIR"
	trap - EXIT
fi

# The second lane: Debian's 6.12 LTS from bookworm-backports. The suite is
# added next to the machine's own bookworm source (same mirror, same key),
# never a hard-coded mirror, and the versioned image and headers packages
# are installed by name, so the stock metapackages stay on 6.1.
BPO_LIST=/etc/apt/sources.list.d/arena-bookworm-backports.sources
bpo_source() {
	local uri key
	read -r uri key < <("$HERE/debian-source.sh" bookworm) ||
		die "no bookworm source in /etc/apt to derive bookworm-backports from"
	{
		echo "Types: deb"
		echo "URIs: $uri"
		echo "Suites: bookworm-backports"
		echo "Components: main"
		[ "$key" = - ] || echo "Signed-By: $key"
	} > "$BPO_LIST.tmp"
	mv "$BPO_LIST.tmp" "$BPO_LIST"
	log "added bookworm-backports from $uri ($BPO_LIST)"
}

bpo_kver() { # newest installed 6.12 lane kernel with headers and image
	local d v
	for d in $(ls -d /usr/src/linux-headers-6.12*-amd64 2>/dev/null | sort -V -r); do
		v=${d#/usr/src/linux-headers-}
		[ -r "/boot/vmlinuz-$v" ] && [ -d "/lib/modules/$v/kernel" ] && { echo "$v"; return; }
	done
}

BPO_KVER=""
if [[ "$LANES" == *" backports "* ]]; then
	BPO_KVER=$(bpo_kver)
	if [ -z "$BPO_KVER" ]; then
		[ -f "$BPO_LIST" ] || bpo_source
		export DEBIAN_FRONTEND=noninteractive
		apt-get -o Acquire::Retries=3 update -q >&2
		v=$(apt-cache show linux-image-amd64/bookworm-backports 2>/dev/null |
			sed -n 's/^Depends: .*linux-image-\(6\.12[^ ,]*-amd64\).*/\1/p' | head -n1)
		[ -n "$v" ] || die "no 6.12 kernel in bookworm-backports"
		log "installing the 6.12 lane kernel $v"
		apt-get -o Acquire::Retries=3 install -y -q --no-install-recommends \
			"linux-image-$v" "linux-headers-$v" </dev/null >&2
		BPO_KVER=$(bpo_kver)
		[ "$BPO_KVER" = "$v" ] || die "linux-image-$v / linux-headers-$v did not install"
	fi
fi

# The third lane: the newest 7.x kernel of trixie-backports. Its headers
# need gcc 14 and a newer glibc than bookworm's, so it lives in a trixie
# build root (image, modules and headers; never installed on this
# machine), cached under $CACHE/trixie-root/ and made once, from the same
# Debian source (scripts/trixie-root.sh, about three minutes cold).
NEW_KVER="" NEW_ROOT=""
if [[ "$LANES" == *" newest "* ]]; then
	out=$(ARENA_CACHE=$CACHE "$HERE/trixie-root.sh") || die "the trixie build root failed"
	read -r NEW_ROOT NEW_KVER <<< "$out"
	[ -n "$NEW_KVER" ] || die "scripts/trixie-root.sh printed no kernel version"
fi

if [ "${1:-}" = --config ]; then
	cat <<EOC
# generated by scripts/deps.sh --config; regenerated when dpkg's status changes
ARENA_KVER := $KVER
ARENA_KVER_BPO := $BPO_KVER
ARENA_KVER_NEW := $NEW_KVER
ARENA_NEW_ROOT := $NEW_ROOT
ARENA_SRC_DIR := $SRC_DIR
EOC
fi
