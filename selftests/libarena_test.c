// SPDX-License-Identifier: GPL-2.0
/*
 * Description: libarena's API on whichever backend the environment picks
 * (the kernel's /dev/arena when present, else mmap; ARENA_BACKEND=mmap
 * forces the fallback, see libarena_mmap_test.c): alignment, chunk edges,
 * large requests, zero sizes, overflow, strings, reset, contains, stats,
 * every freed byte faulting, errors as NULL + errno or -errno, the reverse
 * lookup, many arenas, threads on one ARENA_THREADSAFE arena, and fork.
 *
 * The harness runs each test in its own process, so each starts with no
 * backend chosen.
 */
#include "arena_helpers.h"	/* first: it defines _GNU_SOURCE */

#include <pthread.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <libarena.h>

#include "kselftest_harness.h"

/*
 * Under TCG, on a host shared with other VMs, the mmap backend's page-by-page
 * faults make the thread and fork tests take longer than the harness's 30 s.
 */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 120

#define MIB (1UL << 20)

/* The backend this process should get: "kernel" or "mmap". */
static const char *expected_backend(void)
{
	const char *env = getenv("ARENA_BACKEND");

	if (env && !strcmp(env, "mmap"))
		return "mmap";
	if (env && !strcmp(env, "kernel"))
		return "kernel";
	return access(ARENA_DEV, R_OK | W_OK) ? "mmap" : "kernel";
}

static bool on_kernel(void)
{
	return !strcmp(expected_backend(), "kernel");
}

/* The kernel backend on a module with ARENA_FREE_NEXT: threads' spares. */
static bool has_spare(void)
{
#ifdef LIBARENA_TEST_WHOLE_CHUNKS_ONLY
	return false;
#else
	return on_kernel();
#endif
}

static size_t round16(size_t n)
{
	return (n + 15) & ~(size_t)15;
}

/*
 * mapped == requested + waste + available; whole chunks are part of it,
 * and are all of it without small runs.
 */
static bool stats_add_up(struct arena *a, struct arena_stats *st)
{
	size_t chunks_bytes;

	if (arena_stats(a, st))
		return false;
	chunks_bytes = st->chunks * arena_chunk_size();
	return st->mapped == st->requested + st->waste + st->available &&
	       st->mapped >= chunks_bytes &&
	       (st->small_runs || st->mapped == chunks_bytes) &&
	       (!st->small_runs || st->mapped > chunks_bytes);
}

FIXTURE(lib) {
	struct arena *a;
	size_t cs;
	bool whole;	/* runs are whole chunks from the start */
};

/*
 * Every lib test runs on an arena that grows through small runs (the
 * default; whole chunks on the mmap backend) and on one that takes whole
 * chunks from the start.
 */
FIXTURE_VARIANT(lib) {
	unsigned int flags;
};

FIXTURE_VARIANT_ADD(lib, grow) {
	.flags = 0,
};

FIXTURE_VARIANT_ADD(lib, whole) {
	.flags = ARENA_WHOLE_CHUNKS,
};

FIXTURE_SETUP(lib)
{
	self->a = arena_new(variant->flags);
	ASSERT_NE(NULL, self->a);
	self->cs = arena_chunk_size();
	ASSERT_EQ(2UL << 20, self->cs);
	self->whole = (variant->flags & ARENA_WHOLE_CHUNKS) || !on_kernel();
#ifdef LIBARENA_TEST_WHOLE_CHUNKS_ONLY
	self->whole = true;
#endif
}

FIXTURE_TEARDOWN(lib)
{
	arena_free(self->a);
}

TEST(backend_is_the_expected_one)
{
	const char *b = arena_backend();

	ASSERT_NE(NULL, b);
	TH_LOG("backend %s", b);
	EXPECT_STREQ(expected_backend(), b);
	EXPECT_EQ(2UL << 20, arena_chunk_size());
	/* Asking again does not change it. */
	EXPECT_EQ(b, arena_backend());
}

TEST(lookup_before_any_arena_is_enoent)
{
	struct arena_addr_info info;

	EXPECT_EQ(-ENOENT, arena_lookup(&info, &info));
	EXPECT_EQ(-EINVAL, arena_lookup(&info, NULL));
}

