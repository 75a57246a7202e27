// SPDX-License-Identifier: GPL-2.0
/*
 * Description: what an unprivileged process could do to the module through
 * its own open file. Threads racing ARENA_IOC_ALLOC (plain and with
 * ARENA_ALLOC_CREATE) and ARENA_IOC_CREATE against threads that free the
 * next ids, with freed runs recycled at once, so that a value read after
 * the lock is dropped would be freed memory (KASAN on the debug lane; sane
 * values everywhere). The per-file bounds on kernel memory: empty arenas,
 * freed-run records and small-slot maps, each with its errno or recycling,
 * and structs above a page refused with E2BIG. Limits that hold: a chunk
 * pinned past its arena's free (vmsplice) stays charged to RLIMIT_MEMLOCK
 * until the pin goes, and a process in a cgroup v2 memory cgroup gets
 * ENOMEM at its memory.max, never a chunk another cgroup left in the pool.
 * Races a review could only suspect: small and whole-chunk runs freed,
 * recycled at once and handed out again while other threads read stale
 * addresses and madvise(MADV_DONTNEED) the window (which frees page tables
 * on kernels with CONFIG_PT_RECLAIM): no splat, no live byte lost.
 */
#include "arena_helpers.h"	/* first: it defines _GNU_SOURCE */

#include <pthread.h>
#include <stdatomic.h>
#include <sys/mount.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

#include "kselftest_harness.h"

FIXTURE(hard) {
	int fd;
	struct arena_info info;
	char *base;
	long va_mb, max_empty, max_freed, max_sslots;
	long max_mb, pool_low, pool_high;
};

FIXTURE_SETUP(hard)
{
	self->va_mb = arena_param("va_quarantine_mb");
	self->max_empty = arena_param("max_empty_arenas");
	self->max_freed = arena_param("max_freed_runs");
	self->max_sslots = arena_param("max_small_slots");
	self->max_mb = arena_param("max_mb");
	self->pool_low = arena_param("pool_low");
	self->pool_high = arena_param("pool_high");
	ARENA_SETUP_WINDOW(self);
}

/*
 * For the tests that open what they need themselves (and the one that
 * reloads the module): no window, and the harness's timeout raised, since
 * the debug kernel under TCG runs them several times slower.
 */
FIXTURE(bare) {
	int unused;
};

FIXTURE_SETUP(bare)
{
}

FIXTURE_TEARDOWN(bare)
{
}

