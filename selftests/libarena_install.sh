#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Description: the installed libarena, as a user of the package sees it.
# `make -C lib install DESTDIR=<scratch> PREFIX=/usr` (from a clean build
# directory), then programs that know the library only through
# `pkg-config --cflags --libs libarena` (PKG_CONFIG_SYSROOT_DIR pointing at
# the scratch root) are built and run: shared, static, and the header from
# C++. Also: the exported symbols are exactly lib/libarena.map's, every
# public function has a man page that groff renders without a warning, and
# `make uninstall` removes every file it installed. Runs on the host
# (scripts/host-tests.sh) on the mmap backend. Prints KTAP.
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/scripts/ktap.sh"
root=$tmp/root

# The public functions: each needs a man page (arena_alloc is inline).
FUNCS="arena_new arena_free arena_reset arena_alloc arena_alloc_aligned
       arena_calloc arena_strdup arena_strndup arena_contains arena_stats
       arena_backend arena_lookup arena_id arena_chunk_size arena_trim
       arena_memdup arena_sprintf arena_vsprintf arena_realloc
       arena_alloc_array ARENA_NEW ARENA_NEW_ARRAY arena_on_free
       arena_version"

ktap_plan 11

make -s -C "$TOP/lib" O="$tmp/build" DESTDIR="$root" PREFIX=/usr install \
	> "$tmp/install.log" 2>&1
ok $? "make install DESTDIR=... PREFIX=/usr" "$tmp/install.log"

missing=""
for f in usr/lib/libarena.so.1.2.0 usr/lib/libarena.so.1 usr/lib/libarena.so \
	 usr/lib/libarena.a usr/include/libarena.h usr/include/linux/arena.h \
	 usr/lib/pkgconfig/libarena.pc; do
	[ -e "$root/$f" ] || missing="$missing $f"
done
for fn in $FUNCS; do
	[ -e "$root/usr/share/man/man3/$fn.3" ] || missing="$missing man3/$fn.3"
done
echo "missing:$missing" > "$tmp/missing.txt"
ok "$([ -z "$missing" ]; echo $?)" "installed: library, headers, libarena.pc, a man page per function" "$tmp/missing.txt"

export PKG_CONFIG_SYSROOT_DIR=$root PKG_CONFIG_LIBDIR=$root/usr/lib/pkgconfig
flags=$(pkg-config --cflags --libs libarena 2> "$tmp/pc.err")
rc=$?
{ echo "pkg-config: $flags"; cat "$tmp/pc.err"; } > "$tmp/pc.txt"
case "$flags" in *"-I$root/usr/include"*"-L$root/usr/lib"*"-larena"*) ;; *) rc=1 ;; esac
[ "$(pkg-config --modversion libarena 2>/dev/null)" = 1.2.0 ] || rc=1
ok $rc "pkg-config --cflags --libs libarena names the installed tree" "$tmp/pc.txt"

cat > "$tmp/user.c" <<'EOC'
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <libarena.h>
#include <linux/arena.h>	/* installed with it */

int main(void)
{
	struct arena_addr_info info;
	struct arena_stats st;
	struct arena *a = arena_new(0), *s = arena_new(ARENA_THREADSAFE);
	char *p, *q;

	if (!a || !s)
		return perror("arena_new"), 1;
	p = arena_strdup(a, "installed");
	q = (char *)arena_alloc_aligned(s, 100, 4096);
	if (!p || !q || strcmp(p, "installed") || (unsigned long)q % 4096)
		return 2;
	if (!arena_calloc(a, 10, 10) || !arena_strndup(a, "abc", 2) ||
	    !arena_alloc(a, 24))
		return 3;
	if (!arena_contains(a, p) || arena_contains(s, p))
		return 4;
	if (arena_stats(a, &st) || st.mapped != st.chunks * arena_chunk_size())
		return 5;
	if (arena_lookup(p, &info) || info.state != ARENA_ADDR_LIVE ||
	    info.arena_id != arena_id(a))
		return 6;
	if (arena_reset(a) || arena_new(0x80) || errno != EINVAL)
		return 7;
	p = arena_sprintf(a, "%d", 12);
	if (arena_version() != LIBARENA_VERSION || !LIBARENA_VERSION_CHECK(1, 2, 0) ||
	    !ARENA_NEW_ARRAY(a, int, 4) || !p || strcmp(p, "12"))
		return 8;
	printf("backend=%s chunk=%zu abi=%d\n", arena_backend(),
	       arena_chunk_size(), ARENA_ABI_VERSION);
	arena_free(s);
	arena_free(a);
	return 0;
}
EOC