TEST(bad_backend_variable_is_einval)
{
	setenv("ARENA_BACKEND", "floppy", 1);
	errno = 0;
	EXPECT_EQ(NULL, arena_backend());
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(NULL, arena_new(0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, arena_chunk_size());
}

TEST(forced_kernel_backend_needs_the_device)
{
	struct arena *a;

	setenv("ARENA_BACKEND", "kernel", 1);
	errno = 0;
	a = arena_new(0);
	if (access(ARENA_DEV, R_OK | W_OK)) {
		EXPECT_EQ(NULL, a);
		EXPECT_EQ(ENOENT, errno);
		EXPECT_EQ(NULL, arena_backend());
	} else {
		ASSERT_NE(NULL, a);
		EXPECT_STREQ("kernel", arena_backend());
	}
	arena_free(a);
}

TEST(forced_mmap_backend)
{
	struct arena *a;
	char *p;

	setenv("ARENA_BACKEND", "mmap", 1);
	a = arena_new(0);
	ASSERT_NE(NULL, a);
	EXPECT_STREQ("mmap", arena_backend());
	p = arena_alloc(a, 100);
	ASSERT_NE(NULL, p);
	memset(p, 1, 100);
	arena_free(a);
	EXPECT_TRUE(faults_at(p));
}

TEST_F(lib, allocations_are_aligned_and_disjoint)
{
	char *prev = NULL, *p;
	size_t sizes[] = { 0, 1, 7, 15, 16, 17, 31, 100, 4096, 5000 };
	size_t prev_size = 0;
	int i;

	for (i = 0; i < 1000; i++) {
		size_t sz = sizes[i % 10];

		p = arena_alloc(self->a, sz);
		ASSERT_NE(NULL, p);
		ASSERT_EQ(0, (uintptr_t)p % ARENA_ALIGN);
		ASSERT_TRUE(arena_contains(self->a, p));
		if (prev && p > prev)
			ASSERT_GE((size_t)(p - prev), prev_size);
		memset(p, i, sz);
		prev = p;
		prev_size = sz;
	}
}

TEST_F(lib, fills_chunks_and_crosses_into_new_ones)
{
	size_t n = 3 * self->cs / 1000 + 10, i;
	unsigned int **v = calloc(n, sizeof(*v));
	struct arena_stats st;

	ASSERT_NE(NULL, v);
	for (i = 0; i < n; i++) {
		v[i] = arena_alloc(self->a, 1000);
		ASSERT_NE(NULL, v[i]);
		for (size_t k = 0; k < 1000 / sizeof(unsigned int); k++)
			v[i][k] = (unsigned int)(i * 1000 + k);
	}
	for (i = 0; i < n; i++)
		for (size_t k = 0; k < 1000 / sizeof(unsigned int); k++)
			ASSERT_EQ(i * 1000 + k, v[i][k]);
	ASSERT_TRUE(stats_add_up(self->a, &st));
	EXPECT_EQ(n * 1008, st.requested);
	if (self->whole) {
		EXPECT_EQ(4, st.chunks);
		/* Each full chunk leaves the tail a 1008-byte block missed. */
		EXPECT_EQ(3 * (self->cs % 1008), st.waste);
	} else {
		/* 4 KiB, 8 KiB ... 64 KiB small runs, then whole chunks. */
		EXPECT_EQ(5, st.small_runs);
		EXPECT_EQ(3, st.chunks);
	}
	free(v);
}

TEST_F(lib, exact_fit_fills_the_chunk)
{
	char *p, *q, *r;
	size_t quarter = self->cs / 4;
	struct arena_stats st;
	int i;

	if (!self->whole)
		SKIP(return, "about whole chunks: see grow_runs_double");
	p = arena_alloc(self->a, 16);
	ASSERT_NE(NULL, p);
	/* p starts a fresh chunk; fill it to the last byte. */
	for (i = 0; i < 3; i++)
		ASSERT_EQ(p + 16 + i * quarter, arena_alloc(self->a, quarter));
	q = arena_alloc(self->a, quarter - 16);
	EXPECT_EQ(p + 16 + 3 * quarter, q);
	memset(q, 1, quarter - 16);
	ASSERT_TRUE(stats_add_up(self->a, &st));
	EXPECT_EQ(0, st.available);
	EXPECT_EQ(0, st.waste);
	/* Full: the next one starts another chunk. */
	r = arena_alloc(self->a, 1);
	ASSERT_NE(NULL, r);
	EXPECT_TRUE(r < p || r >= p + self->cs);
	ASSERT_TRUE(stats_add_up(self->a, &st));
	EXPECT_EQ(2, st.chunks);
	EXPECT_EQ(0, st.waste);
}

/*
 * A kernel-backed arena starts with one page and doubles each next run (or
 * more, to fit the request) up to 64 KiB; then whole chunks.
 */
TEST_F(lib, grow_runs_double)
{
	struct arena_stats st;
	char *p, *q, *r;
	size_t total;
	int i;

	if (self->whole)
		SKIP(return, "whole chunks from the start");
	p = arena_alloc(self->a, 16);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, (uintptr_t)p % 4096);
	ASSERT_TRUE(stats_add_up(self->a, &st));
	EXPECT_EQ(4096, st.mapped);
	EXPECT_EQ(1, st.small_runs);
	EXPECT_EQ(0, st.chunks);
	EXPECT_EQ(4080, st.available);
	/* The exact fit, then the next run is twice as large. */
	q = arena_alloc(self->a, 4080);
	EXPECT_EQ(p + 16, q);
	memset(q, 1, 4080);
	r = arena_alloc(self->a, 16);
	ASSERT_NE(NULL, r);
	EXPECT_TRUE(r < p || r >= p + 4096);
	ASSERT_TRUE(stats_add_up(self->a, &st));
	EXPECT_EQ(4096 + 8192, st.mapped);
	EXPECT_EQ(2, st.small_runs);
	EXPECT_EQ(0, st.waste);
	/* 20000 bytes do not fit 8 KiB: the next run doubles to 32 KiB. */
	q = arena_alloc(self->a, 20000);
	ASSERT_NE(NULL, q);
	ASSERT_TRUE(stats_add_up(self->a, &st));
	EXPECT_EQ(4096 + 8192 + 32768, st.mapped);
	EXPECT_EQ(3, st.small_runs);
	/* An 8 KiB alignment inside a small run. */
	q = arena_alloc_aligned(self->a, 100, 8192);
	ASSERT_NE(NULL, q);
	EXPECT_EQ(0, (uintptr_t)q % 8192);
	memset(q, 2, 100);
	/* Keep going: 64 KiB, then whole chunks. */
	for (i = 0; i < 40; i++)
		ASSERT_NE(NULL, arena_alloc(self->a, 100000));
	ASSERT_TRUE(stats_add_up(self->a, &st));
	EXPECT_GE(st.chunks, 1);
	total = st.mapped;
	TH_LOG("%zu small runs, %zu chunks, %zu bytes mapped", st.small_runs,
	       st.chunks, total);
	EXPECT_EQ(3, st.small_runs);	/* 4, 8 and 32 KiB */
	arena_free(self->a);
	self->a = NULL;
	EXPECT_TRUE(faults_at(p));
	EXPECT_TRUE(faults_at(q + 99));
	EXPECT_TRUE(faults_at(r));
}

/* The mapped bytes and small runs of a new arena after one 16-byte alloc. */
static void first_run_of_new_arena(size_t *mapped, size_t *runs)
{
	struct arena *b = arena_new(0);
	struct arena_stats st = { 0 };

	if (b && arena_alloc(b, 16))
		arena_stats(b, &st);
	*mapped = st.mapped;
	*runs = st.small_runs;
	arena_free(b);
}

/* An arena that bump-allocates @bytes in 208-byte pieces, then is freed. */
static bool use_and_free(size_t bytes)
{
	struct arena *b = arena_new(0);
	size_t done;

	if (!b)
		return false;
	for (done = 0; done < bytes; done += 208)
		if (!arena_alloc(b, 200)) {
			arena_free(b);
			return false;
		}
	arena_free(b);
	return true;
}

/*
 * A new arena's first run follows what the arenas freed before it used:
 * rising at most twofold per free, falling at once, never past 64 KiB.
 */
TEST_F(lib, first_run_follows_freed_arenas)
{
	size_t mapped, runs;
	int i;

	if (self->whole)
		SKIP(return, "whole chunks from the start");
	/* Each probe is itself a 16-byte arena: after it, a page again. */
	first_run_of_new_arena(&mapped, &runs);
	EXPECT_EQ(4096, mapped);
	/* 20 KiB requests: 8, 16, then 32 KiB, which holds one whole. */
	for (i = 0; i < 3; i++)
		ASSERT_TRUE(use_and_free(20000));
	first_run_of_new_arena(&mapped, &runs);
	EXPECT_EQ(32768, mapped);
	EXPECT_EQ(1, runs);
	/*
	 * Small probes bring it back down once the last 8 freed arenas all
	 * used less (the one above was the first of them).
	 */
	for (i = 0; i < 7; i++)
		first_run_of_new_arena(&mapped, &runs);
	EXPECT_EQ(32768, mapped);
	first_run_of_new_arena(&mapped, &runs);
	EXPECT_EQ(4096, mapped);
	/* One large arena among small ones moves it only twofold. */
	ASSERT_TRUE(use_and_free(1 << 20));
	first_run_of_new_arena(&mapped, &runs);
	EXPECT_EQ(8192, mapped);
	/* Never past 64 KiB. */
	for (i = 0; i < 8; i++)
		ASSERT_TRUE(use_and_free(1 << 20));
	first_run_of_new_arena(&mapped, &runs);
	EXPECT_EQ(65536, mapped);
	EXPECT_EQ(1, runs);
}

