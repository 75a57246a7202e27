// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the chunk pool and the quarantines. Every transition of a
 * chunk (ready -> in use -> dirty -> ready, and back to the page allocator
 * through drain and the shrinker), zeroing across processes, the freed
 * address-space budget over 10,000 create/free cycles, the global cap and
 * RLIMIT_MEMLOCK accounting. Pins are in arena_pin.c.
 *
 * The tests change module parameters; the fixture puts them back.
 */
#include "arena_helpers.h"	/* first: it defines _GNU_SOURCE */

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include <libarena.h>

#include "kselftest_harness.h"

FIXTURE(pool) {
	int fd;
	struct arena_info info;
	char *base;
	size_t cs;
	long max_mb, low, high, va_mb;
};

FIXTURE_SETUP(pool)
{
	self->base = NULL;
	self->fd = open(ARENA_DEV, O_RDWR | O_CLOEXEC);
	if (self->fd < 0)
		SKIP(return, "cannot open %s: %s", ARENA_DEV, strerror(errno));
	if (arena_counter("chunks_ready") < 0)
		SKIP(return, "module has no pool counters");
	ASSERT_EQ(0, arena_get_info(self->fd, &self->info));
	self->cs = self->info.out_chunk_size;
	self->base = arena_map_window(self->fd, self->info.out_window_size);
	ASSERT_NE(NULL, self->base);
	self->max_mb = arena_param("max_mb");
	self->low = arena_param("pool_low");
	self->high = arena_param("pool_high");
	self->va_mb = arena_param("va_quarantine_mb");
	ASSERT_GT(self->max_mb, 0);
}

FIXTURE_TEARDOWN(pool)
{
	if (self->base)
		munmap(self->base, 2 * self->info.out_window_size);
	if (self->fd >= 0)
		close(self->fd);
	if (self->max_mb > 0) {
		arena_param_set("max_mb", self->max_mb);
		/* Raise high first so that low <= high holds throughout. */
		arena_param_set("pool_high", 65536);
		arena_param_set("pool_low", self->low);
		arena_param_set("pool_high", self->high);
		arena_param_set("va_quarantine_mb", self->va_mb);
	}
}

/* One arena of @nr chunks, every page written with @fill; returns its id. */
static long arena_filled(int fd, char *base, size_t cs, unsigned int nr,
			 int fill, uint64_t *off)
{
	long id = arena_create_id(fd);

	if (id <= 0 || arena_chunks(fd, id, nr, off))
		return -1;
	memset(base + *off, fill, nr * cs);
	return id;
}

static bool all_zero(const char *p, size_t n)
{
	const uint64_t *q = (const uint64_t *)p;

	for (size_t i = 0; i < n / 8; i++)
		if (q[i])
			return false;
	return true;
}

TEST_F(pool, chunk_goes_in_use_dirty_ready)
{
	long ready, zeroed, in_use, total;
	uint64_t off;
	long id;

	ASSERT_EQ(0, arena_param_set("pool_high", 64));
	/* No refill: only the freed chunks may become ready. */
	ASSERT_EQ(0, arena_param_set("pool_low", 0));
	ASSERT_TRUE(arena_pool_settle(30000));
	in_use = arena_counter("chunks_in_use");
	zeroed = arena_counter("chunks_zeroed");
	id = arena_filled(self->fd, self->base, self->cs, 2, 0x5a, &off);
	ASSERT_GT(id, 0);
	EXPECT_EQ(in_use + 2, arena_counter("chunks_in_use"));
	ASSERT_TRUE(arena_pool_settle(30000));
	ready = arena_counter("chunks_ready");
	total = arena_counter("chunks_total");

	ASSERT_EQ(0, arena_free_id(self->fd, id));
	EXPECT_EQ(in_use, arena_counter("chunks_in_use"));
	/* Unreferenced: no quarantine; the worker zeroes both. */
	EXPECT_EQ(0, arena_counter("chunks_quarantined"));
	EXPECT_TRUE(arena_pool_settle(30000));
	EXPECT_EQ(ready + 2, arena_counter("chunks_ready"));
	EXPECT_EQ(0, arena_counter("chunks_dirty"));
	EXPECT_LE(zeroed + 2, arena_counter("chunks_zeroed"));
	/* Nothing went back to the page allocator. */
	EXPECT_EQ(total, arena_counter("chunks_total"));
	EXPECT_EQ(arena_counter("chunks_total"),
		  arena_counter("chunks_ready") + arena_counter("chunks_dirty") +
		  arena_counter("chunks_in_use") +
		  arena_counter("chunks_quarantined"));
}

