#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Description: the module's build refuses kernels it cannot work on with a
# message that names the missing option: without CONFIG_TRANSPARENT_HUGEPAGE
# and without CONFIG_64BIT (each switched off on make's command line, which
# overrides the kernel's configuration), and still builds with both. Host
# lane of make check, against the stock headers, in a scratch copy.
#
#   selftests/kbuild_refuse_test.sh [KDIR]
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
KDIR=${1:-}
if [ -z "$KDIR" ]; then
	KVER=$(sed -n 's/^ARENA_KVER := //p' "$TOP/build/config.mk" 2>/dev/null)
	KDIR=/usr/src/linux-headers-$KVER
fi

echo "TAP version 13"
echo "1..3"
if [ ! -d "$KDIR" ]; then
	for i in 1 2 3; do echo "ok $i # SKIP no headers in '$KDIR'"; done
	exit 0
fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cp -a "$TOP/Kbuild" "$TOP/kmod" "$TOP/uapi" "$work/"
make -s -C "$work/kmod" clean >/dev/null 2>&1 || true
rm -f "$work"/kmod/*.o "$work"/kmod/*.ko

rc=0 i=0
refuse() { # option message-part
	local out
	i=$((i + 1))
	out=$(make -C "$KDIR" M="$work" "$1=" modules 2>&1)
	if [ $? -ne 0 ] && grep -q "arena: needs .*$2" <<<"$out"; then
		echo "ok $i refused without $1: $(grep -o "arena: needs[^(]*" <<<"$out" | head -n1)"
	else
		sed 's/^/# /' <<<"$out" | tail -n 5
		echo "not ok $i built, or failed without saying why, without $1"
		rc=1
	fi
}
refuse CONFIG_TRANSPARENT_HUGEPAGE CONFIG_TRANSPARENT_HUGEPAGE
refuse CONFIG_64BIT "64-bit"
i=$((i + 1))
if out=$(make -C "$KDIR" M="$work" modules 2>&1) && [ -f "$work/kmod/arena.ko" ]; then
	echo "ok $i builds with both"
else
	sed 's/^/# /' <<<"$out" | tail -n 5
	echo "not ok $i does not build with both"
	rc=1
fi
exit $rc
