#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Description: APR's own test suite (test/testall of Debian's APR source)
# passes with libarena-apr.so preloaded: every test that passes with stock
# APR passes with the pools on arenas.
#
# The source is the one of the installed libapr1 (apt-get source
# apr=<version>, from a deb-src line derived from the machine's own Debian
# source, scripts/debian-source.sh, as scripts/deps.sh derives
# bookworm-backports), configured as debian/rules does and built with
# test/testall and the helper programs it runs, once per version, into
# ${ARENA_CACHE:-~/.cache/arena}/apr-<version>/ (about five minutes on two
# cores; later runs reuse it).
#
# testall then runs twice: without the preload, and with
# LD_PRELOAD=libarena-apr.so. APR_TESTS (default: all but testshm and
# testsleep; "all" for every one; else testall's own arguments, e.g.
# "testpools teststr" or "-x testlock") selects the tests: testshm spends
# 35 s and testsleep 5 s sleeping, about half of testall's 73 s here, and
# neither has a pool to speak of. A test that fails with stock APR
# (Debian's build lets the socket tests fail, for want of a network) does
# not count. A test that kills testall (a signal) fails, and the tests
# after it run in a new testall, so that they still count; failing tests
# are named, and run once more with -v for testall's reasons.
#
# Three ways, two places (Documentation/libarena-apr.rst):
#
# - host lane of make check (scripts/host-tests.sh): builds if needed and
#   runs from the cache, on libarena's mmap backend (no /dev/arena here).
# - every VM lane, as /tests/apr_testall (the Makefile installs this
#   script as build/selftests/apr_testall and stages the test directory
#   with --stage; scripts/vm-run.sh --tree packs it as /apr-test, with the
#   built libapr-1.so its programs' RUNPATH names): runs only, from the
#   packed directory, on the kernel backend; one more check there, that
#   the preloaded run created its arenas in the module (arenas_created of
#   /sys/kernel/arena grows during it and not during the stock run).
#   There the default selection is smaller (SKIP_VM, below), so that both
#   runs fit the VM's per-program time limit under TCG; APR_TESTS=all
#   (make check TEST_ENV=APR_TESTS=all) runs every test there too, and
#   APR_SKIP=a,b leaves out more (the debug lane: testsock, too slow there
#   for its own timing).
#
#   selftests/apr_testall.sh            build if needed, run both ways (KTAP)
#   selftests/apr_testall.sh --build    only build (print the test directory)
#   selftests/apr_testall.sh --stage DIR
#                    build if needed, then copy into DIR only what testall
#                    needs: testall and the helper programs it runs, the
#                    modules testdso loads (.libs/*.so), data/,
#                    libarena-apr.so, and lib/libgcc_s.so.1 (which glibc
#                    dlopen()s for pthread_exit()); no objects or sources
#   APR_TESTDIR=DIR selftests/apr_testall.sh
#                    run only, from a staged DIR (/apr-test when present)
#
# Needs root (or sudo) the first time, for apt-get. POSIX sh (the guest has
# busybox only). KTAP.
set -u
unset MAKEFLAGS MFLAGS MAKELEVEL

TOP=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${ARENA_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/arena}
SKIP_DEFAULT="testshm testsleep"
# In the VM, also: testprocmutex (86 s a run under TCG, its children
# contending for process mutexes) and testatomic (13 to 48 s, atomic-op
# loops in threads); neither has a pool of its own to test.
SKIP_VM="testshm testsleep testprocmutex testatomic"
SRC_LIST=/etc/apt/sources.list.d/arena-bookworm-src.sources
SYSFS=/sys/kernel/arena

log() { echo "# apr_testall: $*" >&2; }
die() { echo "# apr_testall: error: $*" >&2; exit 1; }

SUDO=
[ "$(id -u)" -eq 0 ] || SUDO=sudo

# A deb-src line for the machine's own bookworm source (same mirror, same
# key), written once.
deb_src() {
	[ -f "$SRC_LIST" ] && return 0
	set -- $("$TOP/scripts/debian-source.sh" bookworm)
	[ -n "${1:-}" ] ||
		die "no bookworm source in /etc/apt to derive a deb-src line from"
	{
		echo "Types: deb-src"
		echo "URIs: $1"
		echo "Suites: bookworm bookworm-updates"
		echo "Components: main"
		[ "${2:--}" = - ] || echo "Signed-By: $2"
	} | $SUDO tee "$SRC_LIST" > /dev/null
	log "added deb-src for bookworm from $1 ($SRC_LIST)"
}

