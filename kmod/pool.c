// SPDX-License-Identifier: GPL-2.0
/*
 * The chunk pool: per NUMA node lists of ready (zeroed) and dirty (freed,
 * unreferenced, not yet zeroed) chunks, after the page heap Go keeps for its
 * arenas (runtime/mheap.go).
 *
 * An arena's chunk comes from the caller's node's ready list first, then
 * another node's, so the ioctl normally neither zeroes nor allocates. When
 * no chunk is ready a dirty one is zeroed inline, and only then is a new one
 * allocated (the page allocator zeroes it). The worker, a kernel thread at
 * the lowest priority, zeroes dirty chunks into ready ones up to the high
 * watermark (dirty chunks beyond it go back to the page allocator unzeroed),
 * and refills the ready lists to the low watermark once the pool has been
 * used. Under memory pressure the shrinker hands dirty, then ready chunks
 * back to the page allocator; so does arena_pool_drain() (sysfs "drain").
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
static struct task_struct *arena_worker;
/*
 * Held by the worker for a pass and by drain, so that drain returns only
 * after the chunk the worker had in hand is back in a list and released.
 * Never taken by the shrinker: the worker allocates under it.
 */
static DEFINE_MUTEX(arena_worker_lock);
static DECLARE_WAIT_QUEUE_HEAD(arena_worker_wq);
/* The pool has handed out chunks: keep the low watermark from now on. */
static bool arena_refill_wanted;
/* jiffies of the last refill that failed: no new try for a second. */
static unsigned long arena_refill_failed;
static struct shrinker *arena_shrinker;
/*
 * Chunks of a cgroup other than the root may be in the lists: the worker
 * looks every ARENA_POOL_MEMCG_IDLE_MS / 2 for ones to release. Set when
 * one is added, cleared by the worker before a pass that sets it again if
 * any is left.
 */
static bool arena_pool_memcg_pooled;
#define ARENA_POOL_MEMCG_IDLE_MS	1000

/* How deep a request looks in a list for a chunk of its own cgroup. */
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

static void arena_pool_add_ready(struct arena_chunk *c)
{
	struct arena_node_pool *np = arena_pool_of(c->nid);

	c->since_ns = ktime_get_ns();
	spin_lock(&np->lock);
	list_add(&c->node, &np->ready);
	np->nr_ready++;
	atomic_long_inc(&arena_stats.chunks_ready);
	spin_unlock(&np->lock);
	if (c->memcg && !READ_ONCE(arena_pool_memcg_pooled))
		WRITE_ONCE(arena_pool_memcg_pooled, true);
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
	atomic_long_inc(&arena_stats.chunks_dirty);
	spin_unlock(&np->lock);
	if (c->memcg && !READ_ONCE(arena_pool_memcg_pooled))
		WRITE_ONCE(arena_pool_memcg_pooled, true);
}

static bool arena_worker_has_work(void);

/*
 * Tell the worker there are dirty chunks. Called once after a batch of
 * arena_pool_add_dirty(), so that a free of many chunks finishes before
 * the worker starts competing for the memory bus. Only if there is work:
 * most frees of small arenas retire no chunk, and waking the worker for
 * nothing costs a context switch, often a cross-CPU wakeup, per free.
 */
void arena_pool_kick(void)
{
	if (arena_worker_has_work())
		wake_up(&arena_worker_wq);
}

/*
 * Which chunks of a list a taker accepts; all but ARENA_TAKE_ANY look
 * ARENA_POOL_SCAN entries deep at most.
 */
enum arena_take {
	ARENA_TAKE_ANY,		/* the first, whatever its cgroup */
	ARENA_TAKE_MEMCG,	/* the first of @memcg for a whole chunk */
	ARENA_TAKE_SMALL,	/* the same, of single pages, to carve */
};

/*
 * Small runs are carved only from chunks of single-page folios
 * (ARENA_CARVE_ORDER, Documentation/small-arenas.rst).
 */
static bool arena_chunk_carvable(const struct arena_chunk *c)
{
	return c->order == ARENA_CARVE_ORDER;
}

/*
 * Can a request as @how says take @c? Whole-chunk runs do not take chunks
 * of single pages (retired shared chunks, or fragmentation's last
 * fallback): mapped 4 KiB at a time they would cost 512 faults instead of
 * one; a new chunk is better, and small runs use those.
 */
static bool arena_chunk_fits(const struct arena_chunk *c, enum arena_take how,
			     struct mem_cgroup *memcg)
{
	if (how == ARENA_TAKE_ANY)
		return true;
	if (c->memcg != memcg)
		return false;
	return arena_chunk_carvable(c) == (how == ARENA_TAKE_SMALL);
}