TEST_F(pool, warm_pool_hands_out_ready_chunks)
{
	long reused, allocated, inline_zero;
	uint64_t off;
	long id;

	ASSERT_EQ(0, arena_param_set("pool_high", 64));
	ASSERT_EQ(0, arena_param_set("pool_low", 8));
	/* Warm it: use a chunk once, then wait for the refill. */
	id = arena_filled(self->fd, self->base, self->cs, 1, 1, &off);
	ASSERT_GT(id, 0);
	ASSERT_EQ(0, arena_free_id(self->fd, id));
	for (int t = 0; t < 500 && arena_counter("chunks_ready") < 8; t++)
		usleep(10000);
	ASSERT_GE(arena_counter("chunks_ready"), 8);
	/* Stop the refill, so that every counter below is the ioctl's. */
	ASSERT_EQ(0, arena_param_set("pool_low", 0));
	ASSERT_TRUE(arena_pool_settle(30000));

	reused = arena_counter("chunks_reused");
	allocated = arena_counter("chunks_allocated");
	inline_zero = arena_counter("chunks_zeroed_inline");
	id = arena_filled(self->fd, self->base, self->cs, 4, 2, &off);
	ASSERT_GT(id, 0);
	EXPECT_EQ(reused + 4, arena_counter("chunks_reused"));
	/* No zeroing and no allocation on the ioctl's path. */
	EXPECT_EQ(inline_zero, arena_counter("chunks_zeroed_inline"));
	EXPECT_EQ(allocated, arena_counter("chunks_allocated"));
	EXPECT_EQ(0, arena_free_id(self->fd, id));
}

TEST_F(pool, recycled_chunks_are_zero_across_processes)
{
	int round;

	ASSERT_EQ(0, arena_param_set("pool_high", 64));
	for (round = 0; round < 6; round++) {
		pid_t pid;
		int status;
		uint64_t off;
		long id;

		/* This process dirties 8 chunks and frees them... */
		id = arena_filled(self->fd, self->base, self->cs, 8, 0xa5, &off);
		ASSERT_GT(id, 0);
		ASSERT_EQ(0, arena_free_id(self->fd, id));
		/* ...half the rounds racing the worker, half after it. */
		if (round & 1)
			ASSERT_TRUE(arena_counter_wait("chunks_dirty", 0, 30000));

		/* ...and another process must get them back zeroed. */
		pid = fork();
		ASSERT_GE(pid, 0);
		if (pid == 0) {
			struct arena_info info;
			int fd = open(ARENA_DEV, O_RDWR);
			char *b;

			if (fd < 0 || arena_get_info(fd, &info))
				_exit(10);
			b = arena_map_window(fd, info.out_window_size);
			id = arena_create_id(fd);
			if (!b || id <= 0 || arena_chunks(fd, id, 8, &off))
				_exit(11);
			_exit(all_zero(b + off, 8 * info.out_chunk_size) ? 0 : 1);
		}
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_TRUE(WIFEXITED(status));
		ASSERT_EQ(0, WEXITSTATUS(status));
	}
}

TEST_F(pool, drain_returns_ready_and_dirty_chunks)
{
	uint64_t off;
	long id, released;

	ASSERT_EQ(0, arena_param_set("pool_high", 64));
	ASSERT_EQ(0, arena_param_set("pool_low", 0));
	id = arena_filled(self->fd, self->base, self->cs, 4, 3, &off);
	ASSERT_GT(id, 0);
	ASSERT_EQ(0, arena_free_id(self->fd, id));
	EXPECT_GE(arena_counter("chunks_ready") + arena_counter("chunks_dirty"),
		  4);
	released = arena_counter("chunks_released");
	ASSERT_EQ(0, arena_drain());
	EXPECT_EQ(0, arena_counter("chunks_ready"));
	EXPECT_EQ(0, arena_counter("chunks_dirty"));
	EXPECT_LE(released + 4, arena_counter("chunks_released"));
	EXPECT_EQ(arena_counter("chunks_in_use") +
		  arena_counter("chunks_quarantined"),
		  arena_counter("chunks_total"));
	/* Drain does not stop the pool from working. */
	id = arena_filled(self->fd, self->base, self->cs, 1, 4, &off);
	ASSERT_GT(id, 0);
	EXPECT_EQ(0, arena_free_id(self->fd, id));
}

TEST_F(pool, bad_tunable_values_are_refused)
{
	EXPECT_EQ(-EINVAL, arena_param_set("pool_low", self->high + 1));
	if (self->low > 0)
		EXPECT_EQ(-EINVAL, arena_param_set("pool_high", self->low - 1));
	EXPECT_EQ(-EINVAL, arena_param_set("pool_high", 1L << 20));
	EXPECT_EQ(-EINVAL, arena_param_set("max_mb", 1L << 40));
	EXPECT_EQ(-EINVAL, arena_param_set("max_mb", -5));
	EXPECT_EQ(self->low, arena_param("pool_low"));
	EXPECT_EQ(self->high, arena_param("pool_high"));
	EXPECT_EQ(self->max_mb, arena_param("max_mb"));
}

