// SPDX-License-Identifier: GPL-2.0
/*
 * Description: how chunks are mapped and revoked: a chunk is zero, costs one
 * page fault and is mapped by one PMD; after free the first, a middle and the
 * last byte of every page fault with the exact si_addr; read() into arena
 * memory works (GUP) and fails with EFAULT after free; a thread touching a
 * chunk while another frees it never succeeds after the free has returned.
 */
#include "arena_helpers.h"	/* first: it defines _GNU_SOURCE */

#include <pthread.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include "kselftest_harness.h"

FIXTURE(map) {
	int fd;
	struct arena_info info;
	char *base;
	size_t cs;
};

FIXTURE_SETUP(map)
{
	ARENA_SETUP_WINDOW(self);
	self->cs = self->info.out_chunk_size;
}

FIXTURE_TEARDOWN(map)
{
	arena_close_window(self->fd, &self->info, self->base);
}

static long minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_minflt;
}

TEST_F(map, fresh_chunk_is_zero)
{
	uint64_t off;
	long id = arena_create_id(self->fd);
	const uint64_t *p;
	size_t i;

	ASSERT_GT(id, 0);
	ASSERT_EQ(0, arena_chunks(self->fd, id, 2, &off));
	p = (const uint64_t *)(self->base + off);
	for (i = 0; i < 2 * self->cs / 8; i++)
		if (p[i])
			break;
	EXPECT_EQ(2 * self->cs / 8, i);
	EXPECT_EQ(0, arena_free_id(self->fd, id));
}

TEST_F(map, one_fault_and_one_pmd_per_chunk)
{
	uint64_t warm, off;
	long id = arena_create_id(self->fd), before, faults;

	ASSERT_GT(id, 0);
	/* Fault memset's own code in first, on other chunks. */
	ASSERT_EQ(0, arena_chunks(self->fd, id, 4, &warm));
	memset(self->base + warm, 0xab, 4 * self->cs);

	ASSERT_EQ(0, arena_chunks(self->fd, id, 4, &off));
	before = minflt();
	memset(self->base + off, 0xab, 4 * self->cs);
	faults = minflt() - before;
	EXPECT_EQ(4, faults);
	EXPECT_EQ(8 * self->cs / 1024,
		  smaps_field_kb(self->base, "FilePmdMapped:"));
	EXPECT_EQ(0, arena_free_id(self->fd, id));
	EXPECT_EQ(0, smaps_field_kb(self->base, "FilePmdMapped:"));
	EXPECT_EQ(0, smaps_field_kb(self->base, "Rss:"));
}

TEST_F(map, read_fault_then_write_is_one_fault)
{
	uint64_t off;
	long id = arena_create_id(self->fd), before;
	volatile char *p;

	ASSERT_GT(id, 0);
	ASSERT_EQ(0, arena_chunks(self->fd, id, 1, &off));
	p = self->base + off;
	before = minflt();
	EXPECT_EQ(0, p[12345]);
	p[0] = 1;
	p[self->cs - 1] = 2;
	EXPECT_EQ(1, minflt() - before);
	EXPECT_EQ(0, arena_free_id(self->fd, id));
}

TEST_F(map, data_spans_chunk_boundaries)
{
	uint64_t off;
	long id = arena_create_id(self->fd);
	char *p;
	size_t i, n = 3 * self->cs;

	ASSERT_GT(id, 0);
	ASSERT_EQ(0, arena_chunks(self->fd, id, 3, &off));
	p = self->base + off;
	for (i = 0; i < n; i += 511)
		p[i] = (char)(i * 7);
	for (i = 0; i < n; i += 511)
		ASSERT_EQ((char)(i * 7), p[i]);
	/* A 64-byte record straddling the first boundary. */
	memset(p + self->cs - 32, 0x11, 64);
	EXPECT_EQ(0x11, p[self->cs - 32]);
	EXPECT_EQ(0x11, p[self->cs + 31]);
	EXPECT_EQ(0, arena_free_id(self->fd, id));
}

