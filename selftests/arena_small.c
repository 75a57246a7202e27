// SPDX-License-Identifier: GPL-2.0
/*
 * Description: small arenas (ARENA_IOC_ALLOC below a chunk). Small runs of
 * many arenas are carved out of one shared physical chunk at page
 * granularity and mapped page by page in their own (top) part of the window;
 * freeing an arena revokes exactly its pages: every byte of it faults, no
 * other arena loses a byte, and no page is ever mapped into two live arenas.
 * A shared chunk goes to the quarantine once every run carved from it is
 * freed, and a pin on one arena's page holds only that physical chunk. Also:
 * the ioctl's validation, ARENA_ALLOC_CREATE/RESET, lookups, the UAF
 * counter, and 10,000 live 1 KiB arenas in at most 64 MiB.
 */
#include "arena_helpers.h"	/* first: it defines _GNU_SOURCE */

#include <fcntl.h>
#include <sys/resource.h>
#include <sys/uio.h>

#include "kselftest_harness.h"

/*
 * The heavy cases (thousands of arenas, a fault probe in each) and those
 * that wait for the pool to settle get longer than the harness's 30 s: the
 * debug kernel (KASAN, DEBUG_PAGEALLOC) under TCG runs them about ten times
 * slower than the stock one, and a busy host slows the zeroing worker.
 */

FIXTURE(small) {
	int fd;
	struct arena_info info;
	char *base;
	size_t cs;
	long va_mb;
};

FIXTURE_SETUP(small)
{
	self->va_mb = arena_param("va_quarantine_mb");
	ARENA_SETUP_WINDOW(self);
	self->cs = self->info.out_chunk_size;
}

FIXTURE_TEARDOWN(small)
{
	arena_close_window(self->fd, &self->info, self->base);
	if (self->va_mb >= 0)
		arena_param_set("va_quarantine_mb", self->va_mb);
}

/* Every byte of page @pg of arena @id holds this. */
static char tag(uint32_t id, size_t pg)
{
	return (char)(id * 31 + pg * 7 + 1);
}

static void fill(char *p, size_t pages, uint32_t id)
{
	for (size_t pg = 0; pg < pages; pg++)
		memset(p + pg * PAGE_SZ, tag(id, pg), PAGE_SZ);
}

/*
 * -1 if every byte is as fill() left it, else the first bad offset. Runs of
 * more than 64 pages are sampled: their first, middle and last pages.
 */
static long check(const char *p, size_t pages, uint32_t id)
{
	for (size_t pg = 0; pg < pages; pg++) {
		if (pages > 64 && pg && pg != pages / 2 && pg != pages - 1)
			continue;
		for (size_t i = pg * PAGE_SZ; i < (pg + 1) * PAGE_SZ; i++)
			if (p[i] != tag(id, pg))
				return (long)i;
	}
	return -1;
}

/* The first, a middle and the last byte of every page fault exactly. */
static bool all_pages_fault(char *p, size_t pages)
{
	for (size_t pg = 0; pg < pages; pg++) {
		char *page = p + pg * PAGE_SZ;

		if (!faults_at(page) || !faults_at(page + PAGE_SZ / 2 + 3) ||
		    !faults_at(page + PAGE_SZ - 1))
			return false;
	}
	return true;
}

TEST_F(small, alloc_validates_its_arguments)
{
	struct arena_alloc al;
	uint32_t id = 0;
	uint64_t off, window = self->info.out_window_size;

	ASSERT_EQ(0, small_arena(self->fd, 1, &id, &off));
	/* Length: nonzero, page aligned, at most the window. */
	EXPECT_EQ(-EINVAL, arena_alloc_len(self->fd, &id, 0, 0, &off));
	EXPECT_EQ(-EINVAL, arena_alloc_len(self->fd, &id, 100, 0, &off));
	EXPECT_EQ(-EINVAL, arena_alloc_len(self->fd, &id, PAGE_SZ + 1, 0,
					   &off));
	EXPECT_EQ(-EINVAL, arena_alloc_len(self->fd, &id, window + PAGE_SZ,
					   0, &off));
	EXPECT_EQ(-EINVAL, arena_alloc_len(self->fd, &id, window + 1, 0,
					   &off));
	EXPECT_EQ(-EINVAL, arena_alloc_len(self->fd, &id, ~0ULL & ~4095ULL,
					   0, &off));
	/* Flags. */
	EXPECT_EQ(-EINVAL, arena_alloc_len(self->fd, &id, PAGE_SZ, 0x8, &off));
	EXPECT_EQ(-EINVAL, arena_alloc_len(self->fd, &id, PAGE_SZ,
					   ARENA_ALLOC_CREATE, &off));
	{
		uint32_t zero = 0;

		EXPECT_EQ(-EINVAL, arena_alloc_len(self->fd, &zero, PAGE_SZ,
						   ARENA_ALLOC_CREATE |
						   ARENA_ALLOC_RESET, &off));
		/* Id 0 without CREATE is no arena. */
		EXPECT_EQ(-ENOENT, arena_alloc_len(self->fd, &zero, PAGE_SZ,
						   0, &off));
	}
	/* Unknown arena. */
	{
		uint32_t bad = id + 1000;

		EXPECT_EQ(-ENOENT, arena_alloc_len(self->fd, &bad, PAGE_SZ, 0,
						   &off));
	}
	/* Reserved field, and the size rules. */
	memset(&al, 0, sizeof(al));
	al.size = sizeof(al);
	al.arena_id = id;
	al.length = PAGE_SZ;
	al.__reserved = 1;
	EXPECT_EQ(-EINVAL, arena_ioc(self->fd, ARENA_IOC_ALLOC, &al));
	al.__reserved = 0;
	al.size = sizeof(al) - 8;
	EXPECT_EQ(-EINVAL, arena_ioc(self->fd, ARENA_IOC_ALLOC, &al));
	{
		struct { struct arena_alloc al; uint64_t tail; } big = {
			.al = al, .tail = 1,
		};

		big.al.size = sizeof(big);
		EXPECT_EQ(-E2BIG, arena_ioc(self->fd, ARENA_IOC_ALLOC, &big));
		big.tail = 0;
		EXPECT_EQ(0, arena_ioc(self->fd, ARENA_IOC_ALLOC, &big));
		EXPECT_EQ(PAGE_SZ, big.al.out_length);
	}
	EXPECT_EQ(-EFAULT, arena_ioc(self->fd, ARENA_IOC_ALLOC, (void *)8));
	EXPECT_EQ(0, arena_free_id(self->fd, id));
}