TEST_F(pool, global_cap_gives_enomem)
{
	long hits = arena_counter("limit_hits");
	uint64_t off[4];
	long id, base_mb;
	struct arena *a;
	void *p;

	ASSERT_EQ(0, arena_param_set("pool_low", 0));
	ASSERT_EQ(0, arena_drain());
	ASSERT_TRUE(arena_pool_settle(30000));
	/* Room for what is held now plus exactly 4 chunks. */
	base_mb = arena_counter("chunks_total") * (self->cs >> 20);
	ASSERT_EQ(0, arena_param_set("max_mb", base_mb + 4 * (self->cs >> 20)));
	id = arena_create_id(self->fd);
	ASSERT_GT(id, 0);
	ASSERT_EQ(0, arena_chunks(self->fd, id, 3, &off[0]));
	ASSERT_EQ(-ENOMEM, arena_chunks(self->fd, id, 2, &off[1]));
	EXPECT_EQ(hits + 1, arena_counter("limit_hits"));
	ASSERT_EQ(0, arena_chunks(self->fd, id, 1, &off[1]));
	EXPECT_EQ(-ENOMEM, arena_chunks(self->fd, id, 1, &off[2]));
	/* The arena is intact and frees normally; then there is room. */
	self->base[off[1]] = 1;
	EXPECT_EQ(0, arena_free_id(self->fd, id));

	/* The library turns it into NULL + ENOMEM and carries on. */
	a = arena_new(0);
	ASSERT_NE(NULL, a);
	ASSERT_EQ(0, arena_drain());
	/* 0 would mean the default; 1 MiB is less than one chunk. */
	ASSERT_EQ(0, arena_param_set("max_mb", base_mb ?: 1));
	errno = 0;
	p = arena_alloc(a, 100);
	EXPECT_EQ(NULL, p);
	EXPECT_EQ(ENOMEM, errno);
	ASSERT_EQ(0, arena_param_set("max_mb", self->max_mb));
	p = arena_alloc(a, 100);
	EXPECT_NE(NULL, p);
	arena_free(a);
}

TEST(memlock_limit_is_charged_per_user)
{
	struct arena_info info;
	pid_t pid;
	int status;

	if (access(ARENA_DEV, R_OK | W_OK))
		SKIP(return, "no %s", ARENA_DEV);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct rlimit rl;
		uint64_t off;
		long id, hits = arena_counter("memlock_hits");
		int fd, fd2;

		/* A user without CAP_IPC_LOCK and 3 chunks of memlock room. */
		fd = open(ARENA_DEV, O_RDWR);
		if (fd < 0 || arena_get_info(fd, &info))
			_exit(10);
		rl.rlim_cur = rl.rlim_max = 3 * info.out_chunk_size + 4096;
		if (setrlimit(RLIMIT_MEMLOCK, &rl) || drop_cap_ipc_lock())
			_exit(11);
		close(fd);
		fd = open(ARENA_DEV, O_RDWR);
		fd2 = open(ARENA_DEV, O_RDWR);
		if (fd < 0 || fd2 < 0)
			_exit(12);
		id = arena_create_id(fd);
		if (id <= 0 || arena_chunks(fd, id, 2, &off))
			_exit(13);
		/* The charge is per user, not per file. */
		long id2 = arena_create_id(fd2);

		if (id2 <= 0 || arena_chunks(fd2, id2, 1, &off))
			_exit(14);
		if (arena_chunks(fd2, id2, 1, &off) != -ENOMEM)
			_exit(15);
		if (arena_counter("memlock_hits") != hits + 1)
			_exit(16);
		/* Freeing gives the charge back. */
		if (arena_free_id(fd, id) || arena_chunks(fd2, id2, 2, &off))
			_exit(17);
		/* Closing does too. */
		close(fd2);
		id = arena_create_id(fd);
		if (arena_chunks(fd, id, 3, &off))
			_exit(18);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/*
 * 10,000 create/free cycles: every freed address keeps faulting until the
 * budget of freed address space recycles it, oldest first; a recycled
 * address comes back zeroed and belongs to the new arena alone.
 */
TEST_F_TIMEOUT(pool, ten_thousand_cycles_keep_freed_addresses_faulting, 600)
{
	const int cycles = 10000;
	long budget;
	uint64_t *offs = calloc(cycles, sizeof(*offs));
	long *ids = calloc(cycles, sizeof(*ids));
	int i, recycled = 0;

	ASSERT_NE(NULL, offs);
	ASSERT_NE(NULL, ids);
	/* A small budget, so that recycling happens many times. */
	ASSERT_EQ(0, arena_param_set("va_quarantine_mb", 256));
	budget = (256L << 20) / self->cs;
	for (i = 0; i < cycles; i++) {
		struct arena_lookup lk;

		ids[i] = arena_create_id(self->fd);
		ASSERT_GT(ids[i], 0);
		ASSERT_EQ(0, arena_chunks(self->fd, ids[i], 1, &offs[i]));
		ASSERT_EQ(0, self->base[offs[i]]);
		ASSERT_EQ(0, self->base[offs[i] + self->cs - 1]);
		ASSERT_EQ(0, arena_lookup_off(self->fd, offs[i], &lk));
		ASSERT_EQ(ARENA_SLOT_LIVE, lk.out_state);
		ASSERT_EQ(ids[i], lk.out_arena_id);
		if (i > budget) {
			/* First fit hands out the slot just recycled. */
			ASSERT_EQ(offs[i - budget - 1], offs[i]);
			recycled++;
		}
		self->base[offs[i] + (i % 512) * 4096] = 1;
		ASSERT_EQ(0, arena_free_id(self->fd, ids[i]));
		/* Just freed, and the oldest still inside the budget. */
		ASSERT_TRUE(faults_at(self->base + offs[i] + (i % 512) * 4096));
		if (i >= budget - 1)
			ASSERT_TRUE(faults_at(self->base + offs[i - budget + 1]));
	}
	/* Everything inside the budget still faults. */
	for (i = cycles - budget; i < cycles; i++)
		ASSERT_TRUE(faults_at(self->base + offs[i] + self->cs / 2));
	TH_LOG("%d cycles, %d recycled addresses, budget %ld slots", cycles,
	       recycled, budget);
	EXPECT_GT(recycled, cycles / 2);
	free(offs);
	free(ids);
}

TEST_F_TIMEOUT(pool, window_full_recycles_oldest, 300)
{
	size_t slots = self->info.out_max_chunks, i;
	uint64_t off, first = UINT64_MAX;
	long id;

	/* No budget recycling: only a full window recycles. */
	ASSERT_EQ(0, arena_param_set("va_quarantine_mb", 1L << 30));
	for (i = 0; i <= slots; i++) {
		id = arena_create_id(self->fd);
		ASSERT_GT(id, 0);
		ASSERT_EQ(0, arena_chunks(self->fd, id, 1, &off));
		if (i == 0) {
			first = off;
		} else if (i < slots) {
			ASSERT_NE(first, off);
		} else {
			EXPECT_EQ(first, off);
		}
		ASSERT_EQ(0, arena_free_id(self->fd, id));
	}
	EXPECT_TRUE(faults_at(self->base + first + self->cs));
}

/*
 * The shrinker: fill the pool, then make the guest short of memory from a
 * child; the module must give chunks back.
 */
TEST_F_TIMEOUT(pool, shrinker_releases_chunks_under_pressure, 300)
{
	long before, ready, id;
	uint64_t off;
	pid_t pid;
	int status, n = 128;

	ASSERT_EQ(0, arena_param_set("pool_high", 1024));
	ASSERT_EQ(0, arena_param_set("pool_low", 0));
	id = arena_filled(self->fd, self->base, self->cs, n, 7, &off);
	ASSERT_GT(id, 0);
	ASSERT_EQ(0, arena_free_id(self->fd, id));
	ASSERT_TRUE(arena_pool_settle(60000));
	ready = arena_counter("chunks_ready");
	ASSERT_GE(ready, n);
	before = arena_counter("shrinker_released");

	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		long pages = sysconf(_SC_PHYS_PAGES);
		size_t len = (size_t)pages * 4096, i;
		char *p;
		FILE *f = fopen("/proc/self/oom_score_adj", "w");

		if (f) {
			fputs("1000", f);
			fclose(f);
		}
		/* Ask for all of RAM; touch until reclaim hits the pool. */
		p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p == MAP_FAILED)
			_exit(2);
		for (i = 0; i < len; i += 4096) {
			p[i] = 1;
			if (!(i & ((64 << 20) - 1)) &&
			    arena_counter("shrinker_released") > before)
				_exit(0);
		}
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	TH_LOG("child %s %d; ready %ld -> %ld, shrinker released %ld",
	       WIFEXITED(status) ? "exited" : "killed by signal",
	       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status),
	       ready, arena_counter("chunks_ready"),
	       arena_counter("shrinker_released") - before);
	EXPECT_GT(arena_counter("shrinker_released"), before);
	EXPECT_LT(arena_counter("chunks_ready"), ready);
	/* And the pool works afterwards. */
	id = arena_filled(self->fd, self->base, self->cs, 2, 8, &off);
	ASSERT_GT(id, 0);
	EXPECT_EQ(0, arena_free_id(self->fd, id));
}

