#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# Description: the Debian packages (debian/), as `make deb` builds them
# (scripts/build-deb.sh: dpkg-buildpackage -us -uc -b in a copy of the
# tree): the five packages at the version dkms.conf names, each with
# exactly its files and the dependencies that make it work; then unpacked
# with dpkg into a scratch root (its own dpkg database: dpkg sees every
# file and that no two packages share one), where arena-dkms's source
# builds arena.ko with DKMS for the 6.1 headers in a scratch tree, a
# program builds with pkg-config against libarena-dev and runs on
# libarena1, an APR program runs on libarena-apr's pools, and arenastat
# runs. The packages are not configured: that
# runs addgroup and dkms for the machine's kernels, which is for a real
# install. Runs on the host (scripts/host-tests.sh). KTAP.
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
. "$TOP/scripts/ktap.sh"
VERSION=$(sed -n 's/^PACKAGE_VERSION="\(.*\)"$/\1/p' "$TOP/dkms.conf")
ARCH=$(dpkg --print-architecture)
MA=$(dpkg-architecture -qDEB_HOST_MULTIARCH)
PKGS="arena-dkms libarena1 libarena-dev libarena-apr arena-tools"
deb=$tmp/deb
root=$tmp/root

ktap_plan 9

"$TOP/scripts/build-deb.sh" "$deb" > "$tmp/build.log" 2>&1
rc=$?
cp "$deb/build.log" "$tmp/dpkg-buildpackage.log" 2>/dev/null
for p in $PKGS; do
	a=$ARCH
	[ $p = arena-dkms ] && a=all
	f=$deb/${p}_${VERSION}_$a.deb
	[ -f "$f" ] || { echo "missing ${f#"$deb"/}" >> "$tmp/build.log"; rc=1; }
done
ok $rc "dpkg-buildpackage -us -uc -b: $PKGS at $VERSION" "$tmp/build.log"

# Each package's files (directories and /usr/share/doc left out).
contents() { # package
	dpkg-deb -c "$deb/$1"_"$VERSION"_*.deb | awk '{ print $6 }' |
		sed 's|^\./||' | grep . | grep -v '/$' | grep -v '^usr/share/doc/' | LC_ALL=C sort
}
want() { # package
	case $1 in
	arena-dkms)
		echo etc/modprobe.d/arena.conf
		echo lib/udev/rules.d/60-arena.rules
		(cd "$TOP" && { echo dkms.conf; echo Kbuild; git ls-files kmod uapi; } |
			sed "s|^|usr/src/arena-$VERSION/|") ;;
	libarena1)
		echo "usr/lib/$MA/libarena.so.1"
		echo "usr/lib/$MA/libarena.so.1.2.0" ;;
	libarena-dev)
		echo usr/include/libarena.h
		echo usr/include/linux/arena.h
		echo "usr/lib/$MA/libarena.a"
		echo "usr/lib/$MA/libarena.so"
		echo "usr/lib/$MA/pkgconfig/libarena.pc"
		for f in "$TOP"/lib/man/*.3; do echo "usr/share/man/man3/${f##*/}.gz"; done ;;
	libarena-apr)
		echo "usr/lib/$MA/libarena-apr.so"
		echo usr/share/man/man7/libarena-apr.7.gz ;;
	arena-tools)
		echo usr/bin/arenastat
		echo usr/share/man/man8/arenastat.8.gz ;;
	esac | LC_ALL=C sort
}
rc=0
: > "$tmp/contents.diff"
for p in $PKGS; do
	want $p > "$tmp/want.$p"
	contents $p > "$tmp/have.$p"
	same_list "$tmp/want.$p" "$tmp/have.$p" "$tmp/d" || { echo "== $p"; cat "$tmp/d"; rc=1; } >> "$tmp/contents.diff"
done
ok $rc "each package holds exactly its files" "$tmp/contents.diff"

