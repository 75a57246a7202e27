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
 *   mprotect  write 2 pages, mprotect(PROT_NONE), mprotect(PROT_READ |
 *             PROT_WRITE): how libarena's mmap backend revokes
 *   free      arena_new(ARENA_NOZERO), arena_alloc(5000), write it,
 *             arena_free(): an APR subpool's life on libarena-apr (one
 *             ARENA_IOC_FREE that also makes the next arena)
 *   reset     arena_alloc(5000), write it, arena_reset(): an APR pool's
 *             clear (one ARENA_IOC_ALLOC with ARENA_ALLOC_RESET)
 *
 * twice: alone, and with a sibling thread of the process spinning on the
 * other CPU (as httpd's worker threads do), so that every TLB flush must
 * reach that CPU too. The operations take turns in batches of 100, each
 * timed on its own; per operation the median and the mean of the time,
 * and the thread's user and system CPU (getrusage(RUSAGE_THREAD) over the
 * batches), less those of "work" on the line "extra". Kernel entries per
 * operation are counted in a separate, untimed pass (bench/kentry.h).
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

static uint64_t thread_cpu_ns(int sys)
{
	struct rusage ru;
	struct timeval tv;

	getrusage(RUSAGE_THREAD, &ru);
	tv = sys ? ru.ru_stime : ru.ru_utime;
	return (uint64_t)tv.tv_sec * 1000000000ULL + tv.tv_usec * 1000ULL;
}

static void work(void)
{
	for (size_t i = 0; i < WORK_PAGES; i++)
		work_buf[i * 4096 + (i & 63) * 64]++;
}

static void die(const char *what)
{
	printf("@revoke error=%s errno=%d\n", what, errno);
	printf("# revoke_bench: %s: %s\n", what, strerror(errno));
	fflush(stdout);
	exit(1);
}

static void run_op(enum op op)
{
	struct stat st;
	struct arena *a;
	char *p;

	switch (op) {
	case OP_WORK:
		break;
	case OP_GETPPID:
		getppid();
		break;
	case OP_STAT:
		if (fstatat(AT_FDCWD, "/", &st, 0))
			die("stat");
		break;
	case OP_MADVISE:
		memset(anon, 1, 8192);
		if (madvise(anon, 8192, MADV_DONTNEED))
			die("madvise");
		break;
	case OP_MPROTECT:
		memset(anon, 1, 8192);
		if (mprotect(anon, 8192, PROT_NONE) ||
		    mprotect(anon, 8192, PROT_READ | PROT_WRITE))
			die("mprotect");
		break;
	case OP_FREE:
		a = arena_new(ARENA_NOZERO);
		p = a ? arena_alloc(a, 5000) : NULL;
		if (!p)
			die("arena_alloc");
		memset(p, 1, 5000);
		arena_free(a);
		break;
	case OP_RESET:
		p = arena_alloc(pool, 5000);
		if (!p)
			die("arena_alloc");
		memset(p, 1, 5000);
		if (arena_reset(pool))
			die("arena_reset");
		break;
	default:
		break;
	}
	work();
}

static void *sibling(void *cpu)
{
	cpu_set_t set;

	CPU_ZERO(&set);
	CPU_SET((int)(long)cpu, &set);
	sched_setaffinity(0, sizeof(set), &set);
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
	uint64_t median, mean, user, sys;
};