TEST_F(map, every_page_faults_after_free)
{
	uint64_t off[3];
	long id = arena_create_id(self->fd);
	size_t pages, pg;
	int r, bad = 0;
	void *fault;
	char v;

	ASSERT_GT(id, 0);
	/* One single chunk and one run of two: both kinds of run. */
	ASSERT_EQ(0, arena_chunks(self->fd, id, 1, &off[0]));
	ASSERT_EQ(0, arena_chunks(self->fd, id, 2, &off[1]));
	off[2] = off[1] + self->cs;
	for (r = 0; r < 3; r++)
		memset(self->base + off[r], 0x77, self->cs);
	ASSERT_EQ(0, arena_free_id(self->fd, id));

	pages = self->cs / PAGE_SZ;
	for (r = 0; r < 3; r++) {
		for (pg = 0; pg < pages; pg++) {
			char *page = self->base + off[r] + pg * PAGE_SZ;
			char *probe[3] = { page, page + PAGE_SZ / 2 + 1,
					   page + PAGE_SZ - 1 };

			for (int k = 0; k < 3; k++) {
				fault = NULL;
				if (try_read(probe[k], &v, &fault) ||
				    fault != probe[k]) {
					if (!bad++)
						TH_LOG("%p: read ok or si_addr %p",
						       probe[k], fault);
				}
			}
		}
	}
	EXPECT_EQ(0, bad);
	/* And writes. */
	EXPECT_TRUE(faults_at(self->base + off[0]));
	EXPECT_TRUE(faults_at(self->base + off[2] + self->cs - 1));
}

TEST_F(map, uaf_faults_are_counted)
{
	long before = arena_counter("uaf_faults");
	uint64_t off;
	long id = arena_create_id(self->fd);

	ASSERT_GE(before, 0);
	ASSERT_GT(id, 0);
	ASSERT_EQ(0, arena_chunks(self->fd, id, 1, &off));
	self->base[off] = 1;
	ASSERT_EQ(0, arena_free_id(self->fd, id));
	EXPECT_TRUE(faults_at(self->base + off + 100));
	EXPECT_EQ(before + 2, arena_counter("uaf_faults"));
}

TEST_F(map, read_syscall_into_arena_and_after_free)
{
	uint64_t off;
	long id = arena_create_id(self->fd);
	int pfd[2];
	char *p, *edge;

	ASSERT_GT(id, 0);
	ASSERT_EQ(0, arena_chunks(self->fd, id, 2, &off));
	p = self->base + off;
	/* Across the boundary of two never-touched chunks. */
	edge = p + self->cs - 2;
	ASSERT_EQ(0, pipe(pfd));
	ASSERT_EQ(5, write(pfd[1], "hello", 5));
	ASSERT_EQ(5, read(pfd[0], edge, 5));
	EXPECT_EQ(0, memcmp(edge, "hello", 5));
	/* And write() out of arena memory. */
	ASSERT_EQ(5, write(pfd[1], edge, 5));
	ASSERT_EQ(5, read(pfd[0], p, 5));
	ASSERT_EQ(0, arena_free_id(self->fd, id));
	/* After free the kernel's own accesses fail too. */
	EXPECT_EQ(-1, write(pfd[1], p, 5));
	EXPECT_EQ(EFAULT, errno);
	ASSERT_EQ(5, write(pfd[1], "again", 5));
	EXPECT_EQ(-1, read(pfd[0], edge, 5));
	EXPECT_EQ(EFAULT, errno);
	close(pfd[0]);
	close(pfd[1]);
}

/*
 * The race of the design notes: one thread frees arenas while another keeps
 * writing to them. A write that starts after ARENA_IOC_FREE has returned must
 * fault: the fault handler and free hand over under the folio lock.
 */
/*
 * The current chunk and whether its free has returned travel together in
 * one word (the address, page aligned, with RACE_FREED in bit 0), so the
 * toucher never pairs an address with another round's state: a touch whose
 * load saw the free returned is late if it works, always counted.
 */
#define RACE_FREED	1UL

struct race {
	atomic_uintptr_t cur;	/* chunk address | RACE_FREED, 0 at first */
	atomic_int stop;
	atomic_long late;	/* accesses that worked after the free */
	atomic_long hits;
	atomic_long tried_freed;	/* touches that saw the free returned */
};

static void *race_toucher(void *arg)
{
	struct race *r = arg;

	while (!atomic_load(&r->stop)) {
		uintptr_t cur = atomic_load(&r->cur);
		char *a = (char *)(cur & ~RACE_FREED);

		if (!a)
			continue;
		if (cur & RACE_FREED)
			atomic_fetch_add(&r->tried_freed, 1);
		if (try_write(a + (atomic_load(&r->hits) % 512) * PAGE_SZ, 1,
			      NULL)) {
			atomic_fetch_add(&r->hits, 1);
			/* The free had returned before the load above. */
			if (cur & RACE_FREED)
				atomic_fetch_add(&r->late, 1);
		}
	}
	return NULL;
}

