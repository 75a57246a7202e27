# SPDX-License-Identifier: GPL-2.0
#
# KTAP output for the host lane's shell tests (scripts/host-tests.sh):
# source it, call ktap_plan N, then ok/skip once per test, then ktap_done,
# whose status is the script's. $tmp is a scratch directory removed on
# exit; each test's diagnostics go in a file there, shown only on failure.
# The top-level make's MAKEFLAGS (from `make check`) are dropped so that
# the tests' own make runs start clean.
unset MAKEFLAGS MFLAGS MAKELEVEL
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0

ktap_plan() { echo "TAP version 13"; echo "1..$1"; }

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

# 0 if the two sorted lists (files) are equal, else 1 with a diff in $3.
same_list() { # want have diagnostics
	diff -u --label want --label have "$1" "$2" > "$3" && return 0
	return 1
}

ktap_done() {
	echo "# Totals: pass:$((n - failed)) fail:$failed"
	[ $failed = 0 ]
}
