// SPDX-License-Identifier: GPL-2.0
/*
 * One chunk's memory: allocation with fallback to smaller folios, zeroing,
 * the reference test the quarantine uses, and release.
 *
 * A chunk is one folio of ARENA_CHUNK_ORDER when the page allocator has one
 * (then the fault path maps it with a single PMD), else several smaller
 * folios (mapped with 4 KiB entries). The module holds one reference on each
 * folio. Mappings hold their own references (taken in the fault handler and
 * dropped by the zap), and so do GUP pins and pipes, so a folio whose count
 * is 1 and which is not mapped is referenced by the module alone.
 *
 * Fresh chunks are zero: __GFP_ZERO costs nothing extra where the kernel
 * already clears on allocation (Debian boots with init_on_alloc=1, and
 * want_init_on_alloc() folds the two into one clear).
 *
 * Charging (Documentation/design/arena.rst, "Memory cgroups"): a chunk is
 * allocated with __GFP_ACCOUNT inside the memory cgroup of the window that
 * asks for it (set_active_memcg(), the kernel's remote-charging scope), so
 * it counts in that cgroup's memory.current from allocation to release,
 * pool and quarantine included; the pool hands it only to windows of the
 * same cgroup. Separately, from the moment an arena takes it until nothing
 * references it, it is charged to a user's RLIMIT_MEMLOCK (arenas.c).
 */
#include <linux/gfp.h>
#include <linux/highmem.h>
#include <linux/ktime.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/sched.h>
#include <linux/sched/mm.h>
#include <linux/sched/user.h>
#include <linux/slab.h>

#include "arena_priv.h"
#include "trace.h"

/*
 * User pages, not movable (nothing here can migrate them). The first try at
 * the full order does light compaction only; the fallbacks may work harder
 * but never invoke the OOM killer.
 */
#define ARENA_GFP		(GFP_HIGHUSER | __GFP_ZERO | __GFP_NOWARN)
#define ARENA_GFP_FIRST		(ARENA_GFP | __GFP_NORETRY)
#define ARENA_GFP_FALLBACK	(ARENA_GFP | __GFP_RETRY_MAYFAIL)

static atomic64_t arena_chunk_serial;

static struct arena_chunk *arena_chunk_try(int nid, unsigned int order,
					   gfp_t gfp)
{
	unsigned int i, nr = 1U << (ARENA_CHUNK_ORDER - order);
	struct arena_chunk *c;

	c = kzalloc(struct_size(c, folios, nr),
		    GFP_KERNEL | (gfp & __GFP_ACCOUNT));
	if (!c)
		return NULL;
	c->order = order;
	c->nr_folios = nr;
	INIT_LIST_HEAD(&c->node);
	for (i = 0; i < nr; i++) {
		c->folios[i] = __folio_alloc(gfp, order, nid, NULL);
		if (!c->folios[i])
			goto free_folios;
	}
	/* The allocator may have fallen back to another node. */
	c->nid = folio_nid(c->folios[0]);
	c->id = atomic64_inc_return(&arena_chunk_serial);
	return c;

free_folios:
	while (i--)
		folio_put(c->folios[i]);
	kfree(c);
	return NULL;
}

/*
 * A new zeroed chunk from the page allocator, preferably on @nid, within the
 * global cap, charged to @memcg (NULL: the root cgroup), in folios of
 * @order at most (falling back to 64 KiB and 4 KiB ones under
 * fragmentation). Returns ERR_PTR(-ENOSPC) at the global cap, and
 * ERR_PTR(-ENOMEM) over the cgroup's limit or out of memory.
 */
