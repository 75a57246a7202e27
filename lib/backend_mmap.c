/* SPDX-License-Identifier: MIT */
/*
 * libarena's mmap backend, for machines without /dev/arena (or with
 * ARENA_BACKEND=mmap): the same API on plain anonymous memory.
 *
 * The process reserves one window of address space, PROT_NONE and
 * MAP_NORESERVE (no memory, no commit charge), chunk aligned, and cuts it
 * into chunk-size slots as the kernel does. A run of slots handed to an
 * arena is made read-write with mprotect(). Freeing it makes it fault from
 * then on (see "Revoking" below). Freed slots stay in a quarantine, oldest
 * first, and are handed out again only once more than a budget of freed
 * address space (the kernel's va_quarantine_mb default, 4 GiB) has piled
 * up, or when nothing else is free; a recycled slot's pages were dropped,
 * so they come back zero.
 *
 *     window: PROT_NONE reservation, MADV_DONTFORK | MADV_NOHUGEPAGE
 *     +--------+--------+--------+--------+--------+------    ------+
 *     | slot 0 | slot 1 | slot 2 | slot 3 | slot 4 |   never used   |
 *     | RW     | RW     | NONE   | RW     | RW     |   NONE         |
 *     | arena 1, one run| freed  | arena 2| kept   |                |
 *     +--------+--------+--------+--------+--------+------    ------+
 *
 * Keeping freed pages. Faulting in fresh zero pages (a fault per 4 KiB) is
 * what a short-lived arena costs most. So when a single-chunk run is freed,
 * its pages are moved, page tables and all, to a fresh free slot with
 * mremap(MREMAP_DONTUNMAP): the old slot stays mapped but empty and is made
 * PROT_NONE like any freed slot, and the fresh slot (slot 4 above) is
 * "kept", read-write and populated, for the next arena that wants one
 * chunk: it gets it with no system call and no fault, the bytes the last
 * arena wrote zeroed with memset() (not for an ARENA_NOZERO arena taking
 * an ARENA_NOZERO arena's chunk). A freed address is never handed out
 * again before the quarantine lets it go: only the pages move, to an
 * address no arena had. At most MMAP_KEEP_SLOTS chunks holding at most
 * MMAP_KEEP_BYTES of written bytes are kept; arena_trim() gives them back;
 * a fork child has none (the window is MADV_DONTFORK). Without
 * MREMAP_DONTUNMAP (kernels before 5.7) nothing is kept.
 *
 * Revoking. A freed run must fault, whatever fails; run_revoke() tries in
 * turn mprotect(PROT_NONE) (splitting the window's memory maps can fail with
 * ENOMEM at vm.max_map_count), MADV_GUARD_INSTALL (Linux 6.13: guard
 * markers in the page tables make the range fault with SIGSEGV and drop
 * its pages, without touching the memory maps, so the map count is no
 * wall), and mmap(MAP_FIXED, PROT_NONE) over it (given MADV_DONTFORK and
 * MADV_NOHUGEPAGE again, as the window's); then it gives back the kept
 * chunks (merging their maps) and tries all three again; if the run still
 * cannot be made to fault, the library prints why and aborts the process
 * rather than leave freed memory usable.
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
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "libarena_priv.h"

#define g __arena_g
#define sys __arena_mmap_sys

struct arena_mmap_sys __arena_mmap_sys = {
	.mprotect = mprotect,
	.madvise = madvise,
	.mmap = mmap,
	.mremap = mremap,
};

#define MMAP_CHUNK_SHIFT	21			/* 2 MiB, as the kernel */
#define MMAP_WINDOW_MAX		(64ULL << 30)		/* as window_gib */
#define MMAP_WINDOW_MIN		(1ULL << 30)
#define MMAP_QUARANTINE		(4ULL << 30)		/* va_quarantine_mb */
#define BITS			(8 * sizeof(unsigned long))
/* Freed chunks kept populated for the next arenas (see above). */
#define MMAP_KEEP_SLOTS		16
#define MMAP_KEEP_BYTES		(4UL << 20)

/* Linux 6.13; older headers lack them. */
#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL	102
#define MADV_GUARD_REMOVE	103
#endif
#ifndef MREMAP_DONTUNMAP
#define MREMAP_DONTUNMAP	4
#endif

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

