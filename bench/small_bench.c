// SPDX-License-Identifier: GPL-2.0
/*
 * small_bench: small arenas, the targets of page-granular runs.
 *
 *   cycle, per arena of LEN bytes (4, 16 and 64 KiB): get it, write one byte
 *   in every page, drop it:
 *     ioctl   ARENA_IOC_ALLOC(ARENA_ALLOC_CREATE, LEN) + touch + ARENA_IOC_FREE
 *     lib     arena_new(0) + arena_alloc(LEN - 16 ... in one run) + touch +
 *             arena_free (libarena on /dev/arena: the same two ioctls)
 *     mmap    mmap(LEN) anonymous + touch + munmap
 *     The three run in alternating batches of 100 cycles, so that drift of
 *     the host hits them alike; each cycle is timed on its own.
 *   density: 10,000 live arenas (libarena) holding 1 KiB each: the module's
 *     chunks in use and pages of live runs before and after; then every one
 *     is freed and one address in each (a different offset each time) must
 *     fault. For scale, the same for 100 ARENA_WHOLE_CHUNKS arenas.
 *   free blocks: the median free of a one-page arena in blocks of 300,
 *     before and after blocks of 8-page arenas, then pinned to CPU 0: the
 *     free must not degrade with what ran before.
 *
 * Output: "@small key=value ..." lines (bench/small_report.sh turns them into
 * the small-arena section of bench/RESULTS.md) and "#" comments.
 *
 * small_bench [-q]   -q: quick (fewer cycles), for a smoke test; also
 *                    ARENA_BENCH_QUICK=1 in the environment
 */
#include "selftests/arena_helpers.h"
#include "bench/kentry.h"

#include <sched.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>

#include <libarena.h>

/* The request mix of bench/alloc's churn: about 28 KiB in 200 objects. */
#include "bench/alloc/req_mix.h"

static int quick;
static int afd = -1;
static char *win;
static struct arena_info info;

/* Set while kernel entries are counted: no clock reads (see kentry.h). */
static int counting;