/* A new no-zero arena of @len bytes; its id, or 0 (errno set). */
static uint32_t nozero_arena(int fd, uint64_t len, uint64_t *off)
{
	uint32_t id = 0;
	int err = arena_alloc_len(fd, &id, len,
				  ARENA_ALLOC_CREATE | ARENA_ALLOC_NOZERO, off);

	errno = -err;
	return err ? 0 : id;
}

/* Every byte of @len at @p is @v. */
static bool all_bytes(const char *p, size_t len, char v)
{
	for (size_t i = 0; i < len; i++)
		if (p[i] != v)
			return false;
	return true;
}

/*
 * A no-zero arena gets the chunk this file's last no-zero arena freed, as
 * it was, at a new address; the old address faults; a default arena never
 * gets such a chunk.
 */
TEST_F(pool, nozero_reuses_own_chunks_unzeroed)
{
	long reused0 = arena_counter("chunks_reused_nozero");
	uint64_t oa, ob, oc, od;
	uint32_t a, b, c, d = 0;

	ASSERT_TRUE(self->info.out_features & ARENA_FEATURE_NOZERO);
	ASSERT_LE(0, reused0);
	a = nozero_arena(self->fd, self->cs, &oa);
	ASSERT_NE(0, a);
	memset(self->base + oa, 0x5a, self->cs);
	ASSERT_EQ(0, arena_free_id(self->fd, a));
	b = nozero_arena(self->fd, self->cs, &ob);
	ASSERT_NE(0, b);
	EXPECT_NE(oa, ob);
	EXPECT_TRUE(faults_at(self->base + oa));
	EXPECT_EQ(reused0 + 1, arena_counter("chunks_reused_nozero"));
	/* The old bytes: it was not zeroed. */
	EXPECT_TRUE(all_bytes(self->base + ob, self->cs, 0x5a));
	/* A default arena alongside: zeroed, never a kept chunk. */
	ASSERT_EQ(0, arena_alloc_len(self->fd, &d, self->cs,
				     ARENA_ALLOC_CREATE, &od));
	EXPECT_TRUE(all_bytes(self->base + od, self->cs, 0));
	ASSERT_EQ(0, arena_free_id(self->fd, b));
	c = 0;
	ASSERT_EQ(0, arena_alloc_len(self->fd, &c, self->cs,
				     ARENA_ALLOC_CREATE, &oc));
	EXPECT_TRUE(all_bytes(self->base + oc, self->cs, 0));
	EXPECT_EQ(reused0 + 1, arena_counter("chunks_reused_nozero"));
	ASSERT_EQ(0, arena_free_id(self->fd, c));
	ASSERT_EQ(0, arena_free_id(self->fd, d));
	/* A file's first no-zero small run: from the pool, zeroed. */
	a = nozero_arena(self->fd, 2 * PAGE_SZ, &oa);
	ASSERT_NE(0, a);
	EXPECT_TRUE(all_bytes(self->base + oa, 2 * PAGE_SZ, 0));
	ASSERT_EQ(0, arena_free_id(self->fd, a));
}

