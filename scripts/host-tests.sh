#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# scripts/host-tests.sh OUTDIR
#
# The host lane of `make check`: the tests that need no kernel module, run
# on this machine (where /dev/arena is absent: nothing is ever loaded here).
#
#   host:libarena_mmap_test  build/selftests/libarena_mmap_test: the
#                            libarena tests (libarena_test.c) on the mmap
#                            backend, the only one here. Run once:
#                            libarena_test would pick the same backend by
#                            itself (its fallback has a test of its own),
#                            so each check would count twice. The VM lanes
#                            run both, one per backend.
#   host:libarena_api_test   build/selftests/libarena_api_test: the 1.2
#                            calls (cleanups, strings, realloc, typed)
#   host:libarena_fuzz     build/selftests/libarena_fuzz: random sequences
#                            of every libarena call against a model, with
#                            injected failures (mmap backend; the VM lanes
#                            run it on both)
#   host:libarena_install    selftests/libarena_install.sh: make install
#                            into a scratch DESTDIR, build programs with
#                            pkg-config against it and run them
#   host:libarena_sanitize   selftests/libarena_sanitize.sh: AddressSanitizer,
#                            Valgrind and _FORTIFY_SOURCE see overflows
#                            inside arenas; arena_alloc through dlvsym()
#   host:install             selftests/install_test.sh: top-level make
#                            install/uninstall into a scratch DESTDIR
#   host:dkms                selftests/dkms_test.sh: make dkms-install for
#                            the 6.1 (and 6.12) headers, scratch DKMS trees
#   host:deb                 selftests/deb_test.sh: the Debian packages,
#                            built, checked and unpacked into a scratch root
#   host:examples            selftests/examples_test.sh: the examples run on
#                            the mmap backend and print what they should
#                            (the VM lanes run it on the kernel backend)
#   host:apr_pools_test      build/selftests/apr_pools_test: APR's pool
#                            functions on arenas (libarena-apr.so preloaded)
#   host:apr_testall         selftests/apr_testall.sh: APR's own testall
#                            (Debian's source, built once into ~/.cache/arena/)
#                            without and with libarena-apr.so
#   host:docs                selftests/docs_test.sh: Documentation/ renders
#                            (docutils + kernel-doc) and covers what it must
#   host:arena_abi           selftests/arena_abi.sh: pahole on kmod/arena.ko,
#                            no holes or padding in the ioctl structs
#   host:kbuild_refuse       selftests/kbuild_refuse_test.sh: the build
#                            refuses kernels without THP or 64-bit, saying so
#
# Writes OUTDIR/ktap.log in the format scripts/guest-init.sh uses ("#
# arena-runner: begin/end" around each program's KTAP), streams it to
# stdout, and ends with scripts/ktap-summary.sh --host's line "N passed, N
# failed[, N skipped]", whose exit status is ours. Needs the build
# (build/selftests, build/lib) done.
set -uo pipefail

HERE=$(cd "$(dirname "$0")" && pwd)
TOP=$(cd "$HERE/.." && pwd)
OUT=${1:?usage: $0 OUTDIR}
TMO=${HOST_TEST_TIMEOUT:-300}
mkdir -p "$OUT"
LOG=$OUT/ktap.log
: > "$LOG"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

run() { # name command...
	local name=$1 t0 rc
	shift
	echo "# arena-runner: begin $name ktap" | tee -a "$LOG"
	t0=$(date +%s)
	(cd "$work" && exec timeout -k 10 "$TMO" "$@") < /dev/null 2>&1 | tee -a "$LOG"
	rc=${PIPESTATUS[0]}
	echo "# arena-runner: end $name exit=$rc time=$(($(date +%s) - t0))s" | tee -a "$LOG"
}

echo "# host-tests: $(uname -r), $(nproc) CPUs, /dev/arena $([ -e /dev/arena ] && echo present || echo absent)"
run host:libarena_mmap_test env ARENA_BACKEND=mmap "$TOP/build/selftests/libarena_mmap_test"
run host:libarena_api_test "$TOP/build/selftests/libarena_api_test"
run host:libarena_fuzz "$TOP/build/selftests/libarena_fuzz"
run host:libarena_install "$TOP/selftests/libarena_install.sh"
run host:libarena_sanitize "$TOP/selftests/libarena_sanitize.sh"
run host:install "$TOP/selftests/install_test.sh"
run host:dkms "$TOP/selftests/dkms_test.sh"
run host:deb "$TOP/selftests/deb_test.sh"
run host:examples "$TOP/selftests/examples_test.sh"
run host:apr_pools_test "$TOP/build/selftests/apr_pools_test"
# The first build of APR's tests (about five minutes) is not the test's time.
"$TOP/selftests/apr_testall.sh" --build > "$OUT/apr-build.log" 2>&1
run host:apr_testall "$TOP/selftests/apr_testall.sh"
run host:docs "$TOP/selftests/docs_test.sh"
run host:arena_abi "$TOP/selftests/arena_abi.sh" "$TOP/kmod/arena.ko"
run host:kbuild_refuse "$TOP/selftests/kbuild_refuse_test.sh"

"$HERE/ktap-summary.sh" --host "$LOG" | tee "$OUT/summary.txt"
exit "${PIPESTATUS[0]}"
