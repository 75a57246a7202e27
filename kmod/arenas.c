// SPDX-License-Identifier: GPL-2.0
/*
 * Arenas: creating them, giving them runs (whole chunks here, small runs
 * through small.c), freeing them, and the reverse lookup.
 *
 * Fault and free hand over under the folio lock: free marks the run FREED,
 * then locks each folio, unmaps, unlocks. The fault handler (window.c)
 * rechecks that the slot is live after locking the folio, and
 * finish_fault() installs the entry before the folio is unlocked. So either
 * the fault sees FREED and fails, or its mapping exists before free's unmap
 * runs and is torn down by it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/fs.h>
#include <linux/ktime.h>
#include <linux/mm.h>
#include <linux/pagemap.h>
#include <linux/pid.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include <uapi/linux/arena.h>

#include "arena_priv.h"
#include "events.h"
#include "space.h"
#include "trace.h"

/* Charge one chunk to the opener's RLIMIT_MEMLOCK, as io_uring does. */
static int arena_charge(struct arena_space *space)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	unsigned long cur, new;

	if (!space->charge)
		return 0;
	cur = atomic_long_read(&space->user->locked_vm);
	do {
		new = cur + ARENA_CHUNK_PAGES;
		if (new < cur || new > limit) {
			atomic_long_inc(&arena_stats.memlock_hits);
			return -ENOMEM;
		}
	} while (!atomic_long_try_cmpxchg(&space->user->locked_vm, &cur, new));
	return 0;
}

/*
 * A chunk a freed no-zero run of this space left, for a no-zero run: as
 * it is, old bytes and charges included. NULL if none is kept. A small run
 * (@small) is carved from a chunk of single pages, a whole-chunk run wants
 * one that one PMD maps: the list holds only those two kinds, the first
 * at its tail and the second at its head (arena_own_keep()).
 */
struct arena_chunk *arena_own_take(struct arena_space *space, bool small)
{
	struct arena_chunk *c;

	lockdep_assert_held(&space->lock);
	if (list_empty(&space->own))
		return NULL;
	c = small ? list_last_entry(&space->own, struct arena_chunk, node) :
		    list_first_entry(&space->own, struct arena_chunk, node);
	if (c->order != (small ? ARENA_CARVE_ORDER : ARENA_CHUNK_ORDER))
		return NULL;
	list_del(&c->node);
	space->nr_own--;
	c->nozero = false;
	atomic_long_inc(&arena_stats.chunks_reused_nozero);
	return c;
}

/*
 * Keep a freed no-zero run's chunk for the space's next no-zero runs
 * instead of sending it to the pool to be zeroed, if nothing references it
 * any more (the quarantine's own check: no mapping, no pin, no other
 * reference) and the space keeps fewer than nozero_keep_mb. It is unmapped
 * and its run is FREED, so nothing can map or pin it from now on; it
 * stays charged to the opener (memlock and memory cgroup) and in use.
 * Only a chunk one PMD maps, or one of single pages (which small runs are
 * carved from), is worth keeping: a run would rather have a zeroed 2 MiB
 * folio from the pool than fault in a fallback chunk's smaller folios.
 */
bool arena_own_keep(struct arena_space *space, struct arena_chunk *c)
{
	/* Clamped so that the shift cannot overflow: 1 PiB is plenty. */
	unsigned long keep = (min(READ_ONCE(arena_nozero_keep_mb),
				  1UL << 30) << 20) >> ARENA_CHUNK_SHIFT;

	lockdep_assert_held(&space->lock);
	if (c->order != ARENA_CHUNK_ORDER && c->order != ARENA_CARVE_ORDER)
		return false;
	if (space->nr_own >= keep || arena_chunk_hold(c) != ARENA_HELD_NONE)
		return false;
	if (c->order == ARENA_CHUNK_ORDER)
		list_add(&c->node, &space->own);
	else
		list_add_tail(&c->node, &space->own);
	space->nr_own++;
	return true;
}

/* Give the kept no-zero chunks to the pool (zeroed there before reuse). */
static void arena_own_drain(struct arena_space *space)
{
	struct arena_chunk *c;

	while ((c = list_first_entry_or_null(&space->own, struct arena_chunk,
					     node))) {
		list_del(&c->node);
		space->nr_own--;
		arena_quarantine_put(c);
	}
	arena_pool_kick();
}