TEST_F(small, create_and_lengths)
{
	struct arena_alloc al = { .size = sizeof(al) };
	uint32_t id = 0;

	/* CREATE returns a fresh id and a zeroed small run. */
	al.flags = ARENA_ALLOC_CREATE;
	al.length = 3 * PAGE_SZ;
	ASSERT_EQ(0, arena_ioc(self->fd, ARENA_IOC_ALLOC, &al));
	id = al.arena_id;
	EXPECT_NE(0, id);
	EXPECT_EQ(3 * PAGE_SZ, al.out_length);
	EXPECT_EQ(0, al.out_offset % PAGE_SZ);
	for (size_t i = 0; i < 3 * PAGE_SZ; i++)
		ASSERT_EQ(0, self->base[al.out_offset + i]);
	/* Another id, as CREATE ioctl would give. */
	{
		long other = arena_create_id(self->fd);

		EXPECT_GT(other, 0);
		EXPECT_NE(id, (uint32_t)other);
		EXPECT_EQ(0, arena_free_id(self->fd, other));
	}

	/* The largest small run; a chunk or more is rounded to chunks. */
	al.flags = 0;
	al.arena_id = id;
	al.length = self->cs - PAGE_SZ;
	ASSERT_EQ(0, arena_ioc(self->fd, ARENA_IOC_ALLOC, &al));
	EXPECT_EQ(self->cs - PAGE_SZ, al.out_length);
	al.length = self->cs + PAGE_SZ;
	ASSERT_EQ(0, arena_ioc(self->fd, ARENA_IOC_ALLOC, &al));
	EXPECT_EQ(2 * self->cs, al.out_length);
	EXPECT_EQ(0, al.out_offset % self->cs);
	memset(self->base + al.out_offset, 1, 2 * self->cs);
	EXPECT_EQ(0, arena_free_id(self->fd, id));
	EXPECT_TRUE(faults_at(self->base + al.out_offset + self->cs + 5));
}

TEST_F(small, small_runs_live_in_the_small_window)
{
	char *small = self->base + self->info.out_window_size;
	uint32_t a = 0;
	uint64_t soff, coff;
	long cid = arena_create_id(self->fd);

	ASSERT_GT(cid, 0);
	ASSERT_EQ(0, small_arena(self->fd, 1, &a, &soff));
	ASSERT_EQ(0, arena_chunks(self->fd, cid, 1, &coff));
	/* Small slots from the small window's bottom up, chunks likewise. */
	EXPECT_GE(soff, self->info.out_window_size);
	EXPECT_LT(soff, self->info.out_window_size + 64 * self->cs);
	EXPECT_LT(coff, 64 * self->cs);
	/* One page maps one PTE: never the whole shared chunk by a PMD. */
	self->base[soff] = 1;
	self->base[coff] = 1;
	EXPECT_EQ(0, smaps_field_kb(small, "FilePmdMapped:"));
	EXPECT_EQ(4, smaps_field_kb(small, "Rss:"));
	EXPECT_EQ((long)(self->cs >> 10),
		  smaps_field_kb(self->base, "FilePmdMapped:"));
	EXPECT_EQ(0, arena_free_id(self->fd, a));
	EXPECT_EQ(0, arena_free_id(self->fd, cid));
	EXPECT_EQ(0, smaps_field_kb(small, "Rss:"));
	EXPECT_EQ(0, smaps_field_kb(self->base, "Rss:"));
}

TEST_F_TIMEOUT(small, arenas_share_one_physical_chunk, 180)
{
	long in_use0, shared0;
	uint32_t id[64];
	uint64_t off[64];
	int i;

	ASSERT_TRUE(arena_pool_settle(60000));
	in_use0 = arena_counter("chunks_in_use");
	shared0 = arena_counter("chunks_shared");
	ASSERT_GE(shared0, 0);
	for (i = 0; i < 64; i++) {
		ASSERT_EQ(0, small_arena(self->fd, 2, &id[i], &off[i]));
		fill(self->base + off[i], 2, id[i]);
	}
	/* 128 pages: one shared chunk, not 64. */
	EXPECT_EQ(in_use0 + 1, arena_counter("chunks_in_use"));
	EXPECT_EQ(shared0 + 1, arena_counter("chunks_shared"));
	for (i = 0; i < 64; i++)
		ASSERT_EQ(-1, check(self->base + off[i], 2, id[i]));
	for (i = 0; i < 64; i++)
		ASSERT_EQ(0, arena_free_id(self->fd, id[i]));
	/* Still the space's chunk to carve from: it stays until close. */
	EXPECT_EQ(shared0 + 1, arena_counter("chunks_shared"));
	close(self->fd);
	munmap(self->base, 2 * self->info.out_window_size);
	self->base = NULL;
	self->fd = -1;
	EXPECT_EQ(shared0, arena_counter("chunks_shared"));
	EXPECT_EQ(in_use0, arena_counter("chunks_in_use"));
}