/* A kept chunk: its slot, and how much of it the last arena wrote. */
struct arena_mkeep {
	unsigned int slot;
	unsigned int nozero;		/* written by an ARENA_NOZERO arena */
	size_t dirty;
};

/* Kept chunks, most recent last (under g.lock); reset in a fork child. */
static struct arena_mkeep keep[MMAP_KEEP_SLOTS];
static size_t nr_keep, keep_bytes;
static int keep_off;			/* no MREMAP_DONTUNMAP here */
static int mmap_pid;			/* getpid() at init: the freeing process */

/*
 * How each slot was last revoked, for run_open() (under g.lock; kept
 * apart from the slot table, which arena_lookup() reads).
 */
#define SLOT_GUARDED	0x1		/* guard markers: drop them first */
#define SLOT_STALE	0x2		/* may hold a page: drop it first */
#define SLOT_FORKS	0x4		/* no MADV_DONTFORK: advise it first */
static unsigned char slot_rev[MMAP_WINDOW_MAX >> MMAP_CHUNK_SHIFT];
/*
 * A live kept chunk an ARENA_NOZERO arena took without zeroing it: how many
 * bytes the arena before wrote (under g.lock). The chunk's next keeper must
 * zero those too, whatever the new arena's cursor says.
 */
static unsigned int slot_stale[MMAP_WINDOW_MAX >> MMAP_CHUNK_SHIFT];

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
	nr_keep = keep_bytes = 0;
	mmap_pid = getpid();
	/* A fork child's copy is the parent's. */
	memset(slot_rev, 0, nr);
	memset(slot_stale, 0, nr * sizeof(slot_stale[0]));
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
	/* The kept chunks were in the window: the child has none. */
	nr_keep = keep_bytes = 0;
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

/*
 * The window's advice again, for a new mapping in it (MAP_FIXED): 0, or
 * -1 if MADV_DONTFORK failed (a fork child would get a copy of the range;
 * MADV_NOHUGEPAGE only saves zeroing).
 */
static int slots_advise(char *p, size_t len)
{
	int r = sys.madvise(p, len, MADV_DONTFORK);

	sys.madvise(p, len, MADV_NOHUGEPAGE);
	return r ? -1 : 0;
}

/*
 * Make @len bytes at @p fault from now on, dropping their pages (unless
 * @drop is 0: sys.mremap() took them). Tries sys.mprotect(), guard markers and a
 * PROT_NONE mapping over the range; see "Revoking" at the top. Returns 1 if
 * guard markers did it (the range stays read-write underneath), 2 if
 * mprotect() did but the pages could not be dropped, 3 if a new mapping
 * did but could not be made MADV_DONTFORK, 0 otherwise, and
 * -errno if all three failed.
 */
static int revoke_try(char *p, size_t len, int drop)
{
	int err;

	if (!sys.mprotect(p, len, PROT_NONE)) {
		/*
		 * Private anonymous: the next touch (after recycling) gets
		 * zeroes. If the drop fails, 2: the pages stay, run_open()
		 * must drop them before the slot is handed out again.
		 */
		if (drop && sys.madvise(p, len, MADV_DONTNEED))
			return 2;
		return 0;
	}
	err = -errno;
	/* ENOMEM: the split needs a memory map more than vm.max_map_count. */
	if (!sys.madvise(p, len, MADV_GUARD_INSTALL))
		return 1;
	if (sys.mmap(p, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
		 MAP_NORESERVE | MAP_FIXED, -1, 0) != MAP_FAILED) {
		/*
		 * A new mapping: as the window's, or fork would copy it;
		 * 3 if that failed (run_open() tries again).
		 */
		return slots_advise(p, len) ? 3 : 0;
	}
	return err;
}

/* Never leave freed memory usable: stop here, loudly. */
static void __attribute__((noreturn)) revoke_failed(char *p, size_t len,
						    int err, const char *why)
{
	char msg[256];

	snprintf(msg, sizeof(msg), "libarena: cannot revoke freed memory at %p (+%zu)%s: %s; aborting\n",
		 (void *)p, len, why, strerror(-err));
	if (write(STDERR_FILENO, msg, strlen(msg)) < 0)
		abort();
	abort();
}

/*
 * For the kernel backend when its descriptor is gone (no ioctl can
 * revoke): make @len bytes at @p fault by hand, or abort. (The module's
 * window refuses to be split, so today this aborts.)
 */