/*
 * A request of the space would fail (RLIMIT_MEMLOCK, or no memory): give
 * back what the space holds for later rather than for a live arena, its
 * charges and memory with it. That is a current shared chunk of either
 * kind that no run uses any more, and the kept no-zero chunks. Returns
 * false if there was nothing to give.
 */
static bool arena_give_way(struct arena_space *space)
{
	bool gave = arena_carve_drop_idle(space);

	if (!space->nr_own)
		return gave;
	arena_own_drain(space);
	return true;
}

/*
 * A chunk of the space's cgroup from the pool, charged to the opener's
 * RLIMIT_MEMLOCK. The charge goes with the chunk, not with the arena: it
 * is given back only when nothing references the chunk any more
 * (arena_chunk_uncharge() from the pool), so pages pinned past a free
 * (vmsplice, O_DIRECT, io_uring) stay within the limit.
 */
struct arena_chunk *arena_get_chunk(struct arena_space *space, bool small)
{
	struct arena_chunk *c;
	int err;

	err = arena_charge(space);
	/* Kept and idle chunks give their charges back first. */
	if (err && arena_give_way(space))
		err = arena_charge(space);
	if (err)
		return ERR_PTR(err);
	c = arena_pool_get(space->memcg, small);
	/* ... and their memory: this cgroup's, to the pool. */
	if (IS_ERR(c) && arena_give_way(space))
		c = arena_pool_get(space->memcg, small);
	if (IS_ERR(c)) {
		if (space->charge)
			atomic_long_sub(ARENA_CHUNK_PAGES,
					&space->user->locked_vm);
		return c;
	}
	if (space->charge)
		c->user = get_uid(space->user);
	return c;
}

/* Could @need more chunks be charged to the opener's RLIMIT_MEMLOCK? */
static bool arena_memlock_room(struct arena_space *space, unsigned long need)
{
	return !space->charge ||
	       atomic_long_read(&space->user->locked_vm) +
	       (need << ARENA_CHUNK_ORDER) <=
	       rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
}

/* Take @run->nr_chunks chunks from the pool and place them in the window. */
static int arena_chunk_run(struct arena_space *space, struct arena_run *run)
{
	unsigned int i, got, nr = run->nr_chunks;
	unsigned long start, need = nr;
	struct arena_chunk *c;
	int err;

	/* Kept chunks are charged already: those at the head are whole. */
	if (run->nozero) {
		list_for_each_entry(c, &space->own, node) {
			if (c->order != ARENA_CHUNK_ORDER || !need)
				break;
			need--;
		}
	}
	/* Not worth taking (and zeroing) chunks that cannot all be had. */
	if (!arena_memlock_room(space, need) && arena_give_way(space))
		need = nr;
	if (!arena_memlock_room(space, need)) {
		atomic_long_inc(&arena_stats.memlock_hits);
		return -ENOMEM;
	}
	for (got = 0; got < nr; got++) {
		c = run->nozero ? arena_own_take(space, false) : NULL;
		if (!c)
			c = arena_get_chunk(space, false);

		if (IS_ERR(c)) {
			err = PTR_ERR(c);
			goto release_chunks;
		}
		run->chunks[got] = c;
	}
	err = arena_slots_take(space, nr, &start);
	if (err)
		goto release_chunks;

	run->pgoff = start << ARENA_CHUNK_ORDER;
	for (i = 0; i < nr; i++) {
		arena_chunk_set_index(run->chunks[i],
				      (start + i) << ARENA_CHUNK_ORDER);
		trace_arena_chunk_map(run->arena_id, start + i,
				      run->chunks[i]);
		err = xa_err(xa_store(&space->slots, start + i, run,
				      GFP_KERNEL_ACCOUNT));
		if (err)
			goto put_slots;
	}
	/* Only now can a fault map the chunks. */
	xa_lock(&space->slots);
	run->state = ARENA_RUN_LIVE;
	xa_unlock(&space->slots);
	return 0;

put_slots:
	xa_lock(&space->slots);
	for (i = 0; i < nr; i++)
		__xa_erase(&space->slots, start + i);
	xa_unlock(&space->slots);
	bitmap_clear(space->used, start, nr);
release_chunks:
	/* Never mapped (the run was not live), but let the pool re-zero. */
	while (got--)
		arena_quarantine_put(run->chunks[got]);
	arena_pool_kick();
	return err;
}

