// SPDX-License-Identifier: GPL-2.0
/*
 * The chunk pool: per NUMA node lists of ready (zeroed) and dirty (freed,
 * unreferenced, not yet zeroed) chunks, after the page heap Go keeps for its
 * arenas (runtime/mheap.go).
 *
 * An arena's chunk comes from the caller's node's ready list first, then
 * another node's, so the ioctl normally neither zeroes nor allocates. When
 * no chunk is ready a dirty one is zeroed inline, and only then is a new one
 * allocated (the page allocator zeroes it). The workers, kernel threads at
 * the lowest priority, zero dirty chunks into ready ones up to the high
 * watermark (dirty chunks beyond it go back to the page allocator unzeroed),
 * and refill the ready lists to the refill target once the pool has been
 * used. Under memory pressure the shrinker hands dirty, then ready chunks
 * back to the page allocator; so does arena_pool_drain() (sysfs "drain").
 *
 * Workers: one lead thread ("arena_pool") does everything above; up to
 * ARENA_POOL_MAX_WORKERS - 1 helpers ("arena_pool/N", no more threads in
 * all than CPUs online at load) only zero dirty chunks and refill, woken
 * one per chunk of backlog beyond the first, so that back-to-back use is
 * zeroed on as many idle CPUs as it needs. Each takes one chunk at a time,
 * from its own node first: a lock round trip is nothing beside clearing a
 * chunk, and a chunk held in a worker's private batch is one that a request
 * could neither take nor zero itself.
 *
 * Refill target: pool_low, doubled (up to pool_high) on each worker pass
 * after a root cgroup request for a whole chunk found the ready lists empty,
 * and halved back towards pool_low for every ARENA_POOL_DECAY_MS in which
 * none did. pool_low 0 turns the refill off, target included.
 *
 * Memory cgroups: a chunk stays charged to the cgroup it was allocated for
 * until it is released (chunk.c), so a window is handed only chunks of its
 * own cgroup; the lists hold chunks of every cgroup, and a request looks at
 * most ARENA_POOL_SCAN entries deep for one of its own. The shrinker is not
 * memcg-aware, so a cgroup's own reclaim cannot take its pooled chunks
 * back: the worker releases those of a cgroup other than the root once
 * they have waited ARENA_POOL_MEMCG_IDLE_MS (at once if the cgroup is
 * offline), and refills the pool for the root cgroup only. A request that
 * cannot get a new chunk (at the global cap, or over its cgroup's limit)
 * first releases the pooled chunks it cannot use and tries once more.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/kthread.h>
#include <linux/ktime.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/mutex.h>
#include <linux/nodemask.h>
#include <linux/rwsem.h>
#include <linux/sched.h>
#include <linux/shrinker.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/wait.h>

#include "arena_priv.h"
#include "compat.h"

/**
 * struct arena_node_pool - the chunks of one NUMA node
 * @lock: protects @ready, @dirty, @nr_ready and @nr_dirty
 * @ready: zeroed chunks, most recently zeroed first
 * @dirty: unreferenced chunks waiting for the worker, oldest first
 * @nr_ready: chunks in @ready
 * @nr_dirty: chunks in @dirty
 * @in_use: chunks of this node in live arenas
 * @quarantined: chunks of this node in the quarantine
 */
struct arena_node_pool {
	spinlock_t lock;		/* see above */
	struct list_head ready;
	struct list_head dirty;
	unsigned long nr_ready;
	unsigned long nr_dirty;
	atomic_long_t in_use;
	atomic_long_t quarantined;
};

static struct arena_node_pool **arena_pools;	/* [nr_node_ids] */

/* Zeroing threads, at most this many and no more than CPUs online. */
#define ARENA_POOL_MAX_WORKERS	8
static struct task_struct *arena_workers[ARENA_POOL_MAX_WORKERS];
static unsigned int arena_nr_workers;	/* [0] is the lead */
/*
 * Held for reading by each worker for a pass, and for writing by drain and
 * by a request that found no memory, so that these return only after every
 * chunk a worker had in hand is back in a list (or released). Never taken
 * by the shrinker: the workers allocate under it.
 */
