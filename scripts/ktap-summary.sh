#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# ktap-summary.sh [--host] KTAP_LOG [KERNEL_LOG...]
#
# Count the test results in KTAP_LOG (what scripts/guest-init.sh wrote to the
# VM's ttyS1: its own "ok/not ok N arena-init: ..." lines and every selftest's
# KTAP between "# arena-runner: begin NAME ktap|raw" and
# "# arena-runner: end NAME exit=RC"), add two checks of our own:
#   - "guest reached end marker" (ARENA-GUEST-DONE, i.e. no panic or timeout)
#   - "guest kernel log clean" (no BUG:, WARNING:, Oops, ... in KERNEL_LOGs)
# print the failures, and as the very last line "N passed, N failed[, N skipped]".
# Exit status 1 if anything failed.
#
# --host: KTAP_LOG was written on this machine (scripts/host-tests.sh, in
# the same begin/end format), not by a guest: no end marker or kernel log
# to check.
#
# Only top-level (unindented) result lines count; nested KTAP subtests are
# indented and "# Totals" and other "#" lines are diagnostics.  A program
# that reports fewer results than its plan (1..N), none at all, or exits
# non-zero (other than 4, KSFT_SKIP) without a failing result counts as one
# failure.
set -uo pipefail

HOST=0
[ "${1:-}" = --host ] && { HOST=1; shift; }
[ $# -ge 1 ] || { echo "usage: $0 [--host] KTAP_LOG [KERNEL_LOG...]" >&2; exit 2; }
KTAP=$1
shift

# Signs of a kernel problem.  Debian's harmless "loading out-of-tree module
# taints kernel" / "module verification failed ... tainting kernel" match
# none of these.
BAD_RE='BUG:|kernel BUG at|WARNING:|-+\[ cut here \]-+|Oops|general protection fault|KASAN|UBSAN|possible circular locking|lockdep|unreferenced object|refcount_t:|list_add corruption|list_del corruption|Kernel panic|Bad page state|Bad rss-counter|soft lockup|hung task|blocked for more than|Unable to handle kernel|kmemleak: [0-9]+ new suspected'
# Lines that match BAD_RE but are not problems.
BENIGN_RE='taints kernel|tainting kernel|RCU lockdep checking is enabled|kasan: KernelAddressSanitizer initialized|Command line:.*kasan|kernel command line:.*kasan'

bad=$(for f in "$@"; do [ -r "$f" ] && tr -d "\r" < "$f"; done |
	grep -aE -- "$BAD_RE" | grep -avE -- "$BENIGN_RE" | awk "!seen[\$0]++")
if [ -n "$bad" ]; then
	echo "# guest kernel log has $(printf "%s\n" "$bad" | wc -l) suspicious line(s):"
	printf "%s\n" "$bad" | head -n 40 | sed "s/^/#   /"
fi

{ [ -r "$KTAP" ] && tr -d '\r' < "$KTAP"; } | awk -v logbad="${bad:+1}" -v host=$HOST '
function result(notok, name, directive) {
	if (directive ~ /^[Ss][Kk][Ii][Pp]/) { skipped++; return }
	if (directive ~ /^[Xx][Ff][Aa][Ii][Ll]/ && !notok) { passed++; return }
	if (notok) { failed++; fails[failed] = name } else passed++
}
function finish(rc) {
	if (raw) {
		result(rc != 0, bin (rc != 0 ? " (exit " rc ")" : ""), "")
	} else if (nres == 0 && plan == 0) {
		result(0, bin ": no tests", "SKIP")
	} else if (nres == 0) {
		result(1, bin ": no test results (exit " rc ")", "")
	} else if (plan > nres) {
		result(1, bin ": only " nres " of " plan " tests reported (exit " rc ")", "")
	} else if (rc != 0 && rc != 4 && binfail == 0) {
		result(1, bin ": exited with status " rc, "")
	}
	inbin = 0
}
/^# arena-runner: begin / {
	if (inbin) finish("?")
	inbin = 1; bin = $4; raw = ($5 == "raw"); plan = -1; nres = 0; binfail = 0
	next
}
/^# arena-runner: end / {
	rc = $5; sub(/^exit=/, "", rc)
	if (inbin) finish(rc)
	next
}
/^ARENA-GUEST-DONE$/ { done = 1; next }
inbin && raw { next }
inbin && /^1\.\.[0-9]+/ { if (plan < 0) plan = substr($1, 4) + 0; next }
/^(not )?ok( [0-9]+)?( |$)/ {
	line = $0
	notok = (line ~ /^not ok/)
	sub(/^(not )?ok( [0-9]+)?( - | |$)/, "", line)
	name = line; directive = ""
	if ((i = index(line, " # ")) > 0) {
		name = substr(line, 1, i - 1); directive = substr(line, i + 3)
	} else if (line ~ /^# /) {
		name = ""; directive = substr(line, 3)
	}
	if (inbin) {
		nres++
		if (notok && directive !~ /^[Ss][Kk][Ii][Pp]/) binfail++
		name = bin ": " name
	}
	result(notok, name, directive)
	next
}
END {
	if (inbin) result(1, bin ": did not finish (guest died or timed out)", "")
	if (!host) {
		result(!done, "guest reached end marker (ARENA-GUEST-DONE)", "")
		result(logbad != "", "guest kernel log clean", "")
	}
	for (i = 1; i <= failed; i++) print "FAILED: " fails[i]
	s = (passed + 0) " passed, " (failed + 0) " failed"
	if (skipped) s = s ", " skipped " skipped"
	print s
	exit (failed > 0 ? 1 : 0)
}'