/*
 * Mixed small and whole-chunk arenas, small ones growing (1, 2, 4 ... pages)
 * and some also holding whole chunks, freed in random order. After each
 * free: every live arena's bytes are intact (no page mapped into two
 * arenas), every page of the freed one faults.
 */
TEST_F_TIMEOUT(small, mixed_arenas_freed_in_random_order, 600)
{
	enum { N = 48, RUNS = 4 };
	struct { uint32_t id; int nr; uint64_t off[RUNS]; size_t pages[RUNS];
		 bool live; } ar[N];
	unsigned int seed = 12345;
	int i, r, left = N, bad = 0;

	for (i = 0; i < N; i++) {
		ar[i].id = 0;
		ar[i].nr = 0;
		ar[i].live = true;
		for (r = 0; r < RUNS; r++) {
			size_t pages = (size_t)1 << (r + (i % 3));
			uint32_t fl = r ? 0 : ARENA_ALLOC_CREATE;

			/* Every fifth arena also gets a whole chunk. */
			if (i % 5 == 0 && r == RUNS - 1)
				pages = self->cs / PAGE_SZ;
			ASSERT_EQ(0, arena_alloc_len(self->fd, &ar[i].id,
						     pages * PAGE_SZ, fl,
						     &ar[i].off[r]));
			ar[i].pages[r] = pages;
			ar[i].nr++;
			fill(self->base + ar[i].off[r], pages, ar[i].id + r);
		}
	}
	while (left) {
		seed = seed * 1103515245 + 12345;
		i = (seed >> 8) % N;
		if (!ar[i].live)
			continue;
		ASSERT_EQ(0, arena_free_id(self->fd, ar[i].id));
		ar[i].live = false;
		left--;
		for (r = 0; r < ar[i].nr; r++)
			if (!all_pages_fault(self->base + ar[i].off[r],
					     ar[i].pages[r]))
				bad++;
		for (int j = 0; j < N; j++) {
			if (!ar[j].live)
				continue;
			for (r = 0; r < ar[j].nr; r++)
				if (check(self->base + ar[j].off[r],
					  ar[j].pages[r], ar[j].id + r) != -1)
					bad++;
		}
	}
	EXPECT_EQ(0, bad);
}

TEST_F(small, free_revokes_exactly_its_pages)
{
	uint32_t a = 0, b = 0, c = 0;
	uint64_t oa, ob, oc;
	long before;

	/* Three neighbours in the window and in the shared chunk. */
	ASSERT_EQ(0, small_arena(self->fd, 3, &a, &oa));
	ASSERT_EQ(0, small_arena(self->fd, 1, &b, &ob));
	ASSERT_EQ(0, small_arena(self->fd, 2, &c, &oc));
	ASSERT_EQ(oa + 3 * PAGE_SZ, ob);
	ASSERT_EQ(ob + PAGE_SZ, oc);
	fill(self->base + oa, 3, a);
	fill(self->base + ob, 1, b);
	fill(self->base + oc, 2, c);

	before = arena_counter("uaf_faults");
	ASSERT_EQ(0, arena_free_id(self->fd, b));
	EXPECT_TRUE(all_pages_fault(self->base + ob, 1));
	/* 3 probes x (read + write). */
	EXPECT_EQ(before + 6, arena_counter("uaf_faults"));
	EXPECT_EQ(-1, check(self->base + oa, 3, a));
	EXPECT_EQ(-1, check(self->base + oc, 2, c));
	/* The last byte before and the first after still work. */
	self->base[ob - 1] = 9;
	self->base[ob + PAGE_SZ] = 9;
	EXPECT_EQ(9, self->base[ob - 1]);
	ASSERT_EQ(0, arena_free_id(self->fd, a));
	ASSERT_EQ(0, arena_free_id(self->fd, c));
	EXPECT_TRUE(all_pages_fault(self->base + oa, 3));
	EXPECT_TRUE(all_pages_fault(self->base + oc, 2));
}