field() { dpkg-deb -f "$deb/$1"_"$VERSION"_*.deb "$2"; }
{
	for p in $PKGS; do echo "$p: Depends: $(field $p Depends)"; done
	echo "arena-dkms conffiles: $(dpkg-deb --ctrl-tarfile "$deb"/arena-dkms_*.deb | tar -xOf - ./conffiles)"
} > "$tmp/deps.txt"
rc=0
grep -q '^arena-dkms: Depends: .*\bdkms\b' "$tmp/deps.txt" || rc=1
grep -q '^arena-dkms: Depends: .*\badduser\b' "$tmp/deps.txt" || rc=1
grep -qF "libarena-dev: Depends: libarena1 (= $VERSION)" "$tmp/deps.txt" || rc=1
grep -q '^arena-tools: Depends: .*\blibmnl0\b' "$tmp/deps.txt" || rc=1
grep -q '^libarena1: Depends: .*\blibc6\b' "$tmp/deps.txt" || rc=1
grep -q '^libarena-apr: Depends: .*\blibapr1\b' "$tmp/deps.txt" || rc=1
grep -q '^arena-dkms conffiles: /etc/modprobe.d/arena.conf$' "$tmp/deps.txt" || rc=1
ok $rc "dependencies: dkms and adduser, libarena1 (= $VERSION), libmnl0, libc6, libapr1; modprobe.d example is a conffile" "$tmp/deps.txt"

# arena-dkms's postinst: the group, then dh_dkms's dkms add/build/install.
dpkg-deb --ctrl-tarfile "$deb"/arena-dkms_*.deb | tar -xOf - ./postinst > "$tmp/postinst"
rc=0
grep -q 'addgroup --system arena' "$tmp/postinst" || rc=1
grep -q '/usr/lib/dkms/common.postinst' "$tmp/postinst" || rc=1
grep -q '^DKMS_VERSION='"$VERSION"'$' "$tmp/postinst" || rc=1
ok $rc "arena-dkms postinst creates group arena and hands the module to DKMS ($VERSION)" "$tmp/postinst"

# A scratch root with an empty dpkg database: --unpack installs the files
# and registers them (a file two packages both ship is refused), without
# configuring (no maintainer script runs: the packages have no preinst).
mkdir -p "$root/var/lib/dpkg/info" "$root/var/lib/dpkg/updates"
: > "$root/var/lib/dpkg/status"
: > "$root/var/lib/dpkg/available"
rc=0
for p in $PKGS; do
	dpkg-deb --ctrl-tarfile "$deb/$p"_"$VERSION"_*.deb | tar -tf - | grep -q '^\./preinst$' &&
		{ echo "$p has a preinst" >> "$tmp/unpack.log"; rc=1; }
done
dpkg --root="$root" --force-depends --unpack \
	$(for p in $PKGS; do ls "$deb/$p"_"$VERSION"_*.deb; done) >> "$tmp/unpack.log" 2>&1 || rc=1
for p in $PKGS; do
	s=$(dpkg-query --admindir="$root/var/lib/dpkg" -W -f='${db:Status-Status}' $p 2>&1)
	echo "$p: $s" >> "$tmp/unpack.log"
	[ "$s" = unpacked ] || rc=1
	# A conffile waits as NAME.dpkg-new until the package is configured.
	dpkg-query --admindir="$root/var/lib/dpkg" -L $p | while read -r f; do
		[ -e "$root$f" ] || [ -L "$root$f" ] || [ -e "$root$f.dpkg-new" ] ||
			echo "listed but absent: $f"
	done >> "$tmp/absent.log"
done
[ -s "$tmp/absent.log" ] && { cat "$tmp/absent.log" >> "$tmp/unpack.log"; rc=1; }
ok $rc "dpkg --unpack into a scratch root: all five unpacked, every listed file present" "$tmp/unpack.log"

