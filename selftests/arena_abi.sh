#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Description: the ioctl structs as the compiled module sees them (pahole on
# kmod/arena.ko's DWARF): no hole and no padding in any of them, so that
# copy_to_user() of a whole struct can carry no byte the kernel did not
# set, and each is the size the uapi header says. Host lane of make check;
# skips without pahole or without debug info in the module.
#
#   selftests/arena_abi.sh [kmod/arena.ko]
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
KO=${1:-$TOP/kmod/arena.ko}
STRUCTS="arena_info:56 arena_create:16 arena_alloc_chunks:24 arena_free:32 arena_lookup:48 arena_alloc:40"

echo "TAP version 13"
echo "1..$(wc -w <<<"$STRUCTS")"
if ! command -v pahole >/dev/null || [ ! -r "$KO" ] ||
   ! pahole -C arena_info "$KO" >/dev/null 2>&1; then
	i=0
	for s in $STRUCTS; do
		i=$((i + 1))
		echo "ok $i ${s%%:*} # SKIP no pahole, no $KO or no debug info in it"
	done
	exit 0
fi
i=0 rc=0
for s in $STRUCTS; do
	name=${s%%:*} want=${s#*:}
	i=$((i + 1))
	out=$(pahole -C "$name" "$KO" 2>&1)
	size=$(sed -nE 's|.*/\* size: ([0-9]+),.*|\1|p' <<<"$out")
	if grep -qE 'XXX|padding:|hole' <<<"$out"; then
		sed 's/^/# /' <<<"$out"
		echo "not ok $i $name has holes or padding"
		rc=1
	elif [ "$size" != "$want" ]; then
		sed 's/^/# /' <<<"$out"
		echo "not ok $i $name is ${size:-?} bytes, not $want"
		rc=1
	else
		echo "ok $i $name: $size bytes, no holes, no padding"
	fi
done
exit $rc