TEST_F(small, lookup_is_page_granular)
{
	struct arena_lookup lk;
	uint32_t a = 0, b = 0;
	uint64_t oa, ob, oa2;

	ASSERT_EQ(0, small_arena(self->fd, 2, &a, &oa));
	ASSERT_EQ(0, small_arena(self->fd, 1, &b, &ob));
	ASSERT_EQ(0, arena_alloc_len(self->fd, &a, 4 * PAGE_SZ, 0, &oa2));

	ASSERT_EQ(0, arena_lookup_off(self->fd, oa + PAGE_SZ + 17, &lk));
	EXPECT_EQ(ARENA_SLOT_LIVE, lk.out_state);
	EXPECT_EQ(a, lk.out_arena_id);
	EXPECT_EQ(PAGE_SZ + 17, lk.out_arena_offset);
	ASSERT_EQ(0, arena_lookup_off(self->fd, ob, &lk));
	EXPECT_EQ(b, lk.out_arena_id);
	EXPECT_EQ(0, lk.out_arena_offset);
	ASSERT_EQ(0, arena_lookup_off(self->fd, oa2 + 3 * PAGE_SZ + 1, &lk));
	EXPECT_EQ(a, lk.out_arena_id);
	EXPECT_EQ(3 * PAGE_SZ + 1, lk.out_arena_offset);
	/* Past the last run cut from the small slot: never handed out. */
	ASSERT_EQ(0, arena_lookup_off(self->fd, oa2 + 4 * PAGE_SZ, &lk));
	EXPECT_EQ(ARENA_SLOT_EMPTY, lk.out_state);

	ASSERT_EQ(0, arena_free_id(self->fd, a));
	ASSERT_EQ(0, arena_lookup_off(self->fd, oa + 5, &lk));
	EXPECT_EQ(ARENA_SLOT_FREED, lk.out_state);
	EXPECT_EQ(a, lk.out_arena_id);
	EXPECT_EQ(5, lk.out_arena_offset);
	EXPECT_EQ(getpid(), lk.out_freed_by_pid);
	ASSERT_EQ(0, arena_lookup_off(self->fd, ob, &lk));
	EXPECT_EQ(ARENA_SLOT_LIVE, lk.out_state);
	ASSERT_EQ(0, arena_free_id(self->fd, b));
}

TEST_F(small, reset_revokes_small_runs)
{
	uint32_t a = 0;
	uint64_t o1, o2, o3;

	ASSERT_EQ(0, small_arena(self->fd, 1, &a, &o1));
	ASSERT_EQ(0, arena_alloc_len(self->fd, &a, 2 * PAGE_SZ, 0, &o2));
	fill(self->base + o1, 1, a);
	fill(self->base + o2, 2, a);
	ASSERT_EQ(0, arena_alloc_len(self->fd, &a, 2 * PAGE_SZ,
				     ARENA_ALLOC_RESET, &o3));
	EXPECT_TRUE(all_pages_fault(self->base + o1, 1));
	EXPECT_TRUE(all_pages_fault(self->base + o2, 2));
	for (size_t i = 0; i < 2 * PAGE_SZ; i++)
		ASSERT_EQ(0, self->base[o3 + i]);
	fill(self->base + o3, 2, a);
	EXPECT_EQ(-1, check(self->base + o3, 2, a));
	ASSERT_EQ(0, arena_free_id(self->fd, a));
	EXPECT_TRUE(all_pages_fault(self->base + o3, 2));
}

/*
 * A shared chunk is released once all its runs are freed: fill chunks so
 * the space moves on to a new one, free every arena, and the old chunks
 * leave (to the quarantine, then dirty and ready).
 */
TEST_F_TIMEOUT(small, retired_shared_chunks_go_back_to_the_pool, 180)
{
	size_t per = self->cs / PAGE_SZ / 4;	/* 4 runs per chunk */
	uint32_t id[10];
	uint64_t off[10];
	long in_use0;
	int i;

	ASSERT_TRUE(arena_pool_settle(60000));
	in_use0 = arena_counter("chunks_in_use");
	for (i = 0; i < 10; i++) {
		ASSERT_EQ(0, small_arena(self->fd, per, &id[i], &off[i]));
		fill(self->base + off[i], per, id[i]);
	}
	/* 10 quarter chunks: 3 shared chunks. */
	EXPECT_EQ(in_use0 + 3, arena_counter("chunks_in_use"));
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, arena_free_id(self->fd, id[i]));
	/* The first is empty and retired: gone. */
	EXPECT_EQ(in_use0 + 2, arena_counter("chunks_in_use"));
	for (i = 4; i < 8; i++)
		ASSERT_EQ(0, arena_free_id(self->fd, id[i]));
	EXPECT_EQ(in_use0 + 1, arena_counter("chunks_in_use"));
	for (i = 8; i < 10; i++) {
		ASSERT_EQ(-1, check(self->base + off[i], per, id[i]));
		ASSERT_EQ(0, arena_free_id(self->fd, id[i]));
	}
	/* The current one stays for the next small run. */
	EXPECT_EQ(in_use0 + 1, arena_counter("chunks_in_use"));
	for (i = 0; i < 10; i++)
		ASSERT_TRUE(all_pages_fault(self->base + off[i], 1));
}

/*
 * A pipe holding one arena's page (vmsplice) keeps only that physical chunk
 * in quarantine, with its bytes intact, while a chunk shared by other
 * arenas goes back; no other arena's page stays mapped.
 */