static DECLARE_RWSEM(arena_worker_sem);
static DECLARE_WAIT_QUEUE_HEAD(arena_worker_wq);	/* the lead */
static DECLARE_WAIT_QUEUE_HEAD(arena_helper_wq);	/* the helpers */
/*
 * Whole chunks a worker has taken to make ready (a dirty one it zeroes, or
 * a new one it allocates), so that workers together stop at the watermarks.
 */
static atomic_long_t arena_pool_in_hand;
/*
 * The refill target (see the top of the file): raised and lowered by the
 * lead, put back to pool_low (0) by drain and the shrinker.
 * arena_pool_ran_dry is set by a request and cleared by the lead's pass.
 */
static unsigned int arena_refill_target;
static bool arena_pool_ran_dry;
static unsigned long arena_refill_target_since;	/* jiffies */
#define ARENA_POOL_DECAY_MS	10000
/* Dirty chunks the lead zeroes in a pass before its other work. */
#define ARENA_POOL_BATCH	16
/* The pool has handed out chunks: keep the refill target from now on. */
static bool arena_refill_wanted;
/*
 * After a refill failed or the shrinker ran: no refill before jiffies
 * @arena_refill_after.
 */
static bool arena_refill_backoff;
static unsigned long arena_refill_after;
static struct shrinker *arena_shrinker;

/*
 * What the lists hold, beyond their lengths (changed under the node's lock,
 * read without it): ready chunks of single pages, which small runs use and
 * the watermarks leave aside; and ready or dirty chunks of cgroups other
 * than the root, which the worker releases once idle for
 * ARENA_POOL_MEMCG_IDLE_MS (a cgroup's own reclaim cannot take them back).
 */
static atomic_long_t arena_pool_carvable_ready;
static atomic_long_t arena_pool_memcg_pooled;
#define ARENA_POOL_MEMCG_IDLE_MS	1000
/* Ready chunks of single pages kept: enough for a few windows' small runs. */
#define ARENA_POOL_CARVABLE_HIGH	8

/* How deep a request looks in a list for a chunk it can take. */
#define ARENA_POOL_SCAN		64

static struct arena_node_pool *arena_pool_of(int nid)
{
	return arena_pools[nid];
}

void arena_node_stats(int nid, struct arena_node_stats *st)
{
	struct arena_node_pool *np = arena_pool_of(nid);

	st->ready = READ_ONCE(np->nr_ready);
	st->dirty = READ_ONCE(np->nr_dirty);
	st->in_use = atomic_long_read(&np->in_use);
	st->quarantined = atomic_long_read(&np->quarantined);
}

void arena_node_in_use_add(int nid, long delta)
{
	atomic_long_add(delta, &arena_pool_of(nid)->in_use);
	atomic_long_add(delta, &arena_stats.chunks_in_use);
}

void arena_node_quarantined_add(int nid, long delta)
{
	atomic_long_add(delta, &arena_pool_of(nid)->quarantined);
	atomic_long_add(delta, &arena_stats.chunks_quarantined);
}

/*
 * Small runs are carved only from chunks of single-page folios
 * (ARENA_CARVE_ORDER, Documentation/small-arenas.rst).
 */
static bool arena_chunk_carvable(const struct arena_chunk *c)
{
	return c->order == ARENA_CARVE_ORDER;
}

/* @c joins (@d 1) or leaves (@d -1) a ready (@ready) or dirty list. */
static void arena_pool_count(const struct arena_chunk *c, bool ready, long d)
{
	if (ready)
		atomic_long_add(d, &arena_stats.chunks_ready);
	else
		atomic_long_add(d, &arena_stats.chunks_dirty);
	if (ready && arena_chunk_carvable(c))
		atomic_long_add(d, &arena_pool_carvable_ready);
	if (c->memcg)
		atomic_long_add(d, &arena_pool_memcg_pooled);
}

/* Ready chunks the watermarks count: whole ones, of any cgroup. */
static long arena_pool_whole_ready(void)
{
	return atomic_long_read(&arena_stats.chunks_ready) -
	       atomic_long_read(&arena_pool_carvable_ready);
}

/* The refill target as the watermarks stand now (they are tunable). */
static unsigned int arena_pool_target(void)
{
	unsigned int low = READ_ONCE(arena_pool_low);

	if (!low)
		return 0;
	return clamp(READ_ONCE(arena_refill_target), low,
		     max(low, READ_ONCE(arena_pool_high)));
}