TEST_F_TIMEOUT(map, free_racing_with_touch, 300)
{
	struct race r = { 0 };
	pthread_t t;
	int i, iters = 400;

	ASSERT_EQ(0, pthread_create(&t, NULL, race_toucher, &r));
	for (i = 0; i < iters; i++) {
		uint64_t off;
		long id = arena_create_id(self->fd);
		uintptr_t chunk;

		ASSERT_GT(id, 0);
		ASSERT_EQ(0, arena_chunks(self->fd, id, 1, &off));
		chunk = (uintptr_t)(self->base + off);
		atomic_store(&r.cur, chunk);
		/* Let the toucher in for a varying while... */
		for (volatile int spin = 0; spin < (i % 16) * 2000; spin++)
			;
		/*
		 * ...and every fourth round until it has mapped the chunk, so
		 * that frees also race live mappings on slow (debug) kernels.
		 */
		if (i % 4 == 0) {
			long h = atomic_load(&r.hits);

			for (int t = 0; t < 200 && atomic_load(&r.hits) == h; t++)
				usleep(1000);
		}
		ASSERT_EQ(0, arena_free_id(self->fd, id));
		atomic_store(&r.cur, chunk | RACE_FREED);
		EXPECT_TRUE(faults_at(self->base + off));
		for (volatile int spin = 0; spin < 5000; spin++)
			;
	}
	atomic_store(&r.stop, 1);
	pthread_join(t, NULL);
	TH_LOG("%d frees, %ld successful touches, %ld touches of freed chunks, %ld after free",
	       iters, atomic_load(&r.hits), atomic_load(&r.tried_freed),
	       atomic_load(&r.late));
	EXPECT_GT(atomic_load(&r.hits), 0);
	EXPECT_GT(atomic_load(&r.tried_freed), 0);
	EXPECT_EQ(0, atomic_load(&r.late));
}

TEST_F(map, freed_slots_are_not_reused_soon)
{
	uint64_t first, off;
	long id;
	int i;

	id = arena_create_id(self->fd);
	ASSERT_GT(id, 0);
	ASSERT_EQ(0, arena_chunks(self->fd, id, 1, &first));
	ASSERT_EQ(0, arena_free_id(self->fd, id));
	for (i = 0; i < 100; i++) {
		id = arena_create_id(self->fd);
		ASSERT_GT(id, 0);
		ASSERT_EQ(0, arena_chunks(self->fd, id, 1, &off));
		ASSERT_NE(first, off);
		ASSERT_EQ(0, arena_free_id(self->fd, id));
	}
	EXPECT_TRUE(faults_at(self->base + first));
}

TEST_F(map, reset_revokes_old_chunks_and_maps_new_ones)
{
	struct arena_alloc_chunks ac = { .size = sizeof(ac), .nr_chunks = 1 };
	long id = arena_create_id(self->fd);
	long in_use = arena_counter("chunks_in_use");
	struct arena_lookup lk;
	uint64_t a, b;

	ASSERT_GT(id, 0);
	ASSERT_EQ(0, arena_chunks(self->fd, id, 1, &a));
	ASSERT_EQ(0, arena_chunks(self->fd, id, 2, &b));
	memset(self->base + a, 1, self->cs);
	memset(self->base + b, 2, 2 * self->cs);

	/* An unknown flag beside RESET: refused, and nothing was freed. */
	ac.arena_id = id;
	ac.flags = ARENA_ALLOC_RESET | 2;
	EXPECT_EQ(-EINVAL, arena_ioc(self->fd, ARENA_IOC_ALLOC_CHUNKS, &ac));
	EXPECT_EQ(1, self->base[a + 5]);

	ac.flags = ARENA_ALLOC_RESET;
	ASSERT_EQ(0, arena_ioc(self->fd, ARENA_IOC_ALLOC_CHUNKS, &ac));
	/* The old chunks fault; the new one is zero and the arena's. */
	EXPECT_TRUE(faults_at(self->base + a));
	EXPECT_TRUE(faults_at(self->base + b + 2 * self->cs - 1));
	EXPECT_EQ(0, self->base[ac.out_offset]);
	ASSERT_EQ(0, arena_lookup_off(self->fd, ac.out_offset, &lk));
	EXPECT_EQ(ARENA_SLOT_LIVE, lk.out_state);
	EXPECT_EQ(id, lk.out_arena_id);
	ASSERT_EQ(0, arena_lookup_off(self->fd, b, &lk));
	EXPECT_EQ(ARENA_SLOT_FREED, lk.out_state);
	EXPECT_EQ(id, lk.out_arena_id);
	EXPECT_EQ(in_use + 1, arena_counter("chunks_in_use"));
	/* Still one arena: it frees once, with the new chunk. */
	EXPECT_EQ(0, arena_free_id(self->fd, id));
	EXPECT_TRUE(faults_at(self->base + ac.out_offset));
	EXPECT_EQ(-ENOENT, arena_free_id(self->fd, id));
	EXPECT_EQ(in_use, arena_counter("chunks_in_use"));
}

TEST_HARNESS_MAIN