static struct arena *arena_new_locked(struct arena_space *space,
				      struct arena *arena)
{
	int err;

	lockdep_assert_held(&space->lock);
	INIT_LIST_HEAD(&arena->runs);
	err = xa_alloc_cyclic(&space->arenas, &arena->id, arena,
			      XA_LIMIT(1, U32_MAX), &space->next_id,
			      GFP_KERNEL_ACCOUNT);
	if (err < 0)
		return ERR_PTR(err == -EBUSY ? -ENOSPC : err);
	/* Empty until its first run (ARENA_ALLOC_CREATE adds it at once). */
	space->nr_empty++;
	atomic_long_inc(&arena_stats.arenas_live);
	atomic_long_inc(&arena_stats.arenas_created);
	trace_arena_create(arena->id);
	return arena;
}

static void arena_release_runs(struct arena_space *space,
			       struct arena *arena);
static void arena_destroy(struct arena_space *space, struct arena *arena);

int arena_create(struct arena_space *space, u32 *id)
{
	struct arena *arena, *ret;

	arena = kzalloc(sizeof(*arena), GFP_KERNEL_ACCOUNT);
	if (!arena)
		return -ENOMEM;
	mutex_lock(&space->lock);
	/* Arenas without memory are bounded by nothing else. */
	if (space->nr_empty >= READ_ONCE(arena_max_empty_arenas))
		ret = ERR_PTR(-ENOSPC);
	else
		ret = arena_new_locked(space, arena);
	/*
	 * Read the id under the lock: once it is dropped another thread may
	 * free the arena (ids are predictable) and @arena with it.
	 */
	if (!IS_ERR(ret))
		*id = arena->id;
	mutex_unlock(&space->lock);
	if (IS_ERR(ret)) {
		kfree(arena);
		return PTR_ERR(ret);
	}
	arena_event_changed();
	return 0;
}

/*
 * Add @nr_pages pages to arena *@id: a small run if less than a chunk, else
 * whole chunks (@nr_pages a multiple of the chunk). With ARENA_ALLOC_CREATE
 * the arena is made first and its id returned in *@id. With
 * ARENA_ALLOC_RESET, the arena's old runs are revoked in the same call,
 * once the new run is ready: if it cannot be had, the arena is left as it
 * was.
 */
int arena_alloc(struct arena_space *space, u32 *id, unsigned long nr_pages,
		u32 flags, u64 *offset)
{
	bool small = nr_pages < ARENA_CHUNK_PAGES;
	unsigned int nr_chunks = small ? 0 : nr_pages >> ARENA_CHUNK_ORDER;
	struct arena *arena, *fresh = NULL;
	struct arena_run *run;
	bool was_empty;
	int err;

	run = kvzalloc(struct_size(run, chunks, small ? 1 : nr_chunks),
		       GFP_KERNEL_ACCOUNT);
	if (!run)
		return -ENOMEM;
	if (flags & ARENA_ALLOC_CREATE) {
		fresh = kzalloc(sizeof(*fresh), GFP_KERNEL_ACCOUNT);
		if (!fresh) {
			kvfree(run);
			return -ENOMEM;
		}
	}

	mutex_lock(&space->lock);
	if (fresh) {
		arena = arena_new_locked(space, fresh);
		if (IS_ERR(arena)) {
			err = PTR_ERR(arena);
			kfree(fresh);
			fresh = NULL;
			goto unlock;
		}
	} else {
		arena = xa_load(&space->arenas, *id);
		if (!arena) {
			err = -ENOENT;
			goto unlock;
		}
	}
	run->nr_pages = nr_pages;
	run->nr_chunks = nr_chunks;
	run->nozero = flags & ARENA_ALLOC_NOZERO;
	run->arena_id = arena->id;
	run->state = ARENA_RUN_RESERVED;
	err = small ? arena_small_run(space, run) :
		      arena_chunk_run(space, run);
	if (err)
		goto unlock;
	if (small) {
		arena_small_run_map(space, run);
		arena_small_run_live(space, run);
	}

	was_empty = !arena->nr_pages;
	if (flags & ARENA_ALLOC_RESET)
		arena_release_runs(space, arena);
	if (was_empty)
		space->nr_empty--;
	list_add_tail(&run->node, &arena->runs);
	arena->nr_chunks += nr_chunks;
	arena->nr_pages += nr_pages;
	atomic_long_add(nr_pages, &arena_stats.pages_live);
	/*
	 * What is returned is read under the lock: once it is dropped another
	 * thread may free the arena, and recycle and kvfree() the run.
	 */
	*id = arena->id;
	*offset = (u64)run->pgoff << PAGE_SHIFT;
	mutex_unlock(&space->lock);
	if (fresh)
		arena_event_changed();
	return 0;

unlock:
	if (fresh) {
		xa_erase(&space->arenas, arena->id);
		arena_destroy(space, arena);
	}
	mutex_unlock(&space->lock);
	kvfree(run);
	return err;
}