static void arena_pool_add_ready(struct arena_chunk *c)
{
	struct arena_node_pool *np = arena_pool_of(c->nid);

	c->since_ns = ktime_get_ns();
	spin_lock(&np->lock);
	list_add(&c->node, &np->ready);
	np->nr_ready++;
	arena_pool_count(c, true, 1);
	spin_unlock(&np->lock);
}

void arena_pool_add_dirty(struct arena_chunk *c)
{
	struct arena_node_pool *np = arena_pool_of(c->nid);

	/* Nothing references it any more: the user's memlock charge goes. */
	arena_chunk_uncharge(c);
	c->since_ns = ktime_get_ns();
	spin_lock(&np->lock);
	list_add_tail(&c->node, &np->dirty);
	np->nr_dirty++;
	arena_pool_count(c, false, 1);
	spin_unlock(&np->lock);
}

static bool arena_worker_has_work(void);
static long arena_pool_backlog(void);

/*
 * Wake the lead, and a helper for each chunk of backlog beyond the first
 * (the lead takes that one). The helpers wait exclusively: wake_up_nr()
 * wakes only as many as there are chunks for.
 */
static void arena_pool_wake_helpers(void)
{
	long more = min_t(long, arena_pool_backlog() - 1,
			  (long)arena_nr_workers - 1);

	if (more > 0)
		wake_up_nr(&arena_helper_wq, more);
}

static void arena_pool_wake(void)
{
	if (!arena_worker_has_work())
		return;
	wake_up(&arena_worker_wq);
	arena_pool_wake_helpers();
}

/*
 * Tell the workers there are dirty chunks. Called once after a batch of
 * arena_pool_add_dirty(), so that a free of many chunks finishes before
 * the workers start competing for the memory bus. Only if there is work:
 * most frees of small arenas retire no chunk, and waking a worker for
 * nothing costs a context switch, often a cross-CPU wakeup, per free.
 */
void arena_pool_kick(void)
{
	arena_pool_wake();
}

/*
 * Which chunks a taker accepts: of its own cgroup and of its own kind
 * (whole, or single pages with ARENA_TAKE_SMALL) unless told otherwise,
 * looking ARENA_POOL_SCAN entries deep unless ARENA_TAKE_DEEP.
 */
#define ARENA_TAKE_WHOLE	0
#define ARENA_TAKE_SMALL	BIT(0)
#define ARENA_TAKE_ANY_KIND	BIT(1)
#define ARENA_TAKE_ANY_MEMCG	BIT(2)
#define ARENA_TAKE_DEEP		BIT(3)
#define ARENA_TAKE_ANY		(ARENA_TAKE_ANY_KIND | ARENA_TAKE_ANY_MEMCG | \
				 ARENA_TAKE_DEEP)

/*
 * Whole-chunk runs do not take chunks of single pages (retired shared
 * chunks, or fragmentation's last fallback): mapped 4 KiB at a time they
 * would cost 512 faults instead of one; a new chunk is better, and small
 * runs use those.
 */
static bool arena_chunk_fits(const struct arena_chunk *c, unsigned int how,
			     struct mem_cgroup *memcg)
{
	if (!(how & ARENA_TAKE_ANY_MEMCG) && c->memcg != memcg)
		return false;
	return (how & ARENA_TAKE_ANY_KIND) ||
	       arena_chunk_carvable(c) == !!(how & ARENA_TAKE_SMALL);
}

/* Unlink a chunk of @np's @ready or dirty list as @how says. */
static struct arena_chunk *arena_pool_take_first(struct arena_node_pool *np,
						 bool ready, unsigned int how,
						 struct mem_cgroup *memcg)
{
	struct list_head *list = ready ? &np->ready : &np->dirty;
	unsigned long *nr = ready ? &np->nr_ready : &np->nr_dirty;
	struct arena_chunk *c = NULL, *pos;
	unsigned int scanned = 0;

	if (!READ_ONCE(*nr))
		return NULL;
	spin_lock(&np->lock);
	list_for_each_entry(pos, list, node) {
		if (arena_chunk_fits(pos, how, memcg)) {
			c = pos;
			break;
		}
		if (!(how & ARENA_TAKE_DEEP) && ++scanned >= ARENA_POOL_SCAN)
			break;
	}
	if (c) {
		list_del_init(&c->node);
		(*nr)--;
		arena_pool_count(c, ready, -1);
	}
	spin_unlock(&np->lock);
	return c;
}

