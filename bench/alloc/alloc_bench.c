// SPDX-License-Identifier: GPL-2.0
/*
 * Allocation throughput and request churn, one allocator per build
 * (bench/alloc/Makefile): -DUSE_ARENA (libarena, the backend the
 * environment gives; -DFORCE_MMAP sets ARENA_BACKEND=mmap), -DUSE_MALLOC
 * (glibc, or jemalloc when linked with libjemalloc.a, which replaces
 * malloc), -DUSE_MIMALLOC (mi_heap_new / mi_heap_destroy), -DUSE_APR
 * (apr_pool_create / apr_pool_destroy).
 *
 *   throughput  rounds of ROUND_BYTES of same-size objects, 16 to 4096
 *               bytes, one byte written in each; a round ends by freeing
 *               everything (arena_free, pool destroy, heap destroy, or free()
 *               of each object). Reported: ns per object, free included.
 *   churn       100,000 requests, each ~200 objects of mixed sizes, each
 *               object written whole, in a fresh arena/pool/heap freed at
 *               the end of the request (malloc: freed one by one); one
 *               arena reset after each request: a tenth of them.
 *               Arena builds run it again on ARENA_NOZERO arenas
 *               ("arena_nozero"): the same, less the zeroing.
 *   reset       (arena builds) arena_reset of an arena with N bytes
 *               touched, against munmap + mmap of N touched bytes.
 *
 * Output: "@alloc key=value ..." lines, bench/alloc/report.sh reads them.
 * Options: -q (quick: a tenth of the requests and short budgets; also
 * ARENA_BENCH_QUICK=1 in the environment), -r N (requests).
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include "req_mix.h"
#include "../kentry.h"

#if defined(USE_ARENA)
#include <libarena.h>
#elif defined(USE_MIMALLOC)
#include <mimalloc.h>
#elif defined(USE_APR)
#include <apr_general.h>
#include <apr_pools.h>
#endif

#ifndef IMPL
#define IMPL "unknown"
#endif

#define ROUND_BYTES	(4UL << 20)
#define MAX_OBJS	(ROUND_BYTES / 16)
#define REQ_OBJS	200

static int quick;
static long requests = 100000;
static void *volatile sink;

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
	qsort(v, n, sizeof(*v), cmp_double);
	return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

static long read_counter(const char *name)
{
	char path[128];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "/sys/kernel/arena/%s", name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/*
 * Wait (up to 60 s) until the arena pool has re-zeroed what earlier runs
 * freed, so its worker does not steal this run's CPU. No pool: no wait.
 */
static void settle(void)
{
	double t0 = now_s();

	while (now_s() - t0 < 60) {
		long d = read_counter("chunks_dirty");
		long q = read_counter("chunks_quarantined");

		if (d <= 0 && q <= 0)
			return;
		usleep(20000);
	}
}

/* ---- the allocator under test ------------------------------------------ */

/*
 * A "region" is what one round or one request allocates into and frees at
 * once: an arena, an APR pool, a mimalloc heap, or (malloc) the list of
 * pointers to free one by one.
 */
struct region {
#if defined(USE_ARENA)
	struct arena *a;
#elif defined(USE_MIMALLOC)
	mi_heap_t *h;
#elif defined(USE_APR)
	apr_pool_t *p;
#else
	void **v;
	size_t n;
#endif
};

#if defined(USE_ARENA)
static unsigned int arena_flags;
static int use_reset;		/* one arena, arena_reset between regions */
static struct arena *reset_arena;
#elif defined(USE_APR)
static apr_pool_t *apr_parent;
#else
#if !defined(USE_MIMALLOC)
static void *ptrs[MAX_OBJS];
#endif
#endif

static const char *impl_name(void)
{
#if defined(USE_ARENA)
	if (use_reset)
		return arena_flags ? "arena_ts_reset" : "arena_reset";
	if (arena_flags == ARENA_NOZERO)
		return "arena_nozero";
	return arena_flags ? "arena_ts" : "arena";
#else
	return IMPL;
#endif
}

static int region_begin(struct region *r)
{
#if defined(USE_ARENA)
	if (use_reset) {
		r->a = reset_arena;
		return 0;
	}
	r->a = arena_new(arena_flags);
	return r->a ? 0 : -1;
#elif defined(USE_MIMALLOC)
	r->h = mi_heap_new();
	return r->h ? 0 : -1;
#elif defined(USE_APR)
	return apr_pool_create(&r->p, apr_parent) == APR_SUCCESS ? 0 : -1;
#else
	r->v = ptrs;
	r->n = 0;
	return 0;
#endif
}

static inline void *region_alloc(struct region *r, size_t size)
{
#if defined(USE_ARENA)
	return arena_alloc(r->a, size);
#elif defined(USE_MIMALLOC)
	return mi_heap_malloc(r->h, size);
#elif defined(USE_APR)
	return apr_palloc(r->p, size);
#else
	void *p = malloc(size);

	r->v[r->n++] = p;
	return p;
#endif
}

