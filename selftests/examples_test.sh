#!/bin/sh
# SPDX-License-Identifier: GPL-2.0
#
# Description: the examples (examples/*.c) run and say what they should:
# request-server serves and checks 1000 requests, one arena each, and the
# last one's memory is freed; ast-parser prints the expected trees, values
# and errors (with columns); uaf-suite catches its own use-after-free, at
# the kept pointer, in the right arena, freed by this process; apr_uaf (an
# ordinary APR program keeping a request-pool string past its request)
# reads another request's data under stock APR and carries on, and dies of
# SIGSEGV at the kept pointer with libarena-apr.so preloaded.
#
# Two places run it: the host lane (scripts/host-tests.sh), where there is
# no /dev/arena and libarena runs on its mmap backend; and every VM lane,
# as /tests/examples_test (the Makefile copies it into build/selftests/,
# the examples are the VM's /demo/*), where the module is loaded and the
# examples must run on the kernel backend (SEGV_MAPERR, the kernel's
# record of the freed arena). POSIX sh: the guest has busybox only. KTAP.
set -u

HERE=$(cd "$(dirname "$0")" && pwd)
if [ -n "${EXAMPLES_DIR:-}" ]; then
	EX=$EXAMPLES_DIR
elif [ -x "$HERE/../build/examples/uaf-suite" ]; then
	EX=$HERE/../build/examples
else
	EX=/demo
fi
if [ -e /dev/arena ]; then
	BACKEND=kernel SEGV=MAPERR
else
	BACKEND=mmap SEGV=ACCERR
fi
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
n=0 failed=0

ok() { # status description diagnostics-file
	n=$((n + 1))
	if [ "$1" = 0 ]; then echo "ok $n $2"; return 0; fi
	failed=$((failed + 1)); echo "not ok $n $2"; sed 's/^/# /' "$3" | head -n 40
}

# Every line of $2 (extended regexps) must match a line of $1, in order.
lines_in_order() { # output patterns diagnostics
	awk -v out="$1" '
		BEGIN { while ((getline l < out) > 0) o[++n] = l; i = 1 }
		{ while (i <= n && o[i] !~ $0) i++
		  if (i > n) { print "no line matching: " $0; bad = 1; exit }
		  i++ }
		END { exit bad }' "$2" > "$3"
}

echo "TAP version 13"
echo "1..7"
echo "# examples in $EX, expected backend: $BACKEND"

"$EX/request-server" > "$tmp/server.out" 2>&1
rc=$?
cat > "$tmp/server.want" <<EOP
^backend: $BACKEND\$
^served 1000 requests: 980 ok, 20 bad request\$
^client: 1000 responses checked, 0 wrong\$
^largest request: [0-9]+ bytes in 1 run\\(s\\) of [0-9]+ KiB, one arena each\$
^last response's memory: freed \\(arena [1-9][0-9]*\\)\$
EOP
lines_in_order "$tmp/server.out" "$tmp/server.want" "$tmp/server.diag" || rc=1
cat "$tmp/server.out" >> "$tmp/server.diag"
ok $rc "request-server: 1000 requests over a socketpair, an arena each ($BACKEND), all answered right, memory freed" "$tmp/server.diag"

"$EX/ast-parser" > "$tmp/ast.out" 2>&1
echo "exit $?" >> "$tmp/ast.out"
cat > "$tmp/ast.want" <<'EOP'
^program 1: let x = 6 \* 7; x - 2$
^  \(let x \(\* 6 7\)\) => 42$
^  \(- x 2\) => 40$
^  arena: 7 nodes, [0-9]+ bytes in 1 run\(s\)$
^program 2: 
^  \(\+ 1 \(% \(\* 2 \(- 3 \(- 4\)\)\) 5\)\) => 5$
^  arena: 10 nodes, 
^program 3: 
^  \(let a 10\) => 10$
^  \(let b \(/ a 3\)\) => 3$
^  error at column 48: division by zero$
^  arena: 19 nodes, 
^exit 1$
EOP
lines_in_order "$tmp/ast.out" "$tmp/ast.want" "$tmp/ast.diag"
rc=$?
cat "$tmp/ast.out" >> "$tmp/ast.diag"
ok $rc "ast-parser: trees, values and a run-time error of the built-in programs" "$tmp/ast.diag"

"$EX/ast-parser" "let x = (1 + 2" "y + 1" "let 3 = 4" "2 * -3 - -(4 % 3)" "1 2" \
	> "$tmp/err.out" 2>&1
echo "exit $?" >> "$tmp/err.out"
cat > "$tmp/err.want" <<'EOP'
^  error at column 15: expected '\)'$
^  error at column 1: unknown name 'y'$
^  error at column 5: expected a name after 'let'$
^  \(- \(\* 2 \(- 3\)\) \(- \(% 4 3\)\)\) => -5$
^  error at column 3: unexpected '2'$
^exit 4$
EOP
lines_in_order "$tmp/err.out" "$tmp/err.want" "$tmp/err.diag"
rc=$?
cat "$tmp/err.out" >> "$tmp/err.diag"
ok $rc "ast-parser: syntax and name errors with their columns; exit status counts them" "$tmp/err.diag"