void __arena_revoke_range(char *p, size_t len)
{
	int r = revoke_try(p, len, 1);

	if (r < 0)
		revoke_failed(p, len, r,
			      ", the /dev/arena descriptor closed under the library");
}

static void keep_drop_all(void);

/* The run at @start..+@nr faults from now on, or the process aborts. */
static void run_revoke(size_t start, size_t nr, int drop)
{
	size_t len = nr << g.chunk_shift;
	char *p = g.base + (start << g.chunk_shift);
	int r = revoke_try(p, len, drop);

	if (r < 0 && nr_keep) {
		/* Kept chunks made PROT_NONE merge with their neighbours. */
		keep_drop_all();
		r = revoke_try(p, len, drop);
	}
	if (r < 0)
		revoke_failed(p, len, r, "");
	/* Without the drop, a stale write may have left a page. */
	memset(slot_rev + start, (r == 1 ? SLOT_GUARDED : 0) |
	       (drop && r != 2 ? 0 : SLOT_STALE) | (r == 3 ? SLOT_FORKS : 0),
	       nr);
}

/*
 * Make a free run ready to hand out: read-write, no guard markers, no
 * pages left from an earlier use. 0 or -ENOMEM (the run is as before).
 */
static int run_open(size_t start, size_t nr)
{
	size_t len = nr << g.chunk_shift, i;
	char *p = g.base + (start << g.chunk_shift);
	int rev = 0;

	for (i = start; i < start + nr; i++)
		rev |= slot_rev[i];
	/* Never hand out memory a fork child would get a copy of. */
	if ((rev & SLOT_FORKS) && slots_advise(p, len))
		return -ENOMEM;
	if ((rev & SLOT_STALE) && sys.madvise(p, len, MADV_DONTNEED))
		return -ENOMEM;
	/* ENOMEM: out of memory maps (vm.max_map_count). */
	if (sys.mprotect(p, len, PROT_READ | PROT_WRITE))
		return -ENOMEM;
	if ((rev & SLOT_GUARDED) && sys.madvise(p, len, MADV_GUARD_REMOVE)) {
		/* Still faulting: leave it so, as a free run. */
		run_revoke(start, nr, 1);
		return -ENOMEM;
	}
	memset(slot_rev + start, 0, nr);
	return 0;
}


char *__arena_mmap_chunks(struct __arena *ai, size_t nr)
{
	struct arena_mkeep k = { .dirty = 0 };
	long start;
	char *p;

	if (nr > g.nr_slots) {
		errno = ENOMEM;
		return NULL;
	}
	pthread_mutex_lock(&g.lock);
	/* Not under a checking tool: its poisoning would see the memset. */
	if (nr == 1 && nr_keep && !ai->instr) {
		/* A kept chunk: mapped, populated, never this address before. */
		k = keep[--nr_keep];
		keep_bytes -= k.dirty;
		start = k.slot;
	} else {
		while (g.quar_slots > g.quar_budget)
			quarantine_recycle();
		while ((start = slots_find(nr)) < 0)
			if (!quarantine_recycle())
				break;
		if (start < 0 || run_open(start, nr)) {
			pthread_mutex_unlock(&g.lock);
			errno = ENOMEM;
			return NULL;
		}
		slots_mark(start, nr, 1);
		if ((size_t)start == g.first_free)
			g.first_free = start + nr;
	}
	p = g.base + ((size_t)start << g.chunk_shift);
	for (size_t i = start; i < start + nr; i++)
		slot_set(i, &(struct arena_mslot_val){
			.arena_id = ai->id, .run_start = start,
			.state = ARENA_ADDR_LIVE });
	/* What the last arena wrote, unless both arenas are ARENA_NOZERO. */
	if (k.dirty && k.nozero && (ai->flags & ARENA_NOZERO))
		slot_stale[start] = k.dirty;
	else if (nr == 1)
		slot_stale[start] = 0;
	pthread_mutex_unlock(&g.lock);
	if (k.dirty && !(k.nozero && (ai->flags & ARENA_NOZERO)))
		memset(p, 0, k.dirty);
	return p;
}

/*
 * Bytes of @ai's run @r that may have been written: up to the cursor in
 * the arena's current chunk, all of any other run.
 */
