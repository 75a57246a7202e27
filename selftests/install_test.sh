#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Description: top-level `make install` and `make uninstall` into a scratch
# DESTDIR (scripts/install.mk): exactly the expected files (the module in
# lib/modules/<its kernel>/extra, libarena, arenastat and its man page, the
# udev rule, the modprobe.d example), each identical to what the tree built;
# the modprobe.d example names every parameter the built module has, with
# the default its description states; PREFIX moves the program, library and
# man pages but not the files udev and modprobe read; MODULE_INSTALL=none
# leaves the module out; uninstall leaves no file behind. Needs the build
# (kmod/arena.ko, build/). Runs on the host (scripts/host-tests.sh). KTAP.
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/scripts/ktap.sh"
root=$tmp/root

ktap_plan 9

KVER=$(modinfo -F vermagic "$TOP/kmod/arena.ko" 2>/dev/null | cut -d' ' -f1)

# The files an install under PREFIX ($1, no leading slash) must leave.
expected() { # prefix
	{
		echo etc/modprobe.d/arena.conf
		[ "${2:-}" = nomodule ] || echo "lib/modules/$KVER/extra/arena.ko"
		echo usr/lib/udev/rules.d/60-arena.rules
		echo "$1/bin/arenastat"
		echo "$1/include/libarena.h"
		echo "$1/include/linux/arena.h"
		for f in libarena.a libarena.so libarena.so.1 libarena.so.1.2.0 pkgconfig/libarena.pc; do
			echo "$1/lib/$f"
		done
		for f in "$TOP"/lib/man/*.3; do echo "$1/share/man/man3/${f##*/}"; done
		echo "$1/lib/libarena-apr.so"
		echo "$1/share/man/man7/libarena-apr.7"
		echo "$1/share/man/man8/arenastat.8"
	} | LC_ALL=C sort
}
installed() { # root -> files and links under it, relative, sorted
	(cd "$1" 2>/dev/null && find . -type f -o -type l) | sed 's|^\./||' | LC_ALL=C sort
}

make -s -C "$TOP" install DESTDIR="$root" PREFIX=/usr > "$tmp/install.log" 2>&1
rc=$?
[ -n "$KVER" ] || { echo "no vermagic in kmod/arena.ko" >> "$tmp/install.log"; rc=1; }
ok $rc "make install DESTDIR=... PREFIX=/usr" "$tmp/install.log"

expected usr > "$tmp/want"
installed "$root" > "$tmp/have"
same_list "$tmp/want" "$tmp/have" "$tmp/list.diff"
ok $? "installed exactly: module (extra/ of $KVER), libarena, arenastat + man page, udev rule, modprobe.d example" "$tmp/list.diff"

rc=0
: > "$tmp/same.log"
for pair in "kmod/arena.ko lib/modules/$KVER/extra/arena.ko" \
	    "build/tools/arenastat usr/bin/arenastat" \
	    "tools/arenastat/arenastat.8 usr/share/man/man8/arenastat.8" \
	    "packaging/60-arena.rules usr/lib/udev/rules.d/60-arena.rules" \
	    "packaging/arena.conf etc/modprobe.d/arena.conf"; do
	set -- $pair
	cmp "$TOP/$1" "$root/$2" >> "$tmp/same.log" 2>&1 || rc=1
done
[ "$(stat -c %a "$root/usr/bin/arenastat")" = 755 ] || { echo "arenastat not 0755" >> "$tmp/same.log"; rc=1; }
[ "$(stat -c %a "$root/lib/modules/$KVER/extra/arena.ko")" = 644 ] || { echo "arena.ko not 0644" >> "$tmp/same.log"; rc=1; }
ok $rc "installed files are the built ones, with modes 0755 (program) and 0644" "$tmp/same.log"

# The rule gives the node to group arena, 0660; nothing else matches.
rule=$(grep -v '^#' "$root/usr/lib/udev/rules.d/60-arena.rules" | grep .)
echo "$rule" > "$tmp/rule.txt"
rc=0
[ "$(wc -l <<< "$rule")" = 1 ] || rc=1
for want in 'KERNEL=="arena"' 'SUBSYSTEM=="misc"' 'GROUP="arena"' 'MODE="0660"'; do
	grep -qF "$want" <<< "$rule" || { echo "missing $want" >> "$tmp/rule.txt"; rc=1; }
done
ok $rc "udev rule: /dev/arena (misc) to group arena, mode 0660" "$tmp/rule.txt"

# Every parameter of the built module, and only those, is in the example,
# commented out, with the default its description states.
rc=0
modinfo -F parm "$TOP/kmod/arena.ko" > "$tmp/parm.txt"
conf=$root/etc/modprobe.d/arena.conf
{ echo "modinfo:"; cat "$tmp/parm.txt"; } > "$tmp/parm.log"
cut -d: -f1 "$tmp/parm.txt" | LC_ALL=C sort > "$tmp/parm.names"
sed -n 's/^#options arena \([a-z_]*\)=.*/\1/p' "$conf" | LC_ALL=C sort > "$tmp/conf.names"
same_list "$tmp/parm.names" "$tmp/conf.names" "$tmp/names.diff" || { cat "$tmp/names.diff" >> "$tmp/parm.log"; rc=1; }
while IFS=: read -r name desc; do
	def=$(sed -n 's/.*(default \([0-9][0-9]*\).*/\1/p' <<< "$desc")
	[ -n "$def" ] || def=0	# max_mb: "default and 0: half of RAM"
	grep -qx "#options arena $name=$def" "$conf" ||
		{ echo "$name: want '#options arena $name=$def'" >> "$tmp/parm.log"; rc=1; }
done < "$tmp/parm.txt"
grep -v '^#' "$conf" | grep -q . && { echo "uncommented lines in arena.conf" >> "$tmp/parm.log"; rc=1; }
ok $rc "modprobe.d example: every module parameter ($(wc -l < "$tmp/parm.names")), commented, at its default" "$tmp/parm.log"

grep -q '^prefix=/usr$' "$root/usr/lib/pkgconfig/libarena.pc"
ok $? "libarena.pc says prefix=/usr"

make -s -C "$TOP" uninstall DESTDIR="$root" PREFIX=/usr > "$tmp/uninstall.log" 2>&1
rc=$?
installed "$root" >> "$tmp/uninstall.log"
[ -z "$(installed "$root")" ] || rc=1
ok $rc "make uninstall leaves no file or link (directories only)" "$tmp/uninstall.log"

# Another prefix, module left out: udev and modprobe files stay where read.
rm -rf "$root"
make -s -C "$TOP" install DESTDIR="$root" PREFIX=/opt/arena MODULE_INSTALL=none \
	> "$tmp/opt.log" 2>&1
rc=$?
expected opt/arena nomodule > "$tmp/want"
installed "$root" > "$tmp/have"
same_list "$tmp/want" "$tmp/have" "$tmp/opt.diff" || { cat "$tmp/opt.diff" >> "$tmp/opt.log"; rc=1; }
ok $rc "PREFIX=/opt/arena MODULE_INSTALL=none: bin, lib, include, man under the prefix; udev and modprobe.d where they are read; no module" "$tmp/opt.log"

make -s -C "$TOP" uninstall DESTDIR="$root" PREFIX=/opt/arena MODULE_INSTALL=none \
	> "$tmp/opt-un.log" 2>&1
rc=$?
installed "$root" >> "$tmp/opt-un.log"
[ -z "$(installed "$root")" ] || rc=1
ok $rc "make uninstall PREFIX=/opt/arena leaves no file" "$tmp/opt-un.log"

ktap_done
