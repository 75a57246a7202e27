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

/*
 * A shared chunk leaves the space once nothing is carved from it any more
 * and no live or unrevoked run uses it: to the quarantine, like any chunk.
 */
void arena_carve_put(struct arena_space *space, struct arena_chunk *c)
{
	lockdep_assert_held(&space->lock);
	if (c->runs || c == space->carve)
		return;
	atomic_long_dec(&arena_stats.chunks_shared);
	arena_quarantine_put(c);
	arena_pool_kick();
}

/* Make sure the current shared chunk has @nr pages left to carve. */
static int arena_carve_reserve(struct arena_space *space, unsigned int nr)
{
	struct arena_chunk *c = space->carve, *old = c;

	if (c && ARENA_CHUNK_PAGES - c->carved >= nr)
		return 0;
	c = arena_get_chunk(space, true);
	if (IS_ERR(c))
		return PTR_ERR(c);
	c->carved = 0;
	c->runs = 0;
	/* Shared chunks are mapped page by page: no rmap offset to keep. */
	arena_chunk_set_index(c, 0);
	atomic_long_inc(&arena_stats.chunks_shared);
	space->carve = c;
	if (old)
		arena_carve_put(space, old);
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

	err = arena_carve_reserve(space, nr);
	if (err)
		return err;
	err = arena_sslot_reserve(space, nr);
	if (err)
		return err;
	ss = space->sslot;
	c = space->carve;
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