struct arena_chunk *arena_chunk_new(int nid, struct mem_cgroup *memcg,
				    unsigned int order)
{
	unsigned int want = order;
	struct mem_cgroup *old_memcg;
	struct arena_chunk *c;
	gfp_t account = 0;

	/* The caller counts a refused request (limit_hits) once. */
	if (atomic_long_inc_return(&arena_stats.chunks_total) >
	    READ_ONCE(arena_max_chunks)) {
		atomic_long_dec(&arena_stats.chunks_total);
		return ERR_PTR(-ENOSPC);
	}
	/*
	 * Charge @memcg, whoever allocates (the worker too); the root cgroup
	 * is never charged, whatever cgroup the caller has moved to since.
	 */
	if (memcg)
		account = __GFP_ACCOUNT;
	old_memcg = set_active_memcg(memcg);
	/* Single pages are what the fallbacks end with: work as hard. */
	c = arena_chunk_try(nid, order, (order ? ARENA_GFP_FIRST :
					 ARENA_GFP_FALLBACK) | account);
	if (!c && order > ARENA_FALLBACK_ORDER) {
		order = ARENA_FALLBACK_ORDER;
		c = arena_chunk_try(nid, order, ARENA_GFP_FIRST | account);
	}
	if (!c && order) {
		order = 0;
		c = arena_chunk_try(nid, order, ARENA_GFP_FALLBACK | account);
	}
	set_active_memcg(old_memcg);
	if (!c) {
		atomic_long_dec(&arena_stats.chunks_total);
		return ERR_PTR(-ENOMEM);
	}
	arena_memcg_get(memcg);
	c->memcg = memcg;
	atomic_long_inc(&arena_stats.chunks_allocated);
	if (order != want)
		atomic_long_inc(&arena_stats.chunks_fallback);
	return c;
}

/*
 * The chunk is referenced by nothing but the module any more: give its
 * RLIMIT_MEMLOCK charge back (the memcg charge stays until release).
 */
void arena_chunk_uncharge(struct arena_chunk *c)
{
	struct user_struct *user = c->user;

	if (!user)
		return;
	c->user = NULL;
	atomic_long_sub(ARENA_CHUNK_PAGES, &user->locked_vm);
	free_uid(user);
}

/*
 * Clear every byte; the chunk is referenced by the module alone. A page
 * at a time with a reschedule point after each, as clear_huge_page() does:
 * a worker at nice 19 on the CPU of a request must not hold it for a whole
 * chunk.
 */
void arena_chunk_zero(struct arena_chunk *c)
{
	unsigned int i, j, nr = 1U << c->order;

	for (i = 0; i < c->nr_folios; i++) {
		for (j = 0; j < nr; j++) {
			clear_highpage(folio_page(c->folios[i], j));
			cond_resched();
		}
	}
	atomic_long_add(ARENA_CHUNK_PAGES, &arena_stats.pages_zeroed);
	trace_arena_chunk_zero(c);
}

/* Back to the page allocator: the caller owns @c and nothing maps it. */
void arena_chunk_release(struct arena_chunk *c)
{
	unsigned int i;

	trace_arena_chunk_release(c);
	arena_chunk_uncharge(c);
	/* The folios' memcg charge goes with their last reference. */
	for (i = 0; i < c->nr_folios; i++)
		folio_put(c->folios[i]);
	mem_cgroup_put(c->memcg);
	kfree(c);
	atomic_long_dec(&arena_stats.chunks_total);
	atomic_long_inc(&arena_stats.chunks_released);
}

/*
 * What still holds the chunk, after it has been unmapped from the window:
 * ARENA_HELD_NONE if only the module's references are left. One page held
 * holds the whole chunk (a PMD-order folio is one unit of memory).
 */
unsigned int arena_chunk_hold(struct arena_chunk *c)
{
	unsigned int i;

	for (i = 0; i < c->nr_folios; i++) {
		struct folio *folio = c->folios[i];

		/*
		 * Mappings and pins hold references too, so a count of 1 is
		 * the common answer in O(1); folio_mapped() walks every
		 * subpage's mapcount of a large folio on 6.1.
		 */
		if (folio_ref_count(folio) == 1)
			continue;
		if (folio_maybe_dma_pinned(folio))
			return ARENA_HELD_PINNED;
		if (folio_mapped(folio))
			return ARENA_HELD_MAPPED;
		return ARENA_HELD_REFERENCED;
	}
	return ARENA_HELD_NONE;
}

/* Record the file offset each folio sits at, as rmap expects. */
void arena_chunk_set_index(struct arena_chunk *c, pgoff_t pgoff)
{
	unsigned int i;

	for (i = 0; i < c->nr_folios; i++)
		c->folios[i]->index = pgoff + ((pgoff_t)i << c->order);
}

/* Page @idx (0 .. ARENA_CHUNK_PAGES - 1) of the chunk. */
struct page *arena_chunk_page(struct arena_chunk *c, unsigned long idx)
{
	return folio_page(c->folios[idx >> c->order],
			  idx & ((1UL << c->order) - 1));
}
