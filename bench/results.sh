#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench/results.sh RESULTS.md HITLOG DIR...
#
# What `make bench` runs after its VM boots: one DIR per QEMU CPU model
# (build/vm/<kernel>/bench/cpu-<model>/, each with the guest's ktap.log,
# dmesg.log, host.txt and vm-run.sh's cpu.txt). Rewrites RESULTS.md below
# the marker line
#     <!-- bench/report.sh: generated below; edit above this line -->
# (everything above it, the hand-written notes, is kept): a table of the
# runs, the targets of issue 14 judged on every CPU model (median and mean,
# the total CPU including the module's kernel threads beside them), then
# for each model the tables of bench/report.sh, bench/alloc/report.sh and
# bench/small_report.sh (HITLOG, the host's callgrind counts, is the same
# for all) with their headings one level down. RESULTS.md "-" prints to
# stdout. BENCH_COMMAND (environment) is the command recorded, default
# "make bench". Needs only bash and awk.
#
# Exit status: 0, or 1 (nothing written) if a DIR has no complete run.
set -euo pipefail

MARKER='<!-- bench/report.sh: generated below; edit above this line -->'
HERE=$(cd "$(dirname "$0")" && pwd)

[ $# -ge 3 ] || { sed -n '3,/^set -e/{/^set -e/d;s/^# \{0,1\}//p}' "$0" >&2; exit 2; }
RESULTS=$1 HITLOG=$2
shift 2
export BENCH_COMMAND=${BENCH_COMMAND:-make bench}

for d in "$@"; do
	if ! tr -d '\r' < "$d/ktap.log" 2>/dev/null | grep -aq '^@end '; then
		echo "results.sh: $d/ktap.log has no complete benchmark run" >&2
		exit 1
	fi
done

# ---- the runs and the targets, all models --------------------------------
# What the Makefile saw on the host before each boot (host.txt).
hostloads=""
for d in "$@"; do
	h="n/a"
	if [ -r "$d/host.txt" ]; then
		read -r oq la _ < "$d/host.txt" || true
		oq=${oq#other_qemu=}; la=${la#loadavg=}
		h="$oq other qemu-system, load $la"
		[ "$oq" = 0 ] || h="$h (**timings distorted**)"
	fi
	hostloads="$hostloads$h;"
done
summary=$(
	i=0
	for d in "$@"; do
		i=$((i + 1))
		printf '@model idx=%d cpu=%s dir=%s\n' "$i" "$(cat "$d/cpu.txt" 2>/dev/null || echo max)" "$d"
		tr -d '\r' < "$d/ktap.log" | grep -aE '^(@|# arena-runner: end )' || true
	done | awk -v command="$BENCH_COMMAND" -v hostloads="$hostloads" '
function kv(pfx,   i, k, v) {
	for (i = 2; i <= NF; i++) {
		k = $i; sub(/=.*/, "", k)
		v = $i; sub(/^[^=]*=/, "", v)
		if (v ~ /^-?[0-9]+(\.[0-9]+)?$/) v += 0
		D[M, pfx, k] = v
	}
}
function g(pfx, k) { return ((M, pfx, k) in D) ? D[M, pfx, k] : "" }
function x(r) { if (r == "") return "n/a"; return r < 10 ? sprintf("%.2f×", r) : sprintf("%.1f×", r) }
function ratio(a, b) { return (a != "" && b != "" && b > 0) ? a / b : "" }
function num(v) { if (v == "") return "n/a"; return v >= 100 ? sprintf("%.0f", v) : v >= 10 ? sprintf("%.1f", v) : sprintf("%.2f", v) }
/^@model / { M = $2; sub(/^idx=/, "", M); nm = M; c = $3; sub(/^cpu=/, "", c); CPU[M] = c; next }
/^# arena-runner: end / { t = $NF; sub(/^time=/, "", t); sub(/s$/, "", t); SECS[M] += t; next }
/^@meta / { kv("meta"); next }
/^@acq / { n = $2; sub(/^name=/, "", n); kv("acq:" n); next }
/^@alloc / {
	if ($0 !~ / test=churn /) next
	n = $2; sub(/^impl=/, "", n); b = $3; sub(/^backend=/, "", b)
	kv("churn:" n (b == "mmap" ? "@mmap" : "")); next
}
/^@bt / {
	n = $2; sub(/^impl=/, "", n); b = $3; sub(/^backend=/, "", b); k = n (b == "mmap" ? "_mmap" : "")
	for (i = 2; i <= NF; i++) {
		f = $i; v = f; sub(/=.*/, "", f); sub(/^[^=]*=/, "", v)
		if (f == "secs") { r = ++BTN[M, k]; BTR[M, k, r] = v; BTS[M, k] += v }
		if (f == "depth") BTD[M] = v
		if (f == "cpu_s" || f == "kthread_s") BTC[M, k] += v
	}
	next
}
/^@small / {
	if ($0 ~ / test=meta /) { kv("smeta"); next }
	if ($0 ~ / test=cycle /) { n = $3; sub(/^impl=/, "", n); l = $4; sub(/^len=/, "", l); kv("cyc:" n ":" l); next }
	if ($0 ~ / test=density flags=grow /) { kv("dens"); next }
	next
}
function bt_med(k,   n, a, b, s, t) {
	n = BTN[M, k]
	if (!n) return ""
	for (a = 1; a <= n; a++) s[a] = BTR[M, k, a]
	for (a = 2; a <= n; a++) for (b = a; b > 1 && s[b - 1] > s[b]; b--) { t = s[b]; s[b] = s[b - 1]; s[b - 1] = t }
	return n % 2 ? s[(n + 1) / 2] : (s[n / 2] + s[n / 2 + 1]) / 2
}
function bt_mean(k) { return BTN[M, k] ? BTS[M, k] / BTN[M, k] : "" }
function bt_cpu(k) { return BTN[M, k] ? BTC[M, k] / BTN[M, k] : "" }
# One judged row. atmost: the ratio must be <= need; else >= need.
# rmed, rmean: the ratios on the median and the mean; rcpu: on total CPU.
function row(what, need, atmost, rmed, rmean, rcpu, ke,   ok, nd) {
	nd = (atmost ? "≤ " : "≥ ") x(need)
	if (rmed == "" && rmean == "") { ok = "n/a" }
	else {
		ok = 1
		if (rmed != "") ok = ok && (atmost ? rmed <= need : rmed >= need)
		if (rmean != "") ok = ok && (atmost ? rmean <= need : rmean >= need)
		ok = ok ? "MET" : "**MISS**"
	}
	printf "| %s | `%s` | %s | %s | %s | %s | %s | %s |\n", what, CPU[M], nd, x(rmed), x(rmean), x(rcpu), ke == "" ? "" : ke, ok
}
function kentries(sys, flt) {
	if (flt == "") return "n/a"
	if (sys == "" || sys < 0) return sprintf("n/a + %.2f", flt)
	return sprintf("%.2f + %.2f = %.2f", sys, flt, sys + flt)
}
END {
	split(hostloads, HOSTLOAD, ";")
	print "## Runs"
	print ""
	print "One VM boot per QEMU CPU model, the same module and programs in each (TCG,"
	print "2 vCPUs, 2 GiB). The guest'"'"'s `erms` flag is what /proc/cpuinfo shows:"
	print "with it, the kernel clears pages with `rep stosb`, which TCG emulates a"
	print "byte at a time, so every path that zeroes memory costs several times"
	print "more than with `erms=off` (string stores of 8 bytes)."
	print ""
	print "| part | CPU model (`-cpu`) | guest `erms` | guest kernel | guest clocksource (syscalls per clock_gettime) | date (guest clock, UTC) | command | benchmark programs ran | host load before the boot |"
	print "|---|---|---|---|---|---|---|---:|---|"
	for (M = 1; M <= nm; M++) {
		e = g("meta", "erms"); cs = g("meta", "clock_syscalls")
		printf "| %c | `%s` | %s | %s | %s (%s) | %s | `%s` | %d s | %s |\n", 64 + M, CPU[M], e == 1 ? "yes" : e == 0 ? "no" : "n/a", g("meta", "kernel"), g("meta", "clocksource") == "" ? "n/a" : g("meta", "clocksource"), cs == "" || cs < 0 ? "n/a" : cs, g("meta", "date"), command, SECS[M], HOSTLOAD[M]
	}
	print ""
	print "## Targets of issue 14, on every CPU model"
	print ""
	print "Each row is judged on the median and on the mean (MET only if both"
	print "meet the target); the ratio of total CPU, the process'"'"'s own plus that of"
	print "the module'"'"'s kernel threads (comm `arena*`) until the pool has caught up,"
	print "is beside them for information. Kernel entries: system calls (counted"
	print "exactly by a ptrace helper that stops the process at each) + page"
	print "faults (getrusage), per request or iteration of the arena case, counted"
	print "in an untimed pass (bench/README.md). The sections of each part give the"
	print "figures behind every ratio."
	print ""
	print "| target | CPU model | needed | median | mean | total CPU | arena kernel entries | result |"
	print "|---|---|---:|---:|---:|---:|---|---|"
	for (M = 1; M <= nm; M++) {
		A = "churn:arena"; P = "churn:apr"; G = "churn:glibc"
		ke = kentries(g(A, "sys"), g(A, "kflt"))
		row("request churn, fresh arena per request, against APR pools (§4.3)", 2.5, 1, \
			ratio(g(A, "med_us"), g(P, "med_us")), ratio(g(A, "us_per_request"), g(P, "us_per_request")), \
			ratio(g(A, "cpu_us") + g(A, "kthread_us"), g(P, "cpu_us") + g(P, "kthread_us")), ke)
		row("request churn, fresh arena per request, against glibc malloc/free (§4.3)", 0.7, 1, \
			ratio(g(A, "med_us"), g(G, "med_us")), ratio(g(A, "us_per_request"), g(G, "us_per_request")), \
			ratio(g(A, "cpu_us") + g(A, "kthread_us"), g(G, "cpu_us") + g(G, "kthread_us")), ke)
		s = g(A, "sys"); f = g(A, "kflt")
		if (s == "" || s < 0)
			printf "| request churn: kernel entries per request (§4.3) | `%s` | ≤ 1.10 | | | | %s | n/a |\n", CPU[M], ke
		else
			printf "| request churn: kernel entries per request (§4.3) | `%s` | ≤ 1.10 | | | | %s | %s |\n", CPU[M], ke, s + f <= 1.1 ? "MET" : "**MISS**"
		row("binary-trees depth " BTD[M] ", arena_reset, against APR (§4.4)", 2, 1, \
			ratio(bt_med("arena"), bt_med("apr")), ratio(bt_mean("arena"), bt_mean("apr")), \
			ratio(bt_cpu("arena"), bt_cpu("apr")), "")
		row("binary-trees, arena_reset, faster than malloc/free (malloc time / arena time, §4.4)", 1.5, 0, \
			ratio(bt_med("malloc"), bt_med("arena")), ratio(bt_mean("malloc"), bt_mean("arena")), \
			ratio(bt_cpu("malloc"), bt_cpu("arena")), "")
		if (BTN[M, "apr_preload"] && BTN[M, "apr_dyn"])
			row("binary-trees depth " BTD[M] ", APR with LD_PRELOAD=libarena-apr.so (kernel backend) against stock APR, the same dynamic binary (issue 16 item 5, §4.4.1)", 2, 1, \
				ratio(bt_med("apr_preload"), bt_med("apr_dyn")), ratio(bt_mean("apr_preload"), bt_mean("apr_dyn")), \
				ratio(bt_cpu("apr_preload"), bt_cpu("apr_dyn")), "")
		for (q = 1; q <= 2; q++) {
			k = q == 1 ? "lib" : "ioctl"
			L = "cyc:" k ":4096"; Mm = "cyc:mmap:4096"
			s = g(L, "sys_x100"); f = g(L, "flt_x100")
			row("4 KiB arena create + touch + free, " (q == 1 ? "libarena" : "raw ioctls") ", against mmap + touch + munmap (§5.1)", 0.2, 1, \
				ratio(g(L, "med_ns"), g(Mm, "med_ns")), ratio(g(L, "mean_ns"), g(Mm, "mean_ns")), \
				ratio(g(L, "cpu_ns") + g(L, "kthread_ns"), g(Mm, "cpu_ns") + g(Mm, "kthread_ns")), \
				f == "" ? "" : kentries(s < 0 ? -1 : s / 100, f / 100))
		}
		A2 = "acq:arena"
		ke = (g(A2, "kflt_x100") == "") ? "" : kentries(g(A2, "sys_x100") < 0 ? -1 : g(A2, "sys_x100") / 100, g(A2, "kflt_x100") / 100)
		split("mmap4k thp", bl, " ")
		blab["mmap4k"] = "4 KiB-page mmap + touch + munmap"; blab["thp"] = "THP (MADV_HUGEPAGE, zeroed) + touch + munmap"
		for (q = 1; q <= 2; q++) {
			B = "acq:" bl[q]
			row("2 MiB acquire + touch + free, back to back, faster than " blab[bl[q]] " (§1)", 4, 0, \
				ratio(g(B, "med"), g(A2, "med")), ratio(g(B, "mean"), g(A2, "mean")), \
				ratio((g(B, "self_cpu") + g(B, "worker_cpu")) / g(B, "iters"), (g(A2, "self_cpu") + g(A2, "worker_cpu")) / g(A2, "iters")), ke)
		}
		A3 = "acq:arena_nozero"
		if (g(A3, "med") == "")
			printf "| 2 MiB acquire + touch + free with a no-zero flag, faster than 4 KiB-page mmap and THP | `%s` | ≥ 10× | | | | | n/a: no ARENA_NOZERO in this module |\n", CPU[M]
		else {
			ke = (g(A3, "kflt_x100") == "") ? "" : kentries(g(A3, "sys_x100") < 0 ? -1 : g(A3, "sys_x100") / 100, g(A3, "kflt_x100") / 100)
			for (q = 1; q <= 2; q++) {
				B = "acq:" bl[q]
				row("2 MiB acquire + touch + free with ARENA_ALLOC_NOZERO, back to back, faster than " blab[bl[q]] " (§1)", 10, 0, \
					ratio(g(B, "med"), g(A3, "med")), ratio(g(B, "mean"), g(A3, "mean")), \
					ratio((g(B, "self_cpu") + g(B, "worker_cpu")) / g(B, "iters"), (g(A3, "self_cpu") + g(A3, "worker_cpu")) / g(A3, "iters")), ke)
			}
		}
		mib = g("dens", "mib")
		if (mib != "")
			printf "| %d live 1 KiB arenas in at most 64 MiB (§5.2) | `%s` | ≤ 64 MiB | %s MiB | | | | %s |\n", g("dens", "arenas"), CPU[M], mib, mib <= 64 ? "MET" : "**MISS**"
	}
}')
# ---- each model's sections ------------------------------------------------
parts=""
i=0
for d in "$@"; do
	i=$((i + 1))
	cpu=$(cat "$d/cpu.txt" 2>/dev/null || echo max)
	part=$(printf "\\x$(printf %x $((64 + i)))")
	export BENCH_CPU=$cpu
	body=$( "$HERE/report.sh" "$d/ktap.log"
		echo
		"$HERE/alloc/report.sh" "$d/ktap.log" "$HITLOG" || true
		echo
		"$HERE/small_report.sh" "$d/ktap.log" || true )
	# one heading level down, under the part's
	body=$(printf '%s\n' "$body" | sed 's/^#/##/')
	parts=$(printf '%s\n\n## %s. `-cpu %s`\n\n%s\n' "$parts" "$part" "$cpu" "$body")
done

tables=$(printf '%s\n%s\n' "$summary" "$parts")
if [ "$RESULTS" = - ]; then
	printf '%s\n' "$tables"
	exit 0
fi
tmp=$(mktemp "$RESULTS.XXXXXX")
trap 'rm -f "$tmp"' EXIT
if [ -r "$RESULTS" ] && grep -qxF "$MARKER" "$RESULTS"; then
	sed "/^$(printf '%s' "$MARKER" | sed 's/[][\/.*^$]/\\&/g')\$/q" "$RESULTS" > "$tmp"
else
	printf '# arena benchmark results\n\nGenerated by `make bench` (bench/results.sh); see bench/README.md.\n\n%s\n' "$MARKER" > "$tmp"
fi
{ echo; printf '%s\n' "$tables"; } >> "$tmp"
mv "$tmp" "$RESULTS"
trap - EXIT
echo "# results.sh: wrote $RESULTS"
