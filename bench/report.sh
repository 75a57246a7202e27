#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench/report.sh LOG [RESULTS.md]
#
# Turn the output of build/bench/arena_bench (the "@meta", "@acq", "@free"
# and "@end" lines in LOG, normally build/vm/<kernel>/bench/ktap.log as
# `make bench` leaves it) into markdown tables.  Without RESULTS.md the
# tables go to stdout.  With it, RESULTS.md is rewritten: everything up to and
# including the marker line
#     <!-- bench/report.sh: generated below; edit above this line -->
# is kept as it is (the hand-written notes), everything after it is replaced;
# a file without the marker gets a short default header.  The tables are also
# printed to stdout.  Needs only bash and awk.
#
# Exit status: 0, or 1 (nothing written) if LOG has no complete run.
set -euo pipefail

MARKER='<!-- bench/report.sh: generated below; edit above this line -->'

[ $# -ge 1 ] && [ $# -le 2 ] || { sed -n '3,/^set -e/{/^set -e/d;s/^# \{0,1\}//p}' "$0" >&2; exit 2; }
LOG=$1
RESULTS=${2-}
[ -r "$LOG" ] || { echo "report.sh: cannot read $LOG" >&2; exit 1; }

if ! tr -d '\r' < "$LOG" | grep -aq '^@end '; then
	echo "report.sh: $LOG has no complete benchmark run (no @end line)" >&2
	tr -d '\r' < "$LOG" | grep -a '^@error' >&2 || true
	exit 1
fi

host_cpu=$(sed -n 's/^model name[[:space:]]*: *//p' /proc/cpuinfo 2>/dev/null | head -n1)
host_n=$(nproc 2>/dev/null || echo '?')
qemu_v=$("${QEMU:-qemu-system-x86_64}" --version 2>/dev/null | head -n1 | sed 's/^QEMU emulator version //')
# The guest's kernel log, which vm-run.sh leaves next to ktap.log.
autoinit=""
if [ -r "$(dirname "$LOG")/dmesg.log" ]; then
	autoinit=$(tr -d '\r' < "$(dirname "$LOG")/dmesg.log" | grep -ao 'mem auto-init: .*' | head -n1 || true)
	autoinit=${autoinit#mem auto-init: }
fi
# What the Makefile saw on the host just before the boot.
hostload=""
if [ -r "$(dirname "$LOG")/host.txt" ]; then
	hostload=$(head -n1 "$(dirname "$LOG")/host.txt")
fi
# The QEMU -cpu model (vm-run.sh leaves cpu.txt) and the command that ran.
cpu=${BENCH_CPU:-$(cat "$(dirname "$LOG")/cpu.txt" 2>/dev/null || echo max)}
command=${BENCH_COMMAND:-make bench}

tables=$(tr -d '\r' < "$LOG" | grep -a '^@' | awk \
	-v host_cpu="${host_cpu:-unknown}" -v host_n="$host_n" -v qemu_v="${qemu_v:-unknown}" -v autoinit="$autoinit" -v hostload="$hostload" \
	-v cpu="$cpu" -v command="$command" '
function kv(pfx,   i, k, v) {	# key=value fields of $0 into D[pfx, key]
	for (i = 2; i <= NF; i++) {
		k = $i; sub(/=.*/, "", k)
		v = $i; sub(/^[^=]*=/, "", v)
		D[pfx, k] = v
	}
}
function has(pfx, k) { return ((pfx, k) in D) }
function g(pfx, k) { return ((pfx, k) in D) ? D[pfx, k] : "" }	# without creating it
function us(ns,   u) {	# ns -> microseconds, 3 significant digits or so
	if (ns == "") return "n/a"
	u = ns / 1000
	if (u < 10) return sprintf("%.2f", u)
	if (u < 100) return sprintf("%.1f", u)
	return sprintf("%.0f", u)
}
function x(r) {	# a ratio
	if (r == "") return "n/a"
	if (r < 10) return sprintf("%.2f×", r)
	return sprintf("%.1f×", r)
}
function ratio(a, b) { return (b > 0 && a != "") ? a / b : "" }
function faults(pfx) {
	return has(pfx, "minflt_x100") ? sprintf("%.2f", D[pfx, "minflt_x100"] / 100) : "n/a"
}
function kentries(pfx,   s, f) {	# "3.00 + 1.00 = 4.00" from the counting pass
	if (!has(pfx, "kflt_x100")) return "n/a"
	f = D[pfx, "kflt_x100"] / 100
	if (D[pfx, "sys_x100"] < 0) return sprintf("n/a + %.2f", f)
	s = D[pfx, "sys_x100"] / 100
	return sprintf("%.2f + %.2f = %.2f", s, f, s + f)
}
function hugekb(v) { return (v == "" || v < 0) ? "n/a" : v }
function cnt(pfx, k) { return (has(pfx, k) && D[pfx, k] >= 0) ? D[pfx, k] : "n/a" }
function tv(k) { return (k in tot) ? tot[k] : "" }
/^@meta / { kv("meta") }
/^@acq / { n = $2; sub(/^name=/, "", n); kv("acq:" n) }
/^@free / {
	n = $2; sub(/^name=/, "", n)
	c = $3; sub(/^chunks=/, "", c)
	kv("free:" n ":" c)
	if (!(c in seen)) { seen[c] = 1; sizes[++nsizes] = c }
}
/^@end / { kv("end") }
END {
	M = "meta"
	print "## Run"
	print ""
	print "| | |"
	print "|---|---|"
	printf "| command | `%s` |\n", command
	printf "| date (guest clock, UTC) | %s |\n", D[M, "date"]
	printf "| guest kernel (`uname -r`) | %s |\n", D[M, "kernel"]
	printf "| machine | QEMU %s, TCG (no KVM, `-cpu %s`), %s vCPUs, %s MiB; host: %s, %s CPUs |\n", \
		qemu_v, cpu, D[M, "cpus"], D[M, "mem_mib"], host_cpu, host_n
	if (has(M, "erms"))
		printf "| guest CPU flag `erms` (/proc/cpuinfo) | %s |\n", D[M, "erms"] == 1 ? "yes: rep stosb emulated a byte at a time" : (D[M, "erms"] == 0 ? "no" : "unknown")
	if (has(M, "clock_syscalls"))
		printf "| guest clocksource; system calls per clock_gettime; an empty timed interval | %s; %s; %s µs (subtracted from every timed iteration) |\n", g(M, "clocksource"), D[M, "clock_syscalls"] < 0 ? "n/a (no ptrace)" : D[M, "clock_syscalls"], us(g(M, "clock_ns"))
	if (hostload != "") {
		split(hostload, hl, /[ =]/)	# other_qemu N loadavg A/B/C
		printf "| host load before the boot | %s other qemu-system process(es)%s, load average %s |\n", \
			hl[2], (hl[2] > 0 ? " (**timings distorted**)" : ""), hl[4]
	}
	printf "| guest THP | enabled=%s, defrag=%s |\n", D[M, "thp_enabled"], D[M, "thp_defrag"]
	if (autoinit != "")
		printf "| guest memory auto-init (dmesg) | %s |\n", autoinit
	if (D[M, "pool"] == "yes")
		pool = sprintf("present (/sys/kernel/arena/chunks_dirty), %d arena_pool thread(s) at start", D[M, "pool_threads"])
	else
		pool = "absent (no /sys/kernel/arena/chunks_dirty): every chunk is allocated and zeroed in ALLOC_CHUNKS"
	printf "| arena chunk pool | %s |\n", pool
	printf "| time budget | %s ms per case (at least 20 iterations per acquisition case, 5 per freeing case) |\n", D[M, "budget_ms"]
	printf "| benchmark run time | %s s in the guest |\n", D["end", "secs"]
	print ""

	A = "acq:arena"; W = "acq:arena_warm"
	warm = has(W, "med")
	na = split("arena arena_warm arena_nozero mmap4k populate thp", acq, " ")
	label["arena"] = "arena: ALLOC(CREATE, 2 MiB) + touch + FREE, back to back"
	label["arena_nozero"] = "arena, the same with ARENA_ALLOC_NOZERO (own freed chunk, not zeroed)"
	label["arena_warm"] = "arena, the same, pool settled before each iteration"
	label["mmap4k"] = "mmap 2 MiB + MADV_NOHUGEPAGE + touch + munmap"
	label["populate"] = "mmap 2 MiB MAP_POPULATE (4 KiB pages) + touch + munmap"
	label["thp"] = "mmap 4 MiB, align, MADV_HUGEPAGE + touch + munmap"
	slabel["arena"] = "arena, back to back"; slabel["arena_warm"] = "arena, pool settled"
	slabel["arena_nozero"] = "arena, no-zero"
	slabel["mmap4k"] = "mmap, 4 KiB pages"; slabel["populate"] = "MAP_POPULATE"
	slabel["thp"] = "THP"
	print "## 1. Acquiring, touching and dropping 2 MiB"
	print ""
	print "Per iteration: get 2 MiB, write one byte in every 4 KiB page, give it back."
	print "Latency is CLOCK_MONOTONIC per iteration: median, 10th and 90th percentile"
	print "and mean over all timed iterations (after 5 warm-up ones); iterations run"
	print "back to back, except in the \"pool settled\" row, which waits (untimed) before"
	print "each iteration until the pool worker has re-zeroed the chunk the previous"
	print "one freed, so every ALLOC_CHUNKS finds a ready chunk. \"vs arena\" is the"
	print "method'"'"'s median over arena'"'"'s median (above 1: arena is faster)."
	print "Each iteration'"'"'s time is less three empty-interval clock costs (see the"
	print "run table: it reads the clock twice inside), each part'"'"'s less one."
	print "Kernel entries: system calls (counted exactly by a ptrace helper) and"
	print "page faults (getrusage) per"
	print "iteration, counted in an untimed pass of " (has(A, "kentry_iters") ? D[A, "kentry_iters"] : 20) " iterations after the timed"
	print "loop (the pool settled first)."
	print ""
	hdr = "| method | iters | median µs | p10 µs | p90 µs | mean µs | get / touch / drop µs (medians) | faults per iter | kernel entries per iter: syscalls + faults | AnonHugePages kB | median vs arena |"
	sep = "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	if (warm) { hdr = hdr " median vs arena, pool settled |"; sep = sep "---:|" }
	print hdr; print sep
	for (i = 1; i <= na; i++) {
		P = "acq:" acq[i]
		if (!has(P, "med")) continue
		isa = acq[i] ~ /^arena/
		line = sprintf("| %s | %d | %s | %s | %s | %s | %s / %s / %s | %s | %s | %s | %s |", label[acq[i]], \
			D[P, "iters"], us(D[P, "med"]), us(D[P, "p10"]), us(D[P, "p90"]), us(D[P, "mean"]), \
			us(D[P, "get_med"]), us(D[P, "touch_med"]), us(D[P, "rel_med"]), \
			faults(P), kentries(P), isa ? "n/a" : hugekb(D[P, "anon_huge_kb"]), \
			acq[i] == "arena" ? "1×" : x(ratio(D[P, "med"], g(A, "med"))))
		if (warm)
			line = line " " (acq[i] == "arena_warm" ? "1×" : x(ratio(D[P, "med"], g(W, "med")))) " |"
		print line
	}
	print ""
	if (D[M, "pool"] == "yes") {
		print "Where the arena loops'"'"' chunks came from (changes of the /sys/kernel/arena"
		print "counters over the timed loop and the catch-up after it):"
		print ""
		print "| arena loop | iters | from the ready list (`chunks_reused`) | zeroed inline in the ioctl (`chunks_zeroed_inline`) | new from the page allocator (`chunks_allocated`) | zeroed by the worker (`chunks_zeroed`) | ready before → after the loop |"
		print "|---|---:|---:|---:|---:|---:|---:|"
		for (i = 1; i <= 2; i++) {
			P = "acq:" acq[i]
			if (!has(P, "med")) continue
			printf "| %s | %d | %s | %s | %s | %s | %s → %s |\n", acq[i] == "arena" ? "back to back" : "pool settled", \
				D[P, "iters"], cnt(P, "d_chunks_reused"), cnt(P, "d_chunks_zeroed_inline"), \
				cnt(P, "d_chunks_allocated"), cnt(P, "d_chunks_zeroed"), \
				D[P, "ready_before"], D[P, "ready_after"]
		}
		print ""
	}
	print "### CPU per 2 MiB, including the zeroing worker"
	print ""
	print "The process'"'"'s own CPU (utime + stime, read as CLOCK_PROCESS_CPUTIME_ID)"
	print "over the timed iterations, plus the CPU of every kernel thread whose comm"
	print "starts with `arena` (the pool'"'"'s `arena_pool`; /proc/PID/schedstat) from the start of the loop"
	print "until the pool has caught up with everything the loop freed: no dirty or"
	print "quarantined chunk left and the worker idle for 20 ms (\"catch-up\" is that"
	print "wait, during which the process only sleeps and polls). Without the pool"
	print "there is no worker, and ALLOC_CHUNKS zeroes in the process'"'"'s own system"
	print "time. In the \"pool settled\" row (arena_warm) the waits between iterations"
	print "count in the wall time, not in the process'"'"'s CPU. Wall per chunk ="
	print "(loop + catch-up) / iters."
	print ""
	print "| method | own CPU µs/chunk | arena* kthreads CPU µs/chunk | total CPU µs/chunk | catch-up wait ms | wall µs/chunk incl. catch-up | total CPU vs arena |"
	print "|---|---:|---:|---:|---:|---:|---:|"
	for (i = 1; i <= na; i++) {
		P = "acq:" acq[i]
		if (!has(P, "med")) continue
		it = D[P, "iters"]
		tot[acq[i]] = (D[P, "self_cpu"] + D[P, "worker_cpu"]) / it
		printf "| %s | %s | %s | %s | %.1f | %s | %s |\n", slabel[acq[i]], \
			us(D[P, "self_cpu"] / it), us(D[P, "worker_cpu"] / it), us(tot[acq[i]]), \
			D[P, "catchup_wall"] / 1e6, us((D[P, "loop_wall"] + D[P, "catchup_wall"]) / it), \
			acq[i] == "arena" ? "1×" : x(ratio(tot[acq[i]], tot["arena"]))
	}
	print ""

	nf = split("arena munmap_thp munmap_4k prot_thp prot_4k", fk, " ")
	flabel["arena"] = "arena FREE"
	flabel["munmap_thp"] = "munmap, THP"
	flabel["munmap_4k"] = "munmap, 4 KiB"
	flabel["prot_thp"] = "PROT_NONE + DONTNEED, THP"
	flabel["prot_4k"] = "PROT_NONE + DONTNEED, 4 KiB"
	print "## 2. Freeing touched memory"
	print ""
	print "Every 4 KiB page written first; only the drop is timed: ARENA_IOC_FREE of"
	print "an arena of N chunks, munmap of N × 2 MiB of anonymous memory (THP-backed:"
	print "2 MiB aligned with MADV_HUGEPAGE; 4 KiB-backed: MADV_NOHUGEPAGE), and"
	print "mprotect(PROT_NONE) + madvise(MADV_DONTNEED) of the same (the address space"
	print "stays reserved and faults, as with arena). With the pool, each drop starts"
	print "after the pool has settled. Median µs (method / arena in brackets)."
	print ""
	hdr = "| memory |"; sep = "|---|"
	for (j = 1; j <= nf; j++) { hdr = hdr " " flabel[fk[j]] " |"; sep = sep "---:|" }
	print hdr; print sep
	for (s = 1; s <= nsizes; s++) {
		c = sizes[s]
		F = "free:arena:" c
		line = sprintf("| %d MiB (%d chunk%s) |", c * 2, c, c == 1 ? "" : "s")
		for (j = 1; j <= nf; j++) {
			P = "free:" fk[j] ":" c
			if (!has(P, "med")) { line = line " n/a |"; continue }
			if (fk[j] == "arena")
				line = line " " us(D[P, "med"]) " |"
			else
				line = line " " us(D[P, "med"]) " (" x(ratio(D[P, "med"], g(F, "med"))) ") |"
		}
		print line
	}
	print ""
	print "<details><summary>freeing, all statistics</summary>"
	print ""
	print "| method | chunks | iters | median µs | p10 µs | p90 µs | min µs | faults to set up | AnonHugePages kB |"
	print "|---|---:|---:|---:|---:|---:|---:|---:|---:|"
	for (s = 1; s <= nsizes; s++) for (j = 1; j <= nf; j++) {
		P = "free:" fk[j] ":" sizes[s]
		if (!has(P, "med")) continue
		printf "| %s | %d | %d | %s | %s | %s | %s | %d | %s |\n", flabel[fk[j]], sizes[s], \
			D[P, "iters"], us(D[P, "med"]), us(D[P, "p10"]), us(D[P, "p90"]), us(D[P, "min"]), \
			D[P, "setup_minflt"], fk[j] == "arena" ? "n/a" : hugekb(D[P, "anon_huge_kb"])
	}
	print ""
	print "</details>"
	print ""

	print "## 3. Targets"
	print ""
	print "From the issue, judged on the medians above; the CPU rows are for information."
	print ""
	print "| target | needed | measured | result |"
	print "|---|---:|---:|---|"
	target("acquire + touch + free vs mmap + first touch + munmap, 4 KiB pages: median, back to back", \
		ratio(g("acq:mmap4k", "med"), g(A, "med")), 20, 1)
	if (warm)
		target("the same, median, pool settled before each arena iteration", \
			ratio(g("acq:mmap4k", "med"), g(W, "med")), 20, 1)
	target("the same, mean, back to back (information)", \
		ratio(g("acq:mmap4k", "mean"), g(A, "mean")), 20, 1)
	target("the same, total CPU per chunk incl. zeroing worker, back to back (information)", \
		ratio(tv("mmap4k"), tv("arena")), 20, 1)
	target("acquire + touch + free vs THP (MADV_HUGEPAGE) + touch + munmap: median, back to back", \
		ratio(g("acq:thp", "med"), g(A, "med")), 5, 1)
	if (warm)
		target("the same, median, pool settled before each arena iteration", \
			ratio(g("acq:thp", "med"), g(W, "med")), 5, 1)
	target("the same, mean, back to back (information)", \
		ratio(g("acq:thp", "mean"), g(A, "mean")), 5, 1)
	target("the same, total CPU per chunk incl. zeroing worker, back to back (information)", \
		ratio(tv("thp"), tv("arena")), 5, 1)
	for (s = 1; s <= nsizes; s++) {
		c = sizes[s]
		F = "free:arena:" c
		target(sprintf("free %d MiB: arena FREE ≤ ½ munmap, 4 KiB-backed", c * 2), \
			ratio(g(F, "med"), g("free:munmap_4k:" c, "med")), 0.5, 0)
		target(sprintf("free %d MiB: arena FREE ≤ ½ munmap, THP-backed", c * 2), \
			ratio(g(F, "med"), g("free:munmap_thp:" c, "med")), 0.5, 0)
	}
}
function target(what, r, need, atleast,   ok) {
	if (r == "") { printf "| %s | %s | n/a | n/a |\n", what, (atleast ? "≥ " : "≤ ") x(need); return }
	ok = atleast ? r >= need : r <= need
	if (atleast)
		printf "| %s | ≥ %s faster | %s faster | %s |\n", what, x(need), x(r), ok ? "PASS" : "**FAIL**"
	else
		printf "| %s | ≤ %s of munmap | %s of munmap | %s |\n", what, x(need), x(r), ok ? "PASS" : "**FAIL**"
}
')

if [ -z "$RESULTS" ]; then
	printf '%s\n' "$tables"
	exit 0
fi

tmp=$(mktemp "$RESULTS.XXXXXX")
trap 'rm -f "$tmp"' EXIT
if [ -r "$RESULTS" ] && grep -qxF "$MARKER" "$RESULTS"; then
	sed "/^$(printf '%s' "$MARKER" | sed 's/[][\/.*^$]/\\&/g')\$/q" "$RESULTS" > "$tmp"
else
	cat > "$tmp" <<EOF
# arena benchmark results

Generated by \`make bench\` (bench/report.sh); see bench/README.md. Notes
written above the marker line below are kept when the tables are regenerated.

$MARKER
EOF
fi
{
	echo
	printf '%s\n' "$tables"
} >> "$tmp"
mv "$tmp" "$RESULTS"
trap - EXIT
printf '%s\n' "$tables"
echo "# report.sh: wrote ${RESULTS}"
