// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the mmap window and its VMA edges: wrong size, offset, flags
 * and protections are refused; the window maps once, PMD aligned; splitting
 * it (partial munmap or mprotect) and moving it (mremap) are refused; fork
 * leaves the child without a window while the parent keeps working; a file
 * used from another process is refused.
 *
 *	window:  [ slot 0 | slot 1 | ... | slot N-1 ]   one VMA, never split
 */
#include "arena_helpers.h"	/* first: it defines _GNU_SOURCE */

#include <sys/wait.h>

#include "kselftest_harness.h"

FIXTURE(win) {
	int fd;
	struct arena_info info;
	char *base;
};

FIXTURE_SETUP(win)
{
	self->base = NULL;
	self->fd = open(ARENA_DEV, O_RDWR | O_CLOEXEC);
	if (self->fd < 0)
		SKIP(return, "cannot open %s: %s", ARENA_DEV, strerror(errno));
	ASSERT_EQ(0, arena_get_info(self->fd, &self->info));
}

FIXTURE_TEARDOWN(win)
{
	if (self->base)
		munmap(self->base, 2 * self->info.out_window_size);
	if (self->fd >= 0)
		close(self->fd);
}

static void *map(int fd, size_t len, int prot, int flags, off_t off)
{
	return mmap(NULL, len, prot, flags, fd, off);
}