/* Unlink a chunk of @list as @how says, counted by *@nr and @stat. */
static struct arena_chunk *arena_pool_take_first(struct arena_node_pool *np,
						 struct list_head *list,
						 unsigned long *nr,
						 atomic_long_t *stat,
						 enum arena_take how,
						 struct mem_cgroup *memcg)
{
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
		if (++scanned >= ARENA_POOL_SCAN)
			break;
	}
	if (c) {
		list_del_init(&c->node);
		(*nr)--;
		atomic_long_dec(stat);
	}
	spin_unlock(&np->lock);
	return c;
}

static struct arena_chunk *arena_pool_take_ready(int nid, enum arena_take how,
						 struct mem_cgroup *memcg)
{
	struct arena_node_pool *np = arena_pool_of(nid);

	return arena_pool_take_first(np, &np->ready, &np->nr_ready,
				     &arena_stats.chunks_ready, how, memcg);
}

static struct arena_chunk *arena_pool_take_dirty(int nid, enum arena_take how,
						 struct mem_cgroup *memcg)
{
	struct arena_node_pool *np = arena_pool_of(nid);

	return arena_pool_take_first(np, &np->dirty, &np->nr_dirty,
				     &arena_stats.chunks_dirty, how, memcg);
}

typedef struct arena_chunk *(*arena_take_fn)(int nid, enum arena_take how,
					     struct mem_cgroup *memcg);

/* Take a chunk as @how says from @nid first, then from the other nodes. */
static struct arena_chunk *arena_pool_take(int nid, arena_take_fn take,
					   enum arena_take how,
					   struct mem_cgroup *memcg)
{
	struct arena_chunk *c = take(nid, how, memcg);
	int n;

	if (c)
		return c;
	for_each_node_state(n, N_MEMORY) {
		if (n == nid)
			continue;
		c = take(n, how, memcg);
		if (c)
			return c;
	}
	return NULL;
}

/* Whether a chunk goes, for arena_pool_release_if(). */
typedef bool (*arena_drop_fn)(const struct arena_chunk *c, const void *arg);

/*
 * Move the chunks of @list that @drop says go to @out, counted by *@nr and
 * @stat; one pass under the lock.
 */
static void arena_pool_cull(struct arena_node_pool *np, struct list_head *list,
			    unsigned long *nr, atomic_long_t *stat,
			    arena_drop_fn drop, const void *arg,
			    struct list_head *out)
{
	struct arena_chunk *c, *tmp;

	if (!READ_ONCE(*nr))
		return;
	spin_lock(&np->lock);
	list_for_each_entry_safe(c, tmp, list, node) {
		if (!drop(c, arg))
			continue;
		list_move_tail(&c->node, out);
		(*nr)--;
		atomic_long_dec(stat);
	}
	spin_unlock(&np->lock);
}

