#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench/small_report.sh LOG [RESULTS.md]
#
# Turn the "@small" lines of build/bench/small_bench (LOG, normally
# build/vm/<kernel>/bench/ktap.log as `make bench` leaves it) into the
# small-arena section of bench/RESULTS.md. Without RESULTS.md the tables go
# to stdout. With it, the section between the lines
#     <!-- bench/small_report.sh: begin -->
#     <!-- bench/small_report.sh: end -->
# is replaced, or appended at the end if there is none. Needs only bash and
# awk.
#
# Exit status: 0, or 1 (nothing written) if LOG has no complete run.
set -euo pipefail

BEGIN='<!-- bench/small_report.sh: begin -->'
END='<!-- bench/small_report.sh: end -->'

[ $# -ge 1 ] && [ $# -le 2 ] || { sed -n '3,/^set -e/{/^set -e/d;s/^# \{0,1\}//p}' "$0" >&2; exit 2; }
LOG=$1
RESULTS=${2-}

lines=$( [ -r "$LOG" ] && tr -d '\r' < "$LOG" | grep -a '^@small ' || true)
if ! printf '%s\n' "$lines" | grep -q 'test=done'; then
	echo "small_report.sh: no complete small_bench run in $LOG" >&2
	exit 1
fi
qemu_v=$("${QEMU:-qemu-system-x86_64}" --version 2>/dev/null | head -n1 | sed 's/^QEMU emulator version //')
cpu=${BENCH_CPU:-$(cat "$(dirname "$LOG")/cpu.txt" 2>/dev/null || echo max)}
command=${BENCH_COMMAND:-make bench}

tables=$(printf '%s\n' "$lines" | awk -v qemu_v="${qemu_v:-unknown}" -v cpu="$cpu" -v command="$command" '
function kv(   i, k, v) {
	delete F
	for (i = 2; i <= NF; i++) {
		k = $i; sub(/=.*/, "", k)
		v = $i; sub(/^[^=]*=/, "", v)
		F[k] = v
	}
}
function us(ns) { return ns == "" ? "n/a" : sprintf(ns >= 100000 ? "%.0f" : "%.1f", ns / 1000) }
function x(r) { return r == "" ? "n/a" : sprintf("%.2f×", r) }
function ratio(a, b) { return (a != "" && b != "" && b > 0) ? a / b : "" }
function verdict(ok) { return ok ? "PASS" : "**MISS**" }
{ kv() }
F["test"] == "meta" { KERNEL = F["kernel"]; DATE = F["date"]; QUICK = F["quick"] + 0 }
F["test"] == "cycle" {
	k = F["impl"] SUBSEP F["len"]
	MED[k] = F["med_ns"]; P10[k] = F["p10_ns"]; P90[k] = F["p90_ns"]; MEAN[k] = F["mean_ns"]; N[k] = F["n"]
	if ("cpu_ns" in F) CPU[k] = F["cpu_ns"] + F["kthread_ns"]
	if ("clock_ns" in F) CLK[k] = F["clock_ns"]
	if ("flt_x100" in F) KE[k] = (F["sys_x100"] < 0 ? "n/a" : sprintf("%.2f", F["sys_x100"] / 100)) " + " sprintf("%.2f", F["flt_x100"] / 100) (F["sys_x100"] < 0 ? "" : sprintf(" = %.2f", (F["sys_x100"] + F["flt_x100"]) / 100))
	if (!(F["len"] in lseen)) { lseen[F["len"]] = 1; lens[++nl] = F["len"] }
}
F["test"] == "request" { RQ[F["flags"]] = $0; RF[F["flags"]] = F["fill_ns"]; RD[F["flags"]] = F["free_ns"]; RFL[F["flags"]] = F["faults"]; RR[F["flags"]] = F["small_runs"]; RN[F["flags"]] = F["n"] }
F["test"] == "density" { DA[F["flags"]] = F["arenas"]; DC[F["flags"]] = F["chunks"]; DM[F["flags"]] = F["mib"]; DP[F["flags"]] = F["pages_live"]; DF[F["flags"]] = F["faulted"] }
F["test"] == "freeblk" { FB[++nfb] = F["block"]; FBP[nfb] = F["pages"]; FBC[nfb] = F["cpu0"]; FBN[nfb] = F["n"]; FBM[nfb] = F["med_ns"]; FB9[nfb] = F["p90_ns"] }
F["test"] == "error" { ERR[++nerr] = $0 }
END {
	print "## 5. Small arenas (page-granular runs)"
	print ""
	print "`build/bench/small_bench` (bench/small_bench.c), in the same VM boot as the"
	print "tables above: small runs carved from shared chunks, see"
	print "[Documentation/small-arenas.rst](../Documentation/small-arenas.rst)."
	if (QUICK) { print ""; print "**Quick run: fewer cycles.**" }
	print ""
	print "| | |"
	print "|---|---|"
	if (KERNEL != "")
		printf "| measured in | guest kernel %s, QEMU %s TCG `-cpu %s`, 2 vCPUs; guest clock %s |\n", KERNEL, qemu_v, cpu, strftime("%Y-%m-%dT%H:%M:%SZ", DATE, 1)
	printf "| command | `%s` |\n", command
	print ""
	print "### 5.1 Creating, touching and freeing a small arena"
	print ""
	print "Per cycle: get LEN bytes, write one byte in every page, drop them."
	print "*ioctl*: `ARENA_IOC_ALLOC` with `ARENA_ALLOC_CREATE` + touch +"
	print "`ARENA_IOC_FREE`; *libarena*: `arena_new` + one `arena_alloc` filling"
	print "one run + touch + `arena_free` (the same two ioctls); *mmap*: anonymous"
	print "`mmap` + touch + `munmap`. The three alternate in batches of 100 cycles;"
	print "each cycle is timed alone, less what timing an empty interval costs"
	print "(the guest'"'"'s clock is a system call under TCG; " (("ioctl", 4096) in CLK ? us(CLK["ioctl", 4096]) " µs" : "see the run table") ")."
	print "µs; ratio: median against mmap + munmap."
	print ""
	print "| LEN | cycles | ioctl median (p10–p90) | libarena median | mmap + munmap median (p10–p90) | ioctl / mmap | libarena / mmap | means: ioctl / mmap |"
	print "|---|---:|---:|---:|---:|---:|---:|---:|"
	for (i = 1; i <= nl; i++) {
		l = lens[i]
		printf "| %d KiB | %d | %s (%s–%s) | %s | %s (%s–%s) | %s | %s | %s |\n", l / 1024, N["ioctl", l], us(MED["ioctl", l]), us(P10["ioctl", l]), us(P90["ioctl", l]), us(MED["lib", l]), us(MED["mmap", l]), us(P10["mmap", l]), us(P90["mmap", l]), x(ratio(MED["ioctl", l], MED["mmap", l])), x(ratio(MED["lib", l], MED["mmap", l])), x(ratio(MEAN["ioctl", l], MEAN["mmap", l]))
	}
	print ""
	print "The means include the cycles that found the pool empty and zeroed a fresh"
	print "shared chunk inline (one every 512 one-page arenas)."
	print ""
	print "CPU and kernel entries per cycle. CPU: the process'"'"'s own over the timed"
	print "batches of each kind, plus the module'"'"'s kernel threads'"'"' (comm `arena*`)"
	print "from the first batch until the pool has caught up, split evenly between"
	print "ioctl and libarena (mmap gives them no work). Kernel entries: system calls"
	print "(counted by a ptrace helper) + page faults (getrusage), counted over 100 untimed"
	print "cycles of each kind after the timed ones."
	print ""
	print "| LEN | CPU µs: ioctl | libarena | mmap + munmap | libarena / mmap | kernel entries: ioctl | libarena | mmap + munmap |"
	print "|---|---:|---:|---:|---:|---:|---:|---:|"
	for (i = 1; i <= nl; i++) {
		l = lens[i]
		if (!(("ioctl", l) in CPU)) continue
		printf "| %d KiB | %s | %s | %s | %s | %s | %s | %s |\n", l / 1024, us(CPU["ioctl", l]), us(CPU["lib", l]), us(CPU["mmap", l]), x(ratio(CPU["lib", l], CPU["mmap", l])), KE["ioctl", l], KE["lib", l], KE["mmap", l]
	}
	print ""
	print "### 5.2 Many live small arenas"
	print ""
	print "N arenas from libarena, each holding one 1 KiB allocation, all alive at"
	print "once: the chunks the module has in use for them (`chunks_in_use` before"
	print "and after), the pages their runs hold (`pages_live`); then every arena is"
	print "freed and one address in each (a different offset each time) is read."
	print ""
	print "| arenas | kind | chunks in use | MiB | pages of their runs | faulting after free |"
	print "|---:|---|---:|---:|---:|---:|"
	nk = split("grow whole", ks, " ")
	klab["grow"] = "default (small runs)"; klab["whole"] = "`ARENA_WHOLE_CHUNKS`"
	for (i = 1; i <= nk; i++) {
		k = ks[i]
		if (!(k in DA)) continue
		printf "| %d | %s | %d | %s | %d | %d of %d |\n", DA[k], klab[k], DC[k], DM[k], DP[k], DF[k], DA[k]
	}
	print ""
	print "### 5.3 Where a churn request goes"
	print ""
	print "The request of section 4.3 (200 objects, about 28 KiB) in a fresh libarena"
	print "arena: `arena_new` + the allocations, each written whole (the small runs'"'"'"
	print "ioctls and page faults included), against `arena_free`. Mean µs a request."
	print ""
	print "| arena | requests | new + allocate + write | free | page faults | small runs |"
	print "|---|---:|---:|---:|---:|---:|"
	for (i = 1; i <= nk; i++) {
		k = ks[i]
		if (!(k in RF)) continue
		printf "| %s | %d | %s | %s | %s | %s |\n", klab[k], RN[k], us(RF[k]), us(RD[k]), RFL[k], RR[k]
	}
	print ""
	if (nfb) {
		print "### 5.4 A small arena'"'"'s free over time"
		print ""
		print "Blocks of raw-ioctl arenas (`ARENA_IOC_ALLOC` with"
		print "`ARENA_ALLOC_CREATE`, touch, `ARENA_IOC_FREE`), one after the other:"
		print "one-page arenas before and after 8-page ones (which retire shared"
		print "chunks and keep the pool'"'"'s zeroing worker busy), then pinned to CPU 0."
		print "µs per free. A free must cost the same whatever ran before it; the ratio"
		print "is each block'"'"'s median against the first block'"'"'s."
		print ""
		print "| block | pages an arena | CPU | arenas | free median | p90 | against block 1 |"
		print "|---:|---:|---|---:|---:|---:|---:|"
		for (i = 1; i <= nfb; i++)
			printf "| %d | %d | %s | %d | %s | %s | %s |\n", FB[i], FBP[i], (FBC[i] + 0) ? "0 (pinned)" : "any", FBN[i], us(FBM[i]), us(FB9[i]), x(ratio(FBM[i], FBM[1]))
		print ""
	}
	print "### 5.5 Targets"
	print ""
	print "| target | needed | measured | result |"
	print "|---|---:|---:|---|"
	if ("grow" in DA)
		printf "| %d live 1 KiB arenas: arena memory | ≤ 64 MiB | %s MiB | %s |\n", DA["grow"], DM["grow"], verdict(DM["grow"] <= 64)
	r = ratio(MED["ioctl", 4096], MED["mmap", 4096])
	if (r != "")
		printf "| 4 KiB arena create + free against mmap + munmap of 4 KiB (median, raw ioctls) | ≤ 1.00× | %s | %s |\n", x(r), verdict(r <= 1)
	r = ratio(MED["lib", 4096], MED["mmap", 4096])
	if (r != "")
		printf "| the same through libarena (information) | ≤ 1.00× | %s | %s |\n", x(r), verdict(r <= 1)
	worst = ""
	for (i = 2; i <= nfb; i++)
		if (FBP[i] == 1 && (worst == "" || ratio(FBM[i], FBM[1]) > worst))
			worst = ratio(FBM[i], FBM[1])
	if (worst != "")
		printf "| a one-page arena'"'"'s free, worst later block against the first (section 5.4, information) | ≤ 1.50× | %s | %s |\n", x(worst), verdict(worst <= 1.5)
	if ("grow" in DA)
		printf "| every freed small arena faults (one sampled address each) | all | %d of %d | %s |\n", DF["grow"], DA["grow"], verdict(DF["grow"] == DA["grow"])
	for (i = 1; i <= nerr; i++) printf "\nError in the run: `%s`\n", ERR[i]
}')

. "$(dirname "$0")/section.sh"
write_section "$BEGIN" "$END" "$tables" "$RESULTS"
