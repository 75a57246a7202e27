// SPDX-License-Identifier: GPL-2.0
/*
 * Per-request arenas on libarena's mmap backend, on the host (no VM, no
 * module: what a new user sees before installing /dev/arena), against glibc
 * malloc/free and APR child pools, all three in one process and one run
 * (bench/alloc/host_churn.sh runs it; `make bench-host`).
 *
 * A request: a fresh region (an arena_new(0), an APR child pool, or for
 * malloc the list of pointers to free one by one), objects allocated and
 * each written whole (memset), then the region freed. arena_mmap_nozero is
 * the same with arena_new(ARENA_NOZERO): a kept chunk is handed over
 * without the memset that zeroes what the last arena wrote, so the two
 * rows differ by what that memset costs. Two shapes:
 *
 *   req80k  160 objects of 32 to 992 bytes (512 mean): 80 KiB a request
 *   churn   the churn mix of bench/alloc/req_mix.h: 200 objects, 90%
 *           16-128 bytes, 9% 129-1024, 1% 1025-4096 (about 29 KB)
 *
 * For each shape, ROUNDS rounds, each running every allocator in turn (so
 * a load that comes and goes on the host hits all of them alike): a block
 * of BLOCK requests back to back with no clock read inside (its time over
 * its requests gives the mean; its page faults, getrusage minflt + majflt,
 * the faults per request), then a block of BLOCK requests timed one by
 * one, less what an empty timed interval costs (median, p10, p90). Then
 * an untimed pass of 200 requests per allocator counts the system calls
 * (bench/kentry.h's ptrace helper; "n/a" if it cannot attach).
 *
 * Output: "@host key=value" lines, bench/alloc/host_report.sh reads them.
 * Options: -q (quick: fewer rounds), -r ROUNDS, -b BLOCK.
 * ARENA_BACKEND is forced to mmap before the first arena.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <errno.h>
#include <spawn.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <apr_general.h>
#include <apr_pools.h>
#include <libarena.h>

#include "req_mix.h"
#include "../kentry.h"

#define MAX_OBJS	256

enum impl { IMPL_ARENA, IMPL_ARENA_NOZERO, IMPL_GLIBC, IMPL_APR, NR_IMPL };
static const char *const impl_names[NR_IMPL] = {
	"arena_mmap", "arena_mmap_nozero", "glibc", "apr",
};

enum shape { SHAPE_80K, SHAPE_CHURN, NR_SHAPE };
static const char *const shape_names[NR_SHAPE] = { "req80k", "churn" };

static apr_pool_t *apr_root;
static void *ptrs[MAX_OBJS];
static void *volatile sink;

/* The request's object sizes: the same sequence for every allocator. */
static unsigned int shape_rng;

static void shape_seed(void)
{
	shape_rng = 4242;
	req_seed();
}

static size_t shape_size(enum shape s)
{
	if (s == SHAPE_CHURN)
		return req_size();
	shape_rng = shape_rng * 1103515245 + 12345;
	return 32 + (shape_rng >> 8) % 961;
}

static int shape_objs(enum shape s)
{
	return s == SHAPE_CHURN ? 200 : 160;
}

/*
 * One request; its bytes, or -1. noinline, and named, so that callgrind
 * can count it (--toggle-collect=one_request).
 */
__attribute__((noinline)) static long one_request(enum impl im, enum shape s)
{
	int n = shape_objs(s), i;
	struct arena *a = NULL;
	apr_pool_t *p = NULL;
	long bytes = 0;

	if (im == IMPL_ARENA && !(a = arena_new(0)))
		return -1;
	if (im == IMPL_ARENA_NOZERO && !(a = arena_new(ARENA_NOZERO)))
		return -1;
	if (im == IMPL_APR && apr_pool_create(&p, apr_root) != APR_SUCCESS)
		return -1;
	for (i = 0; i < n; i++) {
		size_t sz = shape_size(s);
		char *o;

		if (a)
			o = arena_alloc(a, sz);
		else if (im == IMPL_APR)
			o = apr_palloc(p, sz);
		else
			o = ptrs[i] = malloc(sz);
		if (!o)
			return -1;
		memset(o, i, sz);
		bytes += sz;
	}
	sink = ptrs[0];
	if (a)
		arena_free(a);
	else if (im == IMPL_APR)
		apr_pool_destroy(p);
	else
		for (i = 0; i < n; i++)
			free(ptrs[i]);
	return bytes;
}

struct result {
	uint64_t *v;		/* timed requests, ns */
	long nv;
	uint64_t block_ns;	/* the untimed blocks */
	long block_reqs, block_flt;
	long bytes;
};

