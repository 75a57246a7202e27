// SPDX-License-Identifier: GPL-2.0
/*
 * revoke_bench: what it costs to make two freshly written pages fault, with
 * arena.ko and with the mm core's own calls, side by side in one boot.
 *
 * Every pool an APR program clears or destroys on libarena-apr is one such
 * revocation: one ioctl that unmaps the pool's run and flushes the TLB
 * (Documentation/libarena-apr.rst, "Running Apache httpd"). This program
 * gives the price of one beside the cheapest ways the kernel has to drop
 * two pages, so that a target can be checked against a floor.
 *
 * Each operation is followed by the same user work (one cache line written
 * in each of the 256 pages of a 1 MiB array: "the rest of the request", whose
 * TLB entries a flush may take with it), and is timed with it:
 *
 *   work      the user work alone
 *   getppid   a bare system call
 *   stat      newfstatat() of "/" (httpd's directory listing makes 94 a
 *             request)
 *   madvise   write 2 pages of a private anonymous mapping, then
 *             madvise(MADV_DONTNEED) them: the mm core's cheapest way to
 *             drop two pages (the next write refaults them)
 *   mprotect  write 2 pages, mprotect(PROT_NONE), madvise(MADV_DONTNEED),
 *             mprotect(PROT_READ | PROT_WRITE): how libarena's mmap backend
 *             revokes a run it does not keep, and opens it again for reuse
 *   free      arena_new(ARENA_NOZERO), arena_alloc(5000), write it,
 *             arena_free(): an APR subpool's life on libarena-apr (one
 *             ARENA_IOC_FREE that also makes the next arena)
 *   reset     arena_alloc(5000), write it, arena_reset(): an APR pool's
 *             clear (one ARENA_IOC_ALLOC with ARENA_ALLOC_RESET)
 *
 * twice: alone, and with a sibling thread of the process spinning on the
 * other CPU the process may run on (as httpd's worker threads do), so that
 * every TLB flush must reach that CPU too (skipped, and said so, where the
 * affinity mask allows one CPU). The operations take turns in batches of
 * 100, each timed on its own; per operation the median and the mean of the
 * time, and the total CPU time: the thread's (CLOCK_THREAD_CPUTIME_ID
 * over the batches; user and system apart would be tick samples, 4 ms
 * each) plus the module's pool threads' over the same batches ("pool":
 * the shared chunks small runs are carved from are zeroed there), and
 * the same less those of "work" ("x-" columns; the clock reads, system
 * calls under TCG, cancel there). Kernel entries per operation are counted
 * in a separate, untimed pass (bench/kentry.h).
 *
 * Output: "@revoke ..." lines and a "#" table. ARENA_BENCH_QUICK=1: fewer
 * rounds.
 */
#include "bench/kentry.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include <libarena.h>

enum op { OP_WORK, OP_GETPPID, OP_STAT, OP_MADVISE, OP_MPROTECT, OP_FREE,
	  OP_RESET, OP_NR };
static const char *const op_names[OP_NR] = {
	"work", "getppid", "stat", "madvise", "mprotect", "free", "reset",
};

#define BATCH	100
#define WORK_PAGES 256

static char *work_buf, *anon;
static struct arena *pool;
static atomic_int stop_sibling;

static uint64_t now_ns(void)
{
	return kentry_clock_ns(CLOCK_MONOTONIC);
}

static uint64_t thread_cpu_ns(void)
{
	return kentry_clock_ns(CLOCK_THREAD_CPUTIME_ID);
}

static void work(void)
{
	for (size_t i = 0; i < WORK_PAGES; i++)
		work_buf[i * 4096 + (i & 63) * 64]++;
}

static void die(const char *what, int err)
{
	printf("@revoke error=%s errno=%d\n", what, err);
	printf("# revoke_bench: %s: %s\n", what, strerror(err));
	fflush(stdout);
	exit(1);
}

static void run_op(enum op op)
{
	struct stat st;
	struct arena *a;
	char *p;
	int err;

	switch (op) {
	case OP_WORK:
		break;
	case OP_GETPPID:
		getppid();
		break;
	case OP_STAT:
		if (fstatat(AT_FDCWD, "/", &st, 0))
			die("stat", errno);
		break;
	case OP_MADVISE:
		memset(anon, 1, 8192);
		if (madvise(anon, 8192, MADV_DONTNEED))
			die("madvise", errno);
		break;
	case OP_MPROTECT:
		memset(anon, 1, 8192);
		if (mprotect(anon, 8192, PROT_NONE) ||
		    madvise(anon, 8192, MADV_DONTNEED) ||
		    mprotect(anon, 8192, PROT_READ | PROT_WRITE))
			die("mprotect", errno);
		break;
	case OP_FREE:
		a = arena_new(ARENA_NOZERO);
		if (!a)
			die("arena_new", errno);
		p = arena_alloc(a, 5000);
		if (!p)
			die("arena_alloc", errno);
		memset(p, 1, 5000);
		arena_free(a);
		break;
	case OP_RESET:
		p = arena_alloc(pool, 5000);
		if (!p)
			die("arena_alloc", errno);
		memset(p, 1, 5000);
		err = arena_reset(pool);
		if (err)
			die("arena_reset", -err);
		break;
	default:
		break;
	}
	work();
}

