/* SPDX-License-Identifier: MIT */
/*
 * libarena's mmap backend, for machines without /dev/arena (or with
 * ARENA_BACKEND=mmap): the same API on plain anonymous memory.
 *
 * The process reserves one window of address space, PROT_NONE and
 * MAP_NORESERVE (no memory, no commit charge), chunk aligned, and cuts it
 * into chunk-size slots as the kernel does. A run of slots handed to an
 * arena is made read-write with mprotect(); freeing it makes it PROT_NONE
 * again and drops its pages with MADV_DONTNEED, so every later access
 * faults (SIGSEGV, SEGV_ACCERR) and the memory goes back to the system.
 * Freed slots stay in a quarantine, oldest first, and are handed out again
 * only once more than a budget of freed address space (the kernel's
 * va_quarantine_mb default, 4 GiB) has piled up, or when nothing else is
 * free; a recycled slot's pages were dropped, so they come back zero.
 *
 *     window: PROT_NONE reservation, MADV_DONTFORK | MADV_NOHUGEPAGE
 *     +--------+--------+--------+--------+--------+------    ------+
 *     | slot 0 | slot 1 | slot 2 | slot 3 | slot 4 |   never used   |
 *     | RW     | RW     | NONE   | RW     | NONE   |   NONE         |
 *     | arena 1, one run| freed  | arena 2| freed  |                |
 *     +--------+--------+--------+--------+--------+------    ------+
 *
 * The window is MADV_DONTFORK, like the kernel's VM_DONTCOPY: a forked child
 * has nothing there. It is MADV_NOHUGEPAGE: small arenas, the common case,
 * touch a few pages of a chunk, and a transparent huge page would zero all
 * 2 MiB on the first touch. The library keeps each slot's state itself, so
 * arena_lookup() answers as on the kernel backend. Everything here runs
 * under g.lock but the lookup, which a signal handler may call: it reads
 * the slot table lock-free (see struct arena_mslot).
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "libarena_priv.h"

#define g __arena_g

#define MMAP_CHUNK_SHIFT	21			/* 2 MiB, as the kernel */
#define MMAP_WINDOW_MAX		(64ULL << 30)		/* as window_gib */
#define MMAP_WINDOW_MIN		(1ULL << 30)
#define MMAP_QUARANTINE		(4ULL << 30)		/* va_quarantine_mb */
#define BITS			(8 * sizeof(unsigned long))

struct arena_mslot_val {
	unsigned int arena_id;		/* 0 if empty */
	unsigned int run_start;		/* slot index of the run's first */
	unsigned int state;		/* enum arena_addr_state */
	int freed_pid;
	unsigned long long freed_ns;	/* CLOCK_MONOTONIC at the free */
};

/*
 * A slot's state, written under g.lock, read by arena_lookup() without it
 * (from a signal handler, maybe one that interrupted the writer): a latch,
 * as the kernel's seqcount_latch_t. The writer bumps @seq to odd, updates
 * val[0], bumps it to even, updates val[1]; a reader reads val[seq & 1],
 * the copy not being written, and retries if @seq moved meanwhile. So a
 * reader never waits for a writer, even one it interrupted. The table is
 * mapped once with the window and never moves (a fork child unmaps it
 * after arena_lookup() stopped reading it).
 */
struct arena_mslot {
	unsigned int seq;
	struct arena_mslot_val val[2];
};

struct arena_qrun {
	unsigned int start, nr;
};

static unsigned long long now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void slot_val_store(struct arena_mslot_val *d,
			   const struct arena_mslot_val *v)
{
	__atomic_store_n(&d->arena_id, v->arena_id, __ATOMIC_RELAXED);
	__atomic_store_n(&d->run_start, v->run_start, __ATOMIC_RELAXED);
	__atomic_store_n(&d->state, v->state, __ATOMIC_RELAXED);
	__atomic_store_n(&d->freed_pid, v->freed_pid, __ATOMIC_RELAXED);
	__atomic_store_n(&d->freed_ns, v->freed_ns, __ATOMIC_RELAXED);
}

/* Set slot @i's state (under g.lock). */
static void slot_set(size_t i, const struct arena_mslot_val *v)
{
	struct arena_mslot *s = &g.slots[i];
	unsigned int seq = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);

	__atomic_store_n(&s->seq, seq + 1, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	slot_val_store(&s->val[0], v);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	__atomic_store_n(&s->seq, seq + 2, __ATOMIC_RELAXED);
	__atomic_thread_fence(__ATOMIC_RELEASE);
	slot_val_store(&s->val[1], v);
}