static void arena_lock_folio(struct folio *folio, bool lock)
{
	if (lock)
		folio_lock(folio);
	else
		folio_unlock(folio);
}

/*
 * Lock or unlock the folios of the runs @first..@end. No folio belongs to
 * two runs: whole chunks are one run's own, and the shared chunks small
 * runs are carved from are made of single pages (ARENA_CARVE_ORDER), each
 * in one run. They are taken in the window's order, and only ever several
 * at a time here, under the space's lock.
 */
static void arena_lock_runs(struct list_head *first, struct list_head *end,
			    bool lock)
{
	struct arena_chunk *c;
	struct list_head *pos;
	struct arena_run *run;
	unsigned long f, last;
	unsigned int i;

	for (pos = first; pos != end; pos = pos->next) {
		run = list_entry(pos, struct arena_run, node);
		if (arena_run_small(run)) {
			c = run->chunks[0];
			last = (run->first + run->nr_pages - 1) >> c->order;
			for (f = run->first >> c->order; f <= last; f++)
				arena_lock_folio(c->folios[f], lock);
			continue;
		}
		for (i = 0; i < run->nr_chunks; i++) {
			c = run->chunks[i];
			for (f = 0; f < c->nr_folios; f++)
				arena_lock_folio(c->folios[f], lock);
		}
	}
}

/*
 * Can @next, which starts where the stretch ending with @run ends, be
 * unmapped with it? Runs of the same kind: whole chunks with whole chunks,
 * small runs with small runs.
 */
static bool arena_can_coalesce(const struct arena_run *run,
			       const struct arena_run *next)
{
	return arena_run_small(run) == arena_run_small(next);
}

/*
 * Unmap every run of @arena, one unmap_mapping_range() (so one TLB flush)
 * per stretch of runs that sit next to each other in the window: a growing
 * arena's small runs usually do, as nothing else was cut from its small
 * slot in between. The runs are FREED already; holding their folios locked
 * closes the window in which a fault that saw them live could still install
 * an entry.
 */
static void arena_revoke(struct arena_space *space, struct arena *arena)
{
	struct address_space *mapping = space->inode->i_mapping;
	struct list_head *first, *end;
	struct arena_run *run, *last, *next;
	unsigned long pgoff, nr;

	first = arena->runs.next;
	while (first != &arena->runs) {
		run = list_entry(first, struct arena_run, node);
		last = run;
		pgoff = run->pgoff;
		nr = run->nr_pages;
		for (end = first->next; end != &arena->runs; end = end->next) {
			next = list_entry(end, struct arena_run, node);
			if (next->pgoff != pgoff + nr ||
			    !arena_can_coalesce(last, next))
				break;
			nr += next->nr_pages;
			last = next;
		}
		arena_lock_runs(first, end, true);
		unmap_mapping_range(mapping, (loff_t)pgoff << PAGE_SHIFT,
				    (loff_t)nr << PAGE_SHIFT, 1);
		arena_lock_runs(first, end, false);
		first = end;
	}
}

/*
 * Revoke and release every run of @arena: its chunks leave for the pool (or
 * the quarantine), its small runs' shared chunks once nothing else uses
 * them, and its pages keep faulting as freed runs. The arena itself stays,
 * empty.
 */