/*
 * Many live arenas after a phase of large ones: first runs of the learned
 * size hold at most 8 MiB in all, the other arenas start with a page.
 */
TEST_F(lib, first_runs_of_live_arenas_are_bounded)
{
	enum { N = 300 };
	struct arena *b[N];
	struct arena_stats st;
	size_t big = 0, total = 0;
	int i;

	if (self->whole)
		SKIP(return, "whole chunks from the start");
	for (i = 0; i < 8; i++)
		ASSERT_TRUE(use_and_free(1 << 20));
	for (i = 0; i < N; i++) {
		b[i] = arena_new(0);
		ASSERT_NE(NULL, b[i]);
		ASSERT_NE(NULL, arena_alloc(b[i], 1000));
		ASSERT_EQ(0, arena_stats(b[i], &st));
		EXPECT_TRUE(st.mapped == 65536 || st.mapped == 4096);
		big += st.mapped == 65536;
		total += st.mapped;
	}
	TH_LOG("%zu of %d arenas started with 64 KiB, %zu bytes in all", big,
	       N, total);
	EXPECT_GE(big, 1);
	/* The fixture's arena is live too: 8 MiB / 64 KiB, less one. */
	EXPECT_LE(big, 127);
	EXPECT_LE(total, (8 << 20) + N * 4096);
	EXPECT_EQ(4096, st.mapped);
	for (i = 0; i < N; i++)
		arena_free(b[i]);
	/* They used 1 KiB each: a page again. */
	first_run_of_new_arena(&big, &total);
	EXPECT_EQ(4096, big);
}

TEST_F(lib, large_requests_get_their_own_run)
{
	char *small = arena_alloc(self->a, 64), *big, *after;
	size_t bigsz = self->cs * 3 + 12345;
	struct arena_stats st;

	ASSERT_NE(NULL, small);
	big = arena_alloc(self->a, bigsz);
	ASSERT_NE(NULL, big);
	EXPECT_EQ(0, (uintptr_t)big % self->cs);
	memset(big, 0x33, bigsz);
	EXPECT_EQ(0x33, big[bigsz - 1]);
	EXPECT_TRUE(arena_contains(self->a, big + bigsz - 1));
	/* The small allocations continue in the first chunk. */
	after = arena_alloc(self->a, 64);
	EXPECT_EQ(small + 64, after);
	ASSERT_TRUE(stats_add_up(self->a, &st));
	EXPECT_EQ(self->whole ? 5 : 4, st.chunks);
	EXPECT_EQ(self->whole ? 0 : 1, st.small_runs);
	EXPECT_EQ(128 + round16(bigsz), st.requested);
	EXPECT_EQ(4 * self->cs - round16(bigsz), st.waste);
	/*
	 * Over a quarter chunk is large when it misses: with room left it
	 * comes from the chunk (the inline path does not look at sizes).
	 */
	if (!self->whole)
		return;		/* a one-page first run has no such room */
	after = arena_alloc(self->a, self->cs / 2);
	EXPECT_EQ(small + 128, after);
	big = arena_alloc(self->a, self->cs / 2);
	EXPECT_EQ(0, (uintptr_t)big % self->cs);
	after = arena_alloc(self->a, 64);
	EXPECT_EQ(small + 128 + self->cs / 2, after);
}

TEST_F(lib, huge_and_overflowing_sizes_fail_with_enomem)
{
	errno = 0;
	EXPECT_EQ(NULL, arena_alloc(self->a, SIZE_MAX));
	EXPECT_EQ(ENOMEM, errno);
	errno = 0;
	EXPECT_EQ(NULL, arena_alloc(self->a, SIZE_MAX - 8));
	EXPECT_EQ(ENOMEM, errno);
	errno = 0;
	EXPECT_EQ(NULL, arena_alloc(self->a, SIZE_MAX - self->cs + 1));
	EXPECT_EQ(ENOMEM, errno);
	errno = 0;
	EXPECT_EQ(NULL, arena_alloc(self->a, (size_t)1 << 50));
	EXPECT_EQ(ENOMEM, errno);
	errno = 0;
	EXPECT_EQ(NULL, arena_alloc_aligned(self->a, SIZE_MAX, 64));
	EXPECT_EQ(ENOMEM, errno);
	/* The arena still works. */
	EXPECT_NE(NULL, arena_alloc(self->a, 10));
}

TEST_F(lib, zero_size_requests_get_valid_pointers)
{
	char *p, *q, *s;

	p = arena_alloc(self->a, 0);
	ASSERT_NE(NULL, p);
	EXPECT_TRUE(arena_contains(self->a, p));
	q = arena_alloc(self->a, 0);
	ASSERT_NE(NULL, q);
	EXPECT_TRUE(arena_contains(self->a, q));
	p = arena_calloc(self->a, 0, 100);
	ASSERT_NE(NULL, p);
	p = arena_calloc(self->a, 100, 0);
	ASSERT_NE(NULL, p);
	p = arena_alloc_aligned(self->a, 0, 256);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, (uintptr_t)p % 256);
	EXPECT_TRUE(arena_contains(self->a, p));
	s = arena_strndup(self->a, "abc", 0);
	ASSERT_NE(NULL, s);
	EXPECT_STREQ("", s);
	s = arena_strdup(self->a, "");
	ASSERT_NE(NULL, s);
	EXPECT_STREQ("", s);
}

TEST(zero_size_first_allocation_of_a_shared_arena)
{
	struct arena *a = arena_new(ARENA_THREADSAFE);
	char *p, *q;

	ASSERT_NE(NULL, a);
	p = arena_alloc(a, 0);
	q = arena_alloc(a, 0);
	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, q);
	EXPECT_NE(p, q);
	EXPECT_TRUE(arena_contains(a, p));
	arena_free(a);
}