/* Take a chunk as @how says from @nid first, then from the other nodes. */
static struct arena_chunk *arena_pool_take(int nid, bool ready,
					   unsigned int how,
					   struct mem_cgroup *memcg)
{
	struct arena_chunk *c;
	int n;

	c = arena_pool_take_first(arena_pool_of(nid), ready, how, memcg);
	if (c)
		return c;
	for_each_node_state(n, N_MEMORY) {
		if (n == nid)
			continue;
		c = arena_pool_take_first(arena_pool_of(n), ready, how, memcg);
		if (c)
			return c;
	}
	return NULL;
}

/*
 * A ready chunk, else a dirty one zeroed here; NULL if neither fits. A
 * root cgroup request for a whole chunk that finds none ready tells the
 * lead to raise the refill target (the refill is for the root only).
 */
static struct arena_chunk *arena_pool_take_zeroed(int nid, unsigned int how,
						  struct mem_cgroup *memcg)
{
	struct arena_chunk *c = arena_pool_take(nid, true, how, memcg);

	if (c) {
		atomic_long_inc(&arena_stats.chunks_reused);
		return c;
	}
	if (!memcg && !(how & ARENA_TAKE_SMALL) &&
	    !READ_ONCE(arena_pool_ran_dry))
		WRITE_ONCE(arena_pool_ran_dry, true);
	c = arena_pool_take(nid, false, how, memcg);
	if (c) {
		arena_chunk_zero(c);
		atomic_long_inc(&arena_stats.chunks_zeroed_inline);
	}
	return c;
}

/* Whether a chunk goes, for arena_pool_release_if(). */
typedef bool (*arena_drop_fn)(const struct arena_chunk *c, const void *arg);

/*
 * Move the chunks of @np's @ready or dirty list that @drop says go to
 * @out, oldest first, at most *@left of them; one pass under the lock.
 */
static void arena_pool_cull(struct arena_node_pool *np, bool ready,
			    arena_drop_fn drop, const void *arg,
			    unsigned long *left, struct list_head *out)
{
	struct list_head *list = ready ? &np->ready : &np->dirty;
	unsigned long *nr = ready ? &np->nr_ready : &np->nr_dirty;
	struct arena_chunk *c, *tmp;

	if (!*left || !READ_ONCE(*nr))
		return;
	spin_lock(&np->lock);
	/* Dirty chunks are queued oldest first, ready ones newest first. */
	if (ready) {
		list_for_each_entry_safe_reverse(c, tmp, list, node) {
			if (!*left)
				break;
			if (!drop(c, arg))
				continue;
			list_move_tail(&c->node, out);
			(*nr)--;
			arena_pool_count(c, ready, -1);
			(*left)--;
		}
	} else {
		list_for_each_entry_safe(c, tmp, list, node) {
			if (!*left)
				break;
			if (!drop(c, arg))
				continue;
			list_move_tail(&c->node, out);
			(*nr)--;
			arena_pool_count(c, ready, -1);
			(*left)--;
		}
	}
	spin_unlock(&np->lock);
}

/*
 * Release at most @max chunks of every node's lists that @drop says go,
 * dirty ones first. Released outside arena_worker_sem: a drain running
 * meanwhile may return before they are back with the page allocator.
 */
static unsigned long arena_pool_release_if(arena_drop_fn drop,
					   const void *arg, unsigned long max)
{
	unsigned long left = max, n = 0;
	struct arena_chunk *c, *tmp;
	LIST_HEAD(out);
	int nid;

	for_each_node_state(nid, N_MEMORY)
		arena_pool_cull(arena_pool_of(nid), false, drop, arg, &left,
				&out);
	for_each_node_state(nid, N_MEMORY)
		arena_pool_cull(arena_pool_of(nid), true, drop, arg, &left,
				&out);
	list_for_each_entry_safe(c, tmp, &out, node) {
		list_del_init(&c->node);
		arena_chunk_release(c);
		n++;
		cond_resched();
	}
	return n;
}

/* What a request that could not get a new chunk releases to make room. */
struct arena_unfit {
	unsigned int how;
	struct mem_cgroup *memcg;
	bool any_memcg;		/* at the global cap: every cgroup's */
};

