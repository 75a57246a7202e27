// SPDX-License-Identifier: GPL-2.0
/*
 * The quarantine: chunks that have been unmapped from their window but that
 * something still references, a pipe that vmsplice() filled from them, an
 * O_DIRECT read or an io_uring buffer that pinned them. Such a chunk is never
 * zeroed or handed out: the holder still sees its bytes. A sweeper rechecks
 * the quarantine every ARENA_SWEEP_MS while it is not empty and moves each
 * chunk nothing references any more to its node's dirty list, where the pool
 * worker zeroes it.
 */
#include <linux/jiffies.h>
#include <linux/ktime.h>
#include <linux/list.h>
#include <linux/spinlock.h>
#include <linux/workqueue.h>

#include "arena_priv.h"

#define ARENA_SWEEP_MS	100

/* Protects arena_quarantine and each listed chunk's @hold. */
static DEFINE_SPINLOCK(arena_quarantine_lock);
static LIST_HEAD(arena_quarantine);		/* oldest first */

static void arena_sweep(struct work_struct *work);
static DECLARE_DELAYED_WORK(arena_sweep_work, arena_sweep);

static void arena_sweep(struct work_struct *work)
{
	struct arena_chunk *c, *tmp;
	LIST_HEAD(released);
	bool more;

	spin_lock(&arena_quarantine_lock);
	list_for_each_entry_safe(c, tmp, &arena_quarantine, node) {
		c->hold = arena_chunk_hold(c);
		if (c->hold != ARENA_HELD_NONE)
			continue;
		list_move_tail(&c->node, &released);
		atomic_long_dec(&arena_stats.chunks_quarantined);
	}
	more = !list_empty(&arena_quarantine);
	spin_unlock(&arena_quarantine_lock);

	list_for_each_entry_safe(c, tmp, &released, node) {
		list_del_init(&c->node);
		arena_pool_add_dirty(c);
	}
	arena_pool_kick();
	if (more)
		schedule_delayed_work(&arena_sweep_work,
				      msecs_to_jiffies(ARENA_SWEEP_MS));
}

/*
 * A chunk leaves its arena: the arena has been freed and the chunk unmapped
 * from the window. Unreferenced, it goes straight to dirty (the caller kicks
 * the pool worker when done with its batch); otherwise it waits here.
 */
void arena_quarantine_put(struct arena_chunk *c)
{
	unsigned int hold = arena_chunk_hold(c);

	atomic_long_dec(&arena_stats.chunks_in_use);
	if (hold == ARENA_HELD_NONE) {
		arena_pool_add_dirty(c);
		return;
	}
	c->hold = hold;
	c->since_ns = ktime_get_ns();
	atomic_long_inc(&arena_stats.chunks_held);
	spin_lock(&arena_quarantine_lock);
	list_add_tail(&c->node, &arena_quarantine);
	atomic_long_inc(&arena_stats.chunks_quarantined);
	spin_unlock(&arena_quarantine_lock);
	schedule_delayed_work(&arena_sweep_work,
			      msecs_to_jiffies(ARENA_SWEEP_MS));
}

/*
 * Module unload: no file is open, but pipes or pins may still hold
 * quarantined chunks. Drop the module's references; the pages go back to
 * the page allocator when the last holder lets go, and are never reused by
 * this module meanwhile.
 */
void arena_quarantine_exit(void)
{
	struct arena_chunk *c, *tmp;

	cancel_delayed_work_sync(&arena_sweep_work);
	list_for_each_entry_safe(c, tmp, &arena_quarantine, node) {
		list_del(&c->node);
		atomic_long_dec(&arena_stats.chunks_quarantined);
		arena_chunk_release(c);
	}
}
