#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Description: the documentation holds together. Every Documentation/*.rst
# renders without a warning (scripts/htmldocs.py: docutils, with the uapi
# header's kernel-doc pulled in and a kernel-doc warning counted as one),
# and the toctree names pages that exist; kernel-doc documents every
# struct and ioctl of uapi/linux/arena.h; the userspace API guide's
# complete program compiles; the admin guide covers every module parameter
# of the built module and every file of the sysfs ABI document; every
# Documentation/ path the pages and the README name exists; the design
# document has its section on small arenas. Runs on the host
# (scripts/host-tests.sh). KTAP.
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/scripts/ktap.sh"
D=$TOP/Documentation
SRC=$(sed -n 's/^ARENA_SRC_DIR := //p' "$TOP/build/config.mk" 2>/dev/null)
KD=$SRC/scripts/kernel-doc

ktap_plan 8

mapfile -t pages < <(find "$D" -name '*.rst' | LC_ALL=C sort)
/usr/bin/python3 "$TOP/scripts/htmldocs.py" --kernel-doc "$KD" --check "${pages[@]}" \
	> "$tmp/html.log" 2>&1
ok $? "${#pages[@]} pages render without a warning (docutils + kernel-doc)" "$tmp/html.log"

# The index's toctree: every page but the index itself is in it.
rc=0
for p in "${pages[@]}"; do
	rel=${p#"$D"/}
	rel=${rel%.rst}
	[ "$rel" = index ] && continue
	grep -qx "   $rel" "$D/index.rst" || { echo "not in index.rst: $rel" >> "$tmp/toc.log"; rc=1; }
done
ok $rc "Documentation/index.rst's toctree lists every page" "$tmp/toc.log"

# kernel-doc of the uapi header, as the guide's directive renders it.
perl "$KD" -rst -sphinx-version 5.3.0 "$TOP/uapi/linux/arena.h" > "$tmp/kdoc.rst" 2> "$tmp/kdoc.log"
rc=$?
[ -s "$tmp/kdoc.log" ] && rc=1
for s in $(sed -n 's/^struct \(arena_[a-z_]*\) {$/\1/p' "$TOP/uapi/linux/arena.h"); do
	grep -qx ".. c:struct:: $s" "$tmp/kdoc.rst" || { echo "struct $s: no kernel-doc" >> "$tmp/kdoc.log"; rc=1; }
done
for c in $(sed -n 's/^#define \(ARENA_IOC_[A-Z_]*\) _IO.*/\1/p' "$TOP/uapi/linux/arena.h"); do
	grep -q "ioctl($c)" "$tmp/kdoc.rst" || { echo "$c: no struct documents it" >> "$tmp/kdoc.log"; rc=1; }
done
grep -q '^\*\*General ioctl format\*\*$' "$tmp/kdoc.rst" || rc=1
grep -qx '.. kernel-doc:: uapi/linux/arena.h' "$D/userspace-api/arena.rst" || rc=1
ok $rc "kernel-doc: every struct and ioctl of uapi/linux/arena.h, pulled into the userspace API guide" "$tmp/kdoc.log"

# The complete program: the literal block after "A complete program".
awk '/^A complete program/ { on = 1; next }
     on && /^    / { sub(/^    /, ""); print; seen = 1; next }
     on && seen && /^[^ ]/ { exit }
     on && /^$/ { if (seen) print }' "$D/userspace-api/arena.rst" > "$tmp/prog.c"
cc -Wall -Wextra -Werror -I"$TOP/uapi" -o "$tmp/prog" "$tmp/prog.c" > "$tmp/prog.log" 2>&1
rc=$?
[ "$(grep -c ioctl "$tmp/prog.c")" -ge 5 ] || { echo "no program found" >> "$tmp/prog.log"; rc=1; }
ok $rc "the userspace API guide's complete program compiles (-Wall -Wextra -Werror)" "$tmp/prog.log"

# Every parameter the built module has, with its default, in the admin guide.
rc=0
modinfo -F parm "$TOP/kmod/arena.ko" | cut -d: -f1 > "$tmp/parms"
[ -s "$tmp/parms" ] || { echo "no parameters in kmod/arena.ko" > "$tmp/parm.log"; rc=1; }
while read -r p; do
	grep -q "^\`\`$p\`\` (default " "$D/admin-guide/arena.rst" ||
		{ echo "admin guide: no entry for $p" >> "$tmp/parm.log"; rc=1; }
done < "$tmp/parms"
ok $rc "admin guide: every module parameter ($(wc -l < "$tmp/parms")) with its default" "$tmp/parm.log"

# Every sysfs file of the ABI document is in the admin guide's counters.
rc=0
for f in $(sed -n 's|^What:[[:space:]]*/sys/kernel/arena/\([a-z_]*\)$|\1|p' "$D/ABI/testing/sysfs-kernel-arena"); do
	grep -q "\`\`$f\`\`" "$D/admin-guide/arena.rst" || { echo "admin guide: no $f" >> "$tmp/sysfs.log"; rc=1; }
done
ok $rc "admin guide: every file of Documentation/ABI/testing/sysfs-kernel-arena" "$tmp/sysfs.log"

# Paths named in the pages and the README exist.
rc=0
{
	grep -ohE '``Documentation/[A-Za-z0-9_./-]+``' "${pages[@]}" | tr -d '`'
	grep -oE '\]\([A-Za-z0-9_./-]+\)' "$TOP/README.md" | sed 's/^](//; s/)$//'
} | sort -u > "$tmp/paths"
while read -r p; do
	[ -e "$TOP/$p" ] || { echo "missing: $p" >> "$tmp/paths.log"; rc=1; }
done < "$tmp/paths"
for p in index.rst userspace-api/arena.rst admin-guide/arena.rst design/arena.rst; do
	grep -qF "(Documentation/$p)" "$TOP/README.md" || { echo "README does not link $p" >> "$tmp/paths.log"; rc=1; }
done
ok $rc "every Documentation/ path the pages and README name exists; README links the guides" "$tmp/paths.log"

grep -qx 'Small arenas (page-granular runs)' "$D/design/arena.rst" &&
	grep -q ':doc:`../small-arenas`' "$D/design/arena.rst" &&
	! grep -q 'placeholder for the small-arena design' "$D/design/arena.rst"
ok $? "design document: the small-arena section, pointing at small-arenas.rst"

ktap_done