FIXTURE_TEARDOWN(hard)
{
	arena_close_window(self->fd, &self->info, self->base);
	if (self->va_mb >= 0)
		arena_param_set("va_quarantine_mb", self->va_mb);
	if (self->max_empty >= 0)
		arena_param_set("max_empty_arenas", self->max_empty);
	if (self->max_freed >= 0)
		arena_param_set("max_freed_runs", self->max_freed);
	if (self->max_sslots >= 0)
		arena_param_set("max_small_slots", self->max_sslots);
	if (self->max_mb >= 0)
		arena_param_set("max_mb", self->max_mb);
	if (self->pool_high >= 0)
		arena_param_set("pool_high", self->pool_high);
	if (self->pool_low >= 0)
		arena_param_set("pool_low", self->pool_low);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

/*
 * At least this many rounds and this long, at most ARENA_RACE_MAX_S: many
 * thousands of rounds on every lane, and the debug kernel, about ten times
 * slower, still finishes in a minute.
 */
#define ARENA_RACE_ROUNDS	5000
#define ARENA_RACE_MIN_S	2.0
#define ARENA_RACE_MAX_S	60.0

enum race_kind { RACE_ALLOC_CREATE, RACE_CREATE, RACE_ALLOC };

struct race {
	int fd;
	enum race_kind kind;
	uint64_t window;
	atomic_bool stop;
	atomic_uint last;	/* the newest id the racer got */
	long rounds, got, lost, bad, frees;
};

/* Free the ids just after the newest one, over and over. */
static void *race_freer(void *arg)
{
	struct race *r = arg;

	while (!atomic_load(&r->stop)) {
		uint32_t last = atomic_load(&r->last);

		for (uint32_t k = 0; k <= 3; k++)
			if (!arena_free_id(r->fd, last + k))
				__atomic_add_fetch(&r->frees, 1,
						   __ATOMIC_RELAXED);
	}
	return NULL;
}

/* One round of the racer: 0, or -1 if a returned value is not sane. */
static int race_round(struct race *r)
{
	uint32_t id = 0, prev = atomic_load(&r->last);
	uint64_t off = 0;
	long cid;
	int err;

	switch (r->kind) {
	case RACE_ALLOC_CREATE:
		err = arena_alloc_len(r->fd, &id, PAGE_SZ, ARENA_ALLOC_CREATE,
				      &off);
		break;
	case RACE_CREATE:
		cid = arena_create_id(r->fd);
		err = cid < 0 ? (int)cid : 0;
		id = cid < 0 ? 0 : (uint32_t)cid;
		break;
	default:
		cid = arena_create_id(r->fd);
		if (cid < 0)
			return cid == -ENOSPC ? 0 : -1;
		id = (uint32_t)cid;
		atomic_store(&r->last, id);
		/* The freer is after this id now. */
		err = arena_alloc_len(r->fd, &id, PAGE_SZ, 0, &off);
		if (err == -ENOENT) {
			r->lost++;
			return 0;
		}
		if (!err && id != (uint32_t)cid)
			return -1;
		break;
	}
	if (err == -ENOSPC)
		return 0;
	if (err)
		return -1;
	/* Ids are cyclic and never 0; offsets are pages inside the window. */
	if (!id || (r->kind != RACE_ALLOC && id <= prev && prev < 0x7fffffff))
		return -1;
	if (off % PAGE_SZ || off >= r->window)
		return -1;
	r->got++;
	atomic_store(&r->last, id);
	err = arena_free_id(r->fd, id);
	if (err == -ENOENT)
		r->lost++;
	else if (err)
		return -1;
	return 0;
}

static void run_race(struct __test_metadata *_metadata, int fd,
		     const struct arena_info *info, enum race_kind kind)
{
	struct race r = { .fd = fd, .kind = kind,
			  .window = 2 * info->out_window_size };
	pthread_t th[2];
	double t0 = now_s(), t;

	for (int i = 0; i < 2; i++)
		ASSERT_EQ(0, pthread_create(&th[i], NULL, race_freer, &r));
	do {
		if (race_round(&r))
			r.bad++;
		r.rounds++;
		t = now_s() - t0;
	} while ((r.rounds < ARENA_RACE_ROUNDS || t < ARENA_RACE_MIN_S) &&
		 t < ARENA_RACE_MAX_S);
	atomic_store(&r.stop, true);
	for (int i = 0; i < 2; i++)
		pthread_join(th[i], NULL);
	TH_LOG("%ld rounds in %.1f s: %ld got memory or an id, %ld freed by the other threads first, %ld frees by them",
	       r.rounds, t, r.got, r.lost, r.frees);
	EXPECT_EQ(0, r.bad);
	EXPECT_LE(ARENA_RACE_ROUNDS, r.rounds);
}

/* Freed runs recycled at once: a run read after unlock is freed memory. */
static void recycle_at_once(struct __test_metadata *_metadata)
{
	ASSERT_EQ(0, arena_param_set("max_freed_runs", 1));
	ASSERT_EQ(0, arena_param_set("va_quarantine_mb", 1));
}

TEST_F_TIMEOUT(hard, alloc_create_races_free_of_next_ids, 300)
{
	recycle_at_once(_metadata);
	run_race(_metadata, self->fd, &self->info, RACE_ALLOC_CREATE);
}

TEST_F_TIMEOUT(hard, create_races_free_of_next_ids, 300)
{
	run_race(_metadata, self->fd, &self->info, RACE_CREATE);
}

TEST_F_TIMEOUT(hard, alloc_races_free_of_its_arena, 300)
{
	recycle_at_once(_metadata);
	run_race(_metadata, self->fd, &self->info, RACE_ALLOC);
}

/*
 * Churn: each worker thread makes an arena (a small run or a whole chunk),
 * fills it with its own tag, reads stale addresses others freed, checks
 * its tag, frees it; freed runs are recycled at once, so addresses come
 * back to other threads while faults on them are in flight. A zapper
 * thread drops the window's mappings with MADV_DONTNEED meanwhile. A live
 * arena must never fault or lose a byte; the kernel log must stay clean
 * (the harness checks it after every lane).
 */
#define CHURN_THREADS	3
#define CHURN_RECENT	64

struct churn {
	int fd;
	char *base;
	uint64_t window, cs;
	atomic_bool stop;
	_Atomic uint64_t recent[CHURN_RECENT];	/* offsets freed lately */
	atomic_long rounds, stale_ok, stale_faults, bad, errors;
	/*
	 * With a 1 GiB window (512 slots a part): pages of the small window
	 * and slots of the chunk window handed out before, and how often
	 * recycling handed one out again.
	 */
	atomic_bool small_seen[512 * 512];
	atomic_bool whole_seen[512];
	atomic_long crossings;
};

struct churn_worker {
	struct churn *c;
	unsigned int seed;
	int idx;
};

static void *churn_worker(void *arg)
{
	struct churn_worker *w = arg;
	struct churn *c = w->c;

	while (!atomic_load(&c->stop)) {
		bool whole = rand_r(&w->seed) % 8 == 0;
		uint64_t len = whole ? c->cs :
				(1 + rand_r(&w->seed) % 16) * PAGE_SZ;
		char tag = (char)(w->idx * 64 + rand_r(&w->seed) % 64 + 1);
		uint32_t id = 0;
		uint64_t off, i;
		char v;

		if (arena_alloc_len(c->fd, &id, len, ARENA_ALLOC_CREATE, &off)) {
			atomic_fetch_add(&c->errors, 1);
			continue;
		}
		/* Small runs in the small window, whole chunks below it. */
		if (whole != (off < c->window))
			atomic_fetch_add(&c->bad, 1);
		if (!whole && (off - c->window) / PAGE_SZ < 512 * 512 &&
		    atomic_exchange(&c->small_seen[(off - c->window) / PAGE_SZ],
				    true))
			atomic_fetch_add(&c->crossings, 1);
		/* First and last byte of each page: cheap, and every page. */
		for (i = 0; i < len; i += PAGE_SZ)
			if (!try_write(c->base + off + i, tag, NULL) ||
			    !try_write(c->base + off + i + PAGE_SZ - 1, tag,
				       NULL))
				atomic_fetch_add(&c->bad, 1);
		/* Stale reads: fault, or see whatever lives there now. */
		for (int k = 0; k < 4; k++) {
			uint64_t so = atomic_load(&c->recent[rand_r(&w->seed) %
							     CHURN_RECENT]);

			if (!so)
				continue;
			if (try_read(c->base + so, &v, NULL))
				atomic_fetch_add(&c->stale_ok, 1);
			else
				atomic_fetch_add(&c->stale_faults, 1);
		}
		for (i = 0; i < len; i += PAGE_SZ) {
			if (!try_read(c->base + off + i, &v, NULL) || v != tag)
				atomic_fetch_add(&c->bad, 1);
			if (!try_read(c->base + off + i + PAGE_SZ - 1, &v,
				      NULL) || v != tag)
				atomic_fetch_add(&c->bad, 1);
		}
		if (arena_free_id(c->fd, id))
			atomic_fetch_add(&c->bad, 1);
		atomic_store(&c->recent[rand_r(&w->seed) % CHURN_RECENT],
			     off + (rand_r(&w->seed) % (len / PAGE_SZ)) * PAGE_SZ);
		atomic_fetch_add(&c->rounds, 1);
	}
	return NULL;
}

/* Drop the mappings of both parts' bottoms, where runs live. */
static void *churn_zapper(void *arg)
{
	struct churn *c = arg;
	uint64_t span = 64 * c->cs;

	while (!atomic_load(&c->stop)) {
		madvise(c->base, span, MADV_DONTNEED);
		madvise(c->base + c->window, span, MADV_DONTNEED);
		/* Splitting or moving either part fails, whatever runs. */
		if (!munmap(c->base + c->window + c->cs, PAGE_SZ) ||
		    mremap(c->base + c->window, c->window, c->window + c->cs,
			   MREMAP_MAYMOVE) != MAP_FAILED ||
		    mremap(c->base + c->window + c->cs, c->cs, 2 * c->cs,
			   MREMAP_MAYMOVE) != MAP_FAILED)
			atomic_fetch_add(&c->bad, 1);
		usleep(2000);
	}
	return NULL;
}

TEST_F_TIMEOUT(hard, small_and_whole_runs_race_recycling, 300)
{
	struct churn c = { .fd = self->fd, .base = self->base,
			   .window = self->info.out_window_size,
			   .cs = self->info.out_chunk_size };
	struct churn_worker w[CHURN_THREADS];
	pthread_t th[CHURN_THREADS + 1];
	double t0 = now_s(), t;

	recycle_at_once(_metadata);
	probe_install();
	for (int i = 0; i < CHURN_THREADS; i++) {
		w[i] = (struct churn_worker){ .c = &c, .seed = 77 + i,
					      .idx = i };
		ASSERT_EQ(0, pthread_create(&th[i], NULL, churn_worker, &w[i]));
	}
	ASSERT_EQ(0, pthread_create(&th[CHURN_THREADS], NULL, churn_zapper,
				    &c));
	do {
		usleep(100000);
		t = now_s() - t0;
	} while ((atomic_load(&c.rounds) < 2000 || t < ARENA_RACE_MIN_S) &&
		 t < ARENA_RACE_MAX_S);
	atomic_store(&c.stop, true);
	for (int i = 0; i <= CHURN_THREADS; i++)
		pthread_join(th[i], NULL);
	TH_LOG("%ld arenas in %.1f s; stale reads: %ld faulted, %ld read live memory; %ld allocation errors",
	       atomic_load(&c.rounds), t, atomic_load(&c.stale_faults),
	       atomic_load(&c.stale_ok), atomic_load(&c.errors));
	EXPECT_EQ(0, atomic_load(&c.bad));
	EXPECT_EQ(0, atomic_load(&c.errors));
	/* The debug kernel under TCG manages a few hundred a minute. */
	EXPECT_LE(200, atomic_load(&c.rounds));
}

/*
 * At the global cap, with the pool full of idle whole chunks, a small run
 * (which wants a chunk of single pages) must still be had: what the pool
 * holds and cannot hand out is released to make room.
 */
TEST_F_TIMEOUT(hard, small_run_at_the_cap_takes_room_from_the_pool, 300)
{
	long cs_mb = self->info.out_chunk_size >> 20, base_mb;
	uint64_t off;
	uint32_t id;
	long wid;

	ASSERT_EQ(0, arena_param_set("pool_low", 0));
	ASSERT_EQ(0, arena_param_set("pool_high", 64));
	ASSERT_EQ(0, arena_drain());
	ASSERT_TRUE(arena_pool_settle(30000));
	base_mb = arena_counter("chunks_total") * cs_mb;
	ASSERT_EQ(0, arena_param_set("max_mb", base_mb + 4 * cs_mb));
	wid = arena_create_id(self->fd);
	ASSERT_GT(wid, 0);
	ASSERT_EQ(0, arena_chunks(self->fd, wid, 4, &off));
	memset(self->base + off, 1, 4 * self->info.out_chunk_size);
	ASSERT_EQ(0, arena_free_id(self->fd, wid));
	ASSERT_TRUE(arena_pool_settle(30000));
	EXPECT_LE(4, arena_counter("chunks_ready"));
	/* Four idle whole chunks, the cap reached: a page must still do. */
	ASSERT_EQ(0, small_arena(self->fd, 1, &id, &off));
	self->base[off] = 1;
	EXPECT_EQ(0, arena_free_id(self->fd, id));
}

/*
 * Chunks of single pages, retired by small runs and zeroed back into the
 * pool, are not handed to whole-chunk runs: those still get a PMD-order
 * chunk and one PMD mapping.
 */
TEST_F_TIMEOUT(hard, whole_chunks_after_small_churn_are_pmd_mapped, 300)
{
	const size_t cs = self->info.out_chunk_size;
	const int n = (int)(cs / PAGE_SZ) + 64;
	uint64_t off;
	uint32_t id;
	long wid;

	ASSERT_EQ(0, arena_param_set("pool_high", 64));
	/* Retire a shared chunk: carve more than a chunk of pages. */
	for (int i = 0; i < n; i++) {
		ASSERT_EQ(0, small_arena(self->fd, 1, &id, &off));
		self->base[off] = 1;
		ASSERT_EQ(0, arena_free_id(self->fd, id));
	}
	ASSERT_TRUE(arena_pool_settle(30000));
	wid = arena_create_id(self->fd);
	ASSERT_GT(wid, 0);
	ASSERT_EQ(0, arena_chunks(self->fd, wid, 1, &off));
	memset(self->base + off, 2, cs);
	EXPECT_EQ((long)(cs >> 10), smaps_field_kb(self->base, "FilePmdMapped:"));
	EXPECT_EQ(0, arena_free_id(self->fd, wid));
}

/*
 * Chunks of single pages that small runs retired must not fill the pool's
 * watermarks: a whole chunk freed after them is kept and reused, not
 * released and allocated anew.
 */
TEST_F_TIMEOUT(hard, small_run_chunks_do_not_crowd_out_whole_ones, 300)
{
	long allocated;
	uint64_t off;
	uint32_t id;
	long wid;

	ASSERT_EQ(0, arena_param_set("pool_low", 0));
	ASSERT_EQ(0, arena_param_set("pool_high", 4));
	ASSERT_EQ(0, arena_drain());
	/* Six windows with a shared chunk each, retired when they close. */
	struct arena_info info[6];
	char *base[6];
	int fd[6];

	for (int w = 0; w < 6; w++) {
		fd[w] = arena_open_window(&info[w], &base[w]);
		ASSERT_LE(0, fd[w]);
		ASSERT_EQ(0, small_arena(fd[w], 1, &id, &off));
		base[w][off] = 1;
	}
	for (int w = 0; w < 6; w++)
		arena_close_window(fd[w], &info[w], base[w]);
	ASSERT_TRUE(arena_pool_settle(30000));
	TH_LOG("%ld ready chunks after the small runs",
	       arena_counter("chunks_ready"));
	wid = arena_create_id(self->fd);
	ASSERT_GT(wid, 0);
	ASSERT_EQ(0, arena_chunks(self->fd, wid, 1, &off));
	self->base[off] = 1;
	ASSERT_EQ(0, arena_free_id(self->fd, wid));
	ASSERT_TRUE(arena_pool_settle(30000));
	allocated = arena_counter("chunks_allocated");
	wid = arena_create_id(self->fd);
	ASSERT_GT(wid, 0);
	ASSERT_EQ(0, arena_chunks(self->fd, wid, 1, &off));
	/* The freed whole chunk came back from the pool. */
	EXPECT_EQ(allocated, arena_counter("chunks_allocated"));
	EXPECT_EQ(0, arena_free_id(self->fd, wid));
}

/*
 * Whole chunks as fast as they come, in a window small enough (1 GiB, 512
 * slots a part) that freed runs fill it: recycling then hands freed slots
 * and pages out again, mapped by the ioctl (small runs) or PMD-mapped by a
 * fault (whole chunks) while stale faults on them are in flight.
 */
static void *churn_whole(void *arg)
{
	struct churn *c = arg;

	while (!atomic_load(&c->stop)) {
		uint32_t id = 0;
		uint64_t off;
		char v;

		if (arena_alloc_len(c->fd, &id, c->cs, ARENA_ALLOC_CREATE,
				    &off)) {
			atomic_fetch_add(&c->errors, 1);
			continue;
		}
		if (off >= c->window)
			atomic_fetch_add(&c->bad, 1);
		else if (off / c->cs < 512 &&
			 atomic_exchange(&c->whole_seen[off / c->cs], true))
			atomic_fetch_add(&c->crossings, 1);
		if (!try_write(c->base + off + PAGE_SZ, 0x3c, NULL) ||
		    !try_read(c->base + off + c->cs - 1, &v, NULL) || v)
			atomic_fetch_add(&c->bad, 1);
		if (arena_free_id(c->fd, id))
			atomic_fetch_add(&c->bad, 1);
		atomic_store(&c->recent[off / c->cs % CHURN_RECENT], off);
	}
	return NULL;
}

static int reload_module(const char *params)
{
	int fd, err = 0;

	for (int t = 0; t < 100; t++) {
		if (!syscall(SYS_delete_module, "arena", O_NONBLOCK))
			break;
		usleep(100000);
	}
	if (!access("/sys/module/arena", F_OK))
		return -EBUSY;
	fd = open("/arena.ko", O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (syscall(SYS_finit_module, fd, params, 0))
		err = -errno;
	close(fd);
	for (int t = 0; !err && t < 50 && access(ARENA_DEV, F_OK); t++)
		usleep(100000);
	return err;
}

TEST_F_TIMEOUT(bare, small_window_recycles_freed_runs_under_races, 300)
{
	struct churn c = { 0 };
	struct churn_worker w[2];
	pthread_t th[4];
	struct arena_info info;
	double t0, t;
	int fd;

	/* Only in the test VM, which loaded the module from /arena.ko. */
	if (access("/arena.ko", R_OK) || access("/sys/module/arena", F_OK))
		SKIP(return, "not in the test VM");
	ASSERT_EQ(0, reload_module("window_gib=1"));
	fd = arena_open_window(&info, &c.base);
	ASSERT_LE(0, fd);
	ASSERT_EQ(1UL << 30, info.out_window_size);
	c.fd = fd;
	c.window = info.out_window_size;
	c.cs = info.out_chunk_size;
	/* Freed runs stay until the window is full, then go oldest first. */
	ASSERT_EQ(0, arena_param_set("va_quarantine_mb", 1L << 20));
	probe_install();
	for (int i = 0; i < 2; i++) {
		w[i] = (struct churn_worker){ .c = &c, .seed = 901 + i,
					      .idx = i };
		ASSERT_EQ(0, pthread_create(&th[i], NULL, churn_worker, &w[i]));
	}
	ASSERT_EQ(0, pthread_create(&th[2], NULL, churn_whole, &c));
	ASSERT_EQ(0, pthread_create(&th[3], NULL, churn_zapper, &c));
	t0 = now_s();
	do {
		usleep(100000);
		t = now_s() - t0;
	} while ((atomic_load(&c.crossings) < 50 || t < ARENA_RACE_MIN_S) &&
		 t < ARENA_RACE_MAX_S);
	atomic_store(&c.stop, true);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	TH_LOG("%.1f s: %ld small and mixed arenas, %ld runs at recycled addresses; stale reads %ld faulted, %ld read live memory",
	       t, atomic_load(&c.rounds), atomic_load(&c.crossings),
	       atomic_load(&c.stale_faults), atomic_load(&c.stale_ok));
	EXPECT_EQ(0, atomic_load(&c.bad));
	EXPECT_EQ(0, atomic_load(&c.errors));
	EXPECT_LT(0, atomic_load(&c.crossings));
	arena_close_window(fd, &info, c.base);
	/* The default geometry back, for the tests after this one. */
	ASSERT_EQ(0, reload_module(""));
}

/* Every ioctl refuses a size above a page, even with zeros beyond. */
TEST_F(hard, struct_above_a_page_is_e2big)
{
	static const unsigned long cmds[] = {
		ARENA_IOC_GET_INFO, ARENA_IOC_CREATE, ARENA_IOC_ALLOC_CHUNKS,
		ARENA_IOC_FREE, ARENA_IOC_LOOKUP, ARENA_IOC_ALLOC,
	};
	uint32_t *buf = calloc(1, 2 * PAGE_SZ);

	ASSERT_NE(NULL, buf);
	for (size_t i = 0; i < sizeof(cmds) / sizeof(cmds[0]); i++) {
		memset(buf, 0, 2 * PAGE_SZ);
		buf[0] = PAGE_SZ + 1;
		EXPECT_EQ(-E2BIG, arena_ioc(self->fd, cmds[i], buf));
		buf[0] = 1U << 31;
		EXPECT_EQ(-E2BIG, arena_ioc(self->fd, cmds[i], buf));
	}
	/* A page of zeros beyond the struct is still fine. */
	memset(buf, 0, 2 * PAGE_SZ);
	buf[0] = PAGE_SZ;
	EXPECT_EQ(0, arena_ioc(self->fd, ARENA_IOC_GET_INFO, buf));
	EXPECT_EQ(ARENA_ABI_VERSION, buf[2]);
	free(buf);
}

TEST_F(hard, empty_arenas_are_bounded)
{
	long ids[9];
	uint32_t id = 0;
	uint64_t off;

	ASSERT_EQ(0, arena_param_set("max_empty_arenas", 8));
	for (int i = 0; i < 8; i++) {
		ids[i] = arena_create_id(self->fd);
		ASSERT_GT(ids[i], 0);
	}
	EXPECT_EQ(-ENOSPC, arena_create_id(self->fd));
	/* An arena that gets memory in the same call is not empty. */
	ASSERT_EQ(0, arena_alloc_len(self->fd, &id, PAGE_SZ,
				     ARENA_ALLOC_CREATE, &off));
	/* Memory for an empty one makes room for another empty one. */
	id = ids[0];
	ASSERT_EQ(0, arena_alloc_len(self->fd, &id, PAGE_SZ, 0, &off));
	ids[8] = arena_create_id(self->fd);
	ASSERT_GT(ids[8], 0);
	EXPECT_EQ(-ENOSPC, arena_create_id(self->fd));
	/* So does freeing one, and a reset keeps an arena non-empty. */
	ASSERT_EQ(0, arena_free_id(self->fd, ids[1]));
	id = ids[0];
	ASSERT_EQ(0, arena_alloc_len(self->fd, &id, PAGE_SZ,
				     ARENA_ALLOC_RESET, &off));
	ids[1] = arena_create_id(self->fd);
	ASSERT_GT(ids[1], 0);
	EXPECT_EQ(-ENOSPC, arena_create_id(self->fd));
	/* Raising the bound takes effect at once. */
	ASSERT_EQ(0, arena_param_set("max_empty_arenas", 9));
	EXPECT_GT(arena_create_id(self->fd), 0);
}

TEST_F(hard, freed_run_records_are_bounded)
{
	uint64_t off[20];
	uint32_t id[20];
	struct arena_lookup lk;

	ASSERT_EQ(0, arena_param_set("max_freed_runs", 8));
	for (int i = 0; i < 20; i++)
		ASSERT_EQ(0, small_arena(self->fd, 1, &id[i], &off[i]));
	for (int i = 0; i < 20; i++)
		ASSERT_EQ(0, arena_free_id(self->fd, id[i]));
	/* The 8 newest are remembered; the older ones were recycled. */
	for (int i = 0; i < 20; i++) {
		ASSERT_EQ(0, arena_lookup_off(self->fd, off[i], &lk));
		if (i < 12) {
			EXPECT_EQ(ARENA_SLOT_EMPTY, lk.out_state);
		} else {
			EXPECT_EQ(ARENA_SLOT_FREED, lk.out_state);
			EXPECT_EQ(id[i], lk.out_arena_id);
		}
		/* Recycled or not, no freed page is accessible. */
		EXPECT_TRUE(faults_at(self->base + off[i]));
	}
}

TEST_F(hard, small_slots_are_bounded)
{
	uint32_t a, b, c, d;
	uint64_t off;
	struct arena_lookup lk;
	const size_t slot_pages = self->info.out_chunk_size / PAGE_SZ;

	ASSERT_EQ(0, arena_param_set("max_small_slots", 2));
	/* Fill a small slot but one page, then ask for two: a second slot. */
	ASSERT_EQ(0, small_arena(self->fd, slot_pages - 1, &a, &off));
	ASSERT_EQ(0, small_arena(self->fd, 2, &b, &off));
	/* A third slot is over the bound, and nothing freed can make room. */
	EXPECT_EQ(-ENOSPC, small_arena(self->fd, slot_pages - 1, &c, &off));
	/* Whole chunks are not small runs: not bounded by it. */
	d = 0;
	ASSERT_EQ(0, arena_alloc_len(self->fd, &d, self->info.out_chunk_size,
				     ARENA_ALLOC_CREATE, &off));
	/* Freeing the first slot's run lets the next run recycle it. */
	ASSERT_EQ(0, arena_free_id(self->fd, a));
	ASSERT_EQ(0, small_arena(self->fd, slot_pages - 1, &c, &off));
	ASSERT_EQ(0, arena_lookup_off(self->fd, off, &lk));
	EXPECT_EQ(ARENA_SLOT_LIVE, lk.out_state);
	EXPECT_EQ(c, lk.out_arena_id);
	self->base[off] = 1;
	EXPECT_EQ(0, arena_free_id(self->fd, b));
	EXPECT_EQ(0, arena_free_id(self->fd, c));
	EXPECT_EQ(0, arena_free_id(self->fd, d));
}

/*
 * The pin loop: allocate a chunk, vmsplice a page of it into a pipe, free
 * the arena, again. The pipes hold the chunks in quarantine; their memlock
 * charge must stay until the pipes let go, so the loop stops at the limit.
 */
TEST_F_TIMEOUT(bare, pinned_chunks_stay_charged_to_memlock, 300)
{
	pid_t pid;
	int status;

	if (access(ARENA_DEV, R_OK | W_OK))
		SKIP(return, "no %s", ARENA_DEV);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct arena_info info;
		int pfd[16][2], fd, n = 0, err = 0, i;
		uint64_t off;
		char *base;
		long id;

		/* Room for 4 chunks, without CAP_IPC_LOCK. */
		fd = arena_open_window_memlock(4, &info, &base);
		if (fd < 0)
			_exit(10);
		for (i = 0; i < 16; i++) {
			struct iovec iov;

			id = arena_create_id(fd);
			if (id <= 0)
				_exit(13);
			err = arena_chunks(fd, id, 1, &off);
			if (err)
				break;
			memset(base + off, i + 1, PAGE_SZ);
			iov.iov_base = base + off;
			iov.iov_len = PAGE_SZ;
			if (pipe(pfd[i]) || vmsplice(pfd[i][1], &iov, 1, 0) !=
			    (ssize_t)PAGE_SZ)
				_exit(14);
			if (arena_free_id(fd, id))
				_exit(15);
			n++;
		}
		/* 4 chunks held by pipes: the fifth is over the limit. */
		if (n != 4 || err != -ENOMEM)
			_exit(20 + n);
		/* The pipes still read what was written, then let go. */
		for (i = 0; i < n; i++) {
			char b[PAGE_SZ];

			if (read(pfd[i][0], b, PAGE_SZ) != (ssize_t)PAGE_SZ ||
			    b[0] != i + 1 || b[PAGE_SZ - 1] != i + 1)
				_exit(16);
			close(pfd[i][0]);
			close(pfd[i][1]);
		}
		/* The sweeper releases them: the charge comes back. */
		for (i = 0; i < 600; i++) {
			id = arena_create_id(fd);
			if (id > 0 && !arena_chunks(fd, id, 4, &off))
				break;
			if (id > 0)
				arena_free_id(fd, id);
			usleep(50000);
		}
		_exit(i < 600 ? 0 : 17);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

#define CG_ROOT "/sys/fs/cgroup"

static int cg_write(const char *cg, const char *file, const char *val)
{
	char path[256];

	snprintf(path, sizeof(path), "%s/%s", cg, file);
	return write_file_str(path, val);
}

static long cg_read(const char *cg, const char *file)
{
	return read_long_file(cg, file);
}

/* A memory cgroup named @name under the cgroup v2 root, or -errno. */
static int cg_make(const char *name, long max, char *cg, size_t len)
{
	char buf[64];
	int err;

	if (access(CG_ROOT "/cgroup.controllers", F_OK) &&
	    mount("none", CG_ROOT, "cgroup2", 0, NULL))
		return -errno;
	/* Enabling an enabled controller is fine; a v1 host is not. */
	err = cg_write(CG_ROOT, "cgroup.subtree_control", "+memory");
	if (err)
		return err;
	snprintf(cg, len, CG_ROOT "/%s", name);
	if (mkdir(cg, 0755) && errno != EEXIST)
		return -errno;
	snprintf(buf, sizeof(buf), "%ld", max);
	return cg_write(cg, "memory.max", buf);
}

/*
 * In cgroup @cg: take chunks, touching every byte, until ENOMEM (or 64);
 * write how many and the cgroup's memory.current at the peak to @out,
 * keep them until @go is readable, then free and exit.
 */
static void cg_child(const char *cg, int out, int go)
{
	struct arena_info info;
	long n = 0, peak, id;
	uint64_t off;
	char *base, c;
	int fd, err = 0;

	if (cg_write(cg, "cgroup.procs", "0"))
		_exit(10);
	/* The window is charged to the cgroup it is opened in. */
	fd = arena_open_window(&info, &base);
	if (fd < 0)
		_exit(11);
	id = arena_create_id(fd);
	if (id <= 0)
		_exit(12);
	while (n < 64) {
		err = arena_chunks(fd, id, 1, &off);
		if (err)
			break;
		memset(base + off, 0x5a, info.out_chunk_size);
		n++;
	}
	peak = cg_read(cg, "memory.current");
	if (err != -ENOMEM)
		n = -1;
	if (write(out, &n, sizeof(n)) != sizeof(n) ||
	    write(out, &peak, sizeof(peak)) != sizeof(peak))
		_exit(13);
	if (read(go, &c, 1) < 0)
		_exit(14);
	if (arena_free_id(fd, id))
		_exit(15);
	close(fd);
	_exit(0);
}

struct cg_run {
	pid_t pid;
	int go;		/* write end: the child frees and exits */
	long n, peak;
};

static int cg_start(const char *cg, struct cg_run *r)
{
	int out[2], go[2];

	if (pipe(out) || pipe(go))
		return -errno;
	r->pid = fork();
	if (r->pid < 0)
		return -errno;
	if (r->pid == 0) {
		close(out[0]);
		close(go[1]);
		cg_child(cg, out[1], go[0]);
	}
	close(out[1]);
	close(go[0]);
	r->go = go[1];
	if (read(out[0], &r->n, sizeof(r->n)) != sizeof(r->n) ||
	    read(out[0], &r->peak, sizeof(r->peak)) != sizeof(r->peak))
		r->n = -2;
	close(out[0]);
	return 0;
}

static int cg_finish(struct cg_run *r)
{
	int status;

	close(r->go);
	if (waitpid(r->pid, &status, 0) != r->pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

/*
 * Cgroup A (32 MiB) takes chunks until ENOMEM, every one charged to it, and
 * frees them: they wait in the pool, charged to A, and the worker releases
 * them once idle (a cgroup's own reclaim cannot take pooled chunks back).
 * Cgroup B (8 MiB) gets ENOMEM at its own limit with every chunk it holds
 * charged to it, never one of A's; after the pool is drained both cgroups
 * hold nothing and the module's counters are where they started.
 */
TEST_F_TIMEOUT(bare, memory_cgroup_limits_hold, 300)
{
	const long mib = 1L << 20;
	char cga[128], cgb[128];
	long in_use = arena_counter("chunks_in_use");
	long pool_high = arena_param("pool_high");
	struct cg_run a, b;
	long cs, a_after;
	int err;

	if (access(ARENA_DEV, R_OK | W_OK))
		SKIP(return, "no %s", ARENA_DEV);
	err = cg_make("arena-test-a", 32 * mib, cga, sizeof(cga));
	if (err == -ENOENT || err == -ENODEV || err == -EINVAL)
		SKIP(return, "no cgroup v2 memory controller: %s",
		     strerror(-err));
	ASSERT_EQ(0, err);
	ASSERT_EQ(0, cg_make("arena-test-b", 8 * mib, cgb, sizeof(cgb)));
	{
		struct arena_info info;
		char *base;
		int fd = arena_open_window(&info, &base);

		ASSERT_LE(0, fd);
		cs = info.out_chunk_size;
		arena_close_window(fd, &info, base);
	}
	/* Room in the pool for everything A frees. */
	ASSERT_EQ(0, arena_param_set("pool_high", 64));

	ASSERT_EQ(0, cg_start(cga, &a));
	TH_LOG("cgroup A (32 MiB): %ld chunks, memory.current %ld KiB at the peak",
	       a.n, a.peak >> 10);
	ASSERT_GT(a.n, 0);
	EXPECT_LE(a.n * cs, 32 * mib);
	EXPECT_GE(a.n, 32 * mib / cs - 4);
	/* Every chunk A holds is charged to A. */
	EXPECT_GE(a.peak, a.n * cs);
	EXPECT_LE(a.peak, 32 * mib);
	ASSERT_EQ(0, cg_finish(&a));
	a_after = cg_read(cga, "memory.current");

	ASSERT_EQ(0, cg_start(cgb, &b));
	TH_LOG("cgroup B (8 MiB): %ld chunks, memory.current %ld KiB at the peak; A held %ld KiB after its exit, %ld KiB now",
	       b.n, b.peak >> 10, a_after >> 10,
	       cg_read(cga, "memory.current") >> 10);
	ASSERT_GT(b.n, 0);
	EXPECT_LE(b.n * cs, 8 * mib);
	/* Every chunk B holds is B's: none of A's pooled ones. */
	EXPECT_GE(b.peak, b.n * cs);
	EXPECT_LE(b.peak, 8 * mib);
	ASSERT_EQ(0, cg_finish(&b));

	/* Idle, the pooled chunks of both go back without a drain. */
	for (int i = 0; i < 100 && (cg_read(cga, "memory.current") >= cs / 2 ||
				    cg_read(cgb, "memory.current") >= cs / 2);
	     i++)
		usleep(100000);
	EXPECT_GT(cs / 2, cg_read(cga, "memory.current"));
	EXPECT_GT(cs / 2, cg_read(cgb, "memory.current"));

	/* Nothing leaked: counters back, and the cgroups empty after drain. */
	EXPECT_TRUE(arena_counter_wait("chunks_in_use", in_use, 30000));
	ASSERT_EQ(0, arena_param_set("pool_high", pool_high));
	ASSERT_EQ(0, arena_drain());
	EXPECT_GT(cs / 2, cg_read(cga, "memory.current"));
	EXPECT_GT(cs / 2, cg_read(cgb, "memory.current"));
	EXPECT_EQ(0, rmdir(cga));
	EXPECT_EQ(0, rmdir(cgb));
}

TEST_HARNESS_MAIN