TEST_F(win, wrong_size_offset_flags_are_refused)
{
	size_t w = self->info.out_window_size, cs = self->info.out_chunk_size;
	int rw = PROT_READ | PROT_WRITE;

	EXPECT_EQ(MAP_FAILED, map(self->fd, w - cs, rw, MAP_SHARED, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, map(self->fd, w + cs, rw, MAP_SHARED, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, map(self->fd, PAGE_SZ, rw, MAP_SHARED, 0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, map(self->fd, w, rw, MAP_SHARED, cs));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, map(self->fd, w, rw, MAP_SHARED, PAGE_SZ));
	EXPECT_EQ(EINVAL, errno);
	/* Private: copies of arena pages could not be revoked. */
	EXPECT_EQ(MAP_FAILED, map(self->fd, w, rw, MAP_PRIVATE | MAP_NORESERVE,
				  0));
	EXPECT_EQ(EINVAL, errno);
	/* Without MAP_NORESERVE the overcommit check may refuse it first. */
	EXPECT_EQ(MAP_FAILED, map(self->fd, w, rw, MAP_PRIVATE, 0));
	EXPECT_EQ(MAP_FAILED, map(self->fd, w, rw | PROT_EXEC, MAP_SHARED, 0));
	EXPECT_EQ(EPERM, errno);
	/* Offsets near the top of the file offset range. */
	EXPECT_EQ(MAP_FAILED, map(self->fd, w, rw, MAP_SHARED,
				  (off_t)(~0UL >> 1) & ~(off_t)(PAGE_SZ - 1)));
	/* None of that used up the one mapping the file allows. */
	self->base = arena_map_window(self->fd, w);
	ASSERT_NE(NULL, self->base);
}

TEST_F(win, window_is_pmd_aligned_and_maps_once)
{
	size_t w = self->info.out_window_size;

	self->base = arena_map_window(self->fd, w);
	ASSERT_NE(NULL, self->base);
	EXPECT_EQ(0, (uintptr_t)self->base % self->info.out_chunk_size);
	EXPECT_EQ(MAP_FAILED, map(self->fd, w, PROT_READ | PROT_WRITE,
				  MAP_SHARED, 0));
	EXPECT_EQ(EBUSY, errno);
}

TEST_F(win, unaligned_fixed_address_is_refused)
{
	size_t w = self->info.out_window_size, cs = self->info.out_chunk_size;
	char *hole = mmap(NULL, w + 2 * cs, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	char *at;

	ASSERT_NE(MAP_FAILED, hole);
	at = (char *)(((uintptr_t)hole + cs) & ~(cs - 1)) + PAGE_SZ;
	EXPECT_EQ(MAP_FAILED, mmap(at, w, PROT_READ | PROT_WRITE,
				   MAP_SHARED | MAP_FIXED, self->fd, 0));
	EXPECT_EQ(EINVAL, errno);
	munmap(hole, w + 2 * cs);
}

TEST_F(win, exec_cannot_be_added_later)
{
	self->base = arena_map_window(self->fd, self->info.out_window_size);
	ASSERT_NE(NULL, self->base);
	EXPECT_EQ(-1, mprotect(self->base, self->info.out_window_size,
			       PROT_READ | PROT_EXEC));
	EXPECT_EQ(EACCES, errno);
}

TEST_F(win, split_and_move_are_refused)
{
	size_t w = self->info.out_window_size, cs = self->info.out_chunk_size;
	char *base, *dst;
	uint64_t off;
	long id;

	base = self->base = arena_map_window(self->fd, w);
	ASSERT_NE(NULL, base);
	id = arena_create_id(self->fd);
	ASSERT_GT(id, 0);
	ASSERT_EQ(0, arena_chunks(self->fd, id, 1, &off));
	base[off] = 42;

	EXPECT_EQ(-1, munmap(base + PAGE_SZ, PAGE_SZ));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, munmap(base + w - cs, cs));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(-1, mprotect(base, cs, PROT_READ));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mremap(base, w, w - cs, 0));
	EXPECT_EQ(MAP_FAILED, mremap(base, w, w + cs, MREMAP_MAYMOVE));

	/* A move of the whole window to a free place is refused too. */
	dst = mmap(NULL, w + cs, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, dst);
	dst = (char *)(((uintptr_t)dst + cs - 1) & ~(cs - 1));
	EXPECT_EQ(MAP_FAILED, mremap(base, w, w, MREMAP_MAYMOVE | MREMAP_FIXED,
				     dst));

	/* After all that the window is whole and the data is there. */
	EXPECT_EQ(42, base[off]);
	EXPECT_EQ(0, arena_free_id(self->fd, id));
	EXPECT_TRUE(faults_at(base + off));
}

TEST_F(win, fork_child_has_no_window)
{
	size_t w = self->info.out_window_size;
	uint64_t off;
	long id;
	pid_t pid;
	int status;
	char *base;

	base = self->base = arena_map_window(self->fd, w);
	ASSERT_NE(NULL, base);
	id = arena_create_id(self->fd);
	ASSERT_GT(id, 0);
	ASSERT_EQ(0, arena_chunks(self->fd, id, 1, &off));
	memset(base + off, 0x5a, 4096);

	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		uint64_t o2;
		int bad = 0;

		/* VM_DONTCOPY: nothing at the window's address. */
		bad |= !faults_at(base + off) << 0;
		/* The inherited file belongs to the parent. */
		bad |= (arena_free_id(self->fd, id) != -EPERM) << 1;
		bad |= (arena_chunks(self->fd, id, 1, &o2) != -EPERM) << 2;
		bad |= (arena_create_id(self->fd) != -EPERM) << 3;
		bad |= (map(self->fd, w, PROT_READ | PROT_WRITE, MAP_SHARED,
			    0) != MAP_FAILED) << 4;
		_exit(bad);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));

	/* The parent keeps working: its data and its arena are intact. */
	EXPECT_EQ(0x5a, base[off + 4095]);
	ASSERT_EQ(0, arena_chunks(self->fd, id, 1, &off));
	base[off] = 1;
	EXPECT_EQ(0, arena_free_id(self->fd, id));
	EXPECT_TRUE(faults_at(base + off));
}