TEST_F_TIMEOUT(small, pin_holds_only_its_physical_chunk, 180)
{
	size_t half = self->cs / PAGE_SZ / 2;
	uint32_t a = 0, b = 0, c = 0, d = 0, e = 0;
	uint64_t oa, ob, oc, od, oe;
	struct iovec iov;
	long q0, in_use0;
	char got[PAGE_SZ];
	int pfd[2];

	ASSERT_TRUE(arena_pool_settle(60000));
	q0 = arena_counter("chunks_quarantined");
	in_use0 = arena_counter("chunks_in_use");
	/* a and b fill one chunk, c and d the next. */
	ASSERT_EQ(0, small_arena(self->fd, half, &a, &oa));
	ASSERT_EQ(0, small_arena(self->fd, half, &b, &ob));
	ASSERT_EQ(0, small_arena(self->fd, half, &c, &oc));
	ASSERT_EQ(0, small_arena(self->fd, half, &d, &od));
	/* e moves the space on to a third, so c and d's chunk is retired. */
	ASSERT_EQ(0, small_arena(self->fd, 1, &e, &oe));
	fill(self->base + oa, half, a);
	fill(self->base + ob, half, b);
	fill(self->base + oc, half, c);
	fill(self->base + od, half, d);
	fill(self->base + oe, 1, e);
	EXPECT_EQ(in_use0 + 3, arena_counter("chunks_in_use"));

	ASSERT_EQ(0, pipe(pfd));
	iov.iov_base = self->base + oa + 5 * PAGE_SZ;
	iov.iov_len = PAGE_SZ;
	ASSERT_EQ(PAGE_SZ, vmsplice(pfd[1], &iov, 1, 0));

	ASSERT_EQ(0, arena_free_id(self->fd, a));
	ASSERT_EQ(0, arena_free_id(self->fd, b));
	EXPECT_TRUE(all_pages_fault(self->base + oa, half));
	EXPECT_TRUE(all_pages_fault(self->base + ob, half));
	EXPECT_EQ(-1, check(self->base + oc, half, c));
	/* The pinned chunk is held; c and d's chunk is untouched. */
	EXPECT_EQ(q0 + 1, arena_counter("chunks_quarantined"));
	EXPECT_EQ(in_use0 + 2, arena_counter("chunks_in_use"));
	/* c and d's chunk, unreferenced, goes back: only a's stays held. */
	ASSERT_EQ(0, arena_free_id(self->fd, c));
	ASSERT_EQ(0, arena_free_id(self->fd, d));
	EXPECT_EQ(in_use0 + 1, arena_counter("chunks_in_use"));
	usleep(300000);
	EXPECT_EQ(q0 + 1, arena_counter("chunks_quarantined"));
	EXPECT_EQ(-1, check(self->base + oe, 1, e));
	ASSERT_EQ(0, arena_free_id(self->fd, e));

	/* The pipe still has a's bytes, not anyone else's. */
	ASSERT_EQ(PAGE_SZ, read(pfd[0], got, PAGE_SZ));
	for (size_t i = 0; i < PAGE_SZ; i++)
		ASSERT_EQ(tag(a, 5), got[i]);
	close(pfd[0]);
	close(pfd[1]);
	EXPECT_TRUE(arena_counter_wait("chunks_quarantined", q0, 20000));
}

/*
 * Freed small runs keep faulting until the address-space budget recycles
 * them; recycled small slots come back zeroed and belong to new arenas.
 */
TEST_F_TIMEOUT(small, freed_small_runs_fault_until_recycled, 600)
{
	enum { N = 3000 };
	uint64_t *off = calloc(N, sizeof(*off));
	int i, bad = 0, reused = 0;
	uint32_t id;
	uint64_t o;

	ASSERT_NE(NULL, off);
	/* 4 MiB: 1024 one-page runs stay faulting. */
	ASSERT_EQ(0, arena_param_set("va_quarantine_mb", 4));
	for (i = 0; i < N; i++) {
		ASSERT_EQ(0, small_arena(self->fd, 1, &id, &off[i]));
		self->base[off[i] + 100] = 1;
		ASSERT_EQ(0, arena_free_id(self->fd, id));
	}
	/* The last 1024 fault. */
	for (i = N - 1024; i < N; i++)
		if (!faults_at(self->base + off[i] + 7))
			bad++;
	EXPECT_EQ(0, bad);
	/* New runs reuse recycled addresses, zeroed. */
	for (i = 0; i < 600; i++) {
		ASSERT_EQ(0, small_arena(self->fd, 1, &id, &o));
		for (int k = 0; k < N - 1024; k++)
			if (off[k] == o) {
				reused++;
				break;
			}
		ASSERT_EQ(0, self->base[o + 100]);
	}
	EXPECT_GT(reused, 0);
	free(off);
}

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

/*
 * madvise cannot turn a small slot into a PMD mapping of the shared chunk
 * (MADV_COLLAPSE is refused: the window is not a regular file), and
 * MADV_DONTNEED only drops the PTEs: the pages refault with their bytes.
 */
TEST_F(small, madvise_keeps_small_runs_page_mapped)
{
	uint32_t a = 0, b = 0;
	uint64_t oa, ob;
	char *slot;

	ASSERT_EQ(0, small_arena(self->fd, 4, &a, &oa));
	ASSERT_EQ(0, small_arena(self->fd, 4, &b, &ob));
	fill(self->base + oa, 4, a);
	fill(self->base + ob, 4, b);
	slot = self->base + (oa & ~(uint64_t)(self->cs - 1));
	EXPECT_NE(0, madvise(slot, self->cs, MADV_COLLAPSE));
	/* Refused or not, it must not change how the slot is mapped. */
	madvise(slot, self->cs, MADV_HUGEPAGE);
	EXPECT_EQ(0, madvise(self->base + oa, 4 * PAGE_SZ, MADV_DONTNEED));
	EXPECT_EQ(-1, check(self->base + oa, 4, a));
	EXPECT_EQ(-1, check(self->base + ob, 4, b));
	EXPECT_EQ(0, smaps_field_kb(slot, "FilePmdMapped:"));
	ASSERT_EQ(0, arena_free_id(self->fd, a));
	EXPECT_TRUE(all_pages_fault(self->base + oa, 4));
	EXPECT_EQ(-1, check(self->base + ob, 4, b));
	ASSERT_EQ(0, arena_free_id(self->fd, b));
}