TEST_F(lib, aligned_allocations)
{
	struct arena_stats st;
	size_t align;
	char *p;

	for (align = 1; align <= self->cs; align *= 2) {
		/* An odd-sized block first, so the cursor is misaligned. */
		ASSERT_NE(NULL, arena_alloc(self->a, 24));
		p = arena_alloc_aligned(self->a, 40, align);
		ASSERT_NE(NULL, p);
		EXPECT_EQ(0, (uintptr_t)p % align);
		EXPECT_EQ(0, (uintptr_t)p % ARENA_ALIGN);
		EXPECT_TRUE(arena_contains(self->a, p));
		memset(p, 0x5a, 40);
	}
	/* Large and aligned: its own run, chunk aligned. */
	p = arena_alloc_aligned(self->a, self->cs + 1, self->cs);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, (uintptr_t)p % self->cs);
	p = arena_alloc_aligned(self->a, 100, 4096);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, (uintptr_t)p % 4096);
	ASSERT_TRUE(stats_add_up(self->a, &st));
	/* The padding counts as waste, not as requested. */
	EXPECT_GT(st.waste, 0);
}

TEST_F(lib, aligned_rejects_bad_alignments)
{
	size_t bad[] = { 0, 3, 24, 48, 100, 4095, 2 * 2UL << 20,
			 (size_t)1 << 40, ((size_t)1 << 63) };
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		EXPECT_EQ(NULL, arena_alloc_aligned(self->a, 16, bad[i]));
		EXPECT_EQ(EINVAL, errno);
	}
	errno = 0;
	EXPECT_EQ(NULL, arena_alloc_aligned(NULL, 16, 16));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(lib, calloc_zeroes_and_checks_overflow)
{
	unsigned long *v;
	char *big;
	size_t i;

	v = arena_calloc(self->a, 1000, sizeof(*v));
	ASSERT_NE(NULL, v);
	for (i = 0; i < 1000; i++)
		ASSERT_EQ(0, v[i]);
	big = arena_calloc(self->a, 3, self->cs);
	ASSERT_NE(NULL, big);
	EXPECT_EQ(0, big[0]);
	EXPECT_EQ(0, big[3 * self->cs - 1]);

	errno = 0;
	EXPECT_EQ(NULL, arena_calloc(self->a, SIZE_MAX / 2, 3));
	EXPECT_EQ(ENOMEM, errno);
	errno = 0;
	EXPECT_EQ(NULL, arena_calloc(self->a, SIZE_MAX, SIZE_MAX));
	EXPECT_EQ(ENOMEM, errno);
	errno = 0;
	EXPECT_EQ(NULL, arena_calloc(self->a, (size_t)1 << 32,
				     (size_t)1 << 32));
	EXPECT_EQ(ENOMEM, errno);
	errno = 0;
	EXPECT_EQ(NULL, arena_calloc(NULL, 1, 1));
	EXPECT_EQ(EINVAL, errno);
	/* Still works. */
	EXPECT_NE(NULL, arena_calloc(self->a, 2, 2));
}

TEST_F(lib, memory_after_reset_is_zero_again)
{
	unsigned char *p = arena_alloc(self->a, 4096), *q;
	int i;

	ASSERT_NE(NULL, p);
	memset(p, 0xff, 4096);
	ASSERT_EQ(0, arena_reset(self->a));
	q = arena_calloc(self->a, 4096, 1);
	ASSERT_NE(NULL, q);
	for (i = 0; i < 4096; i++)
		ASSERT_EQ(0, q[i]);
}

TEST_F(lib, strdup_and_strndup)
{
	const char *s = "arena memory";
	char *p;

	p = arena_strdup(self->a, s);
	ASSERT_NE(NULL, p);
	EXPECT_STREQ(s, p);
	EXPECT_NE(s, p);
	EXPECT_TRUE(arena_contains(self->a, p));
	p = arena_strndup(self->a, s, 5);
	ASSERT_NE(NULL, p);
	EXPECT_STREQ("arena", p);
	p = arena_strndup(self->a, s, 1000);
	ASSERT_NE(NULL, p);
	EXPECT_STREQ(s, p);
	p = arena_strndup(self->a, s, strlen(s));
	ASSERT_NE(NULL, p);
	EXPECT_STREQ(s, p);

	errno = 0;
	EXPECT_EQ(NULL, arena_strdup(self->a, NULL));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(NULL, arena_strndup(NULL, s, 3));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(lib, strings_at_chunk_edges)
{
	char s31[32], s32[33], *first, *p, *q, *run;
	struct arena_stats st;
	size_t left, rs;

	memset(s31, 'x', 31);
	s31[31] = '\0';
	memset(s32, 'y', 32);
	s32[32] = '\0';

	/* Leave exactly 32 bytes in the current run. */
	first = arena_alloc(self->a, 16);
	ASSERT_NE(NULL, first);
	ASSERT_TRUE(stats_add_up(self->a, &st));
	rs = st.available + 16;		/* the run's size */
	left = rs - 16 - 32;
	while (left) {
		size_t n = left > self->cs / 4 ? self->cs / 4 : left;

		ASSERT_NE(NULL, arena_alloc(self->a, n));
		left -= n;
	}
	ASSERT_TRUE(stats_add_up(self->a, &st));
	ASSERT_EQ(32, st.available);

	/* 31 characters and the NUL: the exact fit, the run's last bytes. */
	p = arena_strdup(self->a, s31);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(first + rs - 32, p);
	EXPECT_STREQ(s31, p);
	EXPECT_EQ('\0', first[rs - 1]);
	/* 33 bytes cannot fit anywhere in it now: a new run. */
	q = arena_strdup(self->a, s32);
	ASSERT_NE(NULL, q);
	EXPECT_TRUE(q < first || q >= first + rs);
	EXPECT_STREQ(s32, q);

	/*
	 * A source without a NUL that ends at a chunk's last byte, before a
	 * slot that faults: strndup must not read past n.
	 */
	run = arena_alloc(self->a, self->cs);
	ASSERT_NE(NULL, run);
	if (!faults_at(run + self->cs))
		SKIP(return, "the slot after the run is mapped");
	memcpy(run + self->cs - 8, "abcdefgh", 8);
	p = arena_strndup(self->a, run + self->cs - 8, 8);
	ASSERT_NE(NULL, p);
	EXPECT_STREQ("abcdefgh", p);
	p = arena_strndup(self->a, run + self->cs - 8, 5);
	ASSERT_NE(NULL, p);
	EXPECT_STREQ("abcde", p);
}

TEST(unknown_flags_einval)
{
	unsigned int bad[] = { 8, 16, 0x80000000u, ~0u, ARENA_THREADSAFE | 8,
			       ~ARENA_VALID_FLAGS };
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		EXPECT_EQ(NULL, arena_new(bad[i]));
		EXPECT_EQ(EINVAL, errno);
	}
}

