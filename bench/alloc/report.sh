#!/bin/bash
# SPDX-License-Identifier: GPL-2.0
#
# bench/alloc/report.sh LOG HITLOG [RESULTS.md]
#
# Turn the "@alloc" and "@bt" lines the bench/alloc programs printed in the
# VM (LOG, build/vm/<kernel>/bench/ktap.log) and the "@hit" lines of
# bench/alloc/hitpath.sh on the host (HITLOG) into markdown tables: the
# libarena section of bench/RESULTS.md. Without RESULTS.md they go to
# stdout. With it, the section between the lines
#     <!-- bench/alloc/report.sh: begin -->
#     <!-- bench/alloc/report.sh: end -->
# is replaced, or appended at the end if there is none (bench/report.sh
# rewrites everything below its own marker first, so after `make bench`
# the section follows its tables). Needs only bash and awk.
#
# Exit status: 0, or 1 (nothing written) if neither log has results.
set -euo pipefail

BEGIN='<!-- bench/alloc/report.sh: begin -->'
END='<!-- bench/alloc/report.sh: end -->'

[ $# -ge 2 ] && [ $# -le 3 ] || { sed -n '3,/^set -e/{/^set -e/d;s/^# \{0,1\}//p}' "$0" >&2; exit 2; }
LOG=$1
HITLOG=$2
RESULTS=${3-}

lines=$( { [ -r "$LOG" ] && tr -d '\r' < "$LOG" | grep -aE '^@(alloc|bt|btk|btsys) ' || true
	   [ -r "$HITLOG" ] && grep -aE '^@hit(meta)? ' "$HITLOG" || true; } )
if [ -z "$lines" ]; then
	echo "alloc/report.sh: no @alloc, @bt or @hit lines in $LOG or $HITLOG" >&2
	exit 1
fi
qemu_v=$("${QEMU:-qemu-system-x86_64}" --version 2>/dev/null | head -n1 | sed 's/^QEMU emulator version //')
cpu=${BENCH_CPU:-$(cat "$(dirname "$LOG")/cpu.txt" 2>/dev/null || echo max)}
command=${BENCH_COMMAND:-make bench}

tables=$(printf '%s\n' "$lines" | awk -v qemu_v="${qemu_v:-unknown}" -v cpu="$cpu" -v command="$command" '
function kv(   i, k, v) {	# key=value fields of $0 into F[]
	delete F
	for (i = 2; i <= NF; i++) {
		k = $i; sub(/=.*/, "", k)
		v = $i; sub(/^[^=]*=/, "", v); gsub(/"/, "", v)
		if (v ~ /^-?[0-9]+(\.[0-9]+)?$/) v += 0	# compare as numbers
		F[k] = v
	}
}
function num(v, d) {	# about 3 significant digits; d: an instruction count
	if (v == "") return "n/a"
	if (d != "") return sprintf("%.0f", v)
	if (v >= 100) return sprintf("%.0f", v)
	if (v >= 10) return sprintf("%.1f", v)
	return sprintf("%.2f", v)
}
function x(r) {
	if (r == "") return "n/a"
	if (r < 10) return sprintf("%.2f×", r)
	return sprintf("%.1f×", r)
}
function ratio(a, b) { return (a != "" && b != "" && b > 0) ? a / b : "" }
function verdict(ok) { return ok ? "PASS" : "**MISS**" }
/^@hitmeta / {	# one "key=value with spaces" a line
	k = $2; sub(/=.*/, "", k); v = $0; sub(/^@hitmeta [^=]*=/, "", v); HM[k] = v; next
}
/^@hit / { kv(); H[F["op"], F["size"]] = F["per_call"]; next }
/^@bt / {
	kv(); k = F["impl"] (F["backend"] == "mmap" ? "_mmap" : "")
	BTD[k] = F["depth"]; BTB[k] = F["backend"]
	n = ++BTN[k]; BTR[k, n] = F["secs"]; BTSUM[k] += F["secs"]
	BTCPU[k] += F["cpu_s"] + F["kthread_s"]; BTF[k] += F["faults"]
	next
}
/^@btsys / { kv(); k = F["impl"]; for (f in F) BSY[k, f] = F[f]; next }
/^@btk / {	# binarytrees_apr_preload: the counters of the module, per process
	kv(); k = F["impl"]; BKP[k]++; BKR[k] += F["runs"]
	for (f in F) if (f != "impl" && f != "round" && f != "runs") BK[k, f] += F[f]
	next
}
/^@alloc / {
	kv()
	key = F["impl"] ((F["backend"] == "mmap") ? "@mmap" : "")
	if (F["test"] == "meta") { if (F["impl"] == "arena" && F["backend"] == "kernel") { KMETA = F["kernel"]; KDATE = F["date"] }; if (F["quick"]) QUICK = 1; next }
	if (F["test"] == "throughput") { TP[key, F["size"]] = F["ns_per_obj"]; seen[key] = 1; next }
	if (F["test"] == "churn") { CH[key] = F["us_per_request"]; CHS[key] = F["secs"]; CHN[key] = F["requests"]; CHM[key] = F["med_us"]; CHP10[key] = F["p10_us"]; CHP90[key] = F["p90_us"]; CHCPU[key] = ("cpu_us" in F) ? F["cpu_us"] + F["kthread_us"] : ""; CHKT[key] = F["kthread_us"]; CHSYS[key] = F["sys"]; CHKF[key] = F["kflt"]; CHMIX[key] = F["sysmix"]; CHTN = F["timed_requests"]; CHCLK = F["clock_us"]; CHKN = F["kentry_requests"]; if (CHN0 < F["requests"]) CHN0 = F["requests"]; CHB0 = F["bytes_per_request"]; seen[key] = 1; next }
	if (F["test"] == "reset") { b = F["bytes"]; bk = F["backend"]; RSV[bk, b] = F["reset_us"]; RC[bk, b] = F["reset_cycle_us"]; MM[bk, b] = F["munmap_mmap_us"]; MC[bk, b] = F["munmap_mmap_cycle_us"]; RN[bk, b] = F["iters"]; if (!(b in rseen)) { rseen[b] = 1; rsz[++nrs] = b }; next }
	if (F["test"] == "error") { ERR[++nerr] = $0 }
}
END {
	print "## 4. libarena: allocation"
	print ""
	print "What each program does is in [README.md](README.md) (bench/alloc/). Two"
	print "places, stated in every table: the **hit path in instructions** is counted"
	print "on the host with callgrind (the mmap backend: the inline hit path is the"
	print "same code on both backends, and the host has no /dev/arena); **times** come"
	print "from the same VM boot as the tables above, every allocator side by side:"
	print "libarena on the kernel backend and on its mmap backend, glibc malloc/free,"
	print "jemalloc, mimalloc and APR pools. TCG times compare programs within this run"
	print "only (see the notes at the top). Static binaries, except mimalloc (Debian"
	print "ships no static library: dynamic, its libraries copied into the initramfs)."
	if (QUICK) { print ""; print "**Quick run (ARENA_BENCH_QUICK): fewer requests, smaller trees, short budgets.**" }
	print ""
	print "| | |"
	print "|---|---|"
	printf "| hit path counted on | host kernel %s, %s, valgrind %s (callgrind), %s, %s |\n", HM["kernel"], HM["cpu"], HM["valgrind"], HM["cc"], HM["date"]
	if (KMETA != "")
		printf "| times measured in | guest kernel %s, QEMU %s TCG `-cpu %s`, 2 vCPUs; guest clock %s |\n", KMETA, qemu_v, cpu, strftime("%Y-%m-%dT%H:%M:%SZ", KDATE, 1)
	printf "| command | `%s` |\n", command
	print ""

	# ---- 4.1 hit path ----
	print "### 4.1 The allocation hit path, in x86-64 instructions (host, callgrind)"
	print ""
	print "Instructions per call of a noinline function doing one allocation, every"
	print "call a hit (100,000 calls, `--toggle-collect`); each count includes the"
	print "function'"'"'s `ret` and the few instructions of the wrapper, which an empty"
	print "wrapper measures. malloc + free: glibc'"'"'s best case, `free()` right after"
	print "`malloc()` (a tcache hit), and batches of 100 mallocs then 100 frees."
	print ""
	print "| size | empty wrapper | arena_alloc | malloc + free | malloc + free, batch of 100 | malloc + free / arena_alloc |"
	print "|---|---:|---:|---:|---:|---:|"
	ns = split("16 64 256 1024 4096 mixed", hs, " ")
	worst_arena = 0; worst_ratio = ""
	for (i = 1; i <= ns; i++) {
		s = hs[i]
		if (!(("arena", s) in H)) continue
		r = ratio(H["malloc", s], H["arena", s])
		printf "| %s | %s | %s | %s | %s | %s |\n", s == "mixed" ? "mixed 16–4096" : s, num(H["empty", s], 0), num(H["arena", s], 0), num(H["malloc", s], 0), num(H["malloc_batch", s], 0), x(r)
		if (H["arena", s] > worst_arena) worst_arena = H["arena", s]
		if (worst_ratio == "" || r < worst_ratio) worst_ratio = r
	}
	if (("arena_const", 32) in H)
		printf "| 32, size known at compile time | | %s | | | |\n", num(H["arena_const", 32], 0)
	if (("arena_ts", "mixed") in H)
		printf "| mixed, `ARENA_THREADSAFE` arena (call + CAS) | | %s | | | |\n", num(H["arena_ts", "mixed"], 0)
	print ""

	# ---- 4.2 throughput ----
	nimpl = split("arena arena@mmap arena_reset arena_ts glibc jemalloc mimalloc apr", im, " ")
	lab["arena"] = "arena, kernel"; lab["arena@mmap"] = "arena, mmap"
	lab["arena_reset"] = "arena_reset, kernel"; lab["arena_reset@mmap"] = "arena_reset, mmap"
	lab["arena_ts"] = "arena THREADSAFE, kernel"; lab["arena_ts@mmap"] = "arena THREADSAFE, mmap"
	lab["arena_nozero"] = "arena `ARENA_NOZERO`, kernel"; lab["arena_nozero@mmap"] = "arena `ARENA_NOZERO`, mmap"
	lab["glibc"] = "glibc"; lab["jemalloc"] = "jemalloc"; lab["mimalloc"] = "mimalloc heap"; lab["apr"] = "APR pool"
	print "### 4.2 Allocation throughput (VM, TCG)"
	print ""
	print "Rounds of 4 MiB of same-size objects, one byte written in each, then"
	print "everything freed: `arena_new` … `arena_free` (or one arena and"
	print "`arena_reset`), `mi_heap_new` … `mi_heap_destroy`, `apr_pool_create` …"
	print "`apr_pool_destroy`, or `free()` of every object. Median ns per object over"
	print "the rounds, the free included; in brackets, against arena on the kernel"
	print "backend (above 1×: the kernel-backed arena is faster)."
	print ""
	hdr = "| size |"; sep = "|---|"
	for (j = 1; j <= nimpl; j++) if (seen[im[j]]) { hdr = hdr " " lab[im[j]] " |"; sep = sep "---:|" }
	print hdr; print sep
	nz = split("16 64 256 1024 4096", zs, " ")
	for (i = 1; i <= nz; i++) {
		line = "| " zs[i] " |"
		for (j = 1; j <= nimpl; j++) {
			k = im[j]
			if (!seen[k]) continue
			v = TP[k, zs[i]]
			line = line " " num(v) (k == "arena" ? "" : " (" x(ratio(v, TP["arena", zs[i]])) ")") " |"
		}
		print line
	}
	print ""

	# ---- 4.3 churn ----
	print "### 4.3 Request churn (VM, TCG)"
	print ""
	printf "%s requests, each %s objects of mixed sizes (90%% 16–128 bytes, 9%% to 1 KiB,\n", CHN0, 200
	printf "1%% to 4 KiB: about %s bytes a request), each object written whole, in a\n", CHB0
	print "fresh arena / pool / heap freed at the end of the request (malloc: each"
	print "object freed). With libarena every freed byte faults afterwards;"
	print "`arena_reset` keeps one arena and resets it after each request (a tenth of"
	print "the requests: information). `ARENA_NOZERO` is the same loop on no-zero"
	print "arenas (pages of the process'"'"'s own freed arenas come back unzeroed):"
	print "information, what zeroing costs a request."
	printf "Mean: the whole timed pass (no clock read inside) over its requests.\n"
	printf "Median, p10 and p90: %s more requests after it, each timed on its own, less\n", CHTN
	printf "what timing an empty interval costs here (%s µs: the guest'"'"'s clocksource\n", num(CHCLK)
	print "under TCG is usually hpet, without a vDSO; see the run table)."
	print "CPU: the process'"'"'s own over the timed"
	print "pass plus that of the module'"'"'s kernel threads (comm `arena*`) until the"
	print "pool has caught up, per request. Kernel entries: system calls (counted"
	printf "by a ptrace helper) + page faults (getrusage) per request, counted in an untimed\n"
	printf "pass of %s requests after the timed one.\n", CHKN
	print ""
	print "| allocator | requests | median µs (p10–p90) | mean µs | total s | CPU µs per request (arena* kthreads) | kernel entries per request: syscalls + faults | median vs APR | mean vs APR | mean vs glibc | CPU vs APR | CPU vs glibc |"
	print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	nc = split("arena arena_nozero arena_reset arena@mmap arena_nozero@mmap arena_reset@mmap glibc jemalloc mimalloc apr", cs, " ")
	for (i = 1; i <= nc; i++) {
		k = cs[i]
		if (!(k in CH)) continue
		ke = (CHSYS[k] == "" ) ? "n/a" : (CHSYS[k] < 0 ? sprintf("n/a + %.2f", CHKF[k]) : sprintf("%.2f + %.2f = %.2f", CHSYS[k], CHKF[k], CHSYS[k] + CHKF[k]))
		printf "| %s | %d | %s (%s–%s) | %s | %s | %s (%s) | %s | %s | %s | %s | %s | %s |\n", lab[k], CHN[k], num(CHM[k]), num(CHP10[k]), num(CHP90[k]), num(CH[k]), num(CHS[k]), num(CHCPU[k]), num(CHKT[k]), ke, x(ratio(CHM[k], CHM["apr"])), x(ratio(CH[k], CH["apr"])), x(ratio(CH[k], CH["glibc"])), x(ratio(CHCPU[k], CHCPU["apr"])), x(ratio(CHCPU[k], CHCPU["glibc"]))
	}
	print ""
	print "<details><summary>system calls per request, by call (counting pass)</summary>"
	print ""
	print "| allocator | system calls in the counting pass (total over the pass) |"
	print "|---|---|"
	for (i = 1; i <= nc; i++) {
		k = cs[i]
		if (!(k in CH) || CHMIX[k] == "") continue
		printf "| %s | %s |\n", lab[k], CHMIX[k] == "-" ? "none" : CHMIX[k]
	}
	print ""
	print "</details>"
	print ""

	# ---- 4.4 binary trees ----
	print "### 4.4 binary-trees (VM, TCG)"
	print ""
	print "The Benchmarks Game program, single-threaded: a stretch tree, a long-lived"
	print "tree, and for each depth from 4 up, 2^(max−depth+4) trees built, checked and"
	print "freed one by one (malloc: `free()` of each node; APR: `apr_pool_clear`;"
	print "arena: `arena_reset`, so each tree'"'"'s nodes fault once freed)."
	d = BTD["malloc"] != "" ? BTD["malloc"] : BTD["arena"]
	printf "Depth %s, chosen for TCG: the game uses 21, TCG runs such code about 13\n", d
	print "times slower than the host, and arena revokes the memory of each of the"
	print "87,380 trees of depth 16 (`arena_reset`: one ioctl that also maps the next"
	print "tree'"'"'s run, sized to what the last tree used), so deeper runs would take"
	print "far more than a few minutes."
	print ""
	nb = split("arena arena_mmap malloc apr", bs, " ")
	btruns = ""
	for (i = 1; i <= nb && btruns == ""; i++) if (bs[i] in BTN) btruns = BTN[bs[i]]
	print "Each program runs the whole thing " btruns " times in one process: median and"
	print "mean of the runs'"'"' wall times; CPU: the process'"'"'s own plus the module'"'"'s"
	print "kernel threads'"'"' (comm `arena*`, until the pool has caught up), mean per run."
	print ""
	print "| version | runs | median s | mean s | CPU s | page faults per run | median vs APR | mean vs APR | median vs malloc | mean vs malloc |"
	print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
	nb = split("arena arena_mmap malloc apr", bs, " ")
	blab["arena"] = "arena, kernel"; blab["arena_mmap"] = "arena, mmap"; blab["malloc"] = "malloc/free"; blab["apr"] = "APR pools"
	for (i = 1; i <= nb; i++) {
		k = bs[i]
		if (!(k in BTN)) continue
		n = BTN[k]
		for (a = 1; a <= n; a++) srt[a] = BTR[k, a]
		for (a = 2; a <= n; a++) for (b = a; b > 1 && srt[b - 1] > srt[b]; b--) { tmp = srt[b]; srt[b] = srt[b - 1]; srt[b - 1] = tmp }
		BT[k] = n % 2 ? srt[(n + 1) / 2] : (srt[n / 2] + srt[n / 2 + 1]) / 2
		BTM[k] = BTSUM[k] / n
	}
	for (i = 1; i <= nb; i++) {
		k = bs[i]
		if (!(k in BTN)) continue
		printf "| %s | %d | %s | %s | %s | %.0f | %s | %s | %s | %s |\n", blab[k], BTN[k], num(BT[k]), num(BTM[k]), num(BTCPU[k] / BTN[k]), BTF[k] / BTN[k], x(ratio(BT[k], BT["apr"])), x(ratio(BTM[k], BTM["apr"])), x(ratio(BT[k], BT["malloc"])), x(ratio(BTM[k], BTM["malloc"]))
	}
	print ""

	# ---- 4.4.1 APR under libarena-apr.so (issue 16 item 5) ----
	if (("apr_preload" in BTN) && ("apr_dyn" in BTN)) {
		for (q = 1; q <= 2; q++) {
			k = q == 1 ? "apr_dyn" : "apr_preload"
			n = BTN[k]
			for (a = 1; a <= n; a++) srt[a] = BTR[k, a]
			for (a = 2; a <= n; a++) for (b = a; b > 1 && srt[b - 1] > srt[b]; b--) { tmp = srt[b]; srt[b] = srt[b - 1]; srt[b - 1] = tmp }
			BT[k] = n % 2 ? srt[(n + 1) / 2] : (srt[n / 2] + srt[n / 2 + 1]) / 2
			BTM[k] = BTSUM[k] / n
		}
		print "#### 4.4.1 APR binary-trees under libarena-apr.so (issue 16 item 5)"
		print ""
		print "The APR program above, unmodified, linked dynamically against Debian'"'"'s"
		print "libapr-1.so.0, run stock and with `LD_PRELOAD=libarena-apr.so` (every pool"
		print "an arena on the kernel backend: `apr_pool_clear` is `arena_reset`),"
		printf "alternately, %d processes of each, %d runs a process\n", BKP["apr_preload"], BKP["apr_preload"] ? BKR["apr_preload"] / BKP["apr_preload"] : 0
		print "(`bench/alloc/binarytrees_apr_preload.sh`). Module counters: the changes"
		print "of /sys/kernel/arena/ over each process, per run (`small_runs_mapped`:"
		print "one per run mapped, by `arena_new`, each `arena_reset` and each growth)."
		print "User and system s: the whole process'"'"'s (busybox `time`), per run."
		print ""
		print "| version | runs | median s | mean s | CPU s | user s per run | system s per run | page faults per run | arenas created per run | small runs mapped per run | median vs stock | mean vs stock |"
		print "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"
		blab["apr_dyn"] = "stock APR (libapr-1.so.0)"; blab["apr_preload"] = "APR + `LD_PRELOAD=libarena-apr.so`, kernel"
		for (q = 1; q <= 2; q++) {
			k = q == 1 ? "apr_dyn" : "apr_preload"
			r = BKR[k] > 0 ? BKR[k] : ""
			printf "| %s | %d | %s | %s | %s | %s | %s | %.0f | %s | %s | %s | %s |\n", blab[k], BTN[k], num(BT[k]), num(BTM[k]), num(BTCPU[k] / BTN[k]), r == "" || !((k, "user_s") in BK) ? "n/a" : num(BK[k, "user_s"] / r), r == "" || !((k, "sys_s") in BK) ? "n/a" : num(BK[k, "sys_s"] / r), BTF[k] / BTN[k], r == "" ? "n/a" : sprintf("%.0f", BK[k, "arenas_created"] / r), r == "" ? "n/a" : sprintf("%.0f", BK[k, "small_runs_mapped"] / r), x(ratio(BT[k], BT["apr_dyn"])), x(ratio(BTM[k], BTM["apr_dyn"]))
		}
		print ""
		if ((("apr_preload", "total") in BSY) && (("apr_dyn", "total") in BSY) && BSY["apr_preload", "clears"] > 0) {
			c = BSY["apr_preload", "clears"]
			printf "System calls of one run at depth %d (%d clears; untimed, counted by ptrace, `bench/alloc/syscount.c`): stock %d (ioctl %d), preloaded %d (ioctl %d, mprotect %d, mmap %d, munmap %d): %.2f more a clear, %.2f ioctls a clear.\n", BSY["apr_preload", "depth"], c, BSY["apr_dyn", "total"], BSY["apr_dyn", "ioctl"], BSY["apr_preload", "total"], BSY["apr_preload", "ioctl"], BSY["apr_preload", "mprotect"], BSY["apr_preload", "mmap"], BSY["apr_preload", "munmap"], (BSY["apr_preload", "total"] - BSY["apr_dyn", "total"]) / c, BSY["apr_preload", "ioctl"] / c
			print ""
		}
		rp = ratio(BT["apr_preload"], BT["apr_dyn"]); rm = ratio(BTM["apr_preload"], BTM["apr_dyn"])
		printf "Target (issue 16 item 5): at most 2× stock APR: median %s, mean %s: %s.\n", x(rp), x(rm), verdict(rp != "" && rm != "" && rp <= 2 && rm <= 2)
		print ""
	}

	# ---- 4.5 reset ----
	print "### 4.5 arena_reset against munmap + mmap (VM, TCG)"
	print ""
	print "N bytes written (one byte per 4 KiB page; the arena in 64 KiB allocations),"
	print "then dropped and got again: `arena_reset` of the arena, against `munmap` +"
	print "`mmap` of an anonymous mapping of N bytes. \"cycle\" adds the writing (and so"
	print "the page faults of the fresh memory). Median µs."
	print ""
	print "| N | backend | iters | arena_reset | munmap + mmap | reset / (munmap + mmap) | cycle: arena | cycle: munmap + mmap | cycle ratio |"
	print "|---|---|---:|---:|---:|---:|---:|---:|---:|"
	for (i = 1; i <= nrs; i++) {
		b = rsz[i]
		for (q = 1; q <= 2; q++) {
			bk = q == 1 ? "kernel" : "mmap"
			if (!((bk, b) in RSV)) continue
			printf "| %s KiB | %s | %d | %s | %s | %s | %s | %s | %s |\n", b / 1024, bk, RN[bk, b], num(RSV[bk, b]), num(MM[bk, b]), x(ratio(RSV[bk, b], MM[bk, b])), num(RC[bk, b]), num(MC[bk, b]), x(ratio(RC[bk, b], MC[bk, b]))
		}
	}
	print ""

	# ---- targets ----
	print "### 4.6 Targets"
	print ""
	print "| target | needed | measured | result |"
	print "|---|---:|---:|---|"
	if (worst_arena > 0) {
		printf "| arena_alloc hit path (host, callgrind, worst size, with ret) | ≤ 15 instructions | %s | %s |\n", num(worst_arena, 0), verdict(worst_arena <= 15)
		printf "| malloc + free against arena_alloc, same sizes (worst size) | ≥ 10× | %s | %s |\n", x(worst_ratio), verdict(worst_ratio >= 10)
	}
	for (q = 1; q <= 2; q++) {
		k = q == 1 ? "arena" : "arena@mmap"
		if (!(k in CH)) continue
		printf "| churn, %s: within 2× of APR pools | ≤ 2.00× | %s | %s |\n", lab[k], x(ratio(CH[k], CH["apr"])), verdict(ratio(CH[k], CH["apr"]) <= 2)
		printf "| churn, %s: faster than malloc/free | < 1.00× | %s | %s |\n", lab[k], x(ratio(CH[k], CH["glibc"])), verdict(ratio(CH[k], CH["glibc"]) < 1)
	}
	for (q = 1; q <= 2; q++) {
		k = q == 1 ? "arena_reset" : "arena_reset@mmap"
		if (!(k in CH)) continue
		printf "| churn, %s (information) | ≤ 2.00× of APR | %s | %s |\n", lab[k], x(ratio(CH[k], CH["apr"])), verdict(ratio(CH[k], CH["apr"]) <= 2)
	}
	print ""
	print "Why churn still misses: libarena never reuses freed memory, so every"
	print "request costs fresh zeroed pages and a revocation. With small arenas"
	print "(section 5) a kernel-backed request costs what it uses: one ioctl that"
	print "creates the arena and maps a run sized from what the last requests used"
	print "(1.2 runs a request), a page fault per 4 KiB page it touches (about 8) and"
	print "one `ARENA_IOC_FREE` that zaps the pages and flushes the TLB (section 5.3"
	print "breaks a request down). APR reuses the same memory with no system call and"
	print "no fault at all. The floor of any scheme in which every freed byte faults,"
	print "one create, one fault and one free (the 4 KiB cycle of section 5.1), costs"
	print "about twice APR'"'"'s whole request under TCG before one object is allocated,"
	print "so within 2× of APR is out of reach; faster than malloc is missed by the"
	print "page faults and the zap. On the mmap backend each request still maps whole"
	print "chunks (`mprotect`, a fault per 4 KiB page, `mprotect` + `madvise` to"
	print "revoke)."
	for (i = 1; i <= nerr; i++) printf "\nError in the run: `%s`\n", ERR[i]
}')

. "$(dirname "$0")/../section.sh"
write_section "$BEGIN" "$END" "$tables" "$RESULTS"
[ -z "$RESULTS" ] || echo "# alloc/report.sh: wrote ${RESULTS}"
