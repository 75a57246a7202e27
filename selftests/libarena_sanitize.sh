#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Description: the tools C programmers use see inside arenas. Built against
# build/lib (the library built plainly, as packaged), on the mmap backend:
#
#   - AddressSanitizer: selftests/sanitize/overflow.c built with
#     -fsanitize=address; a one-byte overflow into the next object, a read
#     of a run's unallocated tail, a write after arena_reset(), an overflow
#     of an aligned object and of a thread-safe arena's object are each
#     reported by ASan (its report, exit status 1); the clean run is not.
#   - Valgrind's memcheck: the same program built plainly, run under
#     valgrind; the same accesses are reported (exit status 99 from
#     --error-exitcode), the clean run is not. Skipped without valgrind.
#   - _FORTIFY_SOURCE=3 (selftests/sanitize/fortify.c, -O2): the dynamic
#     object size of typed, aligned, calloc and memdup objects is their
#     size, and a memcpy() one element past an ARENA_NEW_ARRAY() or
#     arena_alloc_aligned() object aborts with glibc's "buffer overflow
#     detected".
#   - dlvsym(): arena_alloc@LIBARENA_1.2 and the others called through the
#     shared library as a foreign-function binding would
#     (selftests/sanitize/dlsym.c).
#   - A program built with the 1.1 header and library (from git history;
#     skipped without it), whose inline path calls __arena_alloc_slow and whose
#     struct arena_addr_info is 32 bytes, runs on this library: its
#     arena_lookup (@LIBARENA_1.0) writes nothing past the old struct.
#
# Runs on the host (scripts/host-tests.sh). Prints KTAP.
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/scripts/ktap.sh"
S=$TOP/selftests/sanitize
LIB=$TOP/build/lib
CC=${CC:-cc}
export ARENA_BACKEND=mmap
MODES="overflow tail reset aligned shared"

ktap_plan 7

# A run of the test program that must be reported: 0 if it was.
reported() { # want-rc pattern log
	local rc=$1 pat=$2 log=$3 got
	got=$(sed -n 's/^exit=//p' "$log")
	[ "$got" = "$rc" ] && grep -q "$pat" "$log"
}

# AddressSanitizer.
if $CC -g -fsanitize=address -I"$TOP/lib" -o "$tmp/ov-asan" "$S/overflow.c" \
	"$LIB/libarena.a" -pthread > "$tmp/asan.log" 2>&1; then
	rc=0
	"$tmp/ov-asan" clean >> "$tmp/asan.log" 2>&1 || { echo "clean: exit $?" >> "$tmp/asan.log"; rc=1; }
	for m in $MODES; do
		{ "$tmp/ov-asan" "$m"; echo "exit=$?"; } > "$tmp/asan-$m.log" 2>&1
		if ! reported 1 "ERROR: AddressSanitizer: use-after-poison" "$tmp/asan-$m.log"; then
			{ echo "$m: not reported"; cat "$tmp/asan-$m.log"; } >> "$tmp/asan.log"
			rc=1
		fi
	done
	ok $rc "AddressSanitizer reports overflows, tails and use after reset inside arenas ($MODES), not the clean run" "$tmp/asan.log"
else
	ok 1 "AddressSanitizer reports overflows, tails and use after reset inside arenas" "$tmp/asan.log"
fi

# Valgrind's memcheck.
$CC -g -O1 -I"$TOP/lib" -o "$tmp/ov" "$S/overflow.c" "$LIB/libarena.a" -pthread > "$tmp/vg.log" 2>&1
if ! command -v valgrind > /dev/null; then
	skip "memcheck reports overflows, tails and use after reset inside arenas" "no valgrind"
else
	rc=0
	valgrind -q --error-exitcode=99 "$tmp/ov" clean >> "$tmp/vg.log" 2>&1 || { echo "clean: exit $?" >> "$tmp/vg.log"; rc=1; }
	for m in $MODES; do
		{ valgrind -q --error-exitcode=99 "$tmp/ov" "$m"; echo "exit=$?"; } > "$tmp/vg-$m.log" 2>&1
		# After reset the page fault ends the run (SIGSEGV) once it is reported.
		want=99
		[ "$m" = reset ] && want=139
		if ! reported $want "Invalid \(read\|write\) of size 1" "$tmp/vg-$m.log"; then
			{ echo "$m: not reported"; cat "$tmp/vg-$m.log"; } >> "$tmp/vg.log"
			rc=1
		fi
	done
	ok $rc "memcheck reports overflows, tails and use after reset inside arenas ($MODES), not the clean run" "$tmp/vg.log"
fi