TEST(null_arguments)
{
	struct arena_stats st;
	struct arena *a;

	arena_free(NULL);
	EXPECT_EQ(-EINVAL, arena_reset(NULL));
	EXPECT_EQ(-EINVAL, arena_stats(NULL, &st));
	EXPECT_EQ(0, arena_contains(NULL, &st));
	EXPECT_EQ(0, arena_id(NULL));
	a = arena_new(0);
	ASSERT_NE(NULL, a);
	EXPECT_EQ(-EINVAL, arena_stats(a, NULL));
	EXPECT_EQ(0, arena_contains(a, NULL));
	arena_free(a);
}

TEST(free_keeps_errno)
{
	struct arena *a = arena_new(0);

	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, arena_alloc(a, 100));
	errno = 1234;
	arena_free(a);
	EXPECT_EQ(1234, errno);
}

TEST(every_freed_allocation_faults)
{
	struct arena *a;
	char *p[64];
	size_t sz[64];
	int i;

	a = arena_new(0);
	ASSERT_NE(NULL, a);
	for (i = 0; i < 64; i++) {
		sz[i] = (i % 8 == 7) ? (1 << 20) : 24 + i * 100;
		p[i] = arena_alloc(a, sz[i]);
		ASSERT_NE(NULL, p[i]);
		memset(p[i], 0xee, sz[i]);
	}
	arena_free(a);
	for (i = 0; i < 64; i++) {
		ASSERT_TRUE(faults_at(p[i]));
		ASSERT_TRUE(faults_at(p[i] + sz[i] - 1));
	}
}

static void reset_revokes(struct __test_metadata *_metadata, unsigned int fl)
{
	struct arena_addr_info info;
	struct arena_stats st;
	char *small, *big, *n;
	struct arena *a;
	size_t cs = arena_chunk_size();

	a = arena_new(fl);
	ASSERT_NE(NULL, a);
	/* Resetting an empty arena is fine and maps nothing. */
	ASSERT_EQ(0, arena_reset(a));
	ASSERT_EQ(0, arena_stats(a, &st));
	EXPECT_EQ(0, st.chunks);

	small = arena_alloc(a, 100);
	big = arena_alloc(a, 3 * cs);
	ASSERT_NE(NULL, small);
	ASSERT_NE(NULL, big);
	memset(small, 1, 100);
	memset(big, 2, 3 * cs);
	ASSERT_EQ(0, arena_reset(a));

	EXPECT_TRUE(faults_at(small));
	EXPECT_TRUE(faults_at(small + 99));
	EXPECT_TRUE(faults_at(big));
	EXPECT_TRUE(faults_at(big + 3 * cs - 1));
	EXPECT_FALSE(arena_contains(a, small));
	EXPECT_FALSE(arena_contains(a, big));
	ASSERT_EQ(0, arena_lookup(small, &info));
	EXPECT_EQ(ARENA_ADDR_FREED, info.state);
	EXPECT_EQ(arena_id(a), info.arena_id);
	EXPECT_EQ(getpid(), info.freed_by_pid);

	ASSERT_TRUE(stats_add_up(a, &st));
	EXPECT_EQ(0, st.requested);
	EXPECT_EQ(0, st.waste);
	/* The kernel maps the fresh run in the call that revokes. */
	EXPECT_EQ(on_kernel() ? 1 : 0, st.chunks + st.small_runs);

	n = arena_alloc(a, 100);
	ASSERT_NE(NULL, n);
	EXPECT_TRUE(arena_contains(a, n));
	EXPECT_EQ(0, n[0]);
	memset(n, 3, 100);
	ASSERT_TRUE(stats_add_up(a, &st));
	EXPECT_EQ(1, st.chunks + st.small_runs);
	EXPECT_EQ(112, st.requested);
	ASSERT_EQ(0, arena_lookup(n, &info));
	EXPECT_EQ(ARENA_ADDR_LIVE, info.state);

	/* Twice in a row, then free. */
	ASSERT_EQ(0, arena_reset(a));
	ASSERT_EQ(0, arena_reset(a));
	EXPECT_TRUE(faults_at(n));
	ASSERT_NE(NULL, arena_alloc(a, 10));
	arena_free(a);
}

TEST(reset_revokes_and_keeps_the_arena)
{
	reset_revokes(_metadata, 0);
}

TEST(reset_revokes_and_keeps_a_shared_arena)
{
	reset_revokes(_metadata, ARENA_THREADSAFE);
}

TEST_F(lib, contains_only_its_own_chunks)
{
	struct arena *b = arena_new(0);
	char *p = arena_alloc(self->a, 10), *q, local;

	ASSERT_NE(NULL, b);
	ASSERT_NE(NULL, p);
	q = arena_alloc(b, 10);
	ASSERT_NE(NULL, q);
	EXPECT_TRUE(arena_contains(self->a, p));
	EXPECT_FALSE(arena_contains(self->a, q));
	EXPECT_TRUE(arena_contains(b, q));
	EXPECT_FALSE(arena_contains(b, p));
	EXPECT_FALSE(arena_contains(self->a, &local));
	EXPECT_FALSE(arena_contains(self->a, self));
	/* The whole run, handed out or not, and not a byte beyond. */
	{
		size_t run = self->whole ? self->cs : 4096;

		p = (char *)((uintptr_t)p & ~(uintptr_t)(run - 1));
		EXPECT_TRUE(arena_contains(self->a, p));
		EXPECT_TRUE(arena_contains(self->a, p + run - 1));
		EXPECT_FALSE(arena_contains(self->a, p + run));
		EXPECT_FALSE(arena_contains(self->a, p - 1));
	}
	arena_free(b);
}

TEST_F(lib, stats_add_up)
{
	struct arena_stats st;
	size_t want = 0, sz;
	unsigned int seed = 7;
	int i;

	ASSERT_TRUE(stats_add_up(self->a, &st));
	EXPECT_EQ(0, st.requested);
	EXPECT_EQ(0, st.mapped);
	EXPECT_EQ(0, st.chunks);
	for (i = 0; i < 5000; i++) {
		seed = seed * 1103515245 + 12345;
		sz = 1 + (seed >> 8) % (i % 100 == 99 ? 3 * self->cs : 3000);
		if (i % 7 == 0) {
			ASSERT_NE(NULL, arena_alloc_aligned(self->a, sz, 256));
		} else {
			ASSERT_NE(NULL, arena_alloc(self->a, sz));
		}
		want += round16(sz);
	}
	ASSERT_TRUE(stats_add_up(self->a, &st));
	EXPECT_EQ(want, st.requested);
	EXPECT_GT(st.chunks, 3);
	TH_LOG("requested %zu mapped %zu chunks %zu waste %zu available %zu",
	       st.requested, st.mapped, st.chunks, st.waste, st.available);
	EXPECT_EQ(0, st.reserved_[0]);
}