/* Release the chunks of every node's lists that @drop says go. */
static unsigned long arena_pool_release_if(arena_drop_fn drop,
					   const void *arg)
{
	struct arena_chunk *c, *tmp;
	unsigned long n = 0;
	LIST_HEAD(out);
	int nid;

	for_each_node_state(nid, N_MEMORY) {
		struct arena_node_pool *np = arena_pool_of(nid);

		arena_pool_cull(np, &np->dirty, &np->nr_dirty,
				&arena_stats.chunks_dirty, drop, arg, &out);
		arena_pool_cull(np, &np->ready, &np->nr_ready,
				&arena_stats.chunks_ready, drop, arg, &out);
	}
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
	enum arena_take how;
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
 * No new chunk could be had for a request as @how says. At the global cap,
 * release the pooled chunks it cannot use, of every cgroup (a pool full of
 * whole chunks must not starve a small run, nor another cgroup's chunks a
 * cgroup); otherwise (over the cgroup's limit, or out of memory) those of
 * its own cgroup. Returns how many went: worth trying again if any.
 */
static unsigned long arena_pool_make_room(enum arena_take how,
					  struct mem_cgroup *memcg)
{
	struct arena_unfit u = {
		.how = how, .memcg = memcg,
		.any_memcg = atomic_long_read(&arena_stats.chunks_total) >=
			     READ_ONCE(arena_max_chunks),
	};

	return arena_pool_release_if(arena_chunk_unfit, &u);
}

/* Chunks of a cgroup other than the root, idle too long or offline. */
static bool arena_chunk_stale(const struct arena_chunk *c, const void *arg)
{
	const u64 *now = arg;

	if (!c->memcg)
		return false;
	return !mem_cgroup_online(c->memcg) ||
	       *now - c->since_ns > ARENA_POOL_MEMCG_IDLE_MS * NSEC_PER_MSEC;
}

/*
 * The worker's look at chunks charged to cgroups other than the root,
 * which their cgroup's reclaim cannot take back: release the stale ones,
 * and say whether any are left to look at again.
 */
static bool arena_pool_release_stale(void)
{
	u64 now = ktime_get_ns();
	bool left = false;
	int nid;

	WRITE_ONCE(arena_pool_memcg_pooled, false);
	arena_pool_release_if(arena_chunk_stale, &now);
	for_each_node_state(nid, N_MEMORY) {
		struct arena_node_pool *np = arena_pool_of(nid);
		struct arena_chunk *c;

		spin_lock(&np->lock);
		list_for_each_entry(c, &np->ready, node)
			left |= !!c->memcg;
		list_for_each_entry(c, &np->dirty, node)
			left |= !!c->memcg;
		spin_unlock(&np->lock);
	}
	if (left)
		WRITE_ONCE(arena_pool_memcg_pooled, true);
	return left;
}

/*
 * No new chunk could be had (at the cap, or out of memory): the one the
 * worker is zeroing right now may be the only one left. Wait for its pass to
 * put it back, then look again.
 */
static struct arena_chunk *arena_pool_get_slow(int nid, enum arena_take how,
					       struct mem_cgroup *memcg,
					       struct arena_chunk *err)
{
	struct arena_chunk *c;

	mutex_lock(&arena_worker_lock);
	c = arena_pool_take(nid, arena_pool_take_ready, how, memcg);
	if (c) {
		atomic_long_inc(&arena_stats.chunks_reused);
	} else {
		c = arena_pool_take(nid, arena_pool_take_dirty, how, memcg);
		if (c) {
			arena_chunk_zero(c);
			atomic_long_inc(&arena_stats.chunks_zeroed_inline);
		}
	}
	mutex_unlock(&arena_worker_lock);
	return c ?: err;
}

/*
 * A zeroed chunk of @memcg (NULL: the root cgroup) for an arena: ready,
 * else dirty zeroed here, else new; with @small, one of single-page folios,
 * to carve small runs from. Returns ERR_PTR(-ENOMEM) when none
 * can be had within the global cap and the cgroup's limit.
 */
struct arena_chunk *arena_pool_get(struct mem_cgroup *memcg, bool small)
{
	enum arena_take how = small ? ARENA_TAKE_SMALL : ARENA_TAKE_MEMCG;
	unsigned int order = small ? ARENA_CARVE_ORDER : ARENA_CHUNK_ORDER;
	int nid = numa_node_id();
	struct arena_chunk *c;

	c = arena_pool_take(nid, arena_pool_take_ready, how, memcg);
	if (c) {
		atomic_long_inc(&arena_stats.chunks_reused);
	} else {
		c = arena_pool_take(nid, arena_pool_take_dirty, how, memcg);
		if (c) {
			arena_chunk_zero(c);
			atomic_long_inc(&arena_stats.chunks_zeroed_inline);
		} else {
			c = arena_chunk_new(nid, memcg, order);
			if (IS_ERR(c) && arena_pool_make_room(how, memcg))
				c = arena_chunk_new(nid, memcg, order);
			if (IS_ERR(c))
				c = arena_pool_get_slow(nid, how, memcg, c);
			if (IS_ERR(c))
				return c;
		}
	}
	arena_node_in_use_add(c->nid, 1);
	atomic_long_inc(&arena_stats.chunks_mapped);
	/*
	 * The worker refills for the root cgroup only (its chunks would go to
	 * no one else), and not within a second of a refill that failed.
	 */
	if (!memcg && !READ_ONCE(arena_refill_wanted) &&
	    time_after(jiffies, READ_ONCE(arena_refill_failed) + HZ))
		WRITE_ONCE(arena_refill_wanted, true);
	if (atomic_long_read(&arena_stats.chunks_ready) <
	    READ_ONCE(arena_pool_low))
		wake_up(&arena_worker_wq);
	return c;
}

static bool arena_pool_needs_refill(void)
{
	return READ_ONCE(arena_refill_wanted) &&
	       atomic_long_read(&arena_stats.chunks_ready) <
	       READ_ONCE(arena_pool_low);
}

static bool arena_worker_has_work(void)
{
	return atomic_long_read(&arena_stats.chunks_dirty) ||
	       atomic_long_read(&arena_stats.chunks_ready) >
	       READ_ONCE(arena_pool_high) ||
	       arena_pool_needs_refill();
}

/* One pass of the worker over every node; returns true if it did work. */
static bool arena_worker_pass(void)
{
	struct arena_chunk *c;
	bool busy = false;
	int nid;

	for_each_node_state(nid, N_MEMORY) {
		/* Dirty chunks: zero them while the pool wants more ready. */
		while ((c = arena_pool_take_dirty(nid, ARENA_TAKE_ANY, NULL))) {
			busy = true;
			if (atomic_long_read(&arena_stats.chunks_ready) >=
			    READ_ONCE(arena_pool_high) ||
			    (c->memcg && !mem_cgroup_online(c->memcg))) {
				arena_chunk_release(c);
			} else {
				arena_chunk_zero(c);
				atomic_long_inc(&arena_stats.chunks_zeroed);
				arena_pool_add_ready(c);
			}
			cond_resched();
			if (kthread_should_stop())
				return false;
		}
		/* Over the high watermark: give the excess back. */
		while (atomic_long_read(&arena_stats.chunks_ready) >
		       READ_ONCE(arena_pool_high) &&
		       (c = arena_pool_take_ready(nid, ARENA_TAKE_ANY, NULL))) {
			busy = true;
			arena_chunk_release(c);
		}
	}
	/* Under the low watermark: allocate, on the worker's node. */
	while (arena_pool_needs_refill() && !kthread_should_stop()) {
		c = arena_chunk_new(numa_node_id(), NULL, ARENA_CHUNK_ORDER);
		if (IS_ERR(c)) {
			/*
			 * At the cap or out of memory: stop until arenas take
			 * from the pool again, a second from now at the
			 * earliest, rather than retrying (and counting a limit
			 * hit) every pass.
			 */
			WRITE_ONCE(arena_refill_failed, jiffies);
			WRITE_ONCE(arena_refill_wanted, false);
			break;
		}
		busy = true;
		arena_pool_add_ready(c);
		cond_resched();
	}
	return busy;
}

static int arena_worker_fn(void *unused)
{
	bool busy;

	/* Zeroing is background work: it yields to everything else. */
	set_user_nice(current, MAX_NICE);
	while (!kthread_should_stop()) {
		/* Pooled chunks of cgroups: look again before they go stale. */
		long timeout = READ_ONCE(arena_pool_memcg_pooled) ?
			       msecs_to_jiffies(ARENA_POOL_MEMCG_IDLE_MS / 2) :
			       MAX_SCHEDULE_TIMEOUT;

		wait_event_interruptible_timeout(arena_worker_wq,
						 arena_worker_has_work() ||
						 kthread_should_stop(),
						 timeout);
		mutex_lock(&arena_worker_lock);
		busy = arena_worker_pass();
		if (READ_ONCE(arena_pool_memcg_pooled))
			arena_pool_release_stale();
		mutex_unlock(&arena_worker_lock);
		if (!busy)
			/* Refill failed (cap or no memory): do not spin. */
			schedule_timeout_interruptible(HZ / 10);
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
		       (c = arena_pool_take_dirty(nid, ARENA_TAKE_ANY, NULL))) {
			arena_chunk_release(c);
			freed += ARENA_CHUNK_PAGES;
		}
	}
	for_each_node_state(nid, N_MEMORY) {
		while (freed < pages &&
		       (c = arena_pool_take_ready(nid, ARENA_TAKE_ANY, NULL))) {
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
	mutex_lock(&arena_worker_lock);
	arena_pool_release(ULONG_MAX);
	mutex_unlock(&arena_worker_lock);
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

	/* Memory is short: refill only when arenas ask again. */
	WRITE_ONCE(arena_refill_wanted, false);
	freed = arena_pool_release(sc->nr_to_scan);
	if (freed)
		atomic_long_add(freed >> ARENA_CHUNK_ORDER,
				&arena_stats.shrinker_released);
	return freed ?: SHRINK_STOP;
}

int arena_pool_init(void)
{
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

	arena_worker = kthread_run(arena_worker_fn, NULL, "arena_pool");
	if (IS_ERR(arena_worker)) {
		err = PTR_ERR(arena_worker);
		goto free_pools;
	}
	arena_shrinker = arena_shrinker_create(arena_shrink_count,
					       arena_shrink_scan, "arena-pool");
	if (IS_ERR(arena_shrinker)) {
		err = PTR_ERR(arena_shrinker);
		goto stop_worker;
	}
	return 0;

stop_worker:
	kthread_stop(arena_worker);
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
	kthread_stop(arena_worker);
	arena_pool_release(ULONG_MAX);
	for_each_node(nid)
		kfree(arena_pools[nid]);
	kfree(arena_pools);
}