/* The target: 10,000 live arenas of 1 KiB in at most 64 MiB. */
TEST_F_TIMEOUT(small, ten_thousand_1k_arenas_fit_in_64_mib, 900)
{
	enum { N = 10000 };
	uint64_t *off = calloc(N, sizeof(*off));
	uint32_t *id = calloc(N, sizeof(*id));
	long total0, total, bytes;
	int i, bad = 0;

	ASSERT_NE(NULL, off);
	ASSERT_NE(NULL, id);
	ASSERT_TRUE(arena_pool_settle(60000));
	total0 = arena_counter("chunks_in_use");
	for (i = 0; i < N; i++) {
		ASSERT_EQ(0, small_arena(self->fd, 1, &id[i], &off[i]));
		memset(self->base + off[i], (char)i, 1024);
	}
	total = arena_counter("chunks_in_use") - total0;
	bytes = total * (long)self->cs;
	TH_LOG("%d live 1 KiB arenas: %ld chunks in use, %ld MiB", N, total,
	       bytes >> 20);
	EXPECT_LE(bytes, 64L << 20);
	for (i = 0; i < N; i++)
		if (self->base[off[i] + 1023] != (char)i)
			bad++;
	EXPECT_EQ(0, bad);
	for (i = 0; i < N; i++)
		ASSERT_EQ(0, arena_free_id(self->fd, id[i]));
	/* A sample of addresses from every freed arena faults. */
	for (i = 0; i < N; i++)
		if (!faults_at(self->base + off[i] + (i * 37) % PAGE_SZ))
			bad++;
	EXPECT_EQ(0, bad);
	free(off);
	free(id);
}

/* Minor faults this thread has taken so far. */
static long thread_minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_minflt;
}

/*
 * Small runs lie in the small window, its own mapping after the chunk
 * window, and the ioctl maps every page: touching them takes no fault.
 */
TEST_F(small, small_runs_are_mapped_by_the_ioctl)
{
	char *small = self->base + self->info.out_window_size;
	uint32_t a = 0;
	uint64_t off;
	long rss0, f0, f1;

	ASSERT_TRUE(self->info.out_features & ARENA_FEATURE_SMALL_WINDOW);
	ASSERT_EQ(self->info.out_window_size,
		  self->info.out_small_window_size);
	rss0 = smaps_field_kb(small, "Rss:");
	ASSERT_EQ(0, small_arena(self->fd, 16, &a, &off));
	EXPECT_GE(off, self->info.out_window_size);
	EXPECT_LT(off, 2 * self->info.out_window_size);
	/* Mapped before anything touched it. */
	EXPECT_EQ(rss0 + 64, smaps_field_kb(small, "Rss:"));
	f0 = thread_minflt();
	for (int pg = 0; pg < 16; pg++) {
		EXPECT_EQ(0, self->base[off + pg * PAGE_SZ]);
		self->base[off + pg * PAGE_SZ + 9] = 1;
	}
	f1 = thread_minflt();
	EXPECT_EQ(f0, f1);
	EXPECT_EQ(0, smaps_field_kb(small, "FilePmdMapped:"));
	/* Nothing of it in the chunk window. */
	EXPECT_EQ(0, smaps_field_kb(self->base, "Rss:"));
	ASSERT_EQ(0, arena_free_id(self->fd, a));
	EXPECT_TRUE(all_pages_fault(self->base + off, 16));
	EXPECT_EQ(rss0, smaps_field_kb(small, "Rss:"));
}

