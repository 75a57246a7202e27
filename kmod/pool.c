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

/* A ready chunk, else a dirty one zeroed here; NULL if neither fits. */
static struct arena_chunk *arena_pool_take_zeroed(int nid, unsigned int how,
						  struct mem_cgroup *memcg)
{
	struct arena_chunk *c = arena_pool_take(nid, true, how, memcg);

	if (c) {
		atomic_long_inc(&arena_stats.chunks_reused);
		return c;
	}
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
 * dirty ones first. Released outside arena_worker_lock: a drain running
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
 * No new chunk could be had (at the cap, or out of memory): the one the
 * worker is zeroing right now may be the only one left. Wait for its pass to
 * put it back, then look again.
 */
static struct arena_chunk *arena_pool_get_slow(int nid, unsigned int how,
					       struct mem_cgroup *memcg)
{
	struct arena_chunk *c;

	mutex_lock(&arena_worker_lock);
	c = arena_pool_take_zeroed(nid, how | ARENA_TAKE_DEEP, memcg);
	mutex_unlock(&arena_worker_lock);
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

/* Stop refilling for a second at least (a refill failed, or pressure). */
static void arena_pool_refill_back_off(void)
{
	WRITE_ONCE(arena_refill_after, jiffies + HZ);
	WRITE_ONCE(arena_refill_backoff, true);
	WRITE_ONCE(arena_refill_wanted, false);
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
	/* The worker refills for the root cgroup only: no one else takes it. */
	if (!memcg) {
		arena_pool_want_refill();
		if (arena_pool_whole_ready() < READ_ONCE(arena_pool_low))
			wake_up(&arena_worker_wq);
	}
	return c;
}

/*
 * Below the low watermark, and with room under the cap for the watermark's
 * worth of requests besides.
 */
static bool arena_pool_needs_refill(void)
{
	return READ_ONCE(arena_refill_wanted) &&
	       arena_pool_whole_ready() < READ_ONCE(arena_pool_low) &&
	       atomic_long_read(&arena_stats.chunks_total) +
	       READ_ONCE(arena_pool_low) < READ_ONCE(arena_max_chunks);
}

static bool arena_worker_has_work(void)
{
	return atomic_long_read(&arena_stats.chunks_dirty) ||
	       arena_pool_whole_ready() > READ_ONCE(arena_pool_high) ||
	       arena_pool_needs_refill();
}

/* Release, rather than zero, a dirty chunk nobody will take. */
static bool arena_pool_unwanted(const struct arena_chunk *c)
{
	if (c->memcg && !mem_cgroup_online(c->memcg))
		return true;
	if (arena_chunk_carvable(c))
		return atomic_long_read(&arena_pool_carvable_ready) >=
		       ARENA_POOL_CARVABLE_HIGH;
	return arena_pool_whole_ready() >= READ_ONCE(arena_pool_high);
}

/* One pass of the worker over every node; returns true if it did work. */
static bool arena_worker_pass(void)
{
	struct arena_chunk *c;
	bool busy = false;
	u64 now;
	int nid;

	for_each_node_state(nid, N_MEMORY) {
		/* Dirty chunks: zero them while the pool wants more ready. */
		while ((c = arena_pool_take_first(arena_pool_of(nid), false,
						  ARENA_TAKE_ANY, NULL))) {
			busy = true;
			if (arena_pool_unwanted(c)) {
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
	/* Under the low watermark: allocate, on the worker's node. */
	while (arena_pool_needs_refill() && !kthread_should_stop()) {
		c = arena_chunk_new(numa_node_id(), NULL, ARENA_CHUNK_ORDER);
		if (IS_ERR(c)) {
			/*
			 * At the cap or out of memory: stop until arenas take
			 * from the pool again, a second from now at the
			 * earliest, rather than retrying every pass.
			 */
			arena_pool_refill_back_off();
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
		long timeout = atomic_long_read(&arena_pool_memcg_pooled) ?
			       msecs_to_jiffies(ARENA_POOL_MEMCG_IDLE_MS / 2) :
			       MAX_SCHEDULE_TIMEOUT;

		wait_event_interruptible_timeout(arena_worker_wq,
						 arena_worker_has_work() ||
						 kthread_should_stop(),
						 timeout);
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

	/* Memory is short: refill when arenas ask again, a second on. */
	arena_pool_refill_back_off();
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