/*
 * No-zero small runs: NZ_ARENAS arenas of NZ_PAGES pages carve one shared
 * chunk whole. Each page gets a stamp no other page of any test run has:
 * 64 bits, so that two pages can never pass for each other (an 8-bit tag
 * could).
 */
#define NZ_PAGES	64
#define NZ_ARENAS	(512 / NZ_PAGES)

static uint64_t nz_stamp(int fd, uint32_t id, unsigned int pg)
{
	return 0x6e7a000000000000ULL ^ ((uint64_t)getpid() << 32) ^
	       ((uint64_t)fd << 24) ^ ((uint64_t)id << 8) ^ pg;
}

/* Make NZ_ARENAS no-zero small arenas, check them zero, stamp every page. */
static bool nz_fill(int fd, char *base, uint32_t *ids, uint64_t *offs)
{
	for (int i = 0; i < NZ_ARENAS; i++) {
		ids[i] = nozero_arena(fd, NZ_PAGES * PAGE_SZ, &offs[i]);
		if (!ids[i] || !all_bytes(base + offs[i], NZ_PAGES * PAGE_SZ, 0))
			return false;
		for (unsigned int pg = 0; pg < NZ_PAGES; pg++)
			memcpy(base + offs[i] + pg * PAGE_SZ,
			       &(uint64_t){ nz_stamp(fd, ids[i], pg) }, 8);
	}
	return true;
}

/* Page @pg of the run at @p holds exactly @stamp and zeroes. */
static bool nz_page_is(const char *p, unsigned int pg, uint64_t stamp)
{
	uint64_t v;

	memcpy(&v, p + pg * PAGE_SZ, 8);
	return v == stamp && all_bytes(p + pg * PAGE_SZ + 8, PAGE_SZ - 8, 0);
}

/*
 * Once every no-zero small run carved from a shared chunk is freed and
 * nothing references it, the chunk is carved again, unzeroed, for the
 * file's next no-zero small runs: page for page, the first arena's stamps
 * come back at a new address, and the old addresses fault. Default small
 * runs never get those pages.
 */
TEST_F(pool, nozero_small_runs_reuse_own_pages)
{
	long reused0 = arena_counter("chunks_reused_nozero");
	uint32_t ids[NZ_ARENAS], b, d = 0;
	uint64_t offs[NZ_ARENAS], ob, od;

	if (!(self->info.out_features & ARENA_FEATURE_NOZERO_SMALL))
		SKIP(return, "no ARENA_FEATURE_NOZERO_SMALL");
	ASSERT_TRUE(nz_fill(self->fd, self->base, ids, offs));
	for (int i = 0; i < NZ_ARENAS; i++)
		ASSERT_EQ(0, arena_free_id(self->fd, ids[i]));
	EXPECT_EQ(reused0, arena_counter("chunks_reused_nozero"));
	/* A default small run meanwhile: its own chunk, zeroed. */
	ASSERT_EQ(0, arena_alloc_len(self->fd, &d, NZ_PAGES * PAGE_SZ,
				     ARENA_ALLOC_CREATE, &od));
	EXPECT_TRUE(all_bytes(self->base + od, NZ_PAGES * PAGE_SZ, 0));
	b = nozero_arena(self->fd, NZ_PAGES * PAGE_SZ, &ob);
	ASSERT_NE(0, b);
	EXPECT_EQ(reused0 + 1, arena_counter("chunks_reused_nozero"));
	for (unsigned int pg = 0; pg < NZ_PAGES; pg++) {
		ASSERT_TRUE(nz_page_is(self->base + ob, pg,
				       nz_stamp(self->fd, ids[0], pg)))
			TH_LOG("page %u of the reused run", pg);
	}
	for (int i = 0; i < NZ_ARENAS; i++)
		EXPECT_TRUE(faults_at(self->base + offs[i]));
	ASSERT_EQ(0, arena_free_id(self->fd, b));
	ASSERT_EQ(0, arena_free_id(self->fd, d));
	/* Default runs after it: still zeroed, a whole chunk's worth. */
	for (int i = 0; i < NZ_ARENAS + 1; i++) {
		d = 0;
		ASSERT_EQ(0, arena_alloc_len(self->fd, &d, NZ_PAGES * PAGE_SZ,
					     ARENA_ALLOC_CREATE, &od));
		EXPECT_TRUE(all_bytes(self->base + od, NZ_PAGES * PAGE_SZ, 0));
		ASSERT_EQ(0, arena_free_id(self->fd, d));
	}
	EXPECT_EQ(reused0 + 1, arena_counter("chunks_reused_nozero"));
}