# _FORTIFY_SOURCE and the dynamic object size.
$CC -O2 -D_FORTIFY_SOURCE=3 -Wall -I"$TOP/lib" -o "$tmp/fortify" "$S/fortify.c" \
	"$LIB/libarena.a" -pthread > "$tmp/fo.log" 2>&1
"$tmp/fortify" sizes 5 > "$tmp/sizes.log" 2>&1
grep -qx "20 100 21 9" "$tmp/sizes.log"
ok $? "__builtin_dynamic_object_size: ARENA_NEW_ARRAY 20, arena_alloc_aligned 100, arena_calloc 21, arena_memdup 9" "$tmp/sizes.log"

rc=0
for m in array aligned; do
	{ "$tmp/fortify" "$m" 5; echo "exit=$?"; } > "$tmp/fo-$m.log" 2>&1
	reported 134 "buffer overflow detected" "$tmp/fo-$m.log" || { cat "$tmp/fo-$m.log" >> "$tmp/fo.log"; rc=1; }
done
ok $rc "-D_FORTIFY_SOURCE=3: memcpy() past an ARENA_NEW_ARRAY() or arena_alloc_aligned() object aborts" "$tmp/fo.log"

# Bindings.
$CC -Wall -Wextra -o "$tmp/dlsym" "$S/dlsym.c" -ldl > "$tmp/dl.log" 2>&1 &&
	"$tmp/dlsym" "$LIB/libarena.so.1" >> "$tmp/dl.log" 2>&1 &&
	grep -qx "ok $(sed -n 's/^VERSION := //p' "$TOP/lib/Makefile")" "$tmp/dl.log"
ok $? "dlvsym(arena_alloc, LIBARENA_1.2) allocates; arena_version() is lib/Makefile's VERSION" "$tmp/dl.log"

# The header's version is the Makefile's.
v=$(sed -n 's/^#define LIBARENA_VERSION_\(MAJOR\|MINOR\|PATCH\)[[:space:]]*\([0-9]*\)$/\2/p' "$TOP/lib/libarena.h" | paste -sd.)
echo "libarena.h: $v" > "$tmp/ver.log"
[ "$v" = "$(sed -n 's/^VERSION := //p' "$TOP/lib/Makefile")" ]
ok $? "LIBARENA_VERSION_MAJOR.MINOR.PATCH in libarena.h is lib/Makefile's VERSION" "$tmp/ver.log"

# Programs built with the 1.1 header: __arena_alloc_slow@LIBARENA_1.0.
# Built and linked as it was then: against libarena 1.1 (commit 3714088),
# run on this one.
mkdir -p "$tmp/old"
if git -C "$TOP" archive 3714088 lib uapi scripts/quiet.mk 2> /dev/null |
	tar -x -C "$tmp/old" && make -s -C "$tmp/old/lib" O="$tmp/old/build" > "$tmp/old.log" 2>&1; then
	cat > "$tmp/old.c" <<'EOC'
#include <stdio.h>
#include <string.h>
#include <libarena.h>

int main(void)
{
	struct {
		struct arena_addr_info info;
		unsigned char canary[64];
	} out;
	struct arena *a = arena_new(0);
	char *p = NULL;
	int i;

	if (!a)
		return 1;
	for (i = 0; i < 100000; i++) {
		p = arena_alloc(a, 100);

		if (!p || p[99])
			return 2;
		memset(p, 1, 100);
	}
	memset(&out, 0xee, sizeof(out));
	if (arena_lookup(p, &out.info) || out.info.state != ARENA_ADDR_LIVE ||
	    out.info.arena_id != arena_id(a))
		return 3;
	for (i = 0; i < 64; i++)
		if (out.canary[i] != 0xee)
			return 4;
	arena_free(a);
	puts("old ok");
	return 0;
}
EOC
	$CC -O2 -I"$tmp/old/lib" -o "$tmp/oldprog" "$tmp/old.c" -L"$tmp/old/build" -larena >> "$tmp/old.log" 2>&1 &&
		LD_LIBRARY_PATH=$LIB "$tmp/oldprog" >> "$tmp/old.log" 2>&1 &&
		grep -qx "old ok" "$tmp/old.log" &&
		nm -D "$tmp/oldprog" > "$tmp/old.nm" &&
		grep -q " U __arena_alloc_slow@LIBARENA_1.0$" "$tmp/old.nm" &&
		grep -q " U arena_lookup@LIBARENA_1.0$" "$tmp/old.nm"
	rc=$?
	cat "$tmp/old.nm" >> "$tmp/old.log"
	ok $rc "a program built with the 1.1 header runs on this library (__arena_alloc_slow, arena_lookup of the 32-byte struct at LIBARENA_1.0)" "$tmp/old.log"
else
	skip "a program built with the 1.1 header runs on this library" "no git history to build 1.1 from"
fi

ktap_done