# The packaged source builds with DKMS (scratch trees, stock 6.1 headers).
k=$(ls -d /lib/modules/6.1.*-amd64/build 2>/dev/null | grep -v "/$(uname -r)/" | head -n1)
k=${k#/lib/modules/}
k=${k%/build}
if [ -n "$k" ]; then
	export mok_signing_key=$tmp/mok.key mok_certificate=$tmp/mok.pub
	mkdir -p "$tmp/dkmstree"
	D=(--sourcetree "$root/usr/src" --dkmstree "$tmp/dkmstree")
	{ dkms add -m arena -v "$VERSION" "${D[@]}" &&
	  dkms build -m arena -v "$VERSION" -k "$k" "${D[@]}"; } > "$tmp/dkms.log" 2>&1
	rc=$?
	m=$tmp/dkmstree/arena/$VERSION/$k/x86_64/module/arena.ko
	vm=$(modinfo -F vermagic "$m" 2>>"$tmp/dkms.log" | cut -d' ' -f1)
	echo "built: $m vermagic $vm" >> "$tmp/dkms.log"
	[ "$vm" = "$k" ] || rc=1
	ok $rc "arena-dkms's /usr/src/arena-$VERSION builds arena.ko for $k (scratch DKMS tree)" "$tmp/dkms.log"
else
	skip "arena-dkms's source builds with DKMS" "no 6.1 headers"
fi

cat > "$tmp/user.c" <<'EOC'
#include <stdio.h>
#include <string.h>
#include <libarena.h>
#include <linux/arena.h>

int main(void)
{
	struct arena *a = arena_new(0);
	char *s = a ? arena_strdup(a, "packaged") : NULL;

	if (!s || strcmp(s, "packaged"))
		return 1;
	printf("%s backend=%s abi=%d\n", s, arena_backend(), ARENA_ABI_VERSION);
	arena_free(a);
	return 0;
}
EOC
export PKG_CONFIG_SYSROOT_DIR=$root PKG_CONFIG_LIBDIR=$root/usr/lib/$MA/pkgconfig
cc -Wall -Werror -o "$tmp/user" "$tmp/user.c" $(pkg-config --cflags --libs libarena) \
	> "$tmp/cc.log" 2>&1 &&
	ARENA_BACKEND=mmap LD_LIBRARY_PATH=$root/usr/lib/$MA "$tmp/user" >> "$tmp/cc.log" 2>&1
rc=$?
LD_LIBRARY_PATH=$root/usr/lib/$MA ldd "$tmp/user" >> "$tmp/cc.log" 2>&1
abi=$(sed -n 's/^#define ARENA_ABI_VERSION \([0-9]*\)$/\1/p' "$TOP/uapi/linux/arena.h")
grep -q "^packaged backend=mmap abi=$abi\$" "$tmp/cc.log" || rc=1
grep -q "libarena.so.1 => $root/usr/lib/$MA/libarena.so.1 " "$tmp/cc.log" || rc=1
ok $rc "a program builds with libarena-dev's pkg-config and runs on libarena1's library" "$tmp/cc.log"

# An APR program, built against stock APR, on libarena-apr's pools: a
# string from a destroyed pool faults (the child dies with SIGSEGV).
cat > "$tmp/apr.c" <<'EOC'
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>
#include <apr_pools.h>
#include <apr_strings.h>

int main(void)
{
	apr_pool_t *p;
	char *s;
	int st;
	pid_t pid;

	apr_initialize();
	if (apr_pool_create(&p, NULL))
		return 1;
	s = apr_psprintf(p, "pool %d", 42);
	if (strcmp(s, "pool 42"))
		return 2;
	apr_pool_destroy(p);
	pid = fork();
	if (pid == 0) {
		volatile char c = s[0];

		(void)c;
		_exit(0);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid)
		return 3;
	printf("stale read: %s\n", WIFSIGNALED(st) && WTERMSIG(st) == SIGSEGV ?
	       "SIGSEGV" : "no fault");
	return 0;
}
EOC
cc -Wall -Werror -o "$tmp/apr" "$tmp/apr.c" \
	$(env -u PKG_CONFIG_SYSROOT_DIR -u PKG_CONFIG_LIBDIR pkg-config --cflags --libs apr-1) \
	> "$tmp/apr.log" 2>&1 &&
	ARENA_BACKEND=mmap LD_PRELOAD=$root/usr/lib/$MA/libarena-apr.so "$tmp/apr" \
		>> "$tmp/apr.log" 2>&1
rc=$?
grep -q '^stale read: SIGSEGV$' "$tmp/apr.log" || rc=1
ok $rc "an APR program runs on libarena-apr's pools: a destroyed pool's string faults" "$tmp/apr.log"

"$root/usr/bin/arenastat" -h > "$tmp/arenastat.log" 2>&1
rc=$?
grep -q '^usage: arenastat' "$tmp/arenastat.log" || rc=1
ok $rc "arena-tools' arenastat runs (-h)" "$tmp/arenastat.log"

ktap_done