static bool arena_chunk_unfit(const struct arena_chunk *c, const void *arg)
{
	const struct arena_unfit *u = arg;

	if (!u->any_memcg && c->memcg != u->memcg)
		return false;
	return !arena_chunk_fits(c, u->how, u->memcg);
}

/*
 * No new chunk could be had for a request as @how says, and none it can
 * take is pooled. Release one pooled chunk it cannot use, oldest first:
 * at the global cap (@capped) of any cgroup, since a pool full of whole
 * chunks must not starve a small run, nor another cgroup's idle chunks a
 * cgroup; otherwise (over the cgroup's limit) of its own cgroup. One
 * chunk is room for one. Returns whether one went: worth trying again.
 */
static bool arena_pool_make_room(unsigned int how, struct mem_cgroup *memcg,
				 bool capped)
{
	struct arena_unfit u = { .how = how, .memcg = memcg,
				 .any_memcg = capped };

	return arena_pool_release_if(arena_chunk_unfit, &u, 1);
}

/* Chunks of a cgroup other than the root, idle too long or offline. */
static bool arena_chunk_stale(const struct arena_chunk *c, const void *arg)
{
	const u64 *now = arg;

	if (!c->memcg)
		return false;
	/* Signed: a chunk queued after @now was read is not stale. */
	return !mem_cgroup_online(c->memcg) ||
	       (s64)(*now - c->since_ns) >
	       (s64)ARENA_POOL_MEMCG_IDLE_MS * NSEC_PER_MSEC;
}

/*
 * No new chunk could be had (at the cap, or out of memory): the ones the
 * workers are zeroing right now may be the only ones left. Wait for their
 * passes to put them back, then look again.
 */
static struct arena_chunk *arena_pool_get_slow(int nid, unsigned int how,
					       struct mem_cgroup *memcg)
{
	struct arena_chunk *c;

	down_write(&arena_worker_sem);
	c = arena_pool_take_zeroed(nid, how | ARENA_TAKE_DEEP, memcg);
	up_write(&arena_worker_sem);
	return c;
}

/* Refill again from now on, unless in a back-off after a failure. */
static void arena_pool_want_refill(void)
{
	if (READ_ONCE(arena_refill_wanted))
		return;
	if (READ_ONCE(arena_refill_backoff)) {
		if (time_before(jiffies, READ_ONCE(arena_refill_after)))
			return;
		WRITE_ONCE(arena_refill_backoff, false);
	}
	WRITE_ONCE(arena_refill_wanted, true);
}

/*
 * Stop refilling for a second at least (a refill failed, or pressure), and
 * forget the demand seen so far: the target starts again from pool_low.
 */
static void arena_pool_refill_back_off(void)
{
	WRITE_ONCE(arena_refill_after, jiffies + HZ);
	WRITE_ONCE(arena_refill_backoff, true);
	WRITE_ONCE(arena_refill_wanted, false);
	WRITE_ONCE(arena_refill_target, 0);
}

/*
 * A zeroed chunk of @memcg (NULL: the root cgroup) for an arena: ready,
 * else dirty zeroed here, else new; with @small, one of single-page folios,
 * to carve small runs from. Returns ERR_PTR(-ENOMEM) when none can be had
 * within the global cap and the cgroup's limit.
 */
struct arena_chunk *arena_pool_get(struct mem_cgroup *memcg, bool small)
{
	unsigned int how = small ? ARENA_TAKE_SMALL : ARENA_TAKE_WHOLE;
	unsigned int order = small ? ARENA_CARVE_ORDER : ARENA_CHUNK_ORDER;
	int nid = numa_node_id();
	struct arena_chunk *c;
	bool capped = false;

	c = arena_pool_take_zeroed(nid, how, memcg);
	if (!c) {
		c = arena_chunk_new(nid, memcg, order);
		if (IS_ERR(c)) {
			capped = PTR_ERR(c) == -ENOSPC;
			/* One of ours deeper in the lists, or room for one. */
			c = arena_pool_take_zeroed(nid, how | ARENA_TAKE_DEEP,
						   memcg);
			if (!c && arena_pool_make_room(how, memcg, capped)) {
				c = arena_chunk_new(nid, memcg, order);
				if (IS_ERR(c)) {
					capped |= PTR_ERR(c) == -ENOSPC;
					c = NULL;
				}
			}
			if (!c)
				c = arena_pool_get_slow(nid, how, memcg);
			if (!c) {
				if (capped)
					atomic_long_inc(&arena_stats.limit_hits);
				return ERR_PTR(-ENOMEM);
			}
		}
	}
	arena_node_in_use_add(c->nid, 1);
	atomic_long_inc(&arena_stats.chunks_mapped);
	/* The workers refill for the root cgroup only: no one else takes it. */
	if (!memcg) {
		arena_pool_want_refill();
		if (arena_pool_whole_ready() < arena_pool_target())
			arena_pool_wake();
	}
	return c;
}

