/* SPDX-License-Identifier: GPL-2.0 */
/*
 * What the benchmark programs count besides time (bench/README.md):
 *
 *   kthread_cpu_ns()   CPU time of the module's kernel threads: every
 *                      kernel thread (PF_KTHREAD) whose comm starts with
 *                      "arena" (arena_pool, and any arena_pool* /
 *                      arena_zero* that may come), from /proc/PID/schedstat
 *                      (ns on the CPU), else utime + stime of /proc/PID/stat.
 *   self_cpu_ns()      the process's utime + stime (CLOCK_PROCESS_CPUTIME_ID).
 *   page_faults()      minflt + majflt of getrusage(RUSAGE_SELF).
 *   kentry_begin(), kentry_end()
 *                      system calls and page faults of the calling thread
 *                      between the two: the faults from getrusage, the system
 *                      calls exactly, by a ptrace helper that stops the thread
 *                      at every system call entry (see below). That makes
 *                      every system call far slower, so the programs count
 *                      in a separate, untimed pass after the timed one, and
 *                      read no clock in it. If the helper cannot attach, the
 *                      count is -1: "n/a".
 *   cpu_has_flag()     a flag of the guest's /proc/cpuinfo ("erms").
 *
 * Header-only; every function is static. Needs _GNU_SOURCE.
 */
#ifndef BENCH_KENTRY_H
#define BENCH_KENTRY_H

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#define KENTRY_PF_KTHREAD 0x00200000UL

static inline uint64_t kentry_clock_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static inline uint64_t self_cpu_ns(void)
{
	return kentry_clock_ns(CLOCK_PROCESS_CPUTIME_ID);
}

static inline long page_faults(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt + ru.ru_majflt;
}

/* Reads at most @len - 1 bytes of @path into @buf; -1 if it cannot. */
static inline long kentry_read_file(const char *path, char *buf, size_t len)
{
	long n, got = 0;
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -1;
	while (got < (long)len - 1 && (n = read(fd, buf + got, len - 1 - got)) > 0)
		got += n;
	close(fd);
	buf[got] = 0;
	return got;
}

/* See above; *nthreads (if given) gets how many such threads there are. */
static inline uint64_t kthread_cpu_ns(int *nthreads)
{
	long hz = sysconf(_SC_CLK_TCK);
	struct dirent *de;
	uint64_t sum = 0;
	int n = 0;
	DIR *d = opendir("/proc");

	if (!d)
		goto out;
	while ((de = readdir(d))) {
		char path[300], buf[1024], sbuf[256], *l, *r;
		unsigned long long run, ut, st;
		unsigned long flags;

		if (!isdigit((unsigned char)de->d_name[0]))
			continue;
		snprintf(path, sizeof(path), "/proc/%s/stat", de->d_name);
		if (kentry_read_file(path, buf, sizeof(buf)) <= 0)
			continue;
		l = strchr(buf, '(');
		r = strrchr(buf, ')');
		if (!l || !r || strncmp(l + 1, "arena", 5))
			continue;
		/* after ")": 3 state 4 ppid 5 pgrp 6 session 7 tty 8 tpgid
		 * 9 flags 10-13 faults 14 utime 15 stime */
		if (sscanf(r + 2, "%*c %*d %*d %*d %*d %*d %lu %*u %*u %*u %*u %llu %llu",
			   &flags, &ut, &st) != 3 || !(flags & KENTRY_PF_KTHREAD))
			continue;
		n++;
		snprintf(path, sizeof(path), "/proc/%s/schedstat", de->d_name);
		if (kentry_read_file(path, sbuf, sizeof(sbuf)) > 0 &&
		    sscanf(sbuf, "%llu", &run) == 1) {
			sum += run;
			continue;
		}
		sum += (ut + st) * (1000000000ULL / (hz > 0 ? hz : 100));
	}
	closedir(d);
out:
	if (nthreads)
		*nthreads = n;
	return sum;
}

/* ---- system calls, counted by a ptrace helper ------------------------------ */

/*
 * kentry_begin() starts a helper, this program again (/proc/self/exe through
 * posix_spawn, so no page of ours turns copy-on-write) with KENTRY_TRACER in
 * its environment: its constructor below attaches to the calling thread with
 * PTRACE_SEIZE and PTRACE_SYSCALL and counts the syscall-entry stops
 * between two marker calls, syscall(KENTRY_MARK, BEGIN) and syscall(
 * KENTRY_MARK, END) (an unknown system call number: -ENOSYS, harmless),
 * then detaches and sends the counts back through a pipe. Nothing in the
 * kernel is patched or traced (tracepoints toggled at run time under
 * multi-threaded TCG can hang the guest in text_poke_bp()), and nothing
 * runs while the timed loops do.
 */
#include <signal.h>
#include <spawn.h>
#include <sys/prctl.h>
#include <sys/ptrace.h>
#include <sys/wait.h>

