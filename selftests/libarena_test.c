// SPDX-License-Identifier: GPL-2.0
/*
 * Description: libarena on the kernel backend: alignment, chunk edges, large
 * requests, every freed byte faulting, errors as NULL + errno, the reverse
 * lookup, many arenas at once, and fork.
 */
#include "arena_helpers.h"	/* first: it defines _GNU_SOURCE */

#include <sys/wait.h>

#include <libarena.h>

#include "kselftest_harness.h"

FIXTURE(lib) {
	struct arena *a;
	size_t cs;
};

FIXTURE_SETUP(lib)
{
	if (access(ARENA_DEV, R_OK | W_OK))
		SKIP(return, "no %s", ARENA_DEV);
	self->a = arena_new(0);
	ASSERT_NE(NULL, self->a);
	self->cs = arena_chunk_size();
	ASSERT_EQ(2UL << 20, self->cs);
}

FIXTURE_TEARDOWN(lib)
{
	arena_free(self->a);
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
	free(v);
}

TEST_F(lib, exact_fit_fills_the_chunk)
{
	char *p = arena_alloc(self->a, 16), *q, *r;
	size_t quarter = self->cs / 4;
	int i;

	ASSERT_NE(NULL, p);
	/* p starts a fresh chunk; fill it to the last byte. */
	for (i = 0; i < 3; i++)
		ASSERT_EQ(p + 16 + i * quarter, arena_alloc(self->a, quarter));
	q = arena_alloc(self->a, quarter - 16);
	EXPECT_EQ(p + 16 + 3 * quarter, q);
	memset(q, 1, quarter - 16);
	/* Full: the next one starts another chunk. */
	r = arena_alloc(self->a, 1);
	ASSERT_NE(NULL, r);
	EXPECT_TRUE(r < p || r >= p + self->cs);
}

TEST_F(lib, large_requests_get_their_own_run)
{
	char *small = arena_alloc(self->a, 64), *big, *after;
	size_t bigsz = self->cs * 3 + 12345;

	ASSERT_NE(NULL, small);
	big = arena_alloc(self->a, bigsz);
	ASSERT_NE(NULL, big);
	EXPECT_EQ(0, (uintptr_t)big % self->cs);
	memset(big, 0x33, bigsz);
	EXPECT_EQ(0x33, big[bigsz - 1]);
	/* The small allocations continue in the first chunk. */
	after = arena_alloc(self->a, 64);
	EXPECT_EQ(small + 64, after);
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
	EXPECT_EQ(NULL, arena_alloc(self->a, (size_t)1 << 50));
	EXPECT_EQ(ENOMEM, errno);
	/* The arena still works. */
	EXPECT_NE(NULL, arena_alloc(self->a, 10));
}

TEST(unknown_flags_einval)
{
	if (access(ARENA_DEV, R_OK | W_OK))
		SKIP(return, "no %s", ARENA_DEV);
	errno = 0;
	EXPECT_EQ(NULL, arena_new(1));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(NULL, arena_new(0x80000000u));
	EXPECT_EQ(EINVAL, errno);
}

TEST(free_null_is_a_noop)
{
	arena_free(NULL);
}

TEST(every_freed_allocation_faults)
{
	struct arena *a;
	char *p[64];
	size_t sz[64];
	int i;

	if (access(ARENA_DEV, R_OK | W_OK))
		SKIP(return, "no %s", ARENA_DEV);
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

TEST(lookup_names_the_arena)
{
	struct arena_addr_info info;
	struct arena *a, *b;
	char *pa, *pb;

	if (access(ARENA_DEV, R_OK | W_OK))
		SKIP(return, "no %s", ARENA_DEV);
	a = arena_new(0);
	b = arena_new(0);
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	EXPECT_NE(arena_id(a), arena_id(b));
	pa = arena_alloc(a, 100);
	pb = arena_alloc(b, 100);
	ASSERT_NE(NULL, pa);
	ASSERT_NE(NULL, pb);

	ASSERT_EQ(0, arena_lookup(pa + 50, &info));
	EXPECT_EQ(ARENA_ADDR_LIVE, info.state);
	EXPECT_EQ(arena_id(a), info.arena_id);
	EXPECT_EQ(50, info.offset);

	arena_free(b);
	ASSERT_EQ(0, arena_lookup(pb, &info));
	EXPECT_EQ(ARENA_ADDR_FREED, info.state);
	EXPECT_EQ(getpid(), info.freed_by_pid);

	ASSERT_EQ(0, arena_lookup(&info, &info));
	EXPECT_EQ(ARENA_ADDR_UNKNOWN, info.state);
	arena_free(a);
}

TEST(thousand_arenas_at_once)
{
	struct arena *a[1000];
	char *p[1000];
	int i;

	if (access(ARENA_DEV, R_OK | W_OK))
		SKIP(return, "no %s", ARENA_DEV);
	for (i = 0; i < 1000; i++) {
		a[i] = arena_new(0);
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
	EXPECT_EQ(0, arena_counter("arenas_live"));
}

TEST(fork_child_gets_echild_and_can_start_over)
{
	struct arena *a;
	char *p;
	pid_t pid;
	int status;

	if (access(ARENA_DEV, R_OK | W_OK))
		SKIP(return, "no %s", ARENA_DEV);
	a = arena_new(0);
	ASSERT_NE(NULL, a);
	p = arena_alloc(a, 100);
	ASSERT_NE(NULL, p);
	strcpy(p, "parent");

	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct arena *c;
		char *q;
		int bad = 0;

		errno = 0;
		bad |= (arena_alloc(a, 10) != NULL || errno != ECHILD) << 0;
		bad |= (arena_alloc(a, 0) != NULL) << 1;
		bad |= !faults_at(p) << 2;
		arena_free(a);	/* harmless in the child */
		c = arena_new(0);
		bad |= !c << 3;
		if (c) {
			q = arena_alloc(c, 100);
			bad |= !q << 4;
			if (q)
				strcpy(q, "child");
			arena_free(c);
		}
		_exit(bad);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0, strcmp(p, "parent"));
	EXPECT_NE(NULL, arena_alloc(a, 10));
	arena_free(a);
}

TEST_HARNESS_MAIN
