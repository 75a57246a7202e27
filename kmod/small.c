// SPDX-License-Identifier: GPL-2.0
/*
 * Small runs: runs shorter than a chunk, page granular. Address space comes
 * from the current small slot of the small window (slots.c), memory from
 * the open file's current shared chunk, made of single pages
 * (ARENA_CARVE_ORDER); Documentation/small-arenas.rst has the whole story.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include "arena_priv.h"
#include "space.h"
#include "trace.h"

/* The current shared chunk for default or no-zero small runs. */
static struct arena_chunk **arena_carve_cur(struct arena_space *space,
					    bool nozero)
{
	return nozero ? &space->carve_nozero : &space->carve;
}

/*
 * A shared chunk leaves the space once nothing is carved from it any more
 * and no live or unrevoked run uses it: to the quarantine, like any chunk;
 * or, if no-zero runs were carved from it and nothing references it, to
 * the space's kept chunks, to be carved again unzeroed (arena_own_keep()).
 */
void arena_carve_put(struct arena_space *space, struct arena_chunk *c)
{
	lockdep_assert_held(&space->lock);
	if (c->runs || c == space->carve || c == space->carve_nozero)
		return;
	atomic_long_dec(&arena_stats.chunks_shared);
	if (c->nozero && arena_own_keep(space, c))
		return;
	arena_quarantine_put(c);
	arena_pool_kick();
}

/*
 * A request would fail for want of memlock or memory: the current shared
 * chunks that no run uses any more go (a no-zero one to the kept chunks,
 * which arena_give_way() drains next). True if one went.
 */
bool arena_carve_drop_idle(struct arena_space *space)
{
	bool dropped = false;

	for (int nozero = 0; nozero < 2; nozero++) {
		struct arena_chunk *c = *arena_carve_cur(space, nozero);

		if (c && !c->runs) {
			arena_carve_drop(space, nozero);
			dropped = true;
		}
	}
	return dropped;
}

/* The file is closed: its current shared chunk of each kind goes. */
void arena_carve_drop(struct arena_space *space, bool nozero)
{
	struct arena_chunk **cur = arena_carve_cur(space, nozero);
	struct arena_chunk *c = *cur;

	if (c) {
		*cur = NULL;
		arena_carve_put(space, c);
	}
}

/*
 * Make sure the current shared chunk of the kind @nozero has @nr pages
 * left to carve. A no-zero one is a chunk of single pages this space kept
 * (old bytes of its own freed no-zero runs) if it has one, else a zeroed
 * one from the pool; a default one always comes from the pool.
 */
static int arena_carve_reserve(struct arena_space *space, unsigned int nr,
			       bool nozero)
{
	struct arena_chunk **cur = arena_carve_cur(space, nozero);
	struct arena_chunk *c = *cur, *new;

	if (c && ARENA_CHUNK_PAGES - c->carved >= nr)
		return 0;
	/*
	 * An old one that no run uses goes first: its charge is free for
	 * the new one, and a no-zero one is kept and may be carved again at
	 * once. One that runs still use stays current until a new one is
	 * had, so that a failure here leaves its remainder to smaller runs.
	 */
	if (c && !c->runs) {
		arena_carve_drop(space, nozero);
		c = NULL;
	}
	new = nozero ? arena_own_take(space, true) : NULL;
	if (!new)
		new = arena_get_chunk(space, true);
	if (IS_ERR(new))
		return PTR_ERR(new);
	new->carved = 0;
	new->runs = 0;
	new->nozero = nozero;
	/* Shared chunks are mapped page by page: no rmap offset to keep. */
	arena_chunk_set_index(new, 0);
	atomic_long_inc(&arena_stats.chunks_shared);
	*cur = new;
	if (c)
		arena_carve_put(space, c);
	return 0;
}

/*
 * Cut a small run of @run->nr_pages pages: address space from the current
 * small slot, memory from the current shared chunk. The run is not visible
 * to the fault handler yet.
 */
int arena_small_run(struct arena_space *space, struct arena_run *run)
{
	unsigned int nr = run->nr_pages;
	struct arena_chunk *c;
	struct arena_sslot *ss;
	int err;

	err = arena_carve_reserve(space, nr, run->nozero);
	if (err)
		return err;
	err = arena_sslot_reserve(space, nr);
	if (err)
		return err;
	ss = space->sslot;
	c = *arena_carve_cur(space, run->nozero);
	run->pgoff = (ss->slot << ARENA_CHUNK_ORDER) + ss->next;
	ss->next += nr;
	ss->pending += nr;
	run->chunks[0] = c;
	run->first = c->carved;
	c->carved += nr;
	c->runs++;
	atomic_long_inc(&arena_stats.small_runs_mapped);
	trace_arena_small_run(run->arena_id, run->pgoff, nr, c, run->first);
	return 0;
}

/* Publish a small run to the fault handler: its pages are live now. */
void arena_small_run_live(struct arena_space *space, struct arena_run *run)
{
	struct arena_sslot *ss = space->sslot;
	unsigned long i, first = run->pgoff & (ARENA_CHUNK_PAGES - 1);

	xa_lock(&space->slots);
	for (i = 0; i < run->nr_pages; i++)
		ss->runs[first + i] = run;
	run->state = ARENA_RUN_LIVE;
	xa_unlock(&space->slots);
}