TEST(lookup_names_the_arena)
{
	struct arena_addr_info info;
	struct arena *a, *b;
	char *pa, *pb, *big;

	a = arena_new(0);
	b = arena_new(0);
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	pa = arena_alloc(a, 100);
	pb = arena_alloc(b, 100);
	ASSERT_NE(NULL, pa);
	ASSERT_NE(NULL, pb);
	/* (On the kernel backend an arena gets its id with its memory.) */
	EXPECT_NE(arena_id(a), arena_id(b));
	EXPECT_NE(0, arena_id(a));

	ASSERT_EQ(0, arena_lookup(pa + 50, &info));
	EXPECT_EQ(ARENA_ADDR_LIVE, info.state);
	EXPECT_EQ(arena_id(a), info.arena_id);
	EXPECT_EQ(50, info.offset);

	/* An offset in a run of several chunks counts from the run. */
	big = arena_alloc(a, 5 * (2UL << 20));
	ASSERT_NE(NULL, big);
	ASSERT_EQ(0, arena_lookup(big + 3 * (2UL << 20) + 7, &info));
	EXPECT_EQ(ARENA_ADDR_LIVE, info.state);
	EXPECT_EQ(arena_id(a), info.arena_id);
	EXPECT_EQ(3 * (2UL << 20) + 7, info.offset);

	arena_free(b);
	ASSERT_EQ(0, arena_lookup(pb, &info));
	EXPECT_EQ(ARENA_ADDR_FREED, info.state);
	EXPECT_EQ(getpid(), info.freed_by_pid);
	EXPECT_LT(info.freed_ns_ago, 60ULL * 1000000000);

	ASSERT_EQ(0, arena_lookup(&info, &info));
	EXPECT_EQ(ARENA_ADDR_UNKNOWN, info.state);
	arena_free(a);
}

TEST(thousand_arenas_at_once)
{
	struct arena *a[1000];
	char *p[1000];
	int i;

	for (i = 0; i < 1000; i++) {
		a[i] = arena_new(i % 2 ? ARENA_THREADSAFE : 0);
		ASSERT_NE(NULL, a[i]);
	}
	/* Only a few get memory: arenas cost nothing until they allocate. */
	for (i = 0; i < 1000; i += 100) {
		p[i] = arena_alloc(a[i], 32);
		ASSERT_NE(NULL, p[i]);
		*p[i] = (char)i;
	}
	for (i = 0; i < 1000; i += 100)
		EXPECT_EQ((char)i, *p[i]);
	for (i = 0; i < 1000; i++)
		arena_free(a[i]);
	/* The last free made the thread's spare; it goes with arena_trim(). */
	if (has_spare())
		EXPECT_EQ(1, arena_counter("arenas_live"));
	EXPECT_EQ(0, arena_trim());
	if (on_kernel())
		EXPECT_EQ(0, arena_counter("arenas_live"));
}

TEST(many_short_arenas_recycle_address_space)
{
	/* More than the 4 GiB of freed address space kept faulting. */
	int n = on_kernel() ? 600 : 2600, i;
	char *p = NULL, *last = NULL;

	for (i = 0; i < n; i++) {
		struct arena *a = arena_new(0);

		ASSERT_NE(NULL, a);
		p = arena_alloc(a, 1000);
		ASSERT_NE(NULL, p);
		ASSERT_EQ(0, p[0]);
		memset(p, 0x77, 1000);
		arena_free(a);
		last = p;
	}
	EXPECT_TRUE(faults_at(last));
}

/* ---- threads ------------------------------------------------------------ */

#define HAMMER_THREADS	4
#define HAMMER_ALLOCS	10000
#define HAMMER_STRIDE	61

/*
 * Mark an allocation as @id's: every byte of a small one, one byte a page
 * and the last of a large one (the mmap backend faults each page in, which
 * TCG makes slow), so that overlapping allocations would show.
 */
static void hammer_fill(char *p, size_t sz, int id)
{
	size_t k;

	if (sz <= 4096) {
		memset(p, id, sz);
		return;
	}
	for (k = 0; k < sz; k += 4096)
		p[k] = id;
	p[sz - 1] = id;
}

static bool hammer_check(const char *p, size_t sz, int id)
{
	size_t k, step = sz <= 4096 ? HAMMER_STRIDE : 4096;

	for (k = 0; k < sz; k += step)
		if (p[k] != id)
			return false;
	return p[sz - 1] == id;
}

struct hammer {
	pthread_t tid;
	struct arena *a;
	int id;
	char **p;
	size_t *sz;
	size_t want;		/* sum of the rounded sizes */
	int bad;
};

static void *hammer_thread(void *arg)
{
	struct hammer *h = arg;
	unsigned int seed = h->id * 7919 + 1;
	int i;

	for (i = 0; i < HAMMER_ALLOCS; i++) {
		size_t sz, align = 0;
		char *p;

		seed = seed * 1103515245 + 12345;
		sz = 1 + (seed >> 8) % 700;
		if (i % 2500 == 1249)
			sz = (1 + (seed >> 4) % 2) << 20;	/* large */
		else if (i % 50 == 7)
			align = 4096;
		else if (i % 10 == 3)
			align = 64;
		p = align ? arena_alloc_aligned(h->a, sz, align) :
			    arena_alloc(h->a, sz);
		if (!p || (uintptr_t)p % (align ? align : ARENA_ALIGN)) {
			h->bad++;
			continue;
		}
		/* Zero when handed out, then ours: overlaps would show. */
		if (p[0] || p[sz - 1])
			h->bad++;
		hammer_fill(p, sz, h->id);
		h->p[i] = p;
		h->sz[i] = sz;
		h->want += round16(sz);
	}
	return NULL;
}