static void measure(const char *mode, int rounds)
{
	static uint64_t t[OP_NR][BATCH * 400];
	struct result r[OP_NR];
	uint64_t u[OP_NR] = { 0 }, s[OP_NR] = { 0 }, sum;
	struct kentry k;
	long sysc[OP_NR], flt[OP_NR];
	int n = rounds * BATCH, i, j, o;

	for (i = 0; i < rounds; i++)
		for (o = 0; o < OP_NR; o++) {
			uint64_t u0 = thread_cpu_ns(0), s0 = thread_cpu_ns(1);

			for (j = 0; j < BATCH; j++) {
				uint64_t t0 = now_ns();

				run_op(o);
				t[o][i * BATCH + j] = now_ns() - t0;
			}
			u[o] += thread_cpu_ns(0) - u0;
			s[o] += thread_cpu_ns(1) - s0;
		}
	for (o = 0; o < OP_NR; o++) {
		qsort(t[o], n, sizeof(t[o][0]), cmp_u64);
		for (sum = 0, j = 0; j < n; j++)
			sum += t[o][j];
		r[o].median = t[o][n / 2];
		r[o].mean = sum / n;
		r[o].user = u[o] / n;
		r[o].sys = s[o] / n;
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
	printf("# %-9s %9s %9s %9s %9s | %9s %9s %9s %9s | %7s %7s\n", "op",
	       "median", "mean", "user", "sys", "x-median", "x-mean", "x-user",
	       "x-sys", "sysc", "faults");
	for (o = 0; o < OP_NR; o++) {
		printf("@revoke mode=%s op=%s n=%d median_ns=%llu mean_ns=%llu user_ns=%llu sys_ns=%llu syscalls=%.2f faults=%.2f\n",
		       mode, op_names[o], n, (unsigned long long)r[o].median,
		       (unsigned long long)r[o].mean,
		       (unsigned long long)r[o].user,
		       (unsigned long long)r[o].sys,
		       sysc[o] < 0 ? -1.0 : (double)sysc[o] / BATCH,
		       (double)flt[o] / BATCH);
		printf("# %-9s %9.1f %9.1f %9.1f %9.1f | %9.1f %9.1f %9.1f %9.1f | %7.2f %7.2f\n",
		       op_names[o], r[o].median / 1e3, r[o].mean / 1e3,
		       r[o].user / 1e3, r[o].sys / 1e3,
		       ((double)r[o].median - r[OP_WORK].median) / 1e3,
		       ((double)r[o].mean - r[OP_WORK].mean) / 1e3,
		       ((double)r[o].user - r[OP_WORK].user) / 1e3,
		       ((double)r[o].sys - r[OP_WORK].sys) / 1e3,
		       sysc[o] < 0 ? -1.0 : (double)sysc[o] / BATCH,
		       (double)flt[o] / BATCH);
	}
	fflush(stdout);
}

int main(void)
{
	int quick = !!getenv("ARENA_BENCH_QUICK"), ncpu;
	int rounds = quick ? 3 : 40;
	pthread_t th;
	cpu_set_t set;

	setvbuf(stdout, NULL, _IOLBF, 0);
	work_buf = mmap(NULL, (WORK_PAGES + 1) * 4096, PROT_READ | PROT_WRITE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	anon = mmap(NULL, 8192, PROT_READ | PROT_WRITE,
		    MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (work_buf == MAP_FAILED || anon == MAP_FAILED)
		die("mmap");
	pool = arena_new(ARENA_NOZERO);
	if (!pool)
		die("arena_new");
	ncpu = (int)sysconf(_SC_NPROCESSORS_ONLN);
	printf("# revoke_bench: backend %s, %d CPU(s); every operation then writes one line in each of %d pages\n",
	       access("/dev/arena", F_OK) ? "mmap" : "kernel", ncpu,
	       WORK_PAGES);
	CPU_ZERO(&set);
	CPU_SET(0, &set);
	sched_setaffinity(0, sizeof(set), &set);
	/* Warm up: the spare, the pool's first runs, the learned size. */
	for (int o = 0; o < OP_NR; o++)
		for (int j = 0; j < BATCH; j++)
			run_op(o);
	measure("alone", rounds);
	if (ncpu < 2) {
		printf("# revoke_bench: one CPU, no sibling run\n");
		return 0;
	}
	if (pthread_create(&th, NULL, sibling, (void *)1L))
		die("pthread_create");
	measure("sibling", rounds);
	atomic_store(&stop_sibling, 1);
	pthread_join(th, NULL);
	arena_free(pool);
	return 0;
}