/*
 * A page of a no-zero small arena pinned by vmsplice() keeps its whole
 * shared chunk from being carved again: the next no-zero small run gets a
 * zeroed chunk, and the pipe still reads the page as it was at the free.
 */
TEST_F(pool, nozero_small_pinned_page_is_not_reused)
{
	long reused0 = arena_counter("chunks_reused_nozero");
	uint32_t ids[NZ_ARENAS], b;
	uint64_t offs[NZ_ARENAS], ob, v;
	char buf[PAGE_SZ];
	struct iovec iov;
	int pfd[2];

	if (!(self->info.out_features & ARENA_FEATURE_NOZERO_SMALL))
		SKIP(return, "no ARENA_FEATURE_NOZERO_SMALL");
	ASSERT_TRUE(nz_fill(self->fd, self->base, ids, offs));
	ASSERT_EQ(0, pipe(pfd));
	iov.iov_base = self->base + offs[3] + 5 * PAGE_SZ;
	iov.iov_len = PAGE_SZ;
	ASSERT_EQ(PAGE_SZ, vmsplice(pfd[1], &iov, 1, 0));
	for (int i = 0; i < NZ_ARENAS; i++)
		ASSERT_EQ(0, arena_free_id(self->fd, ids[i]));
	b = nozero_arena(self->fd, NZ_PAGES * PAGE_SZ, &ob);
	ASSERT_NE(0, b);
	EXPECT_EQ(reused0, arena_counter("chunks_reused_nozero"));
	EXPECT_TRUE(all_bytes(self->base + ob, NZ_PAGES * PAGE_SZ, 0));
	memset(self->base + ob, 0x44, NZ_PAGES * PAGE_SZ);
	ASSERT_EQ(PAGE_SZ, read(pfd[0], buf, PAGE_SZ));
	memcpy(&v, buf, 8);
	EXPECT_EQ(nz_stamp(self->fd, ids[3], 5), v);
	EXPECT_TRUE(all_bytes(buf + 8, PAGE_SZ - 8, 0));
	close(pfd[0]);
	close(pfd[1]);
	ASSERT_EQ(0, arena_free_id(self->fd, b));
}

/*
 * ARENA_FREE_NEXT_NOZERO: the free's next arena is a no-zero one, so a
 * "new, use, free" loop of no-zero arenas is one ioctl a round and zeroes
 * nothing. Without ARENA_FREE_NEXT the flag is refused, before the free.
 */
TEST_F(pool, free_next_nozero_hands_over_kept_pages)
{
	long reused0 = arena_counter("chunks_reused_nozero");
	struct arena_free fr = { .size = sizeof(fr) };
	uint32_t ids[NZ_ARENAS];
	uint64_t offs[NZ_ARENAS];

	if (!(self->info.out_features & ARENA_FEATURE_NOZERO_SMALL))
		SKIP(return, "no ARENA_FEATURE_NOZERO_SMALL");
	ASSERT_TRUE(nz_fill(self->fd, self->base, ids, offs));
	for (int i = 0; i < NZ_ARENAS - 1; i++)
		ASSERT_EQ(0, arena_free_id(self->fd, ids[i]));
	fr.arena_id = ids[NZ_ARENAS - 1];
	fr.flags = ARENA_FREE_NEXT_NOZERO;
	EXPECT_EQ(-EINVAL, arena_ioc(self->fd, ARENA_IOC_FREE, &fr));
	fr.next_length = NZ_PAGES * PAGE_SZ;
	EXPECT_EQ(-EINVAL, arena_ioc(self->fd, ARENA_IOC_FREE, &fr));
	EXPECT_FALSE(faults_at(self->base + offs[NZ_ARENAS - 1]));
	fr.flags = ARENA_FREE_NEXT | ARENA_FREE_NEXT_NOZERO;
	ASSERT_EQ(0, arena_ioc(self->fd, ARENA_IOC_FREE, &fr));
	ASSERT_NE(0, fr.out_next_id);
	EXPECT_TRUE(faults_at(self->base + offs[NZ_ARENAS - 1]));
	EXPECT_EQ(reused0 + 1, arena_counter("chunks_reused_nozero"));
	for (unsigned int pg = 0; pg < NZ_PAGES; pg++) {
		ASSERT_TRUE(nz_page_is(self->base + fr.out_next_offset, pg,
				       nz_stamp(self->fd, ids[0], pg)))
			TH_LOG("page %u of the next arena", pg);
	}
	ASSERT_EQ(0, arena_free_id(self->fd, fr.out_next_id));
}