static void region_end(struct region *r)
{
#if defined(USE_ARENA)
	if (use_reset) {
		if (arena_reset(r->a))
			perror("arena_reset");
		return;
	}
	arena_free(r->a);
#elif defined(USE_MIMALLOC)
	mi_heap_destroy(r->h);
#elif defined(USE_APR)
	apr_pool_destroy(r->p);
#else
	for (size_t i = 0; i < r->n; i++)
		free(r->v[i]);
#endif
}

static const char *backend_name(void)
{
#if defined(USE_ARENA)
	return arena_backend();
#else
	return "-";
#endif
}

/* ---- throughput ---------------------------------------------------------- */

static int throughput(size_t size)
{
	size_t n = ROUND_BYTES / size, i;
	double budget = quick ? 0.1 : 0.4, t0, t, v[512];
	int rounds = 0, warm;

	for (warm = 0; warm < 2; warm++) {
		struct region r;

		if (region_begin(&r))
			return -1;
		for (i = 0; i < n; i++)
			*(char *)region_alloc(&r, size) = 1;
		region_end(&r);
	}
	t0 = now_s();
	while (rounds < 512 && (rounds < 3 || now_s() - t0 < budget)) {
		struct region r;

		t = now_s();
		if (region_begin(&r))
			return -1;
		for (i = 0; i < n; i++) {
			char *p = region_alloc(&r, size);

			if (!p)
				return -1;
			*p = 1;
		}
		region_end(&r);
		v[rounds++] = now_s() - t;
	}
	printf("@alloc impl=%s backend=%s test=throughput size=%zu objs=%zu rounds=%d ns_per_obj=%.2f\n",
	       impl_name(), backend_name(), size, n, rounds,
	       median(v, rounds) * 1e9 / n);
	fflush(stdout);
	return 0;
}

/* ---- request churn -------------------------------------------------------- */