TEST(threads_hammer_one_threadsafe_arena)
{
	struct hammer h[HAMMER_THREADS];
	struct arena_stats st;
	size_t want = 0;
	struct arena *a;
	int t, i;

	a = arena_new(ARENA_THREADSAFE);
	ASSERT_NE(NULL, a);
	for (t = 0; t < HAMMER_THREADS; t++) {
		h[t] = (struct hammer){ .a = a, .id = t + 1 };
		h[t].p = calloc(HAMMER_ALLOCS, sizeof(char *));
		h[t].sz = calloc(HAMMER_ALLOCS, sizeof(size_t));
		ASSERT_NE(NULL, h[t].p);
		ASSERT_NE(NULL, h[t].sz);
	}
	for (t = 0; t < HAMMER_THREADS; t++)
		ASSERT_EQ(0, pthread_create(&h[t].tid, NULL, hammer_thread,
					    &h[t]));
	for (t = 0; t < HAMMER_THREADS; t++)
		pthread_join(h[t].tid, NULL);

	for (t = 0; t < HAMMER_THREADS; t++) {
		EXPECT_EQ(0, h[t].bad);
		want += h[t].want;
		for (i = 0; i < HAMMER_ALLOCS; i++) {
			char *p = h[t].p[i];

			if (!p)
				continue;
			ASSERT_TRUE(arena_contains(a, p));
			ASSERT_TRUE(hammer_check(p, h[t].sz[i], h[t].id));
		}
	}
	ASSERT_TRUE(stats_add_up(a, &st));
	EXPECT_EQ(want, st.requested);
	TH_LOG("requested %zu mapped %zu chunks %zu waste %zu", st.requested,
	       st.mapped, st.chunks, st.waste);
	arena_free(a);
	for (t = 0; t < HAMMER_THREADS; t++) {
		EXPECT_TRUE(faults_at(h[t].p[0]));
		EXPECT_TRUE(faults_at(h[t].p[HAMMER_ALLOCS - 1]));
		free(h[t].p);
		free(h[t].sz);
	}
}

struct own_arena {
	pthread_t tid;
	int id, bad;
};

/* Each thread its own single-threaded arenas, all at once. */
static void *own_arena_thread(void *arg)
{
	struct own_arena *o = arg;
	int r, i;

	for (r = 0; r < 20; r++) {
		struct arena *a = arena_new(0);
		char *first = NULL, *p = NULL;

		if (!a) {
			o->bad++;
			continue;
		}
		for (i = 0; i < 3000; i++) {
			p = arena_alloc(a, 16 + (i % 40) * 16);
			if (!p || p[0]) {
				o->bad++;
				break;
			}
			memset(p, o->id, 16);
			if (!first)
				first = p;
		}
		if (first && first[0] != o->id)
			o->bad++;
		arena_free(a);
	}
	return NULL;
}

TEST(threads_with_their_own_arenas)
{
	struct own_arena o[4];
	int t;

	for (t = 0; t < 4; t++) {
		o[t] = (struct own_arena){ .id = t + 1 };
		ASSERT_EQ(0, pthread_create(&o[t].tid, NULL, own_arena_thread,
					    &o[t]));
	}
	for (t = 0; t < 4; t++) {
		pthread_join(o[t].tid, NULL);
		EXPECT_EQ(0, o[t].bad);
	}
}

TEST(threadsafe_arena_single_thread_edges)
{
	struct arena *a = arena_new(ARENA_THREADSAFE);
	size_t cs = arena_chunk_size(), quarter = cs / 4;
	struct arena_stats st;
	char *p, *q;
	int i;

	ASSERT_NE(NULL, a);
	p = arena_alloc(a, 16);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, (uintptr_t)p % cs);	/* a fresh chunk's first byte */
	for (i = 0; i < 3; i++)
		ASSERT_EQ(p + 16 + i * quarter, arena_alloc(a, quarter));
	q = arena_alloc(a, quarter - 16);
	EXPECT_EQ(p + 16 + 3 * quarter, q);
	ASSERT_TRUE(stats_add_up(a, &st));
	EXPECT_EQ(0, st.available);
	q = arena_alloc(a, 1);
	ASSERT_NE(NULL, q);
	EXPECT_TRUE(q < p || q >= p + cs);
	q = arena_alloc(a, 3 * cs);
	ASSERT_NE(NULL, q);
	EXPECT_EQ(0, (uintptr_t)q % cs);
	ASSERT_TRUE(stats_add_up(a, &st));
	EXPECT_EQ(5, st.chunks);
	arena_free(a);
	EXPECT_TRUE(faults_at(p));
}

/* ---- fork --------------------------------------------------------------- */

TEST(fork_child_gets_echild_and_can_start_over)
{
	struct arena *a, *s;
	char *p, *ps;
	pid_t pid;
	int status;

	a = arena_new(0);
	s = arena_new(ARENA_THREADSAFE);
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, s);
	p = arena_alloc(a, 100);
	ps = arena_alloc(s, 100);
	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, ps);
	strcpy(p, "parent");
	strcpy(ps, "shared");

	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct arena_stats st;
		struct arena *c;
		char *q;
		int bad = 0;

		errno = 0;
		bad |= (arena_alloc(a, 10) != NULL || errno != ECHILD) << 0;
		bad |= (arena_alloc(a, 0) != NULL) << 1;
		bad |= !faults_at(p) << 2;
		bad |= !faults_at(ps) << 3;
		errno = 0;
		bad |= (arena_alloc(s, 10) != NULL || errno != ECHILD) << 4;
		bad |= (arena_alloc_aligned(a, 10, 64) != NULL ||
			errno != ECHILD) << 5;
		bad |= (arena_calloc(s, 1, 10) != NULL || errno != ECHILD) << 6;
		bad |= (arena_strdup(a, "x") != NULL || errno != ECHILD) << 7;
		bad |= (arena_reset(a) != -ECHILD) << 8;
		bad |= (arena_stats(s, &st) != -ECHILD) << 9;
		bad |= arena_contains(a, p) << 10;
		arena_free(a);	/* harmless in the child */
		arena_free(s);
		c = arena_new(0);
		bad |= !c << 11;
		if (c) {
			q = arena_alloc(c, 100);
			bad |= !q << 12;
			if (q) {
				strcpy(q, "child");
				/* The old window stays reserved. */
				bad |= (q == p) << 13;
			}
			arena_free(c);
		}
		bad |= strcmp(arena_backend(), expected_backend()) ? 1 << 14 : 0;
		_exit(bad);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0, strcmp(p, "parent"));
	EXPECT_EQ(0, strcmp(ps, "shared"));
	EXPECT_NE(NULL, arena_alloc(a, 10));
	EXPECT_NE(NULL, arena_alloc(s, 10));
	arena_free(a);
	arena_free(s);
}

struct forker {
	struct arena *a;
	int stop;		/* __atomic */
	int bad;
};

static void *fork_alloc_thread(void *arg)
{
	struct forker *f = arg;

	unsigned int n = 0;

	while (!__atomic_load_n(&f->stop, __ATOMIC_RELAXED)) {
		char *p = arena_alloc(f->a, 64 + 4096);

		if (!p) {
			f->bad++;
			break;
		}
		memset(p, 1, 64);
		/* Only this thread uses the arena: it may reset it. */
		if (++n % 512 == 0 && arena_reset(f->a))
			f->bad++;
	}
	return NULL;
}

