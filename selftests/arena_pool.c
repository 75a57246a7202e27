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

TEST_HARNESS_MAIN