cc -Wall -Werror -o "$tmp/user" "$tmp/user.c" $flags > "$tmp/cc.log" 2>&1
ok $? "a program builds with only pkg-config's flags (shared)" "$tmp/cc.log"

ARENA_BACKEND=mmap LD_LIBRARY_PATH=$root/usr/lib "$tmp/user" > "$tmp/run.log" 2>&1
rc=$?
abi=$(sed -n 's/^#define ARENA_ABI_VERSION \([0-9]*\)$/\1/p' "$TOP/uapi/linux/arena.h")
grep -q "^backend=mmap chunk=2097152 abi=$abi\$" "$tmp/run.log" || rc=1
ok $rc "it runs on the installed libarena.so (mmap backend)" "$tmp/run.log"

LD_LIBRARY_PATH=$root/usr/lib ldd "$tmp/user" > "$tmp/ldd.log" 2>&1
grep -q "libarena.so.1 => $root/usr/lib/libarena.so.1 " "$tmp/ldd.log"
ok $? "it links libarena.so.1 by its soname" "$tmp/ldd.log"

sflags=$(pkg-config --static --cflags --libs libarena)
cc -Wall -Werror -static -o "$tmp/user-static" "$tmp/user.c" $sflags \
	> "$tmp/ccs.log" 2>&1 &&
	ARENA_BACKEND=mmap "$tmp/user-static" >> "$tmp/ccs.log" 2>&1
ok $? "a static program builds with pkg-config --static and runs" "$tmp/ccs.log"

if command -v c++ >/dev/null; then
	c++ -Wall -Werror -fsyntax-only -x c++ "$tmp/user.c" $(pkg-config --cflags libarena) \
		> "$tmp/cxx.log" 2>&1
	ok $? "<libarena.h> compiles as C++" "$tmp/cxx.log"
else
	skip "<libarena.h> compiles as C++" "no c++"
fi

# Exactly the map's global symbols, each at the version node that lists
# it (LIBARENA_1.0, LIBARENA_1.1, ...); one listed at several nodes is the
# default (@@) at the last and a compatibility version (@) at the others.
want=$(awk '/^LIBARENA_[0-9.]+ *\{/ { v = $1 }
	/^[[:space:]]+[A-Za-z_][A-Za-z0-9_]*;/ {
		s = $1; sub(/;/, "", s)
		if (s in last) print s "@" last[s]
		last[s] = v
	}
	END { for (s in last) print s "@@" last[s] }' "$TOP/lib/libarena.map" | sort)
have=$(nm -D --defined-only "$root/usr/lib/libarena.so.1" | awk '$2 == "T" { print $3 }' | sort)
{ echo "map:"; echo "$want"; echo "exported:"; echo "$have"; } > "$tmp/syms.txt"
rc=0
[ -n "$want" ] && [ "$have" = "$want" ] || rc=1
ok $rc "exported symbols are exactly libarena.map's, each at its version node" "$tmp/syms.txt"

rc=0
: > "$tmp/man.log"
for f in "$root"/usr/share/man/man3/*.3; do
	# .so aliases are resolved against the man tree, as man(1) does.
	(cd "$root/usr/share/man" && groff -man -ww -z -Tutf8 "$f") >> "$tmp/man.log" 2>&1 || rc=1
done
[ -s "$tmp/man.log" ] && rc=1
ok $rc "every man page renders without a groff warning" "$tmp/man.log"

make -s -C "$TOP/lib" O="$tmp/build" DESTDIR="$root" PREFIX=/usr uninstall \
	> "$tmp/uninstall.log" 2>&1
rc=$?
find "$root" -type f -o -type l >> "$tmp/uninstall.log"
[ -z "$(find "$root" -type f -o -type l)" ] || rc=1
ok $rc "make uninstall removes every installed file" "$tmp/uninstall.log"

ktap_done