#define KENTRY_MARK	0x7fff1234L
#define KENTRY_BEGIN	0x6b656e74L
#define KENTRY_END	0x656e6421L
#define KENTRY_MAXNR	512

extern char **environ;

struct kentry {
	long sys;	/* system calls between begin and end, -1: unknown */
	long flt;	/* page faults between begin and end */
	char mix[256];	/* "ioctl:200,munmap:100": calls by name over the pass */
	/* private */
	long f0;
	pid_t helper;
	int rfd;
};

static inline const char *kentry_sysname(unsigned int nr, char *buf, size_t len)
{
	static const struct { unsigned int nr; const char *name; } names[] = {
		{ 0, "read" }, { 1, "write" }, { 3, "close" }, { 9, "mmap" },
		{ 10, "mprotect" }, { 11, "munmap" }, { 12, "brk" },
		{ 13, "rt_sigaction" }, { 14, "rt_sigprocmask" }, { 16, "ioctl" },
		{ 24, "sched_yield" }, { 25, "mremap" }, { 28, "madvise" },
		{ 39, "getpid" }, { 98, "getrusage" }, { 186, "gettid" },
		{ 202, "futex" }, { 228, "clock_gettime" }, { 230, "clock_nanosleep" },
		{ 257, "openat" }, { 262, "newfstatat" },
	};

	for (unsigned int i = 0; i < sizeof(names) / sizeof(names[0]); i++)
		if (names[i].nr == nr)
			return names[i].name;
	snprintf(buf, len, "nr%u", nr);
	return buf;
}

/* The helper: runs before main() when KENTRY_TRACER=TID,READYFD,RESULTFD. */
__attribute__((constructor)) static void kentry_helper(void)
{
	static long count[KENTRY_MAXNR];
	const char *e = getenv("KENTRY_TRACER");
	int tid, wready, wres, st, on = 0;
	long total = 0, other = 0;
	char out[600];
	size_t used;

	if (!e || sscanf(e, "%d,%d,%d", &tid, &wready, &wres) != 3)
		return;
	if (ptrace(PTRACE_SEIZE, tid, 0, PTRACE_O_TRACESYSGOOD) ||
	    ptrace(PTRACE_INTERRUPT, tid, 0, 0) ||
	    waitpid(tid, &st, __WALL) != tid ||
	    ptrace(PTRACE_SYSCALL, tid, 0, 0)) {
		if (write(wready, "E", 1) < 0)
			_exit(1);
		_exit(1);
	}
	if (write(wready, "R", 1) != 1)
		_exit(1);
	for (;;) {
		int sig = 0;

		if (waitpid(tid, &st, __WALL) != tid || !WIFSTOPPED(st))
			break;
		if (WSTOPSIG(st) == (SIGTRAP | 0x80)) {
			struct __ptrace_syscall_info si;

			if (ptrace(PTRACE_GET_SYSCALL_INFO, tid, sizeof(si), &si) > 0 &&
			    si.op == PTRACE_SYSCALL_INFO_ENTRY) {
				if (si.entry.nr == KENTRY_MARK && si.entry.args[0] == KENTRY_BEGIN) {
					on = 1;
				} else if (si.entry.nr == KENTRY_MARK && si.entry.args[0] == KENTRY_END) {
					ptrace(PTRACE_DETACH, tid, 0, 0);
					break;
				} else if (on) {
					total++;
					if (si.entry.nr < KENTRY_MAXNR)
						count[si.entry.nr]++;
					else
						other++;
				}
			}
		} else if ((st >> 16) != PTRACE_EVENT_STOP) {
			sig = WSTOPSIG(st);	/* a signal for the tracee: pass it on */
		}
		if (ptrace(PTRACE_SYSCALL, tid, 0, sig))
			break;
	}
	used = snprintf(out, sizeof(out), "%ld ", on ? total : -1L);
	for (unsigned int nr = 0; nr < KENTRY_MAXNR; nr++) {
		char nb[16];

		if (count[nr] && used + 40 < sizeof(out))
			used += snprintf(out + used, sizeof(out) - used, "%s%s:%ld",
					 used > 0 && out[used - 1] != ' ' ? "," : "",
					 kentry_sysname(nr, nb, sizeof(nb)), count[nr]);
	}
	if (other && used + 40 < sizeof(out))
		used += snprintf(out + used, sizeof(out) - used, "%sother:%ld",
				 out[used - 1] != ' ' ? "," : "", other);
	if (write(wres, out, used) < 0)
		_exit(1);
	_exit(0);
}