/*
 * Below the refill target, counting @ahead whole chunks that workers are
 * making ready, and with room under the cap for the low watermark's worth
 * of requests besides (the target may grow up to the cap less that).
 */
static bool arena_pool_needs_refill(long ahead)
{
	return READ_ONCE(arena_refill_wanted) &&
	       arena_pool_whole_ready() + ahead < arena_pool_target() &&
	       atomic_long_read(&arena_stats.chunks_total) +
	       READ_ONCE(arena_pool_low) < READ_ONCE(arena_max_chunks);
}

/* Chunks for the workers: dirty ones, and those the refill lacks. */
static long arena_pool_backlog(void)
{
	long ahead = atomic_long_read(&arena_pool_in_hand);
	long n = atomic_long_read(&arena_stats.chunks_dirty);

	if (arena_pool_needs_refill(ahead))
		n += arena_pool_target() - arena_pool_whole_ready() - ahead;
	return n;
}

static bool arena_helper_has_work(void)
{
	return atomic_long_read(&arena_stats.chunks_dirty) ||
	       arena_pool_needs_refill(atomic_long_read(&arena_pool_in_hand));
}

static bool arena_worker_has_work(void)
{
	return arena_helper_has_work() ||
	       arena_pool_whole_ready() > READ_ONCE(arena_pool_high);
}

/*
 * Release, rather than zero, a dirty chunk nobody will take; @ahead whole
 * chunks are being made ready by other workers.
 */
static bool arena_pool_unwanted(const struct arena_chunk *c, long ahead)
{
	if (c->memcg && !mem_cgroup_online(c->memcg))
		return true;
	if (arena_chunk_carvable(c))
		return atomic_long_read(&arena_pool_carvable_ready) >=
		       ARENA_POOL_CARVABLE_HIGH;
	return arena_pool_whole_ready() + ahead >= READ_ONCE(arena_pool_high);
}

/*
 * Zero one dirty chunk into a ready one, or release it if unwanted; from
 * the worker's own node first. Returns false if none was dirty.
 */
static bool arena_pool_zero_one(void)
{
	struct arena_chunk *c;
	bool whole;
	long ahead = 0;

	c = arena_pool_take(numa_node_id(), false, ARENA_TAKE_ANY, NULL);
	if (!c)
		return false;
	whole = !arena_chunk_carvable(c);
	if (whole)
		ahead = atomic_long_inc_return(&arena_pool_in_hand) - 1;
	if (arena_pool_unwanted(c, ahead)) {
		arena_chunk_release(c);
	} else {
		arena_chunk_zero(c);
		atomic_long_inc(&arena_stats.chunks_zeroed);
		arena_pool_add_ready(c);
	}
	if (whole)
		atomic_long_dec(&arena_pool_in_hand);
	return true;
}

/*
 * Allocate one chunk for the ready lists, on the worker's node, if below
 * the refill target. Returns false if none was wanted or none could be had.
 */
static bool arena_pool_refill_one(void)
{
	long ahead = atomic_long_inc_return(&arena_pool_in_hand) - 1;
	struct arena_chunk *c;
	bool added = false;

	if (arena_pool_needs_refill(ahead)) {
		c = arena_chunk_new(numa_node_id(), NULL, ARENA_CHUNK_ORDER);
		if (IS_ERR(c)) {
			/*
			 * At the cap or out of memory: stop until arenas take
			 * from the pool again, a second from now at the
			 * earliest, rather than retrying every pass.
			 */
			arena_pool_refill_back_off();
		} else {
			arena_pool_add_ready(c);
			added = true;
		}
	}
	atomic_long_dec(&arena_pool_in_hand);
	return added;
}

/*
 * Double the refill target if a request found the ready lists empty since
 * the last pass; else halve it for each ARENA_POOL_DECAY_MS without.
 */
