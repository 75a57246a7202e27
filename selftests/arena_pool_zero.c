// SPDX-License-Identifier: GPL-2.0
/*
 * Description: background zeroing keeps up with back-to-back use. A loop
 * of 2 MiB CREATE + ALLOC_CHUNKS(1) + touch + FREE takes its chunks from
 * the ready list, not by zeroing a dirty chunk in the ioctl
 * (chunks_zeroed_inline), once the pool has seen the demand; and the pool
 * counters stay consistent while it does.
 *
 * back_to_back_figures only measures (one loop, its inline-zeroed fraction
 * and latencies in the log, Documentation/design/arena.rst quotes them);
 * paced_bursts_come_from_ready_list asserts. Its bursts are shorter than
 * pool_high and the pool is let settle between them, so the assertion
 * holds however slowly TCG zeroes: it checks that the ready list grows to
 * the demand, not how fast the machine clears memory.
 *
 * The tests change module parameters; the fixture puts them back.
 */
#include "arena_helpers.h"	/* first: it defines _GNU_SOURCE */

#include <time.h>

#include "kselftest_harness.h"

/* The pool counters one loop is judged by. */
struct pool_snap {
	long mapped, reused, inline_zero, zeroed, allocated, pages_zeroed;
};

static void pool_snap(struct pool_snap *s)
{
	s->mapped = arena_counter("chunks_mapped");
	s->reused = arena_counter("chunks_reused");
	s->inline_zero = arena_counter("chunks_zeroed_inline");
	s->zeroed = arena_counter("chunks_zeroed");
	s->allocated = arena_counter("chunks_allocated");
	s->pages_zeroed = arena_counter("pages_zeroed");
}

static bool pool_sums_hold(void)
{
	return arena_counter("chunks_total") ==
	       arena_counter("chunks_ready") + arena_counter("chunks_dirty") +
	       arena_counter("chunks_in_use") +
	       arena_counter("chunks_quarantined");
}

/*
 * Settled (nothing dirty, every chunk in a list) and no refill under way:
 * the ready count unchanged for 300 ms.
 */
