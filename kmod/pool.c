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
 * most ARENA_POOL_SCAN entries deep for one of its own. The worker refills
 * for the cgroup that took from the pool last, releases the chunks of
 * cgroups that have gone offline, and a request over its cgroup's limit
 * releases that cgroup's pooled chunks and tries once more.
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
static struct shrinker *arena_shrinker;
/*
 * The cgroup the worker refills for: the last one that took from the pool
 * (a reference held; NULL: the root). Protected by arena_refill_lock.
 */
static DEFINE_SPINLOCK(arena_refill_lock);
static struct mem_cgroup *arena_refill_memcg;

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

/* Which chunks of a list a taker accepts. */
enum arena_take {
	ARENA_TAKE_ANY,		/* the first, whatever its cgroup */
	ARENA_TAKE_MEMCG,	/* the first of @memcg, ARENA_POOL_SCAN deep */
	ARENA_TAKE_SMALL,	/* the same, and of single pages, to carve */
	ARENA_TAKE_MEMCG_ALL,	/* the first of @memcg, however deep */
};

/*
 * Small runs are carved only from chunks of single-page folios
 * (ARENA_CARVE_ORDER, Documentation/small-arenas.rst).
 */
static bool arena_chunk_carvable(const struct arena_chunk *c)
{
	return c->order == ARENA_CARVE_ORDER;
}

static bool arena_chunk_fits(const struct arena_chunk *c, enum arena_take how,
			     struct mem_cgroup *memcg)
{
	if (how == ARENA_TAKE_ANY)
		return true;
	if (c->memcg != memcg)
		return false;
	return how != ARENA_TAKE_SMALL || arena_chunk_carvable(c);
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
		if (how != ARENA_TAKE_MEMCG_ALL && ++scanned >= ARENA_POOL_SCAN)
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

/*
 * Release every pooled chunk charged to @memcg: a request over its cgroup's
 * limit makes room with them first. Returns how many went.
 */
static unsigned long arena_pool_release_memcg(struct mem_cgroup *memcg)
{
	unsigned long n = 0;
	struct arena_chunk *c;
	int nid;

	for_each_node_state(nid, N_MEMORY) {
		while ((c = arena_pool_take_dirty(nid, ARENA_TAKE_MEMCG_ALL,
						  memcg)) ||
		       (c = arena_pool_take_ready(nid, ARENA_TAKE_MEMCG_ALL,
						  memcg))) {
			arena_chunk_release(c);
			n++;
		}
	}
	return n;
}

/* Remember the cgroup the worker should refill the pool for. */
static void arena_pool_refill_for(struct mem_cgroup *memcg)
{
	struct mem_cgroup *old;

	if (READ_ONCE(arena_refill_memcg) == memcg)
		return;
	arena_memcg_get(memcg);
	spin_lock(&arena_refill_lock);
	old = arena_refill_memcg;
	WRITE_ONCE(arena_refill_memcg, memcg);
	spin_unlock(&arena_refill_lock);
	mem_cgroup_put(old);
}

/* The cgroup to refill for, with a reference the caller drops. */
static struct mem_cgroup *arena_pool_refill_memcg(void)
{
	struct mem_cgroup *memcg;

	spin_lock(&arena_refill_lock);
	memcg = arena_refill_memcg;
	arena_memcg_get(memcg);
	spin_unlock(&arena_refill_lock);
	return memcg;
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

	arena_pool_refill_for(memcg);
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
			/* Over the cgroup's limit: its pooled chunks first. */
			if (IS_ERR(c) && memcg && arena_pool_release_memcg(memcg))
				c = arena_chunk_new(nid, memcg, order);
			if (IS_ERR(c))
				c = arena_pool_get_slow(nid, how, memcg, c);
			if (IS_ERR(c))
				return c;
		}
	}
	arena_node_in_use_add(c->nid, 1);
	atomic_long_inc(&arena_stats.chunks_mapped);
	if (!READ_ONCE(arena_refill_wanted))
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

/*
 * Release the ready chunks of @nid whose cgroup has gone offline: nothing
 * can take them any more, and they pin the dead cgroup.
 */
static bool arena_pool_release_offline(int nid)
{
	struct arena_node_pool *np = arena_pool_of(nid);
	struct arena_chunk *c, *tmp;
	LIST_HEAD(dead);

	if (!READ_ONCE(np->nr_ready))
		return false;
	spin_lock(&np->lock);
	list_for_each_entry_safe(c, tmp, &np->ready, node) {
		if (!c->memcg || mem_cgroup_online(c->memcg))
			continue;
		list_move(&c->node, &dead);
		np->nr_ready--;
		atomic_long_dec(&arena_stats.chunks_ready);
	}
	spin_unlock(&np->lock);
	if (list_empty(&dead))
		return false;
	list_for_each_entry_safe(c, tmp, &dead, node) {
		list_del_init(&c->node);
		arena_chunk_release(c);
	}
	return true;
}

/* One pass of the worker over every node; returns true if it did work. */
static bool arena_worker_pass(void)
{
	struct mem_cgroup *memcg;
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
		if (arena_pool_release_offline(nid))
			busy = true;
	}
	/*
	 * Under the low watermark: allocate, on the worker's node, for the
	 * cgroup that took last; not for one that has gone offline since
	 * (its chunks would be released again at the next pass).
	 */
	memcg = arena_pool_refill_memcg();
	if (memcg && !mem_cgroup_online(memcg)) {
		arena_pool_refill_for(NULL);
		mem_cgroup_put(memcg);
		memcg = NULL;
	}
	while (arena_pool_needs_refill() && !kthread_should_stop()) {
		c = arena_chunk_new(numa_node_id(), memcg, ARENA_CHUNK_ORDER);
		if (IS_ERR(c)) {
			/*
			 * At the cap or out of memory: stop until arenas take
			 * from the pool again, rather than retrying (and
			 * counting a limit hit) every pass.
			 */
			WRITE_ONCE(arena_refill_wanted, false);
			break;
		}
		busy = true;
		arena_pool_add_ready(c);
		cond_resched();
	}
	mem_cgroup_put(memcg);
	return busy;
}

static int arena_worker_fn(void *unused)
{
	bool busy;

	/* Zeroing is background work: it yields to everything else. */
	set_user_nice(current, MAX_NICE);
	while (!kthread_should_stop()) {
		wait_event_interruptible(arena_worker_wq,
					 arena_worker_has_work() ||
					 kthread_should_stop());
		mutex_lock(&arena_worker_lock);
		busy = arena_worker_pass();
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
	mem_cgroup_put(arena_refill_memcg);
	arena_refill_memcg = NULL;
	for_each_node(nid)
		kfree(arena_pools[nid]);
	kfree(arena_pools);
}