static void arena_pool_adapt(void)
{
	unsigned long period = msecs_to_jiffies(ARENA_POOL_DECAY_MS);
	unsigned int low = READ_ONCE(arena_pool_low);
	unsigned int high = max(low, READ_ONCE(arena_pool_high));
	unsigned int t = arena_pool_target();

	if (READ_ONCE(arena_pool_ran_dry)) {
		WRITE_ONCE(arena_pool_ran_dry, false);
		t = min(high, 2 * t);
		arena_refill_target_since = jiffies;
	} else {
		while (t > low &&
		       time_after(jiffies, arena_refill_target_since + period)) {
			t = max(low, t / 2);
			arena_refill_target_since += period;
		}
	}
	WRITE_ONCE(arena_refill_target, t);
}

/* One pass of the lead over every node; returns true if it did work. */
static bool arena_worker_pass(void)
{
	struct arena_chunk *c;
	bool busy = false;
	unsigned int n;
	u64 now;
	int nid;

	/*
	 * Dirty chunks: zero them while the pool wants more ready, a batch
	 * at a time, so that back-to-back use, which frees a chunk as fast as
	 * the lead zeroes one, does not keep it from the rest of its pass.
	 */
	arena_pool_adapt();
	arena_pool_wake_helpers();
	for (n = 0; n < ARENA_POOL_BATCH && arena_pool_zero_one(); n++) {
		busy = true;
		cond_resched();
		if (kthread_should_stop())
			return false;
	}
	for_each_node_state(nid, N_MEMORY) {
		/* Over the high watermark: give the excess whole ones back. */
		while (arena_pool_whole_ready() > READ_ONCE(arena_pool_high) &&
		       (c = arena_pool_take_first(arena_pool_of(nid), true,
						  ARENA_TAKE_ANY_MEMCG |
						  ARENA_TAKE_DEEP, NULL))) {
			busy = true;
			arena_chunk_release(c);
		}
	}
	/* Chunks of cgroups idle too long, or of cgroups gone offline. */
	if (atomic_long_read(&arena_pool_memcg_pooled)) {
		now = ktime_get_ns();
		if (arena_pool_release_if(arena_chunk_stale, &now, ULONG_MAX))
			busy = true;
	}
	/* Under the refill target: allocate, helped by the others. */
	arena_pool_wake_helpers();
	while (!kthread_should_stop() && arena_pool_refill_one()) {
		busy = true;
		cond_resched();
	}
	return busy;
}

/*
 * Zeroing is background work: it yields to everything else. Nice 19, as
 * khugepaged: at equal priority the application gets about 70 times the
 * CPU of a worker, and a request waiting on arena_worker_sem for a
 * worker's chunk is not left behind a thread that never runs while the CPU
 * is busy, as it would be with SCHED_IDLE.
 */
static void arena_worker_nice(void)
{
	set_user_nice(current, MAX_NICE);
}

static int arena_worker_fn(void *unused)
{
	bool busy;

	arena_worker_nice();
	while (!kthread_should_stop()) {
		/* Pooled chunks of cgroups: look again before they go stale. */
		long timeout = atomic_long_read(&arena_pool_memcg_pooled) ?
			       msecs_to_jiffies(ARENA_POOL_MEMCG_IDLE_MS / 2) :
			       MAX_SCHEDULE_TIMEOUT;

		wait_event_interruptible_timeout(arena_worker_wq,
						 arena_worker_has_work() ||
						 kthread_should_stop(),
						 timeout);
		down_read(&arena_worker_sem);
		busy = arena_worker_pass();
		up_read(&arena_worker_sem);
		if (!busy)
			/* Refill failed (cap or no memory): do not spin. */
			schedule_timeout_interruptible(HZ / 10);
	}
	return 0;
}

/* A helper: zero dirty chunks and refill while there are any to do. */
static int arena_helper_fn(void *unused)
{
	arena_worker_nice();
	while (!kthread_should_stop()) {
		wait_event_interruptible_exclusive(arena_helper_wq,
						   arena_helper_has_work() ||
						   kthread_should_stop());
		down_read(&arena_worker_sem);
		while (!kthread_should_stop() &&
		       (arena_pool_zero_one() || arena_pool_refill_one()))
			cond_resched();
		up_read(&arena_worker_sem);
	}
	return 0;
}