/* Each part of the window is mapped once, whole, shared, not executable. */
TEST(small_window_mapping_rules)
{
	struct arena_info in;
	char *res, *at, *p;
	uint64_t off;
	uint32_t a = 0;
	size_t w;
	int fd;

	fd = open(ARENA_DEV, O_RDWR | O_CLOEXEC);
	if (fd < 0)
		SKIP(return, "cannot open %s", ARENA_DEV);
	ASSERT_EQ(0, arena_get_info(fd, &in));
	w = in.out_window_size;
	res = mmap(NULL, 2 * w, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	ASSERT_NE(MAP_FAILED, res);
	at = res + w;
	EXPECT_EQ(MAP_FAILED, mmap(at, w - PAGE_SZ, PROT_READ | PROT_WRITE,
				   MAP_SHARED | MAP_FIXED, fd, (off_t)w));
	EXPECT_EQ(EINVAL, errno);
	/* Read-only: a private writable 64 GiB would hit overcommit first. */
	EXPECT_EQ(MAP_FAILED, mmap(at, w, PROT_READ, MAP_PRIVATE | MAP_FIXED,
				   fd, (off_t)w));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(MAP_FAILED, mmap(at, w, PROT_READ | PROT_EXEC,
				   MAP_SHARED | MAP_FIXED, fd, (off_t)w));
	EXPECT_EQ(EPERM, errno);
	/* Not at an offset between the two parts. */
	EXPECT_EQ(MAP_FAILED, mmap(at, w, PROT_READ | PROT_WRITE,
				   MAP_SHARED | MAP_FIXED, fd,
				   (off_t)(w / 2)));
	EXPECT_EQ(EINVAL, errno);
	/* A small run made while the small window is unmapped is still one. */
	ASSERT_EQ(0, small_arena(fd, 2, &a, &off));
	p = mmap(at, w, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED, fd,
		 (off_t)w);
	ASSERT_EQ(at, p);
	EXPECT_EQ(MAP_FAILED, mmap(NULL, w, PROT_READ | PROT_WRITE,
				   MAP_SHARED, fd, (off_t)w));
	EXPECT_EQ(EBUSY, errno);
	/* Faulted in on touch, as it was not mapped by the ioctl. */
	EXPECT_EQ(0, p[off - w]);
	p[off - w] = 7;
	EXPECT_EQ(7, p[off - w]);
	/* Neither split nor moved. */
	EXPECT_NE(0, munmap(p, PAGE_SZ));
	EXPECT_EQ(MAP_FAILED, mremap(p, w, w, MREMAP_MAYMOVE | MREMAP_FIXED,
				     res));
	ASSERT_EQ(0, arena_free_id(fd, a));
	EXPECT_TRUE(faults_at(p + off - w));
	munmap(res, w);
	munmap(p, w);
	close(fd);
}

/* ARENA_IOC_FREE with ARENA_FREE_NEXT; 0 or -errno. */
static int free_next(int fd, uint32_t id, uint64_t len, uint32_t *next,
		     uint64_t *off)
{
	struct arena_free fr = {
		.size = sizeof(fr), .flags = ARENA_FREE_NEXT, .arena_id = id,
		.next_length = len,
	};
	int err = arena_ioc(fd, ARENA_IOC_FREE, &fr);

	*next = fr.out_next_id;
	*off = fr.out_next_offset;
	return err;
}

/* What the id stands for: the lookup's state of offset @off. */
static uint32_t state_at(int fd, uint64_t off)
{
	struct arena_lookup lk;

	if (arena_lookup_off(fd, off, &lk))
		return ~0U;
	return lk.out_state;
}

/*
 * One ioctl frees an arena and hands over the next one, its memory mapped
 * and zeroed; the freed one faults as after any free.
 */
TEST_F(small, free_next_hands_over_a_mapped_arena)
{
	uint32_t a = 0, b, c;
	uint64_t oa, ob, oc, more;
	long live0 = arena_counter("arenas_live"), f0;

	ASSERT_TRUE(self->info.out_features & ARENA_FEATURE_FREE_NEXT);
	ASSERT_EQ(0, small_arena(self->fd, 2, &a, &oa));
	fill(self->base + oa, 2, a);
	ASSERT_EQ(0, free_next(self->fd, a, 4 * PAGE_SZ, &b, &ob));
	ASSERT_NE(0, b);
	EXPECT_NE(a, b);
	EXPECT_TRUE(all_pages_fault(self->base + oa, 2));
	EXPECT_EQ(ARENA_SLOT_FREED, state_at(self->fd, oa));
	EXPECT_EQ(ARENA_SLOT_LIVE, state_at(self->fd, ob));
	EXPECT_EQ(live0 + 1, arena_counter("arenas_live"));
	f0 = thread_minflt();
	for (int pg = 0; pg < 4; pg++) {
		EXPECT_EQ(0, self->base[ob + pg * PAGE_SZ + 100]);
		self->base[ob + pg * PAGE_SZ] = 5;
	}
	EXPECT_EQ(f0, thread_minflt());
	/* An arena like any other: it grows, and is freed. */
	ASSERT_EQ(0, arena_alloc_len(self->fd, &b, PAGE_SZ, 0, &more));
	self->base[more] = 1;
	/* A chunk or more: whole chunks in the chunk window. */
	ASSERT_EQ(0, free_next(self->fd, b, self->cs, &c, &oc));
	ASSERT_NE(0, c);
	EXPECT_LT(oc, self->info.out_window_size);
	EXPECT_EQ(0, oc % self->cs);
	self->base[oc + self->cs - 1] = 1;
	EXPECT_TRUE(faults_at(self->base + ob));
	EXPECT_TRUE(faults_at(self->base + more));
	ASSERT_EQ(0, arena_free_id(self->fd, c));
	EXPECT_TRUE(faults_at(self->base + oc));
	EXPECT_EQ(live0, arena_counter("arenas_live"));
}

/* Bad requests change nothing: the arena stays live, no arena is made. */
TEST_F(small, free_next_validates_before_it_frees)
{
	struct arena_free fr = { .size = sizeof(fr), .arena_id = 0 };
	uint64_t w = self->info.out_window_size, off, noff;
	long live0 = arena_counter("arenas_live");
	uint32_t a = 0, next;
	char *ro;

	ASSERT_EQ(0, small_arena(self->fd, 1, &a, &off));
	fr.arena_id = a;
	/* next_length without the flag */
	fr.next_length = PAGE_SZ;
	EXPECT_EQ(-EINVAL, arena_ioc(self->fd, ARENA_IOC_FREE, &fr));
	/* the flag with the first version of the struct */
	fr.flags = ARENA_FREE_NEXT;
	fr.size = offsetof(struct arena_free, next_length);
	EXPECT_EQ(-EINVAL, arena_ioc(self->fd, ARENA_IOC_FREE, &fr));
	fr.size = sizeof(fr);
	/* unknown flags, a nonzero out_next_id */
	fr.flags = 0x4;
	EXPECT_EQ(-EINVAL, arena_ioc(self->fd, ARENA_IOC_FREE, &fr));
	/* ARENA_FREE_NEXT_NOZERO without ARENA_FREE_NEXT */
	fr.flags = ARENA_FREE_NEXT_NOZERO;
	EXPECT_EQ(-EINVAL, arena_ioc(self->fd, ARENA_IOC_FREE, &fr));
	fr.flags = ARENA_FREE_NEXT;
	fr.out_next_id = 1;
	EXPECT_EQ(-EINVAL, arena_ioc(self->fd, ARENA_IOC_FREE, &fr));
	fr.out_next_id = 0;
	/* lengths ARENA_IOC_ALLOC refuses */
	EXPECT_EQ(-EINVAL, free_next(self->fd, a, 0, &next, &noff));
	EXPECT_EQ(-EINVAL, free_next(self->fd, a, PAGE_SZ + 1, &next, &noff));
	EXPECT_EQ(-EINVAL, free_next(self->fd, a, w + self->cs, &next, &noff));
	/* an answer that cannot be written back */
	ro = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	fr.next_length = PAGE_SZ;
	memcpy(ro, &fr, sizeof(fr));
	ASSERT_EQ(0, mprotect(ro, PAGE_SZ, PROT_READ));
	EXPECT_EQ(-EFAULT, arena_ioc(self->fd, ARENA_IOC_FREE, ro));
	munmap(ro, PAGE_SZ);
	/*
	 * An answer half writable: out_next_id on a writable page,
	 * out_next_offset on a read-only one. Refused before the free.
	 */
	ro = mmap(NULL, 2 * PAGE_SZ, PROT_READ | PROT_WRITE,
		  MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	ASSERT_NE(MAP_FAILED, ro);
	memcpy(ro + PAGE_SZ - 16, &fr, sizeof(fr));
	ASSERT_EQ(0, mprotect(ro + PAGE_SZ, PAGE_SZ, PROT_READ));
	EXPECT_EQ(-EFAULT, arena_ioc(self->fd, ARENA_IOC_FREE,
				     ro + PAGE_SZ - 16));
	munmap(ro, 2 * PAGE_SZ);
	/* None of that freed it or made another. */
	EXPECT_EQ(ARENA_SLOT_LIVE, state_at(self->fd, off));
	EXPECT_EQ(live0 + 1, arena_counter("arenas_live"));
	self->base[off] = 1;
	/* An unknown id: ENOENT, and no next arena. */
	EXPECT_EQ(-ENOENT, free_next(self->fd, a + 1000, PAGE_SZ, &next,
				     &noff));
	EXPECT_EQ(live0 + 1, arena_counter("arenas_live"));
	ASSERT_EQ(0, arena_free_id(self->fd, a));
	EXPECT_EQ(live0, arena_counter("arenas_live"));
}

/* The page frame behind @p (root: /proc/self/pagemap), 0 if unknown. */
static uint64_t pfn_of(int pm, const void *p)
{
	uint64_t e;

	if (pread(pm, &e, sizeof(e), (uintptr_t)p / PAGE_SZ * sizeof(e)) !=
	    (ssize_t)sizeof(e) || !(e & (1ULL << 63)))
		return 0;
	return e & ((1ULL << 55) - 1);
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

/*
 * No page is ever in two live arenas: small and whole-chunk arenas come
 * and go at random; every live page carries a stamp no other page ever
 * had (a 64-bit counter, at its first and last word), checked after every
 * round, and the page frames behind all live pages are distinct.
 */
TEST_F_TIMEOUT(small, no_page_in_two_live_arenas, 300)
{
	enum { N = 48, ROUNDS = 60 };
	struct { uint32_t id; uint64_t off, pages, stamp; } ar[N] = { 0 };
	uint64_t next = 1, *pfns;
	unsigned int seed = 1234;
	size_t npfn;
	int pm = open("/proc/self/pagemap", O_RDONLY);

	pfns = calloc(N * (self->cs / PAGE_SZ), sizeof(*pfns));
	ASSERT_NE(NULL, pfns);
	for (int r = 0; r < ROUNDS; r++) {
		for (int i = 0; i < N; i++) {
			uint64_t len;

			if (ar[i].id && rand_r(&seed) % 2) {
				ASSERT_EQ(0, arena_free_id(self->fd, ar[i].id));
				ar[i].id = 0;
			}
			if (ar[i].id)
				continue;
			len = rand_r(&seed) % 10 ? (1 + rand_r(&seed) % 16) *
				PAGE_SZ : self->cs;
			ASSERT_EQ(0, arena_alloc_len(self->fd, &ar[i].id, len,
						     ARENA_ALLOC_CREATE,
						     &ar[i].off));
			ar[i].pages = len / PAGE_SZ;
			ar[i].stamp = next;
			next += ar[i].pages;
			for (uint64_t pg = 0; pg < ar[i].pages; pg++) {
				uint64_t *w = (uint64_t *)(self->base + ar[i].off +
							   pg * PAGE_SZ);

				ASSERT_EQ(0, w[0]);	/* zeroed */
				w[0] = ar[i].stamp + pg;
				w[PAGE_SZ / 8 - 1] = ~(ar[i].stamp + pg);
			}
		}
		npfn = 0;
		for (int i = 0; i < N; i++) {
			for (uint64_t pg = 0; ar[i].id && pg < ar[i].pages; pg++) {
				uint64_t *w = (uint64_t *)(self->base + ar[i].off +
							   pg * PAGE_SZ);

				ASSERT_EQ(ar[i].stamp + pg, w[0]);
				ASSERT_EQ(~(ar[i].stamp + pg), w[PAGE_SZ / 8 - 1]);
				if (pm >= 0)
					pfns[npfn++] = pfn_of(pm, w);
			}
		}
		/* Distinct frames (0: no pagemap access, not compared). */
		qsort(pfns, npfn, sizeof(*pfns), cmp_u64);
		for (size_t k = 1; k < npfn; k++)
			if (pfns[k])
				ASSERT_NE(pfns[k - 1], pfns[k]);
	}
	for (int i = 0; i < N; i++)
		if (ar[i].id)
			ASSERT_EQ(0, arena_free_id(self->fd, ar[i].id));
	if (pm >= 0)
		close(pm);
	free(pfns);
}

TEST_HARNESS_MAIN