static inline void kentry_begin(struct kentry *k)
{
	char env[64], c = 0, *argv[] = { (char *)"kentry-helper", NULL };
	int ready[2], res[2], n = 0;
	char **envp;

	memset(k, 0, sizeof(*k));
	k->sys = -1;
	k->rfd = -1;
	k->helper = -1;
	while (environ && environ[n])
		n++;
	envp = calloc(n + 2, sizeof(*envp));
	if (!envp || pipe(ready))
		goto out;
	if (pipe(res)) {
		close(ready[0]);
		close(ready[1]);
		goto out;
	}
	/* Yama's ptrace_scope=1 would refuse a helper that is not our parent */
	prctl(PR_SET_PTRACER, PR_SET_PTRACER_ANY, 0, 0, 0);
	snprintf(env, sizeof(env), "KENTRY_TRACER=%ld,%d,%d",
		 (long)syscall(SYS_gettid), ready[1], res[1]);
	envp[0] = env;
	for (int i = 0; i < n; i++)
		envp[i + 1] = environ[i];
	if (posix_spawn(&k->helper, "/proc/self/exe", NULL, NULL, argv, envp))
		k->helper = -1;
	close(ready[1]);
	close(res[1]);
	if (k->helper > 0 && read(ready[0], &c, 1) == 1 && c == 'R')
		k->rfd = res[0];
	else
		close(res[0]);
	close(ready[0]);
out:
	free(envp);
	k->f0 = page_faults();
	syscall(KENTRY_MARK, KENTRY_BEGIN);
}

static inline void kentry_end(struct kentry *k)
{
	char buf[700], *sp;
	long n, got = 0;

	syscall(KENTRY_MARK, KENTRY_END);
	k->flt = page_faults() - k->f0;
	if (k->rfd >= 0) {
		while (got < (long)sizeof(buf) - 1 &&
		       (n = read(k->rfd, buf + got, sizeof(buf) - 1 - got)) > 0)
			got += n;
		buf[got] = 0;
		close(k->rfd);
		if (got > 0) {
			k->sys = atol(buf);
			sp = strchr(buf, ' ');
			snprintf(k->mix, sizeof(k->mix), "%s", sp && sp[1] ? sp + 1 : "");
		}
	}
	if (k->helper > 0)
		waitpid(k->helper, NULL, 0);
	prctl(PR_SET_PTRACER, 0, 0, 0, 0);
}

/* A counter of /sys/kernel/arena/, or -1. */
static inline long kentry_counter(const char *name)
{
	char path[128], buf[64];

	snprintf(path, sizeof(path), "/sys/kernel/arena/%s", name);
	if (kentry_read_file(path, buf, sizeof(buf)) <= 0)
		return -1;
	return atol(buf);
}

/*
 * Wait (up to @max_s seconds, polling every 20 ms) until the arena pool has
 * no dirty or quarantined chunk left. No pool: no wait. Returns the ns waited.
 */
static inline uint64_t kentry_pool_settle(double max_s)
{
	uint64_t t0 = kentry_clock_ns(CLOCK_MONOTONIC);

	while (kentry_clock_ns(CLOCK_MONOTONIC) - t0 < max_s * 1e9) {
		if (kentry_counter("chunks_dirty") <= 0 &&
		    kentry_counter("chunks_quarantined") <= 0)
			break;
		usleep(20000);
	}
	return kentry_clock_ns(CLOCK_MONOTONIC) - t0;
}

/* A flag of the first CPU in /proc/cpuinfo: 1, 0, or -1 (cannot tell). */
static inline int cpu_has_flag(const char *flag)
{
	static char buf[65536];
	char *f, *e;
	size_t l = strlen(flag);

	if (kentry_read_file("/proc/cpuinfo", buf, sizeof(buf)) <= 0)
		return -1;
	f = strstr(buf, "\nflags");
	if (!f)
		return -1;
	e = strchr(f + 1, '\n');
	if (e)
		*e = 0;
	for (char *p = f; (p = strstr(p, flag)); p += l)
		if (p[-1] == ' ' && (p[l] == ' ' || p[l] == 0))
			return 1;
	return 0;
}

static inline int kentry_cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * What timing an empty interval costs: the median of 2,001 differences of
 * two back-to-back CLOCK_MONOTONIC reads. Under TCG the guest's clocksource
 * is usually hpet, without a vDSO: each read is a system call and an
 * emulated device read, microseconds; the programs subtract this from every
 * interval they time (bench/README.md).
 */
static inline uint64_t clock_cost_ns(void)
{
	static uint64_t v[2001];

	for (int i = 0; i < 2001; i++) {
		uint64_t t0 = kentry_clock_ns(CLOCK_MONOTONIC);

		v[i] = kentry_clock_ns(CLOCK_MONOTONIC) - t0;
	}
	qsort(v, 2001, sizeof(v[0]), kentry_cmp_u64);
	return v[1000];
}

/*
 * System calls one clock_gettime(CLOCK_MONOTONIC) makes: 0 with the vDSO,
 * 1 when the guest's clocksource has no vDSO support (under TCG the kernel
 * may drop the TSC for hpet or acpi_pm). -1: cannot count.
 */
static inline double clock_syscalls(void)
{
	struct kentry k;

	kentry_begin(&k);
	for (int i = 0; i < 1000; i++)
		kentry_clock_ns(CLOCK_MONOTONIC);
	kentry_end(&k);
	return k.sys < 0 ? -1 : k.sys / 1000.0;
}

#endif /* BENCH_KENTRY_H */