TEST(fork_while_threads_allocate)
{
	struct forker f = { 0 };
	pthread_t tid;
	int i, status;

	f.a = arena_new(ARENA_THREADSAFE);
	ASSERT_NE(NULL, f.a);
	ASSERT_EQ(0, pthread_create(&tid, NULL, fork_alloc_thread, &f));
	for (i = 0; i < 20; i++) {
		pid_t pid = fork();

		ASSERT_GE(pid, 0);
		if (pid == 0) {
			struct arena *c = arena_new(ARENA_THREADSAFE);
			char *q = c ? arena_alloc(c, 5000) : NULL;

			_exit(!q || arena_alloc(f.a, 1) != NULL);
		}
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_TRUE(WIFEXITED(status));
		EXPECT_EQ(0, WEXITSTATUS(status));
	}
	__atomic_store_n(&f.stop, 1, __ATOMIC_RELAXED);
	pthread_join(tid, NULL);
	EXPECT_EQ(0, f.bad);
	arena_free(f.a);
}

/* Minor faults of the calling thread so far. */
static long thread_minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_minflt;
}

/*
 * The kernel backend's per-request loop: arena_free() hands the thread its
 * next arena in the same ioctl, so arena_new() after it makes no system
 * call (the arena has its kernel id already) and its first run is mapped
 * (no fault); arena_trim() gives it back.
 */
TEST(thread_spare_is_taken_by_the_next_arena)
{
	struct arena *a, *b;
	long live0, f0;
	char *p;

	if (!has_spare())
		SKIP(return, "the spare is the kernel backend's (ARENA_FREE_NEXT)");
	a = arena_new(0);
	ASSERT_NE(NULL, a);
	live0 = arena_counter("arenas_live");
	EXPECT_EQ(0, arena_id(a));	/* made by its first allocation */
	ASSERT_NE(NULL, arena_alloc(a, 3000));
	EXPECT_EQ(live0 + 1, arena_counter("arenas_live"));
	arena_free(a);
	/* Freed, and the spare made in its place. */
	EXPECT_EQ(live0 + 1, arena_counter("arenas_live"));
	b = arena_new(0);
	ASSERT_NE(NULL, b);
	EXPECT_NE(0, arena_id(b));
	f0 = thread_minflt();
	p = arena_alloc(b, 2000);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, p[0]);
	p[1999] = 1;
	EXPECT_EQ(f0, thread_minflt());
	EXPECT_EQ(live0 + 1, arena_counter("arenas_live"));
	arena_free(b);
	EXPECT_EQ(live0 + 1, arena_counter("arenas_live"));
	EXPECT_EQ(0, arena_trim());
	EXPECT_EQ(live0, arena_counter("arenas_live"));
	/* Nothing to give back twice. */
	EXPECT_EQ(0, arena_trim());
	/* Other flags never take the spare, and free makes none. */
	a = arena_new(ARENA_THREADSAFE);
	ASSERT_NE(NULL, arena_alloc(a, 10));
	arena_free(a);
	EXPECT_EQ(live0, arena_counter("arenas_live"));
}

static void *spare_thread(void *arg)
{
	struct arena *a = arena_new(0);

	(void)arg;
	if (!a || !arena_alloc(a, 100))
		return (void *)1;
	arena_free(a);
	return NULL;
}

/* A thread's spare goes back to the kernel when the thread exits. */
TEST(thread_spare_goes_at_thread_exit)
{
	long live0;
	pthread_t t[4];
	void *ret;
	int i;

	if (!has_spare())
		SKIP(return, "the spare is the kernel backend's (ARENA_FREE_NEXT)");
	ASSERT_STREQ("kernel", arena_backend());
	live0 = arena_counter("arenas_live");
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, spare_thread, NULL));
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, pthread_join(t[i], &ret));
		EXPECT_EQ(NULL, ret);
	}
	EXPECT_EQ(live0, arena_counter("arenas_live"));
}

/*
 * A fork child does not take the parent's spare (its window is not the
 * child's): its arenas work, and the parent's spare stays the parent's.
 */
TEST(thread_spare_across_fork)
{
	struct arena *a;
	int status;
	pid_t pid;
	char *p;

	if (!has_spare())
		SKIP(return, "the spare is the kernel backend's (ARENA_FREE_NEXT)");
	a = arena_new(0);
	ASSERT_NE(NULL, arena_alloc(a, 100));
	arena_free(a);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct arena *c = arena_new(0);
		char *q = c ? arena_alloc(c, 100) : NULL;

		if (!q || q[0])
			_exit(1);
		q[99] = 1;
		arena_free(c);
		c = arena_new(0);
		q = c ? arena_alloc(c, 100) : NULL;
		_exit(q && !q[0] ? 0 : 2);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	a = arena_new(0);
	ASSERT_NE(0, arena_id(a));
	p = arena_alloc(a, 100);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, p[0]);
	arena_free(a);
	arena_trim();
}

/*
 * ARENA_NOZERO: on the kernel backend a no-zero arena may get the chunk the
 * last one freed, old bytes included; arena_calloc() still zeroes, and a
 * default arena never sees them. Accepted (and zeroed) on the mmap backend.
 */
TEST(nozero_arenas)
{
	size_t len = arena_chunk_size() / 2;
	struct arena *a, *b, *c;
	char *p, *q, *r;
	size_t i;
	bool old = false;

	a = arena_new(ARENA_NOZERO | ARENA_WHOLE_CHUNKS);
	ASSERT_NE(NULL, a);
	p = arena_alloc(a, len);
	ASSERT_NE(NULL, p);
	memset(p, 0x77, len);
	arena_free(a);
	b = arena_new(ARENA_NOZERO | ARENA_WHOLE_CHUNKS);
	ASSERT_NE(NULL, b);
	q = arena_alloc(b, 64);
	ASSERT_NE(NULL, q);
	old = q[0] == 0x77;
#ifdef LIBARENA_TEST_WHOLE_CHUNKS_ONLY
	EXPECT_FALSE(old);	/* no ARENA_FEATURE_NOZERO: zeroed */
#else
	EXPECT_EQ(on_kernel(), old);
#endif
	q = arena_calloc(b, 1, len / 2);
	ASSERT_NE(NULL, q);
	for (i = 0; i < len / 2; i++)
		ASSERT_EQ(0, q[i]);
	c = arena_new(ARENA_WHOLE_CHUNKS);
	r = arena_alloc(c, len);
	ASSERT_NE(NULL, r);
	for (i = 0; i < len; i++)
		ASSERT_EQ(0, r[i]);
	arena_free(b);
	arena_free(c);
	EXPECT_EQ(NULL, arena_new(0x80));
	EXPECT_EQ(EINVAL, errno);
}

TEST_HARNESS_MAIN
