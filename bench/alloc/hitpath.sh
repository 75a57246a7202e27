#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench/alloc/hitpath.sh HITPATH_BINARY
#
# Count the instructions of one allocation on the host with callgrind:
# run HITPATH_BINARY (bench/alloc/hitpath.c) once per operation and size
# under `valgrind --tool=callgrind --toggle-collect=measure_<op>`, on the
# mmap backend (the machine needs no /dev/arena; arena_alloc's hit path is
# the same inline code on both backends), and print one line per run:
#
#   @hit op=OP size=SIZE calls=N ir=TOTAL per_call=X
#
# plus "@hitmeta key=value" lines: valgrind and compiler versions, CPU,
# kernel, date. per_call
# includes the measured function's ret (and its few wrapper instructions:
# op=empty is a wrapper that does nothing). Needs valgrind.
set -euo pipefail

BIN=${1:?usage: $0 HITPATH_BINARY}
command -v valgrind >/dev/null || { echo "hitpath.sh: valgrind missing (scripts/deps.sh --bench)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

run() { # op size
	local fn=measure_$1 calls ir
	case $1 in arena_ts) fn=measure_arena ;; esac
	calls=$(ARENA_BACKEND=mmap valgrind --tool=callgrind --toggle-collect="$fn" \
		--callgrind-out-file="$tmp/cg.out" "$BIN" "$1" "$2" 2>"$tmp/vg.err" |
		sed -n 's/^calls=//p') || { cat "$tmp/vg.err" >&2; return 1; }
	ir=$(sed -n 's/^summary: *//p' "$tmp/cg.out" | awk '{print $1}')
	[ -n "$ir" ] || ir=$(sed -n 's/^totals: *//p' "$tmp/cg.out" | awk '{print $1}')
	awk -v op="$1" -v size="$2" -v calls="$calls" -v ir="$ir" 'BEGIN {
		printf "@hit op=%s size=%s calls=%d ir=%d per_call=%.2f\n", op, size, calls, ir, ir / calls }'
}

echo "@hitmeta valgrind=$(valgrind --version | sed 's/^valgrind-//')"
echo "@hitmeta cc=$(${CC:-cc} --version | head -n1)"
echo "@hitmeta cpu=$(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo | head -n1)"
echo "@hitmeta kernel=$(uname -r)"
echo "@hitmeta date=$(date -u +%Y-%m-%dT%H:%M:%SZ)"
for size in 16 64 256 1024 4096 mixed; do
	for op in empty arena malloc malloc_batch; do
		run "$op" "$size"
	done
done
run arena_const 32
run arena_ts mixed