TEST_F(win, madv_dofork_child_still_loses_freed_pages)
{
	size_t w = self->info.out_window_size;
	uint64_t off;
	long id;
	pid_t pid;
	int status, pfd[2], cfd[2];
	char *base, c;

	base = self->base = arena_map_window(self->fd, w);
	ASSERT_NE(NULL, base);
	id = arena_create_id(self->fd);
	ASSERT_GT(id, 0);
	ASSERT_EQ(0, arena_chunks(self->fd, id, 1, &off));
	base[off] = 7;
	/*
	 * Undo VM_DONTCOPY: the child then shares the window. Revocation
	 * goes through the file's address_space, so free reaches the child's
	 * mapping too.
	 */
	if (madvise(base, w, MADV_DOFORK))
		SKIP(return, "MADV_DOFORK refused: %s", strerror(errno));
	ASSERT_EQ(0, pipe(pfd));
	ASSERT_EQ(0, pipe(cfd));
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int bad = base[off] != 7;

		/* Tell the parent we saw the page, wait for its free. */
		bad |= write(cfd[1], "r", 1) != 1;
		bad |= read(pfd[0], &c, 1) != 1;
		bad |= !faults_at(base + off) << 1;
		_exit(bad);
	}
	ASSERT_EQ(1, read(cfd[0], &c, 1));
	ASSERT_EQ(0, arena_free_id(self->fd, id));
	ASSERT_EQ(1, write(pfd[1], "f", 1));
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_TRUE(faults_at(base + off));
}

TEST_F(win, never_allocated_slots_fault)
{
	size_t w = self->info.out_window_size;
	long before = arena_counter("wild_faults");
	char *base;

	base = self->base = arena_map_window(self->fd, w);
	ASSERT_NE(NULL, base);
	EXPECT_TRUE(faults_at(base));
	EXPECT_TRUE(faults_at(base + w / 2 + 123));
	EXPECT_TRUE(faults_at(base + w - 1));
	/* Each probe reads and writes: two faults each. */
	EXPECT_EQ(before + 6, arena_counter("wild_faults"));
}

TEST_F(win, munmap_whole_window_then_close_releases_all)
{
	long base_chunks = arena_counter("chunks_in_use");
	uint64_t off;
	long id;
	char *base;

	base = self->base = arena_map_window(self->fd, self->info.out_window_size);
	ASSERT_NE(NULL, base);
	id = arena_create_id(self->fd);
	ASSERT_GT(id, 0);
	ASSERT_EQ(0, arena_chunks(self->fd, id, 2, &off));
	memset(base + off, 1, 2 * self->info.out_chunk_size);
	EXPECT_EQ(base_chunks + 2, arena_counter("chunks_in_use"));
	/* The mapping holds the file: closing the fd frees nothing yet. */
	close(self->fd);
	self->fd = -1;
	EXPECT_EQ(base_chunks + 2, arena_counter("chunks_in_use"));
	EXPECT_EQ(1, base[off + 5]);
	ASSERT_EQ(0, munmap(base, 2 * self->info.out_window_size));
	self->base = NULL;
	EXPECT_EQ(base_chunks, arena_counter("chunks_in_use"));
	EXPECT_EQ(0, arena_counter("windows_open"));
}

TEST(exit_releases_everything)
{
	long chunks = arena_counter("chunks_in_use");
	pid_t pid;
	int status;

	ASSERT_GE(chunks, 0);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct arena_info info;
		uint64_t off;
		int fd = open(ARENA_DEV, O_RDWR);
		char *base;
		long id;

		if (fd < 0 || arena_get_info(fd, &info))
			_exit(1);
		base = arena_map_window(fd, info.out_window_size);
		if (!base)
			_exit(2);
		for (int i = 0; i < 3; i++) {
			id = arena_create_id(fd);
			if (id <= 0 || arena_chunks(fd, id, 2, &off))
				_exit(3);
			base[off] = 1;
			if (i == 1 && arena_free_id(fd, id))
				_exit(4);
		}
		/* Exit with live arenas, a freed one and the file open. */
		_exit(0);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	ASSERT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(chunks, arena_counter("chunks_in_use"));
	EXPECT_EQ(0, arena_counter("arenas_live"));
	EXPECT_EQ(0, arena_counter("windows_open"));
}

TEST_HARNESS_MAIN