static bool pool_quiet(int ms)
{
	long last = -1;
	int still = 0;

	for (int t = 0; t <= ms; t += 20) {
		long ready = arena_counter("chunks_ready");

		if (arena_pool_settle(0) && ready == last) {
			if (++still >= 15)
				return true;
		} else {
			still = 0;
		}
		last = ready;
		usleep(20000);
	}
	return false;
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

FIXTURE(zero) {
	int fd;
	struct arena_info info;
	char *base;
	size_t cs;
	long low, high;
};

FIXTURE_SETUP(zero)
{
	self->base = NULL;
	self->fd = open(ARENA_DEV, O_RDWR | O_CLOEXEC);
	if (self->fd < 0)
		SKIP(return, "cannot open %s: %s", ARENA_DEV, strerror(errno));
	if (arena_counter("chunks_zeroed_inline") < 0)
		SKIP(return, "module has no pool counters");
	ASSERT_EQ(0, arena_get_info(self->fd, &self->info));
	self->cs = self->info.out_chunk_size;
	self->base = arena_map_window(self->fd, self->info.out_window_size);
	ASSERT_NE(NULL, self->base);
	self->low = arena_param("pool_low");
	self->high = arena_param("pool_high");
	ASSERT_GE(self->low, 0);
	ASSERT_GE(self->high, self->low);
}

FIXTURE_TEARDOWN(zero)
{
	if (self->base)
		munmap(self->base, self->info.out_window_size);
	if (self->fd >= 0)
		close(self->fd);
	if (self->high >= 0) {
		/* Raise high first so that low <= high holds throughout. */
		arena_param_set("pool_high", 65536);
		arena_param_set("pool_low", self->low);
		arena_param_set("pool_high", self->high);
	}
}

/*
 * One 2 MiB acquisition as the benchmark does it: create, one chunk, write
 * a byte in every 4 KiB page, free. Returns its nanoseconds, 0 on error.
 */
static uint64_t one_chunk(int fd, char *base, size_t cs)
{
	uint64_t t0 = now_ns(), off;
	long id = arena_create_id(fd);

	if (id <= 0 || arena_chunks(fd, id, 1, &off))
		return 0;
	for (size_t i = 0; i < cs; i += PAGE_SZ)
		base[off + i] = 1;
	if (arena_free_id(fd, id))
		return 0;
	return now_ns() - t0 ?: 1;
}

/*
 * The chunks the loop was handed came from the ready list, were zeroed in
 * the ioctl, or were new; and every chunk zeroed (by the workers or
 * inline) is counted in pages_zeroed.
 */
static void check_counters(struct __test_metadata *_metadata,
			   const struct pool_snap *a, const struct pool_snap *b,
			   long chunks, size_t cs)
{
	EXPECT_EQ(chunks, b->mapped - a->mapped);
	EXPECT_LE((b->reused - a->reused) + (b->inline_zero - a->inline_zero),
		  chunks);
	EXPECT_EQ(((b->zeroed - a->zeroed) + (b->inline_zero - a->inline_zero)) *
		  (long)(cs / PAGE_SZ), b->pages_zeroed - a->pages_zeroed);
	EXPECT_TRUE(pool_sums_hold());
	EXPECT_EQ(0, arena_counter("chunks_in_use"));
}

/* Measure only: 200 back-to-back acquisitions after a warm-up. */
TEST_F_TIMEOUT(zero, back_to_back_figures, 600)
{
	const int n = 200, warm = 8;
	struct pool_snap a, b;
	uint64_t *ns = calloc(n, sizeof(*ns)), sum = 0;
	long inl;
	int i;

	ASSERT_NE(NULL, ns);
	/* From an empty pool, as after loading the module. */
	ASSERT_EQ(0, arena_drain());
	for (i = 0; i < warm; i++)
		ASSERT_NE(0, one_chunk(self->fd, self->base, self->cs));
	ASSERT_TRUE(pool_quiet(60000));
	pool_snap(&a);
	for (i = 0; i < n; i++) {
		ns[i] = one_chunk(self->fd, self->base, self->cs);
		ASSERT_NE(0, ns[i]);
		sum += ns[i];
	}
	pool_snap(&b);
	qsort(ns, n, sizeof(*ns), cmp_u64);
	inl = b.inline_zero - a.inline_zero;
	TH_LOG("back to back: %d chunks, %ld zeroed inline (%.1f%%), %ld ready, %ld new in the ioctl; %ld zeroed by the workers, %ld allocated in all",
	       n, inl, 100.0 * inl / n, b.reused - a.reused,
	       (b.mapped - a.mapped) - (b.reused - a.reused) - inl,
	       b.zeroed - a.zeroed, b.allocated - a.allocated);
	TH_LOG("back to back: mean %.1f us, median %.1f us, p90 %.1f us, max %.1f us",
	       sum / 1e3 / n, ns[n / 2] / 1e3, ns[n * 9 / 10] / 1e3,
	       ns[n - 1] / 1e3);
	ASSERT_TRUE(pool_quiet(60000));
	pool_snap(&b);
	check_counters(_metadata, &a, &b, n, self->cs);
	free(ns);
}

/*
 * Bursts of back-to-back acquisitions, each half of pool_high, the pool
 * let settle between them: after a warm-up, at most one chunk in ten is
 * zeroed in the ioctl.
 */
TEST_F_TIMEOUT(zero, paced_bursts_come_from_ready_list, 900)
{
	const int burst = 16, warm = 4, bursts = 8;
	struct pool_snap a, b;
	long inl, chunks = (long)burst * bursts;
	int i, j;

	ASSERT_EQ(0, arena_param_set("pool_high", 2 * burst));
	ASSERT_EQ(0, arena_param_set("pool_low", 4));
	/*
	 * An empty pool: chunks_ready counts whole chunks and chunks of
	 * single pages alike, pool_high whole ones only.
	 */
	ASSERT_EQ(0, arena_drain());
	for (j = 0; j < warm; j++) {
		for (i = 0; i < burst; i++)
			ASSERT_NE(0, one_chunk(self->fd, self->base, self->cs));
		ASSERT_TRUE(pool_quiet(60000));
	}
	pool_snap(&a);
	for (j = 0; j < bursts; j++) {
		long before = arena_counter("chunks_zeroed_inline");

		for (i = 0; i < burst; i++)
			ASSERT_NE(0, one_chunk(self->fd, self->base, self->cs));
		TH_LOG("burst %d: %ld of %d zeroed inline, %ld ready after",
		       j, arena_counter("chunks_zeroed_inline") - before,
		       burst, arena_counter("chunks_ready"));
		ASSERT_TRUE(pool_quiet(60000));
		EXPECT_TRUE(pool_sums_hold());
	}
	pool_snap(&b);
	inl = b.inline_zero - a.inline_zero;
	TH_LOG("paced: %ld chunks, %ld zeroed inline, %ld from the ready list",
	       chunks, inl, b.reused - a.reused);
	EXPECT_LE(inl * 10, chunks);
	check_counters(_metadata, &a, &b, chunks, self->cs);
	/* Never beyond pool_high ready chunks once settled. */
	EXPECT_LE(arena_counter("chunks_ready"), 2 * burst);
}

TEST_HARNESS_MAIN
