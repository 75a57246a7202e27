#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Description: `make dkms-install` and `make dkms-uninstall` with every
# DKMS tree in a scratch directory (DKMS_SOURCETREE, DKMS_TREE,
# DKMS_INSTALLTREE, --no-depmod), for the stock 6.1 kernel's headers and
# 6.12's if installed, never for the running kernel: DKMS builds and
# installs arena.ko for each, for that kernel (vermagic), signed with a
# scratch key; the source tree holds exactly what kbuild needs; nothing
# lands in the host's /usr/src, /var/lib/dkms or /lib/modules; uninstall
# removes it all. Runs on the host (scripts/host-tests.sh). KTAP.
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/scripts/ktap.sh"
VERSION=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$TOP/dkms.conf")
# dkms reads its signing key from these when /etc/dkms/framework.conf
# does not set them: a scratch key, never the host's /var/lib/dkms/mok.*.
export mok_signing_key=$tmp/mok.key mok_certificate=$tmp/mok.pub
DK=(DKMS_SOURCETREE="$tmp/src" DKMS_TREE="$tmp/tree" DKMS_INSTALLTREE="$tmp/modules")

# The kernels: those with headers (a build/ link), 6.1 and 6.12 only, and
# never the one this machine runs.
running=$(uname -r)
kvers=()
for b in /lib/modules/6.1.*-amd64/build /lib/modules/6.12.*-amd64/build; do
	[ -d "$b" ] || continue
	k=${b#/lib/modules/}
	k=${k%/build}
	[ "$k" = "$running" ] || kvers+=("$k")
done

host_state() { # what of arena the host's own trees hold
	ls -d /usr/src/arena-* /var/lib/dkms/arena 2>/dev/null
	find /lib/modules/ -name 'arena.ko*' 2>/dev/null
}

ktap_plan 7
host_state > "$tmp/host.before"

if [ ${#kvers[@]} = 0 ]; then
	echo "# no 6.1 or 6.12 kernel headers besides the running kernel's"
fi
echo "# kernels: ${kvers[*]:-none} (running: $running, skipped)"
case " ${kvers[*]:-} " in *" 6.1."*) rc=0 ;; *) rc=1 ;; esac
ok $rc "the stock 6.1 kernel's headers are installed"

make -s -C "$TOP" dkms-install "${DK[@]}" DKMS_KVERS="${kvers[*]:-}" > "$tmp/install.log" 2>&1
ok $? "make dkms-install into scratch trees for: ${kvers[*]:-}" "$tmp/install.log"

rc=0
: > "$tmp/mods.log"
for k in "${kvers[@]}"; do
	m=$(ls "$tmp/modules/$k"/*/*/arena.ko* "$tmp/modules/$k"/*/arena.ko* 2>/dev/null | head -n1)
	if [ -z "$m" ]; then
		echo "$k: no arena.ko under $tmp/modules/$k" >> "$tmp/mods.log"
		rc=1
		continue
	fi
	vm=$(modinfo -F vermagic "$m" | cut -d' ' -f1)
	signer=$(modinfo -F signer "$m")
	echo "$k: ${m#"$tmp"/} vermagic $vm signer '$signer'" >> "$tmp/mods.log"
	[ "$vm" = "$k" ] || rc=1
	[ "$signer" = "DKMS module signing key" ] || rc=1
	modinfo -F parm "$m" | grep -q '^chunk_kib:' || rc=1
done
[ -s "$tmp/mok.pub" ] || { echo "no scratch key made" >> "$tmp/mods.log"; rc=1; }
ok $rc "arena.ko installed for each kernel, built for it, signed with the scratch key" "$tmp/mods.log"

dkms status -m arena -v "$VERSION" --dkmstree "$tmp/tree" --sourcetree "$tmp/src" \
	> "$tmp/status.log" 2>&1
rc=0
for k in "${kvers[@]}"; do
	grep -q "^arena/$VERSION, $k, x86_64: installed" "$tmp/status.log" || rc=1
done
ok $rc "dkms status: arena/$VERSION installed for each kernel" "$tmp/status.log"

# The DKMS source: dkms.conf, Kbuild, kmod/ and uapi/ as in the tree.
(cd "$tmp/src/arena-$VERSION" 2>/dev/null && find . -type f | sed 's|^\./||' | LC_ALL=C sort) > "$tmp/have"
(cd "$TOP" && { echo dkms.conf; echo Kbuild; git ls-files kmod uapi 2>/dev/null ||
	ls kmod/Kbuild kmod/*.[ch] uapi/linux/*.h; } | grep -v '\.mod\.c$' | LC_ALL=C sort) > "$tmp/want"
rc=0
same_list "$tmp/want" "$tmp/have" "$tmp/src.diff" || rc=1
while read -r f; do
	cmp "$TOP/$f" "$tmp/src/arena-$VERSION/$f" >> "$tmp/src.diff" 2>&1 || rc=1
done < "$tmp/want"
ok $rc "the DKMS source is dkms.conf, Kbuild, kmod/ and uapi/, identical to the tree" "$tmp/src.diff"

make -s -C "$TOP" dkms-uninstall "${DK[@]}" > "$tmp/uninstall.log" 2>&1
rc=$?
find "$tmp/src" "$tmp/modules" "$tmp/tree" \( -type f -o -type l \) >> "$tmp/uninstall.log" 2>/dev/null
[ -z "$(find "$tmp/src" "$tmp/modules" "$tmp/tree" \( -type f -o -type l \) 2>/dev/null)" ] || rc=1
ok $rc "make dkms-uninstall removes the modules, the DKMS entry and the source" "$tmp/uninstall.log"

host_state > "$tmp/host.after"
same_list "$tmp/host.before" "$tmp/host.after" "$tmp/host.diff"
ok $? "nothing of arena landed in the host's /usr/src, /var/lib/dkms or /lib/modules" "$tmp/host.diff"

ktap_done