/* One request in a fresh region; its bytes. */
static long one_request(void)
{
	struct region r;
	size_t bytes = 0;
	int i;

	if (region_begin(&r))
		return -1;
	for (i = 0; i < REQ_OBJS; i++) {
		size_t sz = req_size();
		char *p = region_alloc(&r, sz);

		if (!p)
			return -1;
		memset(p, i, sz);
		bytes += sz;
	}
	sink = &r;
	region_end(&r);
	return bytes;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/* what an empty timed interval costs, measured once (kentry.h) */
static uint64_t clock_ns = (uint64_t)-1;

/*
 * The timed pass: all the requests back to back, no clock read inside; its
 * wall time over the requests is the mean, and the CPU is the process's own
 * over it plus the module's kernel threads' from its start until the pool
 * has caught up. Then a quarter as many requests, each timed on its own,
 * less what an empty timed interval costs: the median, p10 and p90. Then an
 * untimed pass of 200 requests counts the kernel entries (kentry.h).
 */
static int churn(long requests)
{
	uint64_t t0, t, *v, c0, c1, k0, k1, s0, s1, w;
	long q, nv = requests / 4 > 0 ? requests / 4 : 1, f0, f1;
	/*
	 * 200 requests: the counts are per request and steady; a ptrace stop
	 * per system call is slow under TCG (mimalloc reads the clock, a
	 * system call here, 31 times a request).
	 */
	long nk = quick ? 100 : 200;
	size_t bytes = 0;
	struct kentry ke;
	long b;

	if (clock_ns == (uint64_t)-1)
		clock_ns = clock_cost_ns();
	v = calloc(nv, sizeof(*v));
	if (!v)
		return -1;
	req_seed();
	k0 = kthread_cpu_ns(NULL);
	f0 = page_faults();
	c0 = self_cpu_ns();
	t0 = kentry_clock_ns(CLOCK_MONOTONIC);
	for (q = 0; q < requests; q++) {
		b = one_request();
		if (b < 0)
			return -1;
		bytes += b;
	}
	t = kentry_clock_ns(CLOCK_MONOTONIC) - t0;
	c1 = self_cpu_ns();
	f1 = page_faults();
	w = kentry_pool_settle(60);
	k1 = kthread_cpu_ns(NULL);

	for (q = 0; q < nv; q++) {
		s0 = kentry_clock_ns(CLOCK_MONOTONIC);
		b = one_request();
		s1 = kentry_clock_ns(CLOCK_MONOTONIC);
		if (b < 0)
			return -1;
		v[q] = s1 - s0 > clock_ns ? s1 - s0 - clock_ns : 0;
	}
	qsort(v, nv, sizeof(*v), cmp_u64);
	kentry_pool_settle(60);

	if (nk > requests)
		nk = requests;
	kentry_begin(&ke);
	for (q = 0; q < nk; q++)
		if (one_request() < 0)
			return -1;
	kentry_end(&ke);
	kentry_pool_settle(60);

	printf("@alloc impl=%s backend=%s test=churn requests=%ld objs_per_request=%d bytes_per_request=%zu secs=%.3f us_per_request=%.2f"
	       " timed_requests=%ld clock_us=%.2f med_us=%.2f p10_us=%.2f p90_us=%.2f cpu_us=%.2f kthread_us=%.2f catchup_ms=%.1f flt=%.2f"
	       " kentry_requests=%ld sys=%.3f kflt=%.3f sysmix=%s\n",
	       impl_name(), backend_name(), requests, REQ_OBJS,
	       bytes / requests, t / 1e9, t / 1e3 / requests,
	       nv, clock_ns / 1e3, v[nv / 2] / 1e3, v[nv / 10] / 1e3, v[nv * 9 / 10] / 1e3,
	       (c1 - c0) / 1e3 / requests, (k1 - k0) / 1e3 / requests, w / 1e6,
	       (double)(f1 - f0) / requests,
	       nk, ke.sys < 0 ? -1.0 : (double)ke.sys / nk, (double)ke.flt / nk,
	       ke.mix[0] ? ke.mix : "-");
	fflush(stdout);
	free(v);
	return 0;
}

/* ---- arena_reset against munmap + mmap ------------------------------------- */

#if defined(USE_ARENA)
static void touch(char *p, size_t len)
{
	for (size_t o = 0; o < len; o += 4096)
		p[o] = 1;
}

static void reset_bench(size_t len)
{
	int iters = quick ? 20 : (len > (8UL << 20) ? 30 : 200), i;
	double drop[200], cyc[200], mdrop[200], mcyc[200], t, t1;
	struct arena *a = arena_new(0);
	size_t piece = 64 << 10, o;
	char *m;

	if (!a)
		return;
	for (i = 0; i < iters; i++) {
		t = now_s();
		for (o = 0; o < len; o += piece)
			touch(arena_alloc(a, piece), piece);
		t1 = now_s();
		if (arena_reset(a))
			perror("arena_reset");
		drop[i] = now_s() - t1;
		cyc[i] = now_s() - t;
	}
	arena_free(a);
	settle();

	m = mmap(NULL, len, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	for (i = 0; i < iters && m != MAP_FAILED; i++) {
		t = now_s();
		touch(m, len);
		t1 = now_s();
		munmap(m, len);
		m = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
		mdrop[i] = now_s() - t1;
		mcyc[i] = now_s() - t;
	}
	if (m != MAP_FAILED)
		munmap(m, len);
	printf("@alloc impl=arena backend=%s test=reset bytes=%zu iters=%d reset_us=%.2f reset_cycle_us=%.2f munmap_mmap_us=%.2f munmap_mmap_cycle_us=%.2f\n",
	       backend_name(), len, iters, median(drop, iters) * 1e6,
	       median(cyc, iters) * 1e6, median(mdrop, iters) * 1e6,
	       median(mcyc, iters) * 1e6);
	fflush(stdout);
	settle();
}
#endif

#ifdef FORCE_MMAP
__attribute__((constructor)) static void force_mmap_backend(void)
{
	setenv("ARENA_BACKEND", "mmap", 1);
}
#endif

static void run_all(int tp, int ch)
{
	static const size_t sizes[] = { 16, 64, 256, 1024, 4096 };
	unsigned int i;

	for (i = 0; tp && i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		if (throughput(sizes[i]))
			printf("@alloc impl=%s test=error what=throughput size=%zu errno=%d\n",
			       impl_name(), sizes[i], errno);
		settle();
	}
	/* The reset variant is information: a tenth of the requests. */
	if (ch && churn(ch > 1 ? requests : requests / 10))
		printf("@alloc impl=%s test=error what=churn errno=%d\n",
		       impl_name(), errno);
	settle();
}

int main(int argc, char **argv)
{
	struct utsname u;
	int opt;

	while ((opt = getopt(argc, argv, "qr:")) != -1) {
		if (opt == 'q')
			quick = 1;
		else if (opt == 'r')
			requests = atol(optarg);
		else
			return 2;
	}
	/* The VM passes it from the kernel command line (VM_APPEND). */
	if (getenv("ARENA_BENCH_QUICK"))
		quick = 1;
	if (quick && requests == 100000)
		requests = 10000;
	uname(&u);
	settle();
#if defined(USE_APR)
	apr_initialize();
	apr_pool_create(&apr_parent, NULL);
#endif
	printf("@alloc impl=%s backend=%s test=meta kernel=%s date=%ld quick=%d\n",
	       IMPL, backend_name(), u.release, (long)time(NULL), quick);
	fflush(stdout);
#if defined(USE_ARENA)
	run_all(1, 2);
	/* One arena for all rounds and requests, reset between them. */
	use_reset = 1;
	reset_arena = arena_new(0);
	if (reset_arena)
		run_all(1, 1);
	arena_free(reset_arena);
	use_reset = 0;
	/* The shared arena's hit path: a call and a compare-and-swap. */
	arena_flags = ARENA_THREADSAFE;
	run_all(1, 0);
	/* Churn on no-zero arenas: what zeroing costs a request. */
	arena_flags = ARENA_NOZERO;
	run_all(0, 2);
	arena_flags = 0;
	reset_bench(64 << 10);
	reset_bench(2 << 20);
	reset_bench(32 << 20);
#else
	run_all(1, 2);
#endif
	printf("@alloc impl=%s test=done\n", IMPL);
	return 0;
}