static size_t run_dirty(const struct __arena *ai, const struct arena_run *r)
{
	uintptr_t cur, b = (uintptr_t)r->base;

	if (ai->flags & ARENA_THREADSAFE)
		cur = atomic_load_explicit(&ai->ts_cur, memory_order_relaxed);
	else
		cur = (uintptr_t)ai->pub.cur_;
	if (cur > b && cur - b <= r->len) {
		size_t d = (cur - b + g.page_size - 1) & ~(g.page_size - 1);
		size_t stale = slot_stale[(b - (uintptr_t)g.base) >>
					  g.chunk_shift];

		/* An earlier ARENA_NOZERO owner may have written further. */
		return d > stale ? d : stale;
	}
	return r->len;
}

/*
 * Keep the pages of the one-chunk run at slot @start (@dirty bytes of it
 * written by @ai): move them to a fresh free slot and leave the old one
 * mapped and empty. 1 if kept (the old slot still to be revoked), else 0.
 */
static int keep_run(const struct __arena *ai, size_t start, size_t dirty)
{
	size_t cs = g.chunk_size;
	unsigned char vec;
	long to;
	char *p = g.base + (start << g.chunk_shift), *q;

	if (keep_off || ai->instr || nr_keep == MMAP_KEEP_SLOTS ||
	    keep_bytes + dirty > MMAP_KEEP_BYTES)
		return 0;
	to = slots_find(1);
	if (to < 0)
		return 0;
	q = g.base + ((size_t)to << g.chunk_shift);
	/* The move replaces whatever the target held: pages, markers. */
	if (sys.mremap(p, cs, cs, MREMAP_MAYMOVE | MREMAP_FIXED |
		       MREMAP_DONTUNMAP, q) == MAP_FAILED) {
		/* EINVAL: no MREMAP_DONTUNMAP (before 5.7): never again. */
		if (errno == EINVAL)
			keep_off = 1;
		/*
		 * A failure after the kernel unmapped the target (ENOMEM at
		 * vm.max_map_count) leaves a hole in the window: fill it
		 * again, or never use the slot (something else got there).
		 */
		if (mincore(q, g.page_size, &vec) && errno == ENOMEM) {
			if (sys.mmap(q, cs, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS |
				 MAP_NORESERVE | MAP_FIXED_NOREPLACE, -1, 0) == q) {
				if (slots_advise(q, cs))
					slot_rev[to] |= SLOT_FORKS;
			} else {
				slots_mark(to, 1, 1);
				if ((size_t)to == g.first_free)
					g.first_free = to + 1;
			}
		}
		return 0;
	}
	slots_mark(to, 1, 1);
	if ((size_t)to == g.first_free)
		g.first_free = to + 1;
	slot_rev[to] = 0;
	keep[nr_keep].slot = to;
	keep[nr_keep].dirty = dirty;
	keep[nr_keep].nozero = !!(ai->flags & ARENA_NOZERO);
	nr_keep++;
	keep_bytes += dirty;
	return 1;
}

/* Give back every kept chunk: PROT_NONE, pages dropped, slot free. */
static void keep_drop_all(void)
{
	while (nr_keep) {
		size_t s = keep[--nr_keep].slot;

		keep_bytes -= keep[nr_keep].dirty;
		run_revoke(s, 1, 1);
		slots_mark(s, 1, 0);
		if (s < g.first_free)
			g.first_free = s;
	}
}

/* arena_trim(): the kept chunks go back to the system. */
void __arena_mmap_trim(void)
{
	pthread_mutex_lock(&g.lock);
	if (g.backend == BACKEND_MMAP)
		keep_drop_all();
	pthread_mutex_unlock(&g.lock);
}

/*
 * Revoke every run of @ai: they fault from now on (or the process aborts,
 * see run_revoke()), are marked freed and quarantined. Returns 0.
 */
int __arena_mmap_release(struct __arena *ai)
{
	unsigned long long t = now_ns();
	int pid = mmap_pid;

	pthread_mutex_lock(&g.lock);
	for (size_t r = 0; r < ai->nr_runs; r++) {
		char *p = ai->runs[r].base;
		size_t nr = ai->runs[r].len >> g.chunk_shift;
		size_t start = (p - g.base) >> g.chunk_shift;
		int kept = nr == 1 && keep_run(ai, start,
					       run_dirty(ai, &ai->runs[r]));

		run_revoke(start, nr, !kept);
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
	return 0;
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