static void *sibling(void *unused)
{
	(void)unused;
	while (!atomic_load_explicit(&stop_sibling, memory_order_relaxed))
		work_buf[WORK_PAGES * 4096] ^= 1;
	return NULL;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct result {
	uint64_t median, mean, cpu, pool;
};

static void measure(const char *mode, int rounds)
{
	struct result r[OP_NR];
	uint64_t c[OP_NR] = { 0 }, kt[OP_NR] = { 0 }, sum, *t[OP_NR];
	struct kentry k;
	long sysc[OP_NR], flt[OP_NR];
	int n = rounds * BATCH, i, j, o;

	for (o = 0; o < OP_NR; o++) {
		t[o] = calloc(n, sizeof(*t[o]));
		if (!t[o])
			die("calloc", ENOMEM);
	}
	for (i = 0; i < rounds; i++)
		for (o = 0; o < OP_NR; o++) {
			uint64_t k0 = kthread_cpu_ns(NULL);
			uint64_t c0 = thread_cpu_ns();

			for (j = 0; j < BATCH; j++) {
				uint64_t t0 = now_ns();

				run_op(o);
				t[o][i * BATCH + j] = now_ns() - t0;
			}
			c[o] += thread_cpu_ns() - c0;
			kt[o] += kthread_cpu_ns(NULL) - k0;
		}
	for (o = 0; o < OP_NR; o++) {
		qsort(t[o], n, sizeof(t[o][0]), cmp_u64);
		for (sum = 0, j = 0; j < n; j++)
			sum += t[o][j];
		r[o].median = t[o][n / 2];
		r[o].mean = sum / n;
		r[o].pool = kt[o] / n;
		r[o].cpu = c[o] / n + r[o].pool;
		free(t[o]);
	}
	/* Kernel entries: one untimed batch each. */
	for (o = 0; o < OP_NR; o++) {
		kentry_begin(&k);
		for (j = 0; j < BATCH; j++)
			run_op(o);
		kentry_end(&k);
		sysc[o] = k.sys;
		flt[o] = k.flt;
	}
	printf("# %s: %d of each, us per operation (user work included; extra: less \"work\")\n",
	       mode, n);
	printf("# %-9s %9s %9s %9s %7s | %9s %9s %9s | %7s %7s\n", "op",
	       "median", "mean", "cpu", "pool", "x-median", "x-mean", "x-cpu",
	       "sysc", "faults");
	for (o = 0; o < OP_NR; o++) {
		printf("@revoke mode=%s op=%s n=%d median_ns=%llu mean_ns=%llu cpu_ns=%llu pool_ns=%llu syscalls=%.2f faults=%.2f\n",
		       mode, op_names[o], n, (unsigned long long)r[o].median,
		       (unsigned long long)r[o].mean,
		       (unsigned long long)r[o].cpu,
		       (unsigned long long)r[o].pool,
		       sysc[o] < 0 ? -1.0 : (double)sysc[o] / BATCH,
		       (double)flt[o] / BATCH);
		printf("# %-9s %9.1f %9.1f %9.1f %7.1f | %9.1f %9.1f %9.1f | %7.2f %7.2f\n",
		       op_names[o], r[o].median / 1e3, r[o].mean / 1e3,
		       r[o].cpu / 1e3, r[o].pool / 1e3,
		       ((double)r[o].median - r[OP_WORK].median) / 1e3,
		       ((double)r[o].mean - r[OP_WORK].mean) / 1e3,
		       ((double)r[o].cpu - r[OP_WORK].cpu) / 1e3,
		       sysc[o] < 0 ? -1.0 : (double)sysc[o] / BATCH,
		       (double)flt[o] / BATCH);
	}
	fflush(stdout);
}

/* Pin the calling thread to @cpu; 0 or an errno. */
static int pin(int cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET(cpu, &set);
	return sched_setaffinity(0, sizeof(set), &set) ? errno : 0;
}

int main(void)
{
	int quick = !!getenv("ARENA_BENCH_QUICK"), cpus[2], ncpu = 0, err;
	int rounds = quick ? 3 : 40;
	pthread_t th;
	cpu_set_t allowed, one;

	setvbuf(stdout, NULL, _IOLBF, 0);
	work_buf = mmap(NULL, (WORK_PAGES + 1) * 4096, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	anon = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (work_buf == MAP_FAILED || anon == MAP_FAILED)
		die("mmap", errno);
	pool = arena_new(ARENA_NOZERO);
	if (!pool)
		die("arena_new", errno);
	/* The first two CPUs this process may run on. */
	if (sched_getaffinity(0, sizeof(allowed), &allowed))
		die("sched_getaffinity", errno);
	for (int c = 0; c < CPU_SETSIZE && ncpu < 2; c++)
		if (CPU_ISSET(c, &allowed))
			cpus[ncpu++] = c;
	if (!ncpu)
		die("sched_getaffinity", ESRCH);
	printf("# revoke_bench: backend %s, %d CPU(s) allowed; every operation then writes one line in each of %d pages\n",
	       access("/dev/arena", F_OK) ? "mmap" : "kernel",
	       CPU_COUNT(&allowed), WORK_PAGES);
	err = pin(cpus[0]);
	if (err)
		die("sched_setaffinity", err);
	/* Warm up: the spare, the pool's first runs, the learned size. */
	for (int o = 0; o < OP_NR; o++)
		for (int j = 0; j < BATCH; j++)
			run_op(o);
	measure("alone", rounds);
	if (ncpu < 2) {
		printf("# revoke_bench: one CPU allowed, no sibling run\n");
	} else {
		err = pthread_create(&th, NULL, sibling, NULL);
		if (err)
			die("pthread_create", err);
		/* On the other CPU, or the run would measure nothing more. */
		CPU_ZERO(&one);
		CPU_SET(cpus[1], &one);
		err = pthread_setaffinity_np(th, sizeof(one), &one);
		if (err)
			die("pthread_setaffinity_np", err);
		measure("sibling", rounds);
		atomic_store(&stop_sibling, 1);
		pthread_join(th, NULL);
	}
	arena_free(pool);
	return 0;
}