/*
 * Another open file's no-zero small runs never get this file's pages: its
 * first shared chunk's worth is all zero, and nothing is reused.
 */
TEST_F(pool, nozero_small_pages_stay_with_their_file)
{
	long reused0 = arena_counter("chunks_reused_nozero");
	uint32_t ids[NZ_ARENAS], ids2[NZ_ARENAS];
	uint64_t offs[NZ_ARENAS], offs2[NZ_ARENAS], ob;
	struct arena_info in;
	char *base2;
	uint32_t b;
	int fd2;

	if (!(self->info.out_features & ARENA_FEATURE_NOZERO_SMALL))
		SKIP(return, "no ARENA_FEATURE_NOZERO_SMALL");
	ASSERT_TRUE(nz_fill(self->fd, self->base, ids, offs));
	for (int i = 0; i < NZ_ARENAS; i++)
		ASSERT_EQ(0, arena_free_id(self->fd, ids[i]));
	/* Carving a new chunk retires the first one to the kept list. */
	b = nozero_arena(self->fd, NZ_PAGES * PAGE_SZ, &ob);
	ASSERT_NE(0, b);
	ASSERT_EQ(reused0 + 1, arena_counter("chunks_reused_nozero"));
	ASSERT_EQ(0, arena_free_id(self->fd, b));
	fd2 = arena_open_window(&in, &base2);
	ASSERT_LE(0, fd2);
	/* nz_fill checks every page zero before it stamps it. */
	EXPECT_TRUE(nz_fill(fd2, base2, ids2, offs2));
	EXPECT_EQ(reused0 + 1, arena_counter("chunks_reused_nozero"));
	arena_close_window(fd2, &in, base2);
}

/*
 * A pinned page keeps its chunk out of reuse: the next no-zero arena gets
 * another chunk, and the pipe still reads what was written before the free.
 */
TEST_F(pool, nozero_pinned_chunk_is_not_reused)
{
	long reused0 = arena_counter("chunks_reused_nozero");
	uint64_t oa, ob;
	uint32_t a, b;
	char buf[PAGE_SZ];
	int pfd[2];
	struct iovec iov;

	a = nozero_arena(self->fd, self->cs, &oa);
	ASSERT_NE(0, a);
	memset(self->base + oa, 0x11, self->cs);
	ASSERT_EQ(0, pipe(pfd));
	iov.iov_base = self->base + oa + 7 * PAGE_SZ;
	iov.iov_len = PAGE_SZ;
	ASSERT_EQ(PAGE_SZ, vmsplice(pfd[1], &iov, 1, 0));
	ASSERT_EQ(0, arena_free_id(self->fd, a));
	b = nozero_arena(self->fd, self->cs, &ob);
	ASSERT_NE(0, b);
	EXPECT_EQ(reused0, arena_counter("chunks_reused_nozero"));
	EXPECT_TRUE(all_bytes(self->base + ob, self->cs, 0));
	memset(self->base + ob, 0x22, self->cs);
	ASSERT_EQ(PAGE_SZ, read(pfd[0], buf, PAGE_SZ));
	EXPECT_TRUE(all_bytes(buf, PAGE_SZ, 0x11));
	close(pfd[0]);
	close(pfd[1]);
	ASSERT_EQ(0, arena_free_id(self->fd, b));
}

/* Another open file (another window) never sees this one's bytes. */
TEST_F(pool, nozero_chunks_stay_with_their_file)
{
	long reused0 = arena_counter("chunks_reused_nozero");
	struct arena_info in;
	char *base2;
	uint64_t oa, ob;
	uint32_t a, b;
	int fd2;

	a = nozero_arena(self->fd, self->cs, &oa);
	ASSERT_NE(0, a);
	memset(self->base + oa, 0x33, self->cs);
	ASSERT_EQ(0, arena_free_id(self->fd, a));
	fd2 = arena_open_window(&in, &base2);
	ASSERT_LE(0, fd2);
	b = nozero_arena(fd2, self->cs, &ob);
	ASSERT_NE(0, b);
	EXPECT_EQ(reused0, arena_counter("chunks_reused_nozero"));
	EXPECT_TRUE(all_bytes(base2 + ob, self->cs, 0));
	arena_close_window(fd2, &in, base2);
}

/*
 * At most nozero_keep_mb of freed no-zero chunks are kept per file, still
 * in use (and charged); the rest go to the pool; closing gives all back.
 */