build() {
	[ -f "$DIR/.built" ] && [ -x "$TESTDIR/testall" ] && return 0
	command -v dpkg-source > /dev/null || die "no dpkg-source (dpkg-dev)"
	deb_src
	rm -rf "$DIR"
	mkdir -p "$DIR"
	log "fetching and building apr $VER in $DIR (once per version)"
	(
		set -e
		cd "$DIR"
		export DEBIAN_FRONTEND=noninteractive
		if ! apt-get source -q apr="$VER" > source.log 2>&1; then
			$SUDO apt-get -o Acquire::Retries=3 update -q > update.log 2>&1
			apt-get source -q apr="$VER" > source.log 2>&1
		fi
		cd "apr-$UPVER"
		# debian/rules' configure flags (amd64, native build).
		conf="--enable-layout=Debian --includedir=/usr/include/apr-1.0
		      --with-installbuilddir=/usr/share/apr-1.0/build
		      --enable-nonportable-atomics --enable-allocator-uses-mmap"
		! command -v mawk > /dev/null || conf="$conf ac_cv_prog_AWK=mawk"
		CONFIG_SHELL=/bin/bash /bin/bash ./configure $conf > ../configure.log 2>&1
		make > ../make.log 2>&1
		make -C test all > ../make-test.log 2>&1
		[ -x test/testall ]
	) || { tail -n 20 "$DIR"/*.log >&2; die "building apr $VER failed (logs in $DIR)"; }
	touch "$DIR/.built"
}

# What testall needs, and nothing else, into $1 (vm-run.sh --tree packs it).
stage() {
	local f elf
	elf=$(printf '\177ELF')
	[ -r "$SO" ] || die "no $SO (make apr)"
	rm -rf "$1"
	mkdir -p "$1/.libs"
	# testall and the programs it runs (occhild, proc_child, readchild,
	# sockchild, globalmutexchild, tryread, testshm{producer,consumer}...)
	for f in "$TESTDIR"/*; do
		[ -f "$f" ] && [ -x "$f" ] || continue
		[ "$(head -c 4 "$f")" = "$elf" ] || continue
		cp -p "$f" "$1/"
	done
	# testdso's .libs/mod_test.so and .libs/libmod_test.so
	cp -p "$TESTDIR"/.libs/*.so "$1/.libs/"
	cp -pR "$TESTDIR/data" "$1/data"
	cp -p "$SO" "$1/libarena-apr.so"
	# glibc dlopen()s libgcc_s.so.1 for pthread_exit() and
	# pthread_cancel() (testthread, testcond...): no ldd lists it.
	mkdir -p "$1/lib"
	f=$(/sbin/ldconfig -p | sed -n 's/^[[:space:]]*libgcc_s\.so\.1 (libc6,x86-64) => //p' | head -n 1)
	[ -r "$f" ] || die "no libgcc_s.so.1 in ldconfig -p"
	cp -L "$f" "$1/lib/"
	echo "$VER" > "$1/apr-version"
}

if [ -z "${APR_TESTDIR:-}" ] && [ -x /apr-test/testall ] && [ "${1:-}" = "" ]; then
	APR_TESTDIR=/apr-test
fi
if [ -n "${APR_TESTDIR:-}" ]; then
	# Run only, from a staged directory (the VM's /apr-test).
	TESTDIR=$APR_TESTDIR
	[ -x "$TESTDIR/testall" ] || die "no $TESTDIR/testall"
	VER=$(cat "$TESTDIR/apr-version" 2> /dev/null || echo unknown)
	SO=${LIBARENA_APR:-$TESTDIR/libarena-apr.so}
	PACKED=1
	export LD_LIBRARY_PATH=$TESTDIR/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}
else
	VER=$(dpkg-query -W -f='${source:Version}' libapr1 2>/dev/null) ||
		die "libapr1 is not installed (make deps)"
	[ -n "$VER" ] || die "no version for libapr1"
	UPVER=${VER%%-*}
	DIR=$CACHE/apr-$VER
	TESTDIR=$DIR/apr-$UPVER/test
	SO=${LIBARENA_APR:-$TOP/build/apr/libarena-apr.so}
	PACKED=0
	build
	case "${1:-}" in
	--build)
		echo "$TESTDIR"
		exit 0 ;;
	--stage)
		[ -n "${2:-}" ] || die "--stage needs a directory"
		stage "$2"
		echo "$2"
		exit 0 ;;
	"") ;;
	*) die "unknown argument '$1'" ;;
	esac
fi

# KTAP as scripts/ktap.sh writes it, which this script cannot source: the
# VM runs it alone, as /tests/apr_testall, without the scripts/ directory.
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0
ok() { # status description [diagnostics file]
	n=$((n + 1))
	if [ "$1" = 0 ]; then
		echo "ok $n $2"
	else
		failed=$((failed + 1))
		echo "not ok $n $2"
		[ -n "${3:-}" ] && [ -s "$3" ] && sed 's/^/# /' "$3" | head -n 40
	fi
	return 0
}
skip() { n=$((n + 1)); echo "ok $n $1 # SKIP $2"; }

backend=mmap
[ -e /dev/arena ] && [ "${ARENA_BACKEND:-}" != mmap ] && backend=kernel

# The tests to run: testall's own list, less the skipped ones.
skip_list=$SKIP_DEFAULT
[ $PACKED = 0 ] || skip_list=$SKIP_VM
# APR_SKIP: more to leave out of the default selection, comma-separated
# (a kernel command line's arenatest_env cannot hold a space): the debug
# lane's testsock (Makefile, DEBUG_TEST_ENV; Documentation/libarena-apr.rst).
[ -z "${APR_SKIP:-}" ] || skip_list="$skip_list $(echo "$APR_SKIP" | tr , ' ')"
case "${APR_TESTS-}" in
all)	sel="" what="all" ;;
"")	sel="-x $skip_list" what="all but $skip_list" ;;
*)	sel=$APR_TESTS what=$APR_TESTS ;;
esac
# Each run's time limit: in the VM, both runs within the guest's limit
# for this program (arenatest_timeout, scripts/guest-init.sh), so that a
# run that hangs is reported here, not cut off with the whole script.
TMO=${APR_TIMEOUT:-600}
if [ $PACKED = 1 ] && [ -z "${APR_TIMEOUT:-}" ]; then
	for a in $(cat /proc/cmdline 2> /dev/null); do
		case "$a" in
		arenatest_timeout=*) TMO=$(( (${a#*=} - 30) / 2 )) ;;
		esac
	done
fi

if [ $PACKED = 1 ] && [ -e /dev/arena ]; then
	# The test VM (scripts/guest-init.sh) is bare: give testall the
	# loopback interface, a host name and the few /etc files its socket
	# and user tests read (without them testsock and testuser fail, with
	# stock APR as with the preload). Only ever here, never on a real machine.
	ip link set lo up 2> /dev/null || ifconfig lo 127.0.0.1 up 2> /dev/null
	[ "$(hostname)" != "(none)" ] || hostname arena-vm
	mkdir -p /etc
	[ -e /etc/hosts ] ||
		printf '127.0.0.1\tlocalhost %s\n::1\tlocalhost\n' "$(hostname)" > /etc/hosts
	[ -e /etc/passwd ] || echo "root:x:0:0:root:/tmp:/bin/sh" > /etc/passwd
	[ -e /etc/group ] || echo "root:x:0:" > /etc/group
	# testsock's apr_getservbyname() of ftp and telnet
	[ -e /etc/services ] || printf 'ftp\t\t21/tcp\ntelnet\t\t23/tcp\n' > /etc/services
fi

# The selected tests in testall's order (testall -l lists them all).
(cd "$TESTDIR" && ./testall -l) > "$tmp/all" 2> /dev/null
case "$sel" in
"")	cp "$tmp/all" "$tmp/order" ;;
"-x "*)	for t in ${sel#-x }; do echo "$t"; done > "$tmp/excluded"
	grep -vxF -f "$tmp/excluded" "$tmp/all" > "$tmp/order" ;;
*)	for t in $sel; do case "$t" in -*) ;; *) echo "$t" ;; esac; done > "$tmp/order" ;;
esac

# One run of testall; rc is its exit status. A test that kills testall
# (a signal: a fault at a freed pool's memory is what libarena-apr is
# for) would take the tests after it along: those run again, in a new
# testall, after each such death; the dead test counts as not passing.
run_testall() { # outfile [env...]
	local out=$1 died rest
	shift
	(cd "$TESTDIR" && exec env "$@" timeout -k 10 "$TMO" ./testall $sel) \
		> "$out" 2>&1 < /dev/null
	rc=$?
	# 124 and 137: timeout's, the time limit, not a death to resume after
	while [ $rc -gt 128 ] && [ $rc -ne 137 ]; do
		died=$(sed -n 's/^\(test[a-z0-9_]*\) *:.*/\1/p' "$out" | tail -n 1)
		[ -n "$died" ] || break
		rest=$(sed -n "/^$died\$/,\$p" "$tmp/order" | sed 1d)
		echo "# testall died in $died (exit $rc)${rest:+; the tests after it run in a new testall}"
		[ -n "$rest" ] || break
		echo >> "$out"
		(cd "$TESTDIR" && exec env "$@" timeout -k 10 "$TMO" ./testall $rest) \
			>> "$out" 2>&1 < /dev/null
		rc=$?
	done
	return 0
}
# "testfoo : SUCCESS" lines: the passing tests (testfile prints "abcdef"
# of its own before its SUCCESS).
passed() { sed -n 's/^\(test[a-z0-9_]*\) *:.*SUCCESS *$/\1/p' "$1" | LC_ALL=C sort; }
ran() { sed -n 's/^\(test[a-z0-9_]*\) *: .*/\1/p' "$1" | LC_ALL=C sort; }
# The tests that ran and did not pass, named, and run once more alone
# with -v for testall's reasons (its failed assertions; without -v it only
# counts them).
failing() { # outfile label [env...]
	local out=$1 label=$2
	shift 2
	grep -vxF -f "$out.pass" "$out.ran" 2> /dev/null > "$out.fail" || true
	[ -s "$out.fail" ] || return 0
	echo "# failing with $label: $(tr '\n' ' ' < "$out.fail")"
	(cd "$TESTDIR" && exec env "$@" timeout -k 10 120 ./testall -v $(cat "$out.fail")) \
		< /dev/null 2>&1 | grep -v -e '^ *$' -e 'SUCCESS *$' | head -n 20 |
		sed 's/^/#   again with -v: /'
}
created() { cat "$SYSFS/arenas_created" 2> /dev/null || echo 0; }

echo "TAP version 13"
echo "1..5"
echo "# apr $VER, testall in $TESTDIR; tests: $what"

c0=$(created)
t0=$(date +%s)
run_testall "$tmp/stock.out" -u LD_PRELOAD
c1=$(created)
passed "$tmp/stock.out" > "$tmp/stock.out.pass"
ran "$tmp/stock.out" > "$tmp/stock.out.ran"
echo "# stock APR: $(wc -l < "$tmp/stock.out.pass") of $(wc -l < "$tmp/stock.out.ran") tests pass, exit $rc, $(($(date +%s) - t0)) s"
failing "$tmp/stock.out" "stock APR" -u LD_PRELOAD
[ -s "$tmp/stock.out.pass" ]
ok $? "testall runs with stock APR ($(wc -l < "$tmp/stock.out.pass") tests pass)" "$tmp/stock.out"

[ -r "$SO" ] || echo "no $SO (make apr)" > "$tmp/so.log"
# The link map as ld.so resolves it (the VM has no ldd).
(cd "$TESTDIR" && LD_TRACE_LOADED_OBJECTS=1 LD_PRELOAD=$SO ./testall) > "$tmp/ldd.log" 2>&1
grep -q "libarena-apr.so" "$tmp/ldd.log"
ok $? "the preload is in testall's link map" "$tmp/ldd.log"

c2=$(created)
t0=$(date +%s)
run_testall "$tmp/arena.out" LD_PRELOAD="$SO"
c3=$(created)
passed "$tmp/arena.out" > "$tmp/arena.out.pass"
ran "$tmp/arena.out" > "$tmp/arena.out.ran"
echo "# libarena-apr ($backend backend): $(wc -l < "$tmp/arena.out.pass") of $(wc -l < "$tmp/arena.out.ran") tests pass, exit $rc, $(($(date +%s) - t0)) s"
failing "$tmp/arena.out" "libarena-apr" LD_PRELOAD="$SO"
cmp -s "$tmp/stock.out.ran" "$tmp/arena.out.ran"
ok $? "testall with libarena-apr.so ($backend backend) runs the same tests" "$tmp/arena.out"

# Every test that passes with stock APR passes on arenas.
grep -vxF -f "$tmp/arena.out.pass" "$tmp/stock.out.pass" > "$tmp/lost"
{
	echo "passing with stock APR, not with libarena-apr:"
	cat "$tmp/lost"
	echo "--- testall output with libarena-apr:"
	cat "$tmp/arena.out"
} > "$tmp/lost.log"
[ ! -s "$tmp/lost" ]
ok $? "every test passing with stock APR passes with libarena-apr ($backend backend)" "$tmp/lost.log"

# The kernel backend was used, not assumed: the module counted the pools'
# arenas during the preloaded run, and none during the stock one.
if [ -r "$SYSFS/arenas_created" ]; then
	echo "# arenas_created: +$((c1 - c0)) during the stock run, +$((c3 - c2)) during the preloaded run; arenas_freed $(cat "$SYSFS/arenas_freed" 2> /dev/null)"
	echo "arenas_created before/after: stock $c0/$c1, preloaded $c2/$c3" > "$tmp/sysfs.log"
	[ $((c1 - c0)) = 0 ] && [ $((c3 - c2)) -gt 0 ]
	ok $? "the preloaded run created its arenas in the kernel ($((c3 - c2)) arenas)" "$tmp/sysfs.log"
else
	skip "the preloaded run created its arenas in the kernel" "no $SYSFS ($backend backend)"
fi

echo "# Totals: pass:$((n - failed)) fail:$failed"
[ $failed = 0 ]
