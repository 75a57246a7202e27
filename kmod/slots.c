// SPDX-License-Identifier: GPL-2.0
/*
 * The window's slots: which run each slot (or, in the small window, each
 * page) belongs to, handing out free slots, and recycling the oldest freed
 * runs once the freed-address budget is exceeded or nothing else fits.
 *
 * Whole-chunk runs take the lowest free slots of the chunk window, small
 * slots the lowest free slots of the small window, so that the touched part
 * of each (and the page tables 4 KiB mappings leave behind) stays as small
 * as the live arenas plus the freed-address budget.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/mm.h>
#include <linux/slab.h>
#include <linux/xarray.h>

#include "arena_priv.h"
#include "space.h"
#include "trace.h"

static struct arena_sslot *
arena_sslot_at(struct arena_space *space, unsigned long slot)
{
	void *entry = xa_load(&space->slots, slot);

	if (xa_pointer_tag(entry) != ARENA_SLOT_SMALL)
		return NULL;
	return xa_untag_pointer(entry);
}

/*
 * The run window page @pgoff belongs to (live, freed, or NULL: never handed
 * out or recycled). Called under the slots xa_lock or the space's lock.
 */
struct arena_run *arena_run_at(struct arena_space *space, unsigned long pgoff)
{
	void *entry = xa_load(&space->slots, pgoff >> ARENA_CHUNK_ORDER);
	struct arena_sslot *ss;

	if (xa_pointer_tag(entry) != ARENA_SLOT_SMALL)
		return entry;
	ss = xa_untag_pointer(entry);
	return ss->runs[pgoff & (ARENA_CHUNK_PAGES - 1)];
}

/* The page that backs window page @pgoff of a live @run. */
struct page *arena_run_page(const struct arena_run *run, unsigned long pgoff)
{
	unsigned long i = pgoff - run->pgoff;

	if (arena_run_small(run))
		return arena_chunk_page(run->chunks[0], run->first + i);
	return arena_chunk_page(run->chunks[i >> ARENA_CHUNK_ORDER],
				i & (ARENA_CHUNK_PAGES - 1));
}

/* Give a small slot's address space back to the window. */
void arena_sslot_free(struct arena_space *space, struct arena_sslot *ss)
{
	lockdep_assert_held(&space->lock);
	xa_erase(&space->slots, ss->slot);
	clear_bit(ss->slot, space->used);
	kvfree(ss->runs);
	kfree(ss);
	space->nr_sslots--;
}

/* Forget the oldest freed run so its pages can be handed out again. */
bool arena_recycle_oldest(struct arena_space *space)
{
	struct arena_sslot *ss;
	struct arena_run *run;
	unsigned long i, slot;

	lockdep_assert_held(&space->lock);
	run = list_first_entry_or_null(&space->freed_fifo, struct arena_run,
				       node);
	if (!run)
		return false;
	list_del(&run->node);
	space->freed_pages -= run->nr_pages;
	space->nr_freed--;
	slot = run->pgoff >> ARENA_CHUNK_ORDER;

	if (arena_run_small(run)) {
		ss = arena_sslot_at(space, slot);
		xa_lock(&space->slots);
		for (i = 0; i < run->nr_pages; i++)
			ss->runs[(run->pgoff & (ARENA_CHUNK_PAGES - 1)) + i] =
				NULL;
		xa_unlock(&space->slots);
		ss->pending -= run->nr_pages;
		/* A slot still being cut into runs stays until replaced. */
		if (!ss->pending && ss != space->sslot)
			arena_sslot_free(space, ss);
	} else {
		xa_lock(&space->slots);
		for (i = 0; i < run->nr_chunks; i++)
			__xa_erase(&space->slots, slot + i);
		xa_unlock(&space->slots);
		bitmap_clear(space->used, slot, run->nr_chunks);
	}
	put_pid(run->freed_by);
	kvfree(run);
	return true;
}

/*
 * Find @nr consecutive unused slots, lowest first, so that the window's
 * touched part (and the page tables 4 KiB mappings leave behind) stays as
 * small as the live arenas plus the freed-address budget. Freed slots are
 * not unused: they return only through arena_recycle_oldest(), when the
 * budget is exceeded or nothing else fits.
 */
int arena_slots_take(struct arena_space *space, unsigned int nr,
		     unsigned long *start)
{
	unsigned long s;

	lockdep_assert_held(&space->lock);
	for (;;) {
		s = bitmap_find_next_zero_area(space->used, space->nr_slots,
					       0, nr, 0);
		if (s < space->nr_slots)
			break;
		if (!arena_recycle_oldest(space))
			return -ENOSPC;
	}
	bitmap_set(space->used, s, nr);
	*start = s;
	return 0;
}

/*
 * One unused slot of the small window for small runs, lowest first, so the
 * touched part of it (and the page tables its 4 KiB mappings leave) stays
 * as small as the live small runs plus the freed-address budget.
 */
static int arena_small_slot_take(struct arena_space *space,
				 unsigned long *slot)
{
	unsigned long end = 2 * space->nr_slots, s;

	lockdep_assert_held(&space->lock);
	for (;;) {
		s = find_next_zero_bit(space->used, end, space->nr_slots);
		if (s < end)
			break;
		if (!arena_recycle_oldest(space))
			return -ENOSPC;
	}
	set_bit(s, space->used);
	*slot = s;
	return 0;
}

/* Freed address space kept faulting, in pages (module parameter). */
unsigned long arena_va_budget_pages(void)
{
	return READ_ONCE(arena_va_quarantine_mb) << (20 - PAGE_SHIFT);
}

/* Make sure the current small slot has @nr pages of address space left. */
int arena_sslot_reserve(struct arena_space *space, unsigned int nr)
{
	struct arena_sslot *ss = space->sslot, *old = ss;
	int err = -ENOMEM;

	if (ss && ARENA_CHUNK_PAGES - ss->next >= nr)
		return 0;
	/*
	 * Each small slot costs a page map: at the per-file bound, recycle
	 * freed runs (which may empty old slots) before giving up. The
	 * current slot goes below if nothing is pending in it.
	 */
	while (space->nr_sslots - (old && !old->pending) >=
	       READ_ONCE(arena_max_small_slots)) {
		if (!arena_recycle_oldest(space))
			return -ENOSPC;
	}
	ss = kzalloc(sizeof(*ss), GFP_KERNEL_ACCOUNT);
	if (!ss)
		return -ENOMEM;
	ss->runs = kvcalloc(ARENA_CHUNK_PAGES, sizeof(*ss->runs),
			    GFP_KERNEL_ACCOUNT);
	if (!ss->runs)
		goto free_ss;
	err = arena_small_slot_take(space, &ss->slot);
	if (err)
		goto free_runs;
	err = xa_err(xa_store(&space->slots, ss->slot,
			      xa_tag_pointer(ss, ARENA_SLOT_SMALL),
			      GFP_KERNEL_ACCOUNT));
	if (err) {
		clear_bit(ss->slot, space->used);
		goto free_runs;
	}
	space->sslot = ss;
	space->nr_sslots++;
	/* Full or too short: no more runs from it; gone once all recycled. */
	if (old && !old->pending)
		arena_sslot_free(space, old);
	return 0;

free_runs:
	kvfree(ss->runs);
free_ss:
	kfree(ss);
	return err;
}