static int bench_shape(enum shape s, int rounds, long block, uint64_t clock_ns)
{
	struct result r[NR_IMPL];
	int im, k;
	long q, b;

	memset(r, 0, sizeof(r));
	for (im = 0; im < NR_IMPL; im++) {
		r[im].v = calloc((size_t)rounds * block, sizeof(uint64_t));
		if (!r[im].v)
			return -1;
		/* Warm up: the allocator's steady state, not its first use. */
		shape_seed();
		for (q = 0; q < block; q++)
			if (one_request(im, s) < 0)
				return -1;
	}
	for (k = 0; k < rounds; k++) {
		for (im = 0; im < NR_IMPL; im++) {
			uint64_t t0, t1;
			long f0, f1;

			shape_seed();
			f0 = page_faults();
			t0 = kentry_clock_ns(CLOCK_MONOTONIC);
			for (q = 0; q < block; q++) {
				b = one_request(im, s);
				if (b < 0)
					return -1;
				r[im].bytes = b;
			}
			t1 = kentry_clock_ns(CLOCK_MONOTONIC);
			f1 = page_faults();
			r[im].block_ns += t1 - t0;
			r[im].block_reqs += block;
			r[im].block_flt += f1 - f0;

			shape_seed();
			for (q = 0; q < block; q++) {
				t0 = kentry_clock_ns(CLOCK_MONOTONIC);
				b = one_request(im, s);
				t1 = kentry_clock_ns(CLOCK_MONOTONIC);
				if (b < 0)
					return -1;
				r[im].v[r[im].nv++] = t1 - t0 > clock_ns ?
						      t1 - t0 - clock_ns : 0;
			}
		}
	}
	for (im = 0; im < NR_IMPL; im++) {
		struct kentry ke;
		uint64_t *v = r[im].v;
		long nv = r[im].nv, nk = 200;

		shape_seed();
		kentry_begin(&ke);
		for (q = 0; q < nk; q++)
			if (one_request(im, s) < 0)
				return -1;
		kentry_end(&ke);
		qsort(v, nv, sizeof(*v), kentry_cmp_u64);
		printf("@host impl=%s shape=%s objs=%d bytes=%ld requests=%ld med_us=%.3f p10_us=%.3f p90_us=%.3f mean_us=%.3f flt=%.3f sys=%.3f kflt=%.3f sysmix=%s\n",
		       impl_names[im], shape_names[s], shape_objs(s), r[im].bytes,
		       r[im].block_reqs + nv, v[nv / 2] / 1e3, v[nv / 10] / 1e3,
		       v[nv * 9 / 10] / 1e3,
		       r[im].block_ns / 1e3 / r[im].block_reqs,
		       (double)r[im].block_flt / r[im].block_reqs,
		       ke.sys < 0 ? -1.0 : (double)ke.sys / nk,
		       (double)ke.flt / nk, ke.mix[0] ? ke.mix : "-");
		fflush(stdout);
		free(v);
	}
	return 0;
}

/* Callgrind mode: N requests of one allocator and shape, nothing else. */
static int count_only(const char *impl, const char *shape, long n)
{
	int im, s;

	for (im = 0; im < NR_IMPL && strcmp(impl, impl_names[im]); im++)
		;
	for (s = 0; s < NR_SHAPE && strcmp(shape, shape_names[s]); s++)
		;
	if (im == NR_IMPL || s == NR_SHAPE)
		return 2;
	shape_seed();
	/* The first requests set the allocator up: not counted. */
	for (long q = 0; q < 20; q++)
		if (one_request(im, s) < 0)
			return 1;
	printf("calls=%ld\n", n);
	shape_seed();
	for (long q = 0; q < n; q++)
		if (one_request(im, s) < 0)
			return 1;
	return 0;
}

int main(int argc, char **argv)
{
	int rounds = 30, opt, quick = 0;
	long block = 2000, count = 0;
	const char *backend;
	struct utsname u;
	uint64_t clock_ns;

	setenv("ARENA_BACKEND", "mmap", 1);
	while ((opt = getopt(argc, argv, "qr:b:c:")) != -1) {
		if (opt == 'q')
			quick = 1;
		else if (opt == 'r')
			rounds = atoi(optarg);
		else if (opt == 'b')
			block = atol(optarg);
		else if (opt == 'c')
			count = atol(optarg);
		else
			return 2;
	}
	if (quick)
		rounds = 2, block = 500;
	if (apr_initialize() != APR_SUCCESS ||
	    apr_pool_create(&apr_root, NULL) != APR_SUCCESS)
		return 1;
	backend = arena_backend();
	if (!backend || strcmp(backend, "mmap")) {
		fprintf(stderr, "host_churn: backend %s, not mmap\n",
			backend ? backend : strerror(errno));
		return 1;
	}
	if (count) {
		if (optind + 2 != argc)
			return 2;
		return count_only(argv[optind], argv[optind + 1], count);
	}
	uname(&u);
	clock_ns = clock_cost_ns();
	printf("@hostmeta kernel=%s cpus=%ld rounds=%d block=%ld clock_ns=%llu\n",
	       u.release, sysconf(_SC_NPROCESSORS_ONLN), rounds, block,
	       (unsigned long long)clock_ns);
	fflush(stdout);
	for (int s = 0; s < NR_SHAPE; s++)
		if (bench_shape(s, rounds, block, clock_ns)) {
			printf("@host test=error shape=%s errno=%d\n",
			       shape_names[s], errno);
			return 1;
		}
	return 0;
}
