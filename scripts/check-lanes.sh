#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Run the selftests on every kernel lane, one VM boot each, and end with one
# line that sums them: "N passed, N failed[, N skipped]". Exit non-zero if
# any lane failed.
#
#   scripts/check-lanes.sh OUTDIR KVER:MODULE[:ROOT] [...] -- VM-RUN-ARGS
#
# Each lane boots ROOT/boot/vmlinuz-KVER with MODULE (arena.ko built
# against that kernel's headers) and the disk driver from
# ROOT/lib/modules/KVER/; ROOT is / (this machine) unless given, e.g. the
# trixie build root of the 7.x lane (scripts/trixie-root.sh), whose kernel
# is never installed here. Its logs go to OUTDIR/KVER/. A lane host:PROGRAM
# runs PROGRAM OUTDIR/host on this machine instead (scripts/host-tests.sh:
# the tests that need no module), summed the same way from its last line.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
out=$1
shift
lanes=()
while [ $# -gt 0 ] && [ "$1" != -- ]; do
	lanes+=("$1")
	shift
done
[ "${1:-}" = -- ] && shift

total_p=0 total_f=0 total_s=0 rc=0 lines=()
for lane in "${lanes[@]}"; do
	kver=${lane%%:*}
	module=${lane#*:}
	root=""
	if [ "$kver" != host ] && [[ "$module" == *:* ]]; then
		root=${module#*:}
		module=${module%%:*}
	fi
	echo "# check: lane $kver"
	if [ "$kver" = host ]; then
		"$module" "$out/host" | tee "$out/lane-$kver.log"
	else
		# The lane's own modules directory goes last: it wins over a
		# MODULES_DIR meant for another kernel.
		"$HERE/vm-run.sh" --mode check --out "$out/$kver" \
			--kernel "$root/boot/vmlinuz-$kver" --module "$module" "$@" \
			${root:+--modules-dir "$root/lib/modules/$kver"} |
			tee "$out/lane-$kver.log"
	fi
	lrc=${PIPESTATUS[0]}
	[ "$lrc" = 0 ] || rc=1
	last=$(grep -E '^[0-9]+ passed, [0-9]+ failed' "$out/lane-$kver.log" | tail -n1)
	if [ -z "$last" ]; then
		# No summary at all: the lane itself failed to run.
		last="0 passed, 1 failed"
		rc=1
	fi
	p=$(sed -E 's/^([0-9]+) passed.*/\1/' <<<"$last")
	f=$(sed -E 's/.* ([0-9]+) failed.*/\1/' <<<"$last")
	s=$(sed -nE 's/.* ([0-9]+) skipped.*/\1/p' <<<"$last")
	total_p=$((total_p + p))
	total_f=$((total_f + f))
	total_s=$((total_s + ${s:-0}))
	lines+=("# check: $kver: $last")
done

echo
printf '%s\n' "${lines[@]}"
[ $total_f -gt 0 ] && rc=1
if [ $total_s -gt 0 ]; then
	echo "$total_p passed, $total_f failed, $total_s skipped"
else
	echo "$total_p passed, $total_f failed"
fi
exit $rc