/* Slot @i's state, lock-free (arena_lookup(), any context). */
static void slot_get(size_t i, struct arena_mslot_val *v)
{
	struct arena_mslot *s = &g.slots[i];
	const struct arena_mslot_val *d;
	unsigned int seq;

	do {
		seq = __atomic_load_n(&s->seq, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
		d = &s->val[seq & 1];
		v->arena_id = __atomic_load_n(&d->arena_id, __ATOMIC_RELAXED);
		v->run_start = __atomic_load_n(&d->run_start,
					       __ATOMIC_RELAXED);
		v->state = __atomic_load_n(&d->state, __ATOMIC_RELAXED);
		v->freed_pid = __atomic_load_n(&d->freed_pid,
					       __ATOMIC_RELAXED);
		v->freed_ns = __atomic_load_n(&d->freed_ns, __ATOMIC_RELAXED);
		__atomic_thread_fence(__ATOMIC_ACQUIRE);
	} while (__atomic_load_n(&s->seq, __ATOMIC_RELAXED) != seq);
}

static inline int slot_used(size_t i)
{
	return (g.used[i / BITS] >> (i % BITS)) & 1;
}

static void slots_mark(size_t start, size_t nr, int used)
{
	for (size_t i = start; i < start + nr; i++) {
		if (used)
			g.used[i / BITS] |= 1UL << (i % BITS);
		else
			g.used[i / BITS] &= ~(1UL << (i % BITS));
	}
}

/* Reserve an aligned window, the largest that the limits allow. */
int __arena_mmap_init(void)
{
	size_t cs = 1UL << MMAP_CHUNK_SHIFT, size = MMAP_WINDOW_MAX, nr;
	char *p = MAP_FAILED, *base;
	int err = -ENOMEM;

	for (; size >= MMAP_WINDOW_MIN; size /= 4) {
		p = mmap(NULL, size + cs, PROT_NONE, MAP_PRIVATE |
			 MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (p != MAP_FAILED)
			break;
		err = -errno;
	}
	if (p == MAP_FAILED)
		return err;
	/* Trim to a chunk-aligned window: chunk bases imply their chunk. */
	base = (char *)(((uintptr_t)p + cs - 1) & ~(uintptr_t)(cs - 1));
	if (base != p)
		munmap(p, base - p);
	munmap(base + size, cs - (base - p));
	madvise(base, size, MADV_DONTFORK);
	madvise(base, size, MADV_NOHUGEPAGE);

	nr = size >> MMAP_CHUNK_SHIFT;
	g.slots_bytes = nr * sizeof(struct arena_mslot);
	g.slots = mmap(NULL, g.slots_bytes, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	g.used = calloc(nr / BITS + 1, sizeof(unsigned long));
	if (g.slots == MAP_FAILED || !g.used) {
		if (g.slots != MAP_FAILED)
			munmap(g.slots, g.slots_bytes);
		free(g.used);
		g.slots = NULL;
		g.used = NULL;
		munmap(base, size);
		return -ENOMEM;
	}
	g.base = base;
	g.window_size = size;
	g.chunk_size = cs;
	g.chunk_shift = MMAP_CHUNK_SHIFT;
	g.page_size = (size_t)sysconf(_SC_PAGESIZE);
	/* Untouched anonymous pages cost nothing: whole chunks only. */
	g.small_runs = 0;
	g.nr_slots = nr;
	g.first_free = 0;
	g.quar = NULL;
	g.quar_head = g.quar_len = g.quar_cap = g.quar_slots = 0;
	g.quar_budget = MMAP_QUARANTINE >> MMAP_CHUNK_SHIFT;
	if (g.quar_budget > nr / 2)
		g.quar_budget = nr / 2;
	g.backend = BACKEND_MMAP;
	return 0;
}

/* In a fork child: drop the parent's bookkeeping (the window is gone). */
void __arena_mmap_forget(void)
{
	if (g.slots)
		munmap(g.slots, g.slots_bytes);
	free(g.used);
	free(g.quar);
	g.slots = NULL;
	g.used = NULL;
	g.quar = NULL;
	g.quar_head = g.quar_len = g.quar_cap = g.quar_slots = 0;
}

int __arena_mmap_create(struct __arena *ai)
{
	/* Cyclic, never 0, as the kernel's ids. */
	if (!++g.next_id)
		++g.next_id;
	ai->id = g.next_id;
	return 0;
}

/* Hand the oldest quarantined run back to the free slots. */
static int quarantine_recycle(void)
{
	struct arena_qrun *q;

	if (!g.quar_len)
		return 0;
	q = &g.quar[g.quar_head];
	for (size_t i = q->start; i < q->start + q->nr; i++)
		slot_set(i, &(struct arena_mslot_val){ 0 });
	slots_mark(q->start, q->nr, 0);
	if (q->start < g.first_free)
		g.first_free = q->start;
	g.quar_slots -= q->nr;
	g.quar_head = (g.quar_head + 1) % g.quar_cap;
	g.quar_len--;
	return 1;
}

static int quarantine_push(size_t start, size_t nr)
{
	if (g.quar_len == g.quar_cap) {
		size_t cap = g.quar_cap ? g.quar_cap * 2 : 64;
		struct arena_qrun *q = malloc(cap * sizeof(*q));

		if (!q)
			return -ENOMEM;
		for (size_t i = 0; i < g.quar_len; i++)
			q[i] = g.quar[(g.quar_head + i) % g.quar_cap];
		free(g.quar);
		g.quar = q;
		g.quar_cap = cap;
		g.quar_head = 0;
	}
	g.quar[(g.quar_head + g.quar_len) % g.quar_cap] =
		(struct arena_qrun){ .start = start, .nr = nr };
	g.quar_len++;
	g.quar_slots += nr;
	return 0;
}

/* Lowest run of @nr free slots: its first slot, or -1. */
static long slots_find(size_t nr)
{
	size_t i = g.first_free, run = 0, start = 0;

	while (i < g.nr_slots) {
		if (!(i % BITS) && g.used[i / BITS] == ~0UL) {
			i += BITS;
			run = 0;
			continue;
		}
		if (slot_used(i)) {
			run = 0;
		} else {
			if (!run++)
				start = i;
			if (run == nr)
				return start;
		}
		i++;
	}
	return -1;
}

char *__arena_mmap_chunks(struct __arena *ai, size_t nr)
{
	size_t cs = g.chunk_size;
	long start;
	char *p;

	if (nr > g.nr_slots) {
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_lock(&g.lock);
	while (g.quar_slots > g.quar_budget)
		quarantine_recycle();
	while ((start = slots_find(nr)) < 0)
		if (!quarantine_recycle())
			break;
	if (start < 0) {
		pthread_mutex_unlock(&g.lock);
		errno = ENOMEM;
		return NULL;
	}
	p = g.base + ((size_t)start << g.chunk_shift);
	if (mprotect(p, nr * cs, PROT_READ | PROT_WRITE)) {
		/* ENOMEM: out of memory maps (vm.max_map_count). */
		pthread_mutex_unlock(&g.lock);
		errno = ENOMEM;
		return NULL;
	}
	slots_mark(start, nr, 1);
	if ((size_t)start == g.first_free)
		g.first_free = start + nr;
	for (size_t i = start; i < start + nr; i++)
		slot_set(i, &(struct arena_mslot_val){
			.arena_id = ai->id, .run_start = start,
			.state = ARENA_ADDR_LIVE });
	pthread_mutex_unlock(&g.lock);
	return p;
}

/* Make a run fault and give its memory back; 0 or -errno. */
static int run_revoke(char *p, size_t len)
{
	if (mprotect(p, len, PROT_NONE) &&
	    mmap(p, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
		 MAP_NORESERVE | MAP_FIXED, -1, 0) == MAP_FAILED)
		return -errno;
	/* Private anonymous: the next touch (after recycling) gets zeroes. */
	madvise(p, len, MADV_DONTNEED);
	return 0;
}

/* Revoke every run of @ai: they fault from now on. 0 or -errno. */
int __arena_mmap_release(struct __arena *ai)
{
	unsigned long long t = now_ns();
	int pid = getpid(), err = 0;

	pthread_mutex_lock(&g.lock);
	for (size_t r = 0; r < ai->nr_runs; r++) {
		char *p = ai->runs[r].base;
		size_t nr = ai->runs[r].len >> g.chunk_shift;
		size_t start = (p - g.base) >> g.chunk_shift;
		int e = run_revoke(p, nr << g.chunk_shift);

		if (e) {
			err = e;
			continue;
		}
		for (size_t i = start; i < start + nr; i++)
			slot_set(i, &(struct arena_mslot_val){
				.arena_id = ai->id, .run_start = start,
				.state = ARENA_ADDR_FREED, .freed_pid = pid,
				.freed_ns = t });
		/* Without room to remember it, the run stays out of use. */
		quarantine_push(start, nr);
	}
	while (g.quar_slots > g.quar_budget)
		quarantine_recycle();
	pthread_mutex_unlock(&g.lock);
	return err;
}

/* Lock-free and async-signal-safe: see struct arena_mslot. */
int __arena_mmap_lookup(uintptr_t p, struct arena_addr_info *info)
{
	uintptr_t base = (uintptr_t)g.base;
	struct arena_mslot_val s;

	if (p < base || p - base >= g.window_size)
		return 0;
	slot_get((p - base) >> g.chunk_shift, &s);
	if (s.state == ARENA_ADDR_UNKNOWN)
		return 0;
	info->state = (enum arena_addr_state)s.state;
	info->arena_id = s.arena_id;
	info->offset = p - base - ((size_t)s.run_start << g.chunk_shift);
	if (s.state == ARENA_ADDR_FREED) {
		info->freed_ns_ago = now_ns() - s.freed_ns;
		info->freed_by_pid = s.freed_pid;
	}
	return 0;
}