TEST_F(pool, nozero_keep_is_bounded)
{
	long keep = arena_param("nozero_keep_mb");
	long in_use0 = arena_counter("chunks_in_use");
	uint64_t oa;
	uint32_t a;

	ASSERT_LE(0, keep);
	ASSERT_EQ(0, arena_param_set("nozero_keep_mb", 2 * (self->cs >> 20)));
	a = nozero_arena(self->fd, 4 * self->cs, &oa);
	ASSERT_NE(0, a);
	memset(self->base + oa, 1, 4 * self->cs);
	EXPECT_EQ(in_use0 + 4, arena_counter("chunks_in_use"));
	ASSERT_EQ(0, arena_free_id(self->fd, a));
	EXPECT_EQ(in_use0 + 2, arena_counter("chunks_in_use"));
	munmap(self->base, 2 * self->info.out_window_size);
	self->base = NULL;
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(in_use0, arena_counter("chunks_in_use"));
	arena_param_set("nozero_keep_mb", keep);
}

/*
 * Kept no-zero chunks stay charged to RLIMIT_MEMLOCK, and give their
 * charges back when a request needs them: at a limit of 3 chunks, 3 kept
 * ones must not make a default arena's chunk fail with ENOMEM.
 */
TEST(nozero_kept_chunks_give_way_at_the_memlock_limit)
{
	pid_t pid;
	int status;

	if (access(ARENA_DEV, R_OK | W_OK))
		SKIP(return, "no %s", ARENA_DEV);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct arena_info info;
		uint32_t a, b = 0;
		uint64_t off;
		char *base;
		int fd = arena_open_window_memlock(3, &info, &base);

		if (fd < 0)
			_exit(10);
		a = nozero_arena(fd, 3 * info.out_chunk_size, &off);
		if (!a)
			_exit(13);
		memset(base + off, 1, 3 * info.out_chunk_size);
		if (arena_free_id(fd, a))
			_exit(14);
		/* Kept, and charged: a default chunk still fits. */
		if (arena_alloc_len(fd, &b, info.out_chunk_size,
				    ARENA_ALLOC_CREATE, &off))
			_exit(15);
		if (base[off] || base[off + info.out_chunk_size - 1])
			_exit(16);
		/* And a no-zero one, from what is left of the limit. */
		a = nozero_arena(fd, 2 * info.out_chunk_size, &off);
		if (!a)
			_exit(17);
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
}

/* Run @fn in a child at a memlock limit of @chunks; its exit status. */
static int memlock_child(unsigned int chunks,
			 int (*fn)(int fd, const struct arena_info *info,
				   char *base))
{
	struct arena_info info;
	int status, fd;
	char *base;
	pid_t pid;

	if (access(ARENA_DEV, R_OK | W_OK))
		return -1;
	pid = fork();
	if (pid < 0)
		return -2;
	if (pid == 0) {
		fd = arena_open_window_memlock(chunks, &info, &base);
		_exit(fd < 0 ? 10 : fn(fd, &info, base));
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -3;
	return WEXITSTATUS(status);
}

/*
 * Two chunks of memlock: an idle no-zero shared chunk (its arena freed)
 * and a default one in use. A whole chunk must still be had: the idle
 * shared chunk gives its charge back, as kept chunks do.
 */
static int idle_shared_chunk_child(int fd, const struct arena_info *info,
				   char *base)
{
	uint32_t a, b = 0, c = 0;
	uint64_t off;

	a = nozero_arena(fd, 4 * PAGE_SZ, &off);
	if (!a)
		return 11;
	base[off] = 1;
	if (arena_free_id(fd, a))
		return 12;
	if (arena_alloc_len(fd, &b, 4 * PAGE_SZ, ARENA_ALLOC_CREATE, &off))
		return 13;
	if (arena_alloc_len(fd, &c, info->out_chunk_size, ARENA_ALLOC_CREATE,
			    &off))
		return 14;
	base[off] = 1;
	return 0;
}

TEST(idle_shared_chunk_gives_way_at_the_memlock_limit)
{
	int ret = memlock_child(2, idle_shared_chunk_child);

	if (ret == -1)
		SKIP(return, "no %s", ARENA_DEV);
	EXPECT_EQ(0, ret);
}

/*
 * One chunk of memlock, a shared chunk nearly carved out by a live arena:
 * a run larger than what is left fails (a second chunk is over the limit),
 * and a run that fits in the rest still comes from it.
 */
static int carve_remainder_child(int fd, const struct arena_info *info,
				 char *base)
{
	unsigned long pages = info->out_chunk_size / PAGE_SZ;
	uint32_t a = 0, b = 0, c = 0;
	uint64_t off;

	if (arena_alloc_len(fd, &a, (pages - 10) * PAGE_SZ,
			    ARENA_ALLOC_CREATE, &off))
		return 11;
	base[off] = 1;
	if (arena_alloc_len(fd, &b, 16 * PAGE_SZ, ARENA_ALLOC_CREATE,
			    &off) != -ENOMEM)
		return 12;
	if (arena_alloc_len(fd, &c, PAGE_SZ, ARENA_ALLOC_CREATE, &off))
		return 13;
	base[off] = 1;
	return 0;
}

TEST(shared_chunk_remainder_survives_a_failed_run)
{
	int ret = memlock_child(1, carve_remainder_child);

	if (ret == -1)
		SKIP(return, "no %s", ARENA_DEV);
	EXPECT_EQ(0, ret);
}

TEST_HARNESS_MAIN