static void arena_release_runs(struct arena_space *space, struct arena *arena)
{
	struct arena_run *run, *tmp;
	struct pid *pid = get_task_pid(current, PIDTYPE_TGID);
	u64 now = ktime_get_ns();
	unsigned int i;

	lockdep_assert_held(&space->lock);
	/* From here on the fault handler fails for every page of the arena. */
	xa_lock(&space->slots);
	list_for_each_entry(run, &arena->runs, node) {
		run->state = ARENA_RUN_FREED;
		run->freed_ns = now;
		run->freed_by = get_pid(pid);
	}
	xa_unlock(&space->slots);

	arena_revoke(space, arena);

	list_for_each_entry_safe(run, tmp, &arena->runs, node) {
		if (arena_run_small(run)) {
			run->chunks[0]->runs--;
			arena_carve_put(space, run->chunks[0]);
			run->chunks[0] = NULL;
		}
		for (i = 0; i < run->nr_chunks; i++) {
			if (!run->nozero ||
			    !arena_own_keep(space, run->chunks[i]))
				arena_quarantine_put(run->chunks[i]);
			run->chunks[i] = NULL;
		}
		list_move_tail(&run->node, &space->freed_fifo);
		space->freed_pages += run->nr_pages;
		space->nr_freed++;
	}
	/* The chunks' memlock charges go when nothing references them. */
	arena_pool_kick();
	atomic_long_sub(arena->nr_pages, &arena_stats.pages_live);
	arena->nr_chunks = 0;
	arena->nr_pages = 0;
	/*
	 * Keep at most the budget of freed address space faulting, and at
	 * most max_freed_runs records of it (a record per run is slab).
	 */
	while (space->freed_pages > arena_va_budget_pages() ||
	       space->nr_freed > READ_ONCE(arena_max_freed_runs))
		arena_recycle_oldest(space);
	put_pid(pid);
}

/* Free @arena, already removed from space->arenas. */
static void arena_destroy(struct arena_space *space, struct arena *arena)
{
	trace_arena_free(arena->id, arena->nr_chunks);
	if (!arena->nr_pages)
		space->nr_empty--;
	arena_release_runs(space, arena);
	atomic_long_dec(&arena_stats.arenas_live);
	atomic_long_inc(&arena_stats.arenas_freed);
	arena_event_changed();
	kfree(arena);
}

int arena_free(struct arena_space *space, u32 id)
{
	struct arena *arena;

	mutex_lock(&space->lock);
	arena = xa_erase(&space->arenas, id);
	if (arena)
		arena_destroy(space, arena);
	mutex_unlock(&space->lock);
	return arena ? 0 : -ENOENT;
}

int arena_lookup(struct arena_space *space, struct arena_lookup *lk)
{
	struct arena_run *run;

	if (lk->offset >= 2 * (u64)arena_window_size)
		return -EINVAL;
	mutex_lock(&space->lock);
	run = arena_run_at(space, lk->offset >> PAGE_SHIFT);
	if (run && run->state != ARENA_RUN_RESERVED) {
		lk->out_arena_id = run->arena_id;
		lk->out_arena_offset = lk->offset -
				       ((u64)run->pgoff << PAGE_SHIFT);
		if (run->state == ARENA_RUN_LIVE) {
			lk->out_state = ARENA_SLOT_LIVE;
		} else {
			lk->out_state = ARENA_SLOT_FREED;
			lk->out_freed_ns_ago = ktime_get_ns() - run->freed_ns;
			lk->out_freed_by_pid = pid_vnr(run->freed_by);
		}
	}
	mutex_unlock(&space->lock);
	return 0;
}

/*
 * The file is closed: free every arena, recycle every freed run, and give
 * back the kept no-zero chunks, the last small slot and the shared chunks.
 */
void arena_space_empty(struct arena_space *space)
{
	struct arena *arena;
	unsigned long id;

	mutex_lock(&space->lock);
	xa_for_each(&space->arenas, id, arena) {
		xa_erase(&space->arenas, id);
		arena_destroy(space, arena);
	}
	while (arena_recycle_oldest(space))
		;
	/* Every run is recycled: the last small slot and shared chunks go. */
	if (space->sslot) {
		arena_sslot_free(space, space->sslot);
		space->sslot = NULL;
	}
	arena_carve_drop(space, false);
	arena_carve_drop(space, true);
	/* Last, as the no-zero shared chunk may just have joined them. */
	arena_own_drain(space);
	mutex_unlock(&space->lock);
}