"$EX/uaf-suite" > "$tmp/uaf.out" 2>&1
echo "exit $?" >> "$tmp/uaf.out"
cat > "$tmp/uaf.want" <<EOP
^# backend: $BACKEND\$
^1\\.\\.3\$
^ok 1 request_lengths\$
^ok 2 reset_keeps_arena\$
^# kept 0x[0-9a-f]+ in arena [1-9][0-9]*\$
^not ok 3 first_user_remembered\$
^# use-after-free: address 0x[0-9a-f]+ \\(SEGV_$SEGV\\) is offset 0x[0-9a-f]+ of arena [1-9][0-9]*, freed [0-9]+ us ago by pid [0-9]+ \\(this process\\)\$
^# 2 passed, 1 failed\$
^exit 1\$
EOP
lines_in_order "$tmp/uaf.out" "$tmp/uaf.want" "$tmp/uaf.diag"
rc=$?
cat "$tmp/uaf.out" >> "$tmp/uaf.diag"
ok $rc "uaf-suite: tests 1-2 pass, test 3's use-after-free is caught (SEGV_$SEGV) and diagnosed" "$tmp/uaf.diag"

# The diagnosis names the kept pointer's arena, and the fault is in the
# struct the test kept (struct user: 16 bytes).
kept=$(sed -n 's/^# kept \(0x[0-9a-f]*\) in arena \([0-9]*\)$/\1 \2/p' "$tmp/uaf.out")
seen=$(sed -n 's/^# use-after-free: address \(0x[0-9a-f]*\) .* of arena \([0-9]*\),.*/\1 \2/p' "$tmp/uaf.out")
printf 'kept: %s\nfault: %s\n' "$kept" "$seen" > "$tmp/match.diag"
rc=1
if [ -n "$kept" ] && [ -n "$seen" ]; then
	read -r kp ka <<EOV
$kept
EOV
	read -r fp fa <<EOV
$seen
EOV
	d=$((fp - kp))
	[ "$ka" = "$fa" ] && [ "$d" -ge 0 ] && [ "$d" -lt 16 ] && rc=0
fi
ok $rc "uaf-suite: the fault is in the kept struct, and the lookup names its arena" "$tmp/match.diag"

# apr_uaf: stock APR, then the pools on arenas (libarena-apr.so, copied
# next to the examples by the top-level make).
if [ -x "$EX/apr_uaf" ] && [ -r "$EX/libarena-apr.so" ]; then
	"$EX/apr_uaf" clear > "$tmp/apr.out" 2>&1
	echo "exit $?" >> "$tmp/apr.out"
	cat > "$tmp/apr.want" <<'EOP'
^request 1 \(user alice\): first request$
^request 1 done: request pool cleared$
^request 2 \(user bob\): previous user was "bob"$
^served 3 requests; the last user was "carol"$
^exit 0$
EOP
	lines_in_order "$tmp/apr.out" "$tmp/apr.want" "$tmp/apr.diag"
	rc=$?
	cat "$tmp/apr.out" >> "$tmp/apr.diag"
	ok $rc "apr_uaf, stock APR: the kept request-pool string reads the next request's data, no fault" "$tmp/apr.diag"

	rc=0
	: > "$tmp/apra.diag"
	# The kernel's log lines are rate-limited (10 in 5 s): let the
	# earlier tests' faults age out.
	[ $BACKEND = kernel ] && sleep 6
	for mode in clear destroy; do
		LD_PRELOAD=$EX/libarena-apr.so "$EX/apr_uaf" $mode > "$tmp/apra.out" 2>&1
		echo "exit $?" >> "$tmp/apra.out"
		cat > "$tmp/apra.want" <<EOP
^request 1 \\(user alice\\): first request\$
^request 1 done: request pool ${mode}ed\$
^apr_uaf: SIGSEGV at 0x[0-9a-f]+ \\(SEGV_$SEGV\\): exactly the kept request-pool pointer 0x[0-9a-f]+\$
^exit 139\$
EOP
		lines_in_order "$tmp/apra.out" "$tmp/apra.want" "$tmp/apra.one" || rc=1
		if grep -q "previous user" "$tmp/apra.out"; then
			echo "read the stale string" >> "$tmp/apra.one"; rc=1
		fi
		# The kernel logs the access: the address, the arena, when freed.
		addr=$(sed -n 's/^apr_uaf: SIGSEGV at \(0x[0-9a-f]*\) .*/\1/p' "$tmp/apra.out")
		if [ $BACKEND = kernel ] && ! dmesg 2>&1 | grep -Eq \
			"use-after-free: pid [0-9]+ \\(apr_uaf\\) address $addr: arena [1-9][0-9]* offset 0x[0-9a-f]+, freed [0-9]+ us ago"; then
			echo "no kernel log line for address $addr" >> "$tmp/apra.one"; rc=1
		fi
		{ echo "== $mode"; cat "$tmp/apra.one" "$tmp/apra.out"; } >> "$tmp/apra.diag"
	done
	what="SIGSEGV (SEGV_$SEGV) exactly at the kept pointer, after a clear and after a destroy"
	[ $BACKEND = kernel ] && what="$what; the kernel log names the arena and when it was freed"
	ok $rc "apr_uaf with libarena-apr.so: $what" "$tmp/apra.diag"
else
	skip_n() { n=$((n + 1)); echo "ok $n $1 # SKIP $2"; }
	skip_n "apr_uaf, stock APR" "no $EX/apr_uaf or $EX/libarena-apr.so"
	skip_n "apr_uaf with libarena-apr.so" "no $EX/apr_uaf or $EX/libarena-apr.so"
fi

echo "# Totals: pass:$((n - failed)) fail:$failed"
[ "$failed" = 0 ]
