// SPDX-License-Identifier: GPL-2.0
/*
 * Description: what an unprivileged process could do to the module through
 * its own open file. Threads racing ARENA_IOC_ALLOC (plain and with
 * ARENA_ALLOC_CREATE) and ARENA_IOC_CREATE against threads that free the
 * next ids, with freed runs recycled at once, so that a value read after
 * the lock is dropped would be freed memory (KASAN on the debug lane; sane
 * values everywhere). The per-file bounds on kernel memory: empty arenas,
 * freed-run records and small-slot maps, each with its errno or recycling,
 * and structs above a page refused with E2BIG.
 */
#include "arena_helpers.h"	/* first: it defines _GNU_SOURCE */

#include <pthread.h>
#include <stdatomic.h>
#include <time.h>

#include "kselftest_harness.h"

FIXTURE(hard) {
	int fd;
	struct arena_info info;
	char *base;
	long va_mb, max_empty, max_freed, max_sslots;
};

FIXTURE_SETUP(hard)
{
	self->va_mb = arena_param("va_quarantine_mb");
	self->max_empty = arena_param("max_empty_arenas");
	self->max_freed = arena_param("max_freed_runs");
	self->max_sslots = arena_param("max_small_slots");
	ARENA_SETUP_WINDOW(self);
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
			  .window = info->out_window_size };
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

TEST_F(hard, alloc_create_races_free_of_next_ids)
{
	recycle_at_once(_metadata);
	run_race(_metadata, self->fd, &self->info, RACE_ALLOC_CREATE);
}

TEST_F(hard, create_races_free_of_next_ids)
{
	run_race(_metadata, self->fd, &self->info, RACE_CREATE);
}

TEST_F(hard, alloc_races_free_of_its_arena)
{
	recycle_at_once(_metadata);
	run_race(_metadata, self->fd, &self->info, RACE_ALLOC);
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

TEST_HARNESS_MAIN
