// SPDX-License-Identifier: GPL-2.0
/*
 * Description: no-zero arenas (ARENA_ALLOC_NOZERO, ARENA_FREE_NEXT_NOZERO).
 * Whole chunks and the shared chunks of small runs that a file's own
 * no-zero arenas freed come back unzeroed, page for page, to its next
 * no-zero arenas only, at new addresses while the old ones fault; a pinned
 * page keeps its chunk out of that reuse; another file never sees them;
 * what is kept is bounded and gives way at the memlock limit. (Split from
 * arena_pool.c, to keep each program's run short.)
 */
#include "arena_helpers.h"	/* first: it defines _GNU_SOURCE */

#include <fcntl.h>
#include <linux/capability.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "kselftest_harness.h"

FIXTURE(nozero) {
	int fd;
	struct arena_info info;
	char *base;
	size_t cs;
};

FIXTURE_SETUP(nozero)
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
}

FIXTURE_TEARDOWN(nozero)
{
	if (self->base)
		munmap(self->base, 2 * self->info.out_window_size);
	if (self->fd >= 0)
		close(self->fd);
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
TEST_F(nozero, nozero_reuses_own_chunks_unzeroed)
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
TEST_F(nozero, nozero_small_runs_reuse_own_pages)
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
TEST_F(nozero, nozero_small_pinned_page_is_not_reused)
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
TEST_F(nozero, free_next_nozero_hands_over_kept_pages)
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
TEST_F(nozero, nozero_small_pages_stay_with_their_file)
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
TEST_F(nozero, nozero_pinned_chunk_is_not_reused)
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
TEST_F(nozero, nozero_chunks_stay_with_their_file)
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
TEST_F(nozero, nozero_keep_is_bounded)
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
 * Kept no-zero chunks stay charged to RLIMIT_MEMLOCK, and give their
 * charges back when a request needs them: at a limit of 3 chunks, 3 kept
 * ones must not make a default arena's chunk fail with ENOMEM.
 */
static int kept_chunks_child(int fd, const struct arena_info *info,
			     char *base)
{
	uint32_t a, b = 0;
	uint64_t off;

	a = nozero_arena(fd, 3 * info->out_chunk_size, &off);
	if (!a)
		return 13;
	memset(base + off, 1, 3 * info->out_chunk_size);
	if (arena_free_id(fd, a))
		return 14;
	/* Kept, and charged: a default chunk still fits. */
	if (arena_alloc_len(fd, &b, info->out_chunk_size, ARENA_ALLOC_CREATE,
			    &off))
		return 15;
	if (base[off] || base[off + info->out_chunk_size - 1])
		return 16;
	/* And a no-zero one, from what is left of the limit. */
	a = nozero_arena(fd, 2 * info->out_chunk_size, &off);
	return a ? 0 : 17;
}

TEST(nozero_kept_chunks_give_way_at_the_memlock_limit)
{
	int ret = memlock_child(3, kept_chunks_child);

	if (ret == -1)
		SKIP(return, "no %s", ARENA_DEV);
	EXPECT_EQ(0, ret);
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
