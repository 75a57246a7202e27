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
#include "events.h"
#include "trace.h"

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

	u64 now = ktime_get_ns(), warn_ns;

	warn_ns = (u64)READ_ONCE(arena_held_warn_ms) * NSEC_PER_MSEC;
	spin_lock(&arena_quarantine_lock);
	list_for_each_entry_safe(c, tmp, &arena_quarantine, node) {
		c->hold = arena_chunk_hold(c);
		if (c->hold != ARENA_HELD_NONE) {
			/* Tell the events group once about a long hold. */
			if (!c->warned && warn_ns && now - c->since_ns > warn_ns) {
				c->warned = true;
				arena_event_held(c, div_u64(now - c->since_ns,
							    NSEC_PER_MSEC));
			}
			continue;
		}
		list_move_tail(&c->node, &released);
		arena_node_quarantined_add(c->nid, -1);
		arena_event_changed();
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
 * The quarantined chunks, oldest first, for the netlink dump (arena_priv.h):
 * @fn is called under the quarantine's spinlock and must not sleep.
 */
long arena_quarantine_walk(long skip, arena_qchunk_fn fn, void *arg)
{
	u64 now = ktime_get_ns();
	struct arena_chunk *c;
	long n = 0;

	spin_lock(&arena_quarantine_lock);
	list_for_each_entry(c, &arena_quarantine, node) {
		if (n < skip) {
			n++;
			continue;
		}
		if (fn(arg, c, div_u64(now - c->since_ns, NSEC_PER_MSEC)))
			break;
		n++;
	}
	spin_unlock(&arena_quarantine_lock);
	return n;
}

/*
 * A chunk leaves its arena: the arena has been freed and the chunk unmapped
 * from the window. Unreferenced, it goes straight to dirty (the caller kicks
 * the pool worker when done with its batch); otherwise it waits here.
 */
void arena_quarantine_put(struct arena_chunk *c)
{
	unsigned int hold = arena_chunk_hold(c);

	arena_node_in_use_add(c->nid, -1);
	if (hold == ARENA_HELD_NONE) {
		arena_pool_add_dirty(c);
		return;
	}
	c->hold = hold;
	c->warned = false;
	c->since_ns = ktime_get_ns();
	atomic_long_inc(&arena_stats.chunks_held);
	trace_arena_chunk_quarantine(c);
	spin_lock(&arena_quarantine_lock);
	list_add_tail(&c->node, &arena_quarantine);
	arena_node_quarantined_add(c->nid, 1);
	arena_event_changed();
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
		arena_node_quarantined_add(c->nid, -1);
		arena_chunk_release(c);
	}
}
