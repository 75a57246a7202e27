#!/bin/bash
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
# LD_PRELOAD=build/apr/libarena-apr.so (on this machine: libarena's mmap
# backend; where /dev/arena exists, the kernel's). APR_TESTS (default: all
# but testshm and testsleep; "all" for every one; else testall's own
# arguments, e.g. "testpools teststr" or "-x testlock") selects the tests:
# testshm spends 35 s and testsleep 5 s sleeping, about half of testall's
# 73 s here, and neither has a pool to speak of. A test that fails with
# stock APR (Debian's build lets the socket tests fail, for want of a
# network) does not count.
#
#   selftests/apr_testall.sh            build if needed, run both ways (KTAP)
#   selftests/apr_testall.sh --build    only build (print the test directory)
#
# Host lane of make check (scripts/host-tests.sh). Needs root (or sudo) the
# first time, for apt-get. KTAP.
set -uo pipefail

TOP=$(cd "$(dirname "$0")/.." && pwd)
CACHE=${ARENA_CACHE:-${XDG_CACHE_HOME:-${HOME:-/root}/.cache}/arena}
SO=${LIBARENA_APR:-$TOP/build/apr/libarena-apr.so}
SKIP_DEFAULT="testshm testsleep"
SRC_LIST=/etc/apt/sources.list.d/arena-bookworm-src.sources

log() { echo "# apr_testall: $*" >&2; }
die() { echo "# apr_testall: error: $*" >&2; exit 1; }

VER=$(dpkg-query -W -f='${source:Version}' libapr1 2>/dev/null) ||
	die "libapr1 is not installed (make deps)"
[ -n "$VER" ] || die "no version for libapr1"
UPVER=${VER%%-*}
DIR=$CACHE/apr-$VER
TESTDIR=$DIR/apr-$UPVER/test

SUDO=()
[ "$(id -u)" -eq 0 ] || SUDO=(sudo)

# A deb-src line for the machine's own bookworm source (same mirror, same
# key), written once.
deb_src() {
	local uri key
	[ -f "$SRC_LIST" ] && return 0
	read -r uri key < <("$TOP/scripts/debian-source.sh" bookworm) ||
		die "no bookworm source in /etc/apt to derive a deb-src line from"
	{
		echo "Types: deb-src"
		echo "URIs: $uri"
		echo "Suites: bookworm bookworm-updates"
		echo "Components: main"
		[ "$key" = - ] || echo "Signed-By: $key"
	} | "${SUDO[@]}" tee "$SRC_LIST" > /dev/null
	log "added deb-src for bookworm from $uri ($SRC_LIST)"
}

build() {
	local conf
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
			"${SUDO[@]}" apt-get -o Acquire::Retries=3 update -q > update.log 2>&1
			apt-get source -q apr="$VER" > source.log 2>&1
		fi
		cd "apr-$UPVER"
		# debian/rules' configure flags (amd64, native build).
		conf=(--enable-layout=Debian --includedir=/usr/include/apr-1.0
		      --with-installbuilddir=/usr/share/apr-1.0/build
		      --enable-nonportable-atomics --enable-allocator-uses-mmap
		      ac_cv_prog_AWK=mawk)
		command -v mawk > /dev/null || conf=("${conf[@]:0:5}")
		CONFIG_SHELL=/bin/bash /bin/bash ./configure "${conf[@]}" > ../configure.log 2>&1
		make > ../make.log 2>&1
		make -C test all > ../make-test.log 2>&1
		[ -x test/testall ]
	) || { tail -n 20 "$DIR"/*.log >&2; die "building apr $VER failed (logs in $DIR)"; }
	touch "$DIR/.built"
}

build
if [ "${1:-}" = --build ]; then
	echo "$TESTDIR"
	exit 0
fi

. "$TOP/scripts/ktap.sh"

# The tests to run: testall's own list, less the skipped ones.
case "${APR_TESTS:-}" in
all)	sel=() ;;
"")	sel=(-x $SKIP_DEFAULT) ;;
*)	read -r -a sel <<< "$APR_TESTS" ;;
esac

run_testall() { # outfile [env...]
	local out=$1
	shift
	(cd "$TESTDIR" && exec env "$@" timeout -k 10 600 ./testall "${sel[@]}") \
		> "$out" 2>&1 < /dev/null
}
# "testfoo : SUCCESS" lines: the passing tests (testfile prints "abcdef"
# of its own before its SUCCESS).
passed() { sed -n 's/^\(test[a-z0-9_]*\) *:.*SUCCESS *$/\1/p' "$1" | LC_ALL=C sort; }
ran() { sed -n 's/^\(test[a-z0-9_]*\) *: .*/\1/p' "$1" | LC_ALL=C sort; }

ktap_plan 4

backend=mmap
[ -e /dev/arena ] && backend=kernel
echo "# apr $VER, testall in $TESTDIR; tests: ${APR_TESTS:-all but $SKIP_DEFAULT}"

t0=$(date +%s)
run_testall "$tmp/stock.out" -u LD_PRELOAD
rc=$?
passed "$tmp/stock.out" > "$tmp/stock.pass"
ran "$tmp/stock.out" > "$tmp/stock.ran"
echo "# stock APR: $(wc -l < "$tmp/stock.pass") of $(wc -l < "$tmp/stock.ran") tests pass, exit $rc, $(($(date +%s) - t0)) s"
[ -s "$tmp/stock.pass" ]
ok $? "testall runs with stock APR ($(wc -l < "$tmp/stock.pass") tests pass)" "$tmp/stock.out"

[ -r "$SO" ] || echo "no $SO (make apr)" > "$tmp/so.log"
(cd "$TESTDIR" && LD_PRELOAD=$SO ldd ./testall) > "$tmp/ldd.log" 2>&1
grep -q "libarena-apr.so" "$tmp/ldd.log"
ok $? "the preload is in testall's link map" "$tmp/ldd.log"

t0=$(date +%s)
run_testall "$tmp/arena.out" LD_PRELOAD="$SO"
rc=$?
passed "$tmp/arena.out" > "$tmp/arena.pass"
ran "$tmp/arena.out" > "$tmp/arena.ran"
echo "# libarena-apr ($backend backend): $(wc -l < "$tmp/arena.pass") of $(wc -l < "$tmp/arena.ran") tests pass, exit $rc, $(($(date +%s) - t0)) s"
cmp -s "$tmp/stock.ran" "$tmp/arena.ran"
ok $? "testall with libarena-apr.so ($backend backend) runs the same tests" "$tmp/arena.out"

# Every test that passes with stock APR passes on arenas.
LC_ALL=C comm -23 "$tmp/stock.pass" "$tmp/arena.pass" > "$tmp/lost"
{
	echo "passing with stock APR, not with libarena-apr:"
	cat "$tmp/lost"
	echo "--- testall output with libarena-apr:"
	cat "$tmp/arena.out"
} > "$tmp/lost.log"
[ ! -s "$tmp/lost" ]
ok $? "every test passing with stock APR passes with libarena-apr ($backend backend)" "$tmp/lost.log"

ktap_done