static uint64_t now_ns(void)
{
	struct timespec ts;

	if (counting)
		return 0;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

static void touch(volatile char *p, size_t len)
{
	for (size_t off = 0; off < len; off += PAGE_SZ)
		p[off] = 1;
}

static void die(const char *what)
{
	printf("@small test=error what=%s errno=%d\n", what, errno);
	printf("# small_bench: %s: %s\n", what, strerror(errno));
	fflush(stdout);
	exit(1);
}

enum impl { I_IOCTL, I_LIB, I_MMAP, I_NR };
static const char *const impl_names[I_NR] = { "ioctl", "lib", "mmap" };

/*
 * A raw-ioctl arena of @len bytes, created, touched, freed: the free's ns
 * if @timed (else no clock is read).
 */
static uint64_t ioctl_arena(size_t len, int timed)
{
	struct arena_alloc al = { .size = sizeof(al) };
	struct arena_free fr = { .size = sizeof(fr) };
	uint64_t t0;

	al.flags = ARENA_ALLOC_CREATE;
	al.length = len;
	if (ioctl(afd, ARENA_IOC_ALLOC, &al))
		die("ARENA_IOC_ALLOC");
	touch(win + al.out_offset, len);
	fr.arena_id = al.arena_id;
	t0 = timed ? now_ns() : 0;
	if (ioctl(afd, ARENA_IOC_FREE, &fr))
		die("ARENA_IOC_FREE");
	return timed ? now_ns() - t0 : 0;
}

/* One cycle of @impl for @len bytes; returns its time in ns. */
static uint64_t cycle(enum impl impl, size_t len)
{
	struct arena *a;
	uint64_t t0 = now_ns();
	char *p;

	switch (impl) {
	case I_IOCTL:
		ioctl_arena(len, 0);
		break;
	case I_LIB:
		a = arena_new(0);
		if (!a)
			die("arena_new");
		/* One run of @len: the first run fits the first request. */
		p = arena_alloc(a, len - 16);
		if (!p)
			die("arena_alloc");
		touch(p, len - 16);
		arena_free(a);
		break;
	default:
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		if (p == MAP_FAILED)
			die("mmap");
		touch(p, len);
		munmap(p, len);
		break;
	}
	return now_ns() - t0;
}

static void run_cycles(size_t len)
{
	int batches = quick ? 5 : 60, per = 100, n = batches * per;
	uint64_t *t[I_NR], cpu[I_NR] = { 0 }, c0, kt0, kt1, clk = clock_cost_ns();
	struct kentry ke[I_NR];
	int b, i, k;

	for (k = 0; k < I_NR; k++) {
		t[k] = calloc(n, sizeof(uint64_t));
		if (!t[k])
			die("calloc");
		/* Warm up: code, page tables, the pool's first chunk. */
		for (i = 0; i < 50; i++)
			cycle(k, len);
	}
	arena_pool_settle(5000);
	kt0 = kthread_cpu_ns(NULL);
	for (b = 0; b < batches; b++)
		for (k = 0; k < I_NR; k++) {
			c0 = self_cpu_ns();
			for (i = 0; i < per; i++) {
				uint64_t c = cycle(k, len);

				/* less what timing an empty interval costs */
				t[k][b * per + i] = c > clk ? c - clk : 0;
			}
			cpu[k] += self_cpu_ns() - c0;
		}
	/* the module's threads, until they have caught up */
	arena_pool_settle(5000);
	kt1 = kthread_cpu_ns(NULL);
	/* Kernel entries per cycle, untimed: 100 cycles of each. */
	counting = 1;
	for (k = 0; k < I_NR; k++) {
		kentry_begin(&ke[k]);
		for (i = 0; i < 100; i++)
			cycle(k, len);
		kentry_end(&ke[k]);
	}
	counting = 0;
	arena_pool_settle(5000);
	for (k = 0; k < I_NR; k++) {
		uint64_t sum = 0;

		for (i = 0; i < n; i++)
			sum += t[k][i];
		qsort(t[k], n, sizeof(uint64_t), cmp_u64);
		/*
		 * kthread_ns: the module's threads' CPU over the timed batches,
		 * split evenly between the two arena kinds (mmap makes them no
		 * work), per cycle.
		 */
		printf("@small test=cycle impl=%s len=%zu n=%d med_ns=%llu p10_ns=%llu p90_ns=%llu mean_ns=%llu"
		       " cpu_ns=%llu kthread_ns=%llu sys_x100=%ld flt_x100=%ld clock_ns=%llu sysmix=%s\n",
		       impl_names[k], len, n,
		       (unsigned long long)t[k][n / 2],
		       (unsigned long long)t[k][n / 10],
		       (unsigned long long)t[k][n * 9 / 10],
		       (unsigned long long)(sum / n),
		       (unsigned long long)(cpu[k] / n),
		       (unsigned long long)(k == I_MMAP ? 0 : (kt1 - kt0) / 2 / n),
		       ke[k].sys < 0 ? -1 : ke[k].sys, ke[k].flt,
		       (unsigned long long)clk, ke[k].mix[0] ? ke[k].mix : "-");
		free(t[k]);
	}
	fflush(stdout);
}

/*
 * Where a churn request's time goes: arena_new + 200 allocations written
 * whole (the small runs' ioctls and page faults included) against the
 * arena_free (revocation), with the faults and runs per request.
 */
static void requests(unsigned int flags)
{
	int n = quick ? 200 : 3000, q, i;
	uint64_t fill = 0, drop = 0, t0, t1;
	long flt0 = 0, runs0, runs;
	struct rusage ru;

	req_seed();
	runs0 = arena_counter("small_runs_mapped");
	getrusage(RUSAGE_SELF, &ru);
	flt0 = ru.ru_minflt;
	for (q = 0; q < n; q++) {
		struct arena *a;

		t0 = now_ns();
		a = arena_new(flags);
		if (!a)
			die("arena_new");
		for (i = 0; i < 200; i++) {
			size_t sz = req_size();
			char *p = arena_alloc(a, sz);

			if (!p)
				die("arena_alloc");
			memset(p, i, sz);
		}
		t1 = now_ns();
		arena_free(a);
		fill += t1 - t0;
		drop += now_ns() - t1;
	}
	getrusage(RUSAGE_SELF, &ru);
	runs = arena_counter("small_runs_mapped") - runs0;
	printf("@small test=request flags=%s n=%d fill_ns=%llu free_ns=%llu faults=%.1f small_runs=%.2f\n",
	       flags ? "whole" : "grow", n,
	       (unsigned long long)(fill / n), (unsigned long long)(drop / n),
	       (double)(ru.ru_minflt - flt0) / n, (double)runs / n);
	fflush(stdout);
}

/*
 * The free of a one-page arena over time: blocks of 300 raw-ioctl arenas,
 * one-page ones before and after blocks of 8-page ones (which retire shared
 * chunks and keep the pool's worker busy), then pinned to CPU 0. Each
 * block's median free; they stay level unless something the free does
 * degrades with what came before (it did: the worker was woken for
 * nothing on every free, 34 against 12 us once it had run).
 */
static void free_blocks(void)
{
	static const struct { const char *name; size_t pages; int cpu0; }
	blk[] = {
		{ "1 page", 1, 0 }, { "1 page", 1, 0 }, { "8 pages", 8, 0 },
		{ "1 page", 1, 0 }, { "1 page, on CPU 0", 1, 1 },
		{ "8 pages, on CPU 0", 8, 1 }, { "1 page, on CPU 0", 1, 1 },
	};
	int n = quick ? 50 : 300, b, i;
	uint64_t *t = calloc(n, sizeof(*t));
	cpu_set_t all, cpu0;

	if (!t || sched_getaffinity(0, sizeof(all), &all))
		die("free_blocks setup");
	CPU_ZERO(&cpu0);
	CPU_SET(0, &cpu0);
	for (b = 0; b < (int)(sizeof(blk) / sizeof(blk[0])); b++) {
		if (blk[b].cpu0 && sched_setaffinity(0, sizeof(cpu0), &cpu0))
			die("sched_setaffinity");
		for (i = 0; i < n; i++)
			t[i] = ioctl_arena(blk[b].pages * PAGE_SZ, 1);
		qsort(t, n, sizeof(*t), cmp_u64);
		printf("@small test=freeblk block=%d pages=%zu cpu0=%d n=%d med_ns=%llu p90_ns=%llu\n",
		       b + 1, blk[b].pages, blk[b].cpu0, n,
		       (unsigned long long)t[n / 2],
		       (unsigned long long)t[n * 9 / 10]);
	}
	sched_setaffinity(0, sizeof(all), &all);
	free(t);
	fflush(stdout);
}

/*
 * @n live arenas of 1 KiB each from libarena with @flags: what the module
 * holds for them, and whether every one faults after its free.
 */
static void density(int n, unsigned int flags)
{
	struct arena **a = calloc(n, sizeof(*a));
	char **p = calloc(n, sizeof(*p));
	long in0, pages0, in1, pages1;
	int i, faulted = 0;

	if (!a || !p)
		die("calloc");
	arena_pool_settle(5000);
	in0 = arena_counter("chunks_in_use");
	pages0 = arena_counter("pages_live");
	for (i = 0; i < n; i++) {
		a[i] = arena_new(flags);
		if (!a[i])
			die("arena_new");
		p[i] = arena_alloc(a[i], 1024);
		if (!p[i])
			die("arena_alloc");
		memset(p[i], i, 1024);
	}
	in1 = arena_counter("chunks_in_use");
	pages1 = arena_counter("pages_live");
	for (i = 0; i < n; i++)
		arena_free(a[i]);
	for (i = 0; i < n; i++)
		faulted += faults_at(p[i] + (i * 37) % 1024);
	printf("@small test=density flags=%s arenas=%d bytes_each=1024 chunks=%ld mib=%.1f pages_live=%ld faulted=%d\n",
	       flags ? "whole" : "grow", n, in1 - in0,
	       (double)(in1 - in0) * info.out_chunk_size / (1 << 20),
	       pages1 - pages0, faulted);
	fflush(stdout);
	free(a);
	free(p);
}

int main(int argc, char **argv)
{
	struct utsname u;

	if ((argc > 1 && !strcmp(argv[1], "-q")) || getenv("ARENA_BENCH_QUICK"))
		quick = 1;
	setvbuf(stdout, NULL, _IOLBF, 0);
	uname(&u);
	printf("@small test=meta kernel=%s date=%ld quick=%d\n", u.release,
	       (long)time(NULL), quick);
	afd = open(ARENA_DEV, O_RDWR | O_CLOEXEC);
	if (afd < 0 || arena_get_info(afd, &info))
		die("open /dev/arena");
	win = arena_map_window(afd, info.out_window_size);
	if (!win)
		die("mmap window");
	if (strcmp(arena_backend(), "kernel"))
		die("libarena backend is not the kernel");

	run_cycles(4096);
	run_cycles(16384);
	run_cycles(65536);
	requests(0);
	requests(ARENA_WHOLE_CHUNKS);
	free_blocks();
	density(10000, 0);
	density(100, ARENA_WHOLE_CHUNKS);
	printf("@small test=done\n");
	return 0;
}