/* Release up to @pages pages of dirty, then ready chunks. */
static unsigned long arena_pool_release(unsigned long pages)
{
	unsigned long freed = 0;
	struct arena_chunk *c;
	int nid;

	for_each_node_state(nid, N_MEMORY) {
		while (freed < pages &&
		       (c = arena_pool_take_first(arena_pool_of(nid), false,
						  ARENA_TAKE_ANY, NULL))) {
			arena_chunk_release(c);
			freed += ARENA_CHUNK_PAGES;
		}
	}
	for_each_node_state(nid, N_MEMORY) {
		while (freed < pages &&
		       (c = arena_pool_take_first(arena_pool_of(nid), true,
						  ARENA_TAKE_ANY, NULL))) {
			arena_chunk_release(c);
			freed += ARENA_CHUNK_PAGES;
		}
	}
	return freed;
}

void arena_pool_drain(void)
{
	/* Until the pool is used again, do not refill it. */
	WRITE_ONCE(arena_refill_wanted, false);
	WRITE_ONCE(arena_refill_target, 0);
	down_write(&arena_worker_sem);
	arena_pool_release(ULONG_MAX);
	up_write(&arena_worker_sem);
}

static unsigned long arena_shrink_count(struct shrinker *s,
					struct shrink_control *sc)
{
	unsigned long n = atomic_long_read(&arena_stats.chunks_ready) +
			  atomic_long_read(&arena_stats.chunks_dirty);

	return n ? n * ARENA_CHUNK_PAGES : SHRINK_EMPTY;
}

static unsigned long arena_shrink_scan(struct shrinker *s,
				       struct shrink_control *sc)
{
	unsigned long freed;

	/* Memory is short: refill when arenas ask again, a second on. */
	arena_pool_refill_back_off();
	freed = arena_pool_release(sc->nr_to_scan);
	if (freed)
		atomic_long_add(freed >> ARENA_CHUNK_ORDER,
				&arena_stats.shrinker_released);
	return freed ?: SHRINK_STOP;
}

static void arena_pool_stop_workers(void)
{
	while (arena_nr_workers) {
		arena_nr_workers--;
		kthread_stop(arena_workers[arena_nr_workers]);
		arena_workers[arena_nr_workers] = NULL;
	}
}

int arena_pool_init(void)
{
	unsigned int i, nr;
	int nid, err = -ENOMEM;

	arena_pools = kcalloc(nr_node_ids, sizeof(*arena_pools), GFP_KERNEL);
	if (!arena_pools)
		return -ENOMEM;
	for_each_node(nid) {
		struct arena_node_pool *np;

		np = kzalloc_node(sizeof(*np), GFP_KERNEL, nid);
		if (!np)
			goto free_pools;
		spin_lock_init(&np->lock);
		INIT_LIST_HEAD(&np->ready);
		INIT_LIST_HEAD(&np->dirty);
		arena_pools[nid] = np;
	}

	nr = clamp_t(unsigned int, num_online_cpus(), 1,
		     ARENA_POOL_MAX_WORKERS);
	for (i = 0; i < nr; i++) {
		struct task_struct *t;

		if (!i)
			t = kthread_run(arena_worker_fn, NULL, "arena_pool");
		else
			t = kthread_run(arena_helper_fn, NULL, "arena_pool/%u",
					i);
		if (IS_ERR(t)) {
			err = PTR_ERR(t);
			goto stop_workers;
		}
		arena_workers[i] = t;
		arena_nr_workers = i + 1;
	}
	arena_shrinker = arena_shrinker_create(arena_shrink_count,
					       arena_shrink_scan, "arena-pool");
	if (IS_ERR(arena_shrinker)) {
		err = PTR_ERR(arena_shrinker);
		goto stop_workers;
	}
	return 0;

stop_workers:
	arena_pool_stop_workers();
free_pools:
	for_each_node(nid)
		kfree(arena_pools[nid]);
	kfree(arena_pools);
	return err;
}

/* No file is open and the quarantine is gone: give everything back. */
void arena_pool_exit(void)
{
	int nid;

	/* The shrinker must not run on lists being freed. */
	arena_shrinker_destroy(arena_shrinker);
	arena_pool_stop_workers();
	arena_pool_release(ULONG_MAX);
	for_each_node(nid)
		kfree(arena_pools[nid]);
	kfree(arena_pools);
}
