// SPDX-License-Identifier: MIT
/*
 * libarena-apr: APR 1.x pools on arenas.
 *
 * Defines the 45 pool and allocator functions libapr-1 exports (apr_pool_*,
 * apr_palloc, apr_pcalloc, apr_psprintf, apr_pvsprintf, apr_allocator_* and
 * the *_debug entry points) with APR's semantics, so that preloaded
 * (LD_PRELOAD=libarena-apr.so) or linked before libapr it replaces the
 * pools of APR itself (libapr calls its pool functions through the PLT)
 * and of every program and library using it.
 *
 * Each pool is an arena: apr_pool_clear() is arena_reset(),
 * apr_pool_destroy() arena_free(), so every byte a cleared or destroyed pool
 * had faults from then on. What must outlive a clear (the pool's header:
 * its place in the tree, its allocator, tag, abort function) is malloc'd;
 * what APR itself drops on a clear (cleanups, user data, subprocesses)
 * lives in the arena, as APR keeps it in the pool.
 *
 * Fork: arena memory is not inherited (the kernel maps the window
 * VM_DONTCOPY, the mmap backend MADV_DONTFORK), but an APR program's child
 * lives on its parent's pools (apr_proc_create() builds argv in them,
 * httpd's children read their configuration from them). So the pools'
 * used bytes are tracked as regions, and across fork() the parent copies
 * them into a staging mapping the child inherits; the child maps them at
 * the same addresses (plain memory there, released with PROT_NONE when the
 * pool is cleared or destroyed) and gives every pool a new arena for what
 * it allocates next.
 *
 * Threads as in APR: a pool belongs to one thread at a time; creating and
 * destroying pools (the tree) is safe from any thread (one global lock,
 * where APR locks the parent's allocator mutex); an allocator with a mutex
 * set (apr_allocator_mutex_set) is safe to share.
 *
 * The apr_pstr*() and apr_pmemdup() helpers stay libapr's: they call
 * apr_palloc() through the PLT and so allocate from these pools.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include <apr_pools.h>
#include <apr_allocator.h>
#include <apr_strings.h>
#include <apr_lib.h>
#include <apr_thread_mutex.h>
#include <apr_thread_proc.h>
#include <apr_time.h>
#include <apr_atomic.h>

#include "libarena.h"

#ifndef MADV_POPULATE_WRITE
#define MADV_POPULATE_WRITE 23
#endif

/* A macro over memset() in apr_pools.h; libapr exports the function. */
#undef apr_pcalloc
void *apr_pcalloc(apr_pool_t *pool, apr_size_t size);

#define EXPORT __attribute__((visibility("default")))

/* ---- the allocator ----------------------------------------------------- */

/* APR's node geometry: 4 KiB boundary, 8 KiB minimum node. */
#define BOUNDARY_INDEX	12
#define BOUNDARY_SIZE	(1UL << BOUNDARY_INDEX)
#define MIN_ALLOC	(2 * BOUNDARY_SIZE)
#define MAX_INDEX	20

struct apr_allocator_t {
	apr_thread_mutex_t *mutex;
	apr_pool_t *owner;
	/* In pages (BOUNDARY_SIZE); max 0: unlimited. */
	apr_size_t max_free_index;
	apr_size_t current_free_index;
	/*
	 * Nodes kept for reuse, binned by index as APR does: free[i] for
	 * 1 <= i < MAX_INDEX holds nodes of index i (i + 1 pages), free[0]
	 * (the sink) the larger ones; max_index is the highest non-empty bin.
	 */
	apr_size_t max_index;
	apr_memnode_t *free[MAX_INDEX];
};

static void alloc_lock(apr_allocator_t *al)
{
	if (al && al->mutex)
		apr_thread_mutex_lock(al->mutex);
}

static void alloc_unlock(apr_allocator_t *al)
{
	if (al && al->mutex)
		apr_thread_mutex_unlock(al->mutex);
}

static apr_size_t node_size(apr_size_t in_size)
{
	apr_size_t size = APR_ALIGN(in_size + APR_MEMNODE_T_SIZE, BOUNDARY_SIZE);

	if (size < in_size)
		return 0;
	if (size < MIN_ALLOC)
		size = MIN_ALLOC;
	return size;
}

EXPORT apr_status_t apr_allocator_create(apr_allocator_t **allocator)
{
	apr_allocator_t *al = calloc(1, sizeof(*al));

	*allocator = NULL;
	if (!al)
		return APR_ENOMEM;
	*allocator = al;
	return APR_SUCCESS;
}

static void node_release(apr_memnode_t *node)
{
	munmap(node, (size_t)(node->index + 1) << BOUNDARY_INDEX);
}

static void node_release_list(apr_memnode_t *node)
{
	apr_memnode_t *next;

	for (; node; node = next) {
		next = node->next;
		node_release(node);
	}
}

EXPORT void apr_allocator_destroy(apr_allocator_t *allocator)
{
	apr_size_t i;

	for (i = 0; i < MAX_INDEX; i++)
		node_release_list(allocator->free[i]);
	free(allocator);
}

EXPORT void apr_allocator_mutex_set(apr_allocator_t *allocator,
				    apr_thread_mutex_t *mutex)
{
	allocator->mutex = mutex;
}

EXPORT apr_thread_mutex_t *apr_allocator_mutex_get(apr_allocator_t *allocator)
{
	return allocator->mutex;
}

EXPORT void apr_allocator_owner_set(apr_allocator_t *allocator,
				    apr_pool_t *pool)
{
	allocator->owner = pool;
}

EXPORT apr_pool_t *apr_allocator_owner_get(apr_allocator_t *allocator)
{
	return allocator->owner;
}

EXPORT void apr_allocator_max_free_set(apr_allocator_t *allocator,
				       apr_size_t in_size)
{
	apr_size_t max_free_index;
	apr_size_t size = in_size;

	alloc_lock(allocator);
	max_free_index = APR_ALIGN(size, BOUNDARY_SIZE) >> BOUNDARY_INDEX;
	allocator->current_free_index += max_free_index;
	allocator->current_free_index -= allocator->max_free_index;
	allocator->max_free_index = max_free_index;
	if (allocator->current_free_index > max_free_index)
		allocator->current_free_index = max_free_index;
	alloc_unlock(allocator);
}

EXPORT apr_size_t apr_allocator_align(apr_allocator_t *allocator,
				      apr_size_t size)
{
	(void)allocator;
	return node_size(size);
}

/*
 * The smallest kept node of index >= @index, unlinked; NULL if none. Under
 * the allocator's lock. O(MAX_INDEX) for the binned sizes; the sink (nodes
 * of MAX_INDEX pages and more) is walked, stopping at an exact fit.
 */
static apr_memnode_t *node_take(apr_allocator_t *al, apr_size_t index)
{
	apr_memnode_t *node = NULL, **ref, **best = NULL;
	apr_size_t i;

	if (index < MAX_INDEX && index <= al->max_index) {
		for (i = index; i <= al->max_index; i++)
			if (al->free[i])
				break;
		if (i <= al->max_index) {
			node = al->free[i];
			al->free[i] = node->next;
			if (!al->free[i] && i == al->max_index) {
				while (al->max_index > 0 && !al->free[al->max_index])
					al->max_index--;
			}
		}
	}
	if (!node) {
		for (ref = &al->free[0]; *ref; ref = &(*ref)->next) {
			if ((*ref)->index < index)
				continue;
			if (!best || (*ref)->index < (*best)->index)
				best = ref;
			if ((*ref)->index == index)
				break;
		}
		if (best) {
			node = *best;
			*best = node->next;
		}
	}
	if (node) {
		al->current_free_index += node->index + 1;
		if (al->current_free_index > al->max_free_index)
			al->current_free_index = al->max_free_index;
	}
	return node;
}

EXPORT apr_memnode_t *apr_allocator_alloc(apr_allocator_t *allocator,
					  apr_size_t in_size)
{
	apr_size_t size = node_size(in_size), index;
	apr_memnode_t *node;

	if (!size)
		return NULL;
	index = (size >> BOUNDARY_INDEX) - 1;
	if (index > UINT32_MAX)
		return NULL;
	alloc_lock(allocator);
	node = node_take(allocator, index);
	alloc_unlock(allocator);
	if (!node) {
		void *m = mmap(NULL, size, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);

		if (m == MAP_FAILED)
			return NULL;
		node = m;
		node->index = (apr_uint32_t)index;
	}
	node->next = NULL;
	node->ref = NULL;
	node->free_index = 0;
	node->first_avail = (char *)node + APR_MEMNODE_T_SIZE;
	node->endp = (char *)node +
		     ((apr_size_t)node->index + 1) * BOUNDARY_SIZE;
	return node;
}

/*
 * Give back a list of nodes (linked through next). Kept for reuse while the
 * allocator holds less than its max_free; beyond that unmapped, so a stale
 * pointer into them faults.
 */
EXPORT void apr_allocator_free(apr_allocator_t *allocator, apr_memnode_t *node)
{
	apr_memnode_t *next, *release = NULL;
	apr_size_t i;

	alloc_lock(allocator);
	for (; node; node = next) {
		next = node->next;
		if (allocator->max_free_index != APR_ALLOCATOR_MAX_FREE_UNLIMITED &&
		    (apr_size_t)node->index + 1 > allocator->current_free_index) {
			node->next = release;
			release = node;
			continue;
		}
		i = node->index < MAX_INDEX ? node->index : 0;
		node->next = allocator->free[i];
		allocator->free[i] = node;
		if (i > allocator->max_index)
			allocator->max_index = i;
		if (allocator->current_free_index >= (apr_size_t)node->index + 1)
			allocator->current_free_index -= node->index + 1;
		else
			allocator->current_free_index = 0;
	}
	alloc_unlock(allocator);
	node_release_list(release);
}

/* ---- pools ------------------------------------------------------------- */

typedef struct cleanup_t {
	struct cleanup_t *next;
	const void *data;
	apr_status_t (*plain_cleanup_fn)(void *data);
	apr_status_t (*child_cleanup_fn)(void *data);
} cleanup_t;

struct process_chain {
	apr_proc_t *proc;
	apr_kill_conditions_e kill_how;
	struct process_chain *next;
};

struct userdata {
	struct userdata *next;
	const char *key;
	const void *data;
};

/* Bytes of a pool's arena in use: [start, end). */
struct region {
	char *start;
	char *end;
};

/* Page ranges inherited across fork(), released on clear/destroy. */
struct legacy {
	char *start;
	size_t len;
};

struct apr_pool_t {
	struct arena *arena;
	/* The tree, under tree_lock. */
	apr_pool_t *parent;
	apr_pool_t *child;
	apr_pool_t *sibling;
	apr_pool_t **ref;
	apr_pool_t *all_next, **all_ref;	/* every pool, for fork */
	apr_allocator_t *allocator;
	apr_abortfunc_t abort_fn;
	const char *tag;
	/* In the arena: dropped by a clear. */
	cleanup_t *cleanups;
	cleanup_t *free_cleanups;
	cleanup_t *pre_cleanups;
	struct process_chain *subprocesses;
	struct userdata *user_data;
	/* The arena's used regions (malloc'd); the last is the current one. */
	char *cur_start, *run_end;
	struct region *regs;
	size_t nregs, capregs;
	struct legacy *legacy;
	size_t nlegacy;
};

static pthread_mutex_t tree_lock = PTHREAD_MUTEX_INITIALIZER;
static apr_pool_t *all_pools;
static unsigned int pools_initialized;
static apr_pool_t *global_pool;
static apr_allocator_t *global_allocator;
static pthread_once_t atfork_once = PTHREAD_ONCE_INIT;

#define POOL_ARENA_FLAGS ARENA_NOZERO

static void atfork_register(void);

static void legacy_release(apr_pool_t *pool)
{
	size_t i;

	for (i = 0; i < pool->nlegacy; i++)
		mmap(pool->legacy[i].start, pool->legacy[i].len, PROT_NONE,
		     MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE | MAP_FIXED,
		     -1, 0);
	free(pool->legacy);
	pool->legacy = NULL;
	pool->nlegacy = 0;
}

static void regions_forget(apr_pool_t *pool)
{
	pool->nregs = 0;
	pool->cur_start = NULL;
	pool->run_end = NULL;
}

/*
 * Staging room for region @i of @pool at a fork: its bytes, and for the
 * last region, which other threads may still grow (lock-free, pool_alloc())
 * until the fork instant, the rest of its run: a thread can bump through
 * megabytes while the fork copies page tables. Under tree_lock.
 */
static size_t region_room(const apr_pool_t *pool, size_t i)
{
	const struct region *r = &pool->regs[i];
	char *end = __atomic_load_n(&r->end, __ATOMIC_RELAXED);

	if (i == pool->nregs - 1 && pool->run_end > end)
		end = pool->run_end;
	return end - r->start;
}

/* A new region at @p (up to @e used): out of line, under tree_lock. */
static __attribute__((noinline)) void region_new(apr_pool_t *pool, char *p,
						 char *e)
{
	char *cur = pool->arena->cur_, *run_end = pool->arena->end_;
	size_t size = e - p;

	/*
	 * The run the fast path bumps through, if @p came from it (the cursor
	 * is right after it); else @p has a run of its own (a large
	 * allocation), and the region is just its bytes.
	 */
	if (!cur || cur != p + ((size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1)) ||
	    run_end < cur)
		run_end = e;
	pthread_mutex_lock(&tree_lock);
	if (pool->nregs == pool->capregs) {
		size_t cap = pool->capregs ? 2 * pool->capregs : 8;
		struct region *r = realloc(pool->regs, cap * sizeof(*r));

		if (!r) {
			/* Untracked: lost in a fork child, nothing else. */
			pthread_mutex_unlock(&tree_lock);
			return;
		}
		pool->regs = r;
		pool->capregs = cap;
	}
	pool->regs[pool->nregs].start = p;
	pool->regs[pool->nregs].end = e;
	pool->nregs++;
	pool->cur_start = p;
	pool->run_end = run_end;
	pthread_mutex_unlock(&tree_lock);
}

static void *pool_alloc(apr_pool_t *pool, apr_size_t size)
{
	char *p, *e;

	p = arena_alloc(pool->arena, size);
	if (__builtin_expect(!p, 0)) {
		if (pool->abort_fn)
			pool->abort_fn(APR_ENOMEM);
		return NULL;
	}
	e = p + size;
	if (__builtin_expect(p >= pool->cur_start && e <= pool->run_end, 1)) {
		struct region *r = &pool->regs[pool->nregs - 1];

		if (e > r->end)
			r->end = e;
	} else {
		region_new(pool, p, e);
	}
	return p;
}

EXPORT void *apr_palloc(apr_pool_t *pool, apr_size_t size)
{
	return pool_alloc(pool, size);
}

EXPORT void *apr_pcalloc(apr_pool_t *pool, apr_size_t size)
{
	void *p = pool_alloc(pool, size);

	if (p)
		memset(p, 0, size);
	return p;
}

EXPORT void *apr_palloc_debug(apr_pool_t *pool, apr_size_t size,
			      const char *file_line)
{
	(void)file_line;
	return apr_palloc(pool, size);
}

EXPORT void *apr_pcalloc_debug(apr_pool_t *pool, apr_size_t size,
			       const char *file_line)
{
	(void)file_line;
	return apr_pcalloc(pool, size);
}

static void run_cleanups(cleanup_t **cref)
{
	cleanup_t *c = *cref;

	while (c) {
		*cref = c->next;
		(*c->plain_cleanup_fn)((void *)c->data);
		c = *cref;
	}
}

#define TIMEOUT_USECS		3000000
#define TIMEOUT_INTERVAL	46875

static void free_proc_chain(struct process_chain *procs)
{
	struct process_chain *pc;
	int need_timeout = 0;
	apr_time_t interval;

	if (!procs)
		return;
	for (pc = procs; pc; pc = pc->next)
		if (apr_proc_wait(pc->proc, NULL, NULL, APR_NOWAIT) != APR_CHILD_NOTDONE)
			pc->kill_how = APR_KILL_NEVER;
	for (pc = procs; pc; pc = pc->next) {
		if (pc->kill_how == APR_KILL_AFTER_TIMEOUT ||
		    pc->kill_how == APR_KILL_ONLY_ONCE) {
			if (apr_proc_kill(pc->proc, SIGTERM) == APR_SUCCESS)
				need_timeout = 1;
		} else if (pc->kill_how == APR_KILL_ALWAYS) {
			apr_proc_kill(pc->proc, SIGKILL);
		}
	}
	if (need_timeout) {
		interval = TIMEOUT_INTERVAL;
		apr_sleep(interval);
		do {
			need_timeout = 0;
			for (pc = procs; pc; pc = pc->next) {
				if (pc->kill_how != APR_KILL_AFTER_TIMEOUT)
					continue;
				if (apr_proc_wait(pc->proc, NULL, NULL, APR_NOWAIT) ==
				    APR_CHILD_NOTDONE)
					need_timeout = 1;
				else
					pc->kill_how = APR_KILL_NEVER;
			}
			if (need_timeout) {
				if (interval >= TIMEOUT_USECS)
					break;
				apr_sleep(interval);
				interval *= 2;
			}
		} while (need_timeout);
	}
	for (pc = procs; pc; pc = pc->next)
		if (pc->kill_how == APR_KILL_AFTER_TIMEOUT)
			apr_proc_kill(pc->proc, SIGKILL);
	for (pc = procs; pc; pc = pc->next)
		if (pc->kill_how != APR_KILL_NEVER)
			(void)apr_proc_wait(pc->proc, NULL, NULL, APR_WAIT);
}

/*
 * Pre-cleanups registered while a clear ran the cleanups (by a plain
 * cleanup, or a child's): APR keeps them for the next clear or destroy,
 * their records in the node it reuses. Ours are in the arena the clear
 * resets, so the clear copies them out first (malloc'd, in list order;
 * without memory they are dropped, as a destroy would drop them) and
 * registers them again after the reset, in the same order.
 */
static cleanup_t *pre_cleanups_take(apr_pool_t *pool, size_t *n)
{
	cleanup_t *c, *out;
	size_t i = 0;

	for (c = pool->pre_cleanups; c; c = c->next)
		i++;
	out = i ? malloc(i * sizeof(*out)) : NULL;
	*n = out ? i : 0;
	for (c = pool->pre_cleanups, i = 0; out && c; c = c->next)
		out[i++] = *c;
	pool->pre_cleanups = NULL;
	return out;
}

static void pre_cleanups_give(apr_pool_t *pool, cleanup_t *kept, size_t n)
{
	while (n--)
		apr_pool_pre_cleanup_register(pool, kept[n].data,
					      kept[n].plain_cleanup_fn);
	free(kept);
}

EXPORT void apr_pool_clear(apr_pool_t *pool)
{
	cleanup_t *kept;
	size_t nkept;

	run_cleanups(&pool->pre_cleanups);
	pool->pre_cleanups = NULL;
	while (pool->child)
		apr_pool_destroy(pool->child);
	run_cleanups(&pool->cleanups);
	pool->cleanups = NULL;
	pool->free_cleanups = NULL;
	free_proc_chain(pool->subprocesses);
	pool->subprocesses = NULL;
	pool->user_data = NULL;
	kept = pre_cleanups_take(pool, &nkept);

	/* No fork copies the regions once the reset has begun. */
	pthread_mutex_lock(&tree_lock);
	regions_forget(pool);
	pthread_mutex_unlock(&tree_lock);
	/* Everything the pool handed out faults from here on. */
	if (arena_reset(pool->arena) < 0) {
		struct arena *a = arena_new(POOL_ARENA_FLAGS);

		if (a) {
			arena_free(pool->arena);
			pool->arena = a;
		}
	}
	legacy_release(pool);
	pre_cleanups_give(pool, kept, nkept);
}

EXPORT void apr_pool_destroy(apr_pool_t *pool)
{
	apr_allocator_t *allocator;

	run_cleanups(&pool->pre_cleanups);
	pool->pre_cleanups = NULL;
	while (pool->child)
		apr_pool_destroy(pool->child);
	run_cleanups(&pool->cleanups);
	free_proc_chain(pool->subprocesses);

	pthread_mutex_lock(&tree_lock);
	if (pool->parent) {
		if ((*pool->ref = pool->sibling) != NULL)
			pool->sibling->ref = pool->ref;
	}
	if ((*pool->all_ref = pool->all_next) != NULL)
		pool->all_next->all_ref = pool->all_ref;
	pthread_mutex_unlock(&tree_lock);

	allocator = pool->allocator;
	if (allocator && allocator->owner == pool)
		allocator->mutex = NULL;	/* destroyed by its cleanup */

	arena_free(pool->arena);
	legacy_release(pool);
	free(pool->regs);
	if (pool == global_pool)
		global_pool = NULL;
	free(pool);

	if (allocator && allocator->owner == pool)
		apr_allocator_destroy(allocator);
}

static apr_status_t pool_new(apr_pool_t **newpool, apr_pool_t *parent,
			     apr_abortfunc_t abort_fn, apr_allocator_t *allocator)
{
	apr_pool_t *pool = calloc(1, sizeof(*pool));

	if (pool)
		pool->arena = arena_new(POOL_ARENA_FLAGS);
	if (!pool || !pool->arena) {
		free(pool);
		if (abort_fn)
			abort_fn(APR_ENOMEM);
		return APR_ENOMEM;
	}
	pthread_once(&atfork_once, atfork_register);
	pool->allocator = allocator;
	pool->abort_fn = abort_fn;
	pthread_mutex_lock(&tree_lock);
	if ((pool->parent = parent) != NULL) {
		if ((pool->sibling = parent->child) != NULL)
			pool->sibling->ref = &pool->sibling;
		parent->child = pool;
		pool->ref = &parent->child;
	}
	if ((pool->all_next = all_pools) != NULL)
		all_pools->all_ref = &pool->all_next;
	all_pools = pool;
	pool->all_ref = &all_pools;
	pthread_mutex_unlock(&tree_lock);
	*newpool = pool;
	return APR_SUCCESS;
}

EXPORT apr_status_t apr_pool_create_ex(apr_pool_t **newpool, apr_pool_t *parent,
				       apr_abortfunc_t abort_fn,
				       apr_allocator_t *allocator)
{
	*newpool = NULL;
	if (!parent)
		parent = global_pool;
	if (!abort_fn && parent)
		abort_fn = parent->abort_fn;
	if (!allocator) {
		if (!parent)
			return APR_ENOPOOL;
		allocator = parent->allocator;
	}
	return pool_new(newpool, parent, abort_fn, allocator);
}

EXPORT apr_status_t apr_pool_create_unmanaged_ex(apr_pool_t **newpool,
						 apr_abortfunc_t abort_fn,
						 apr_allocator_t *allocator)
{
	apr_allocator_t *al = allocator;
	apr_status_t rv;

	*newpool = NULL;
	if (!pools_initialized)
		return APR_ENOPOOL;
	if (!al && apr_allocator_create(&al) != APR_SUCCESS) {
		if (abort_fn)
			abort_fn(APR_ENOMEM);
		return APR_ENOMEM;
	}
	rv = pool_new(newpool, NULL, abort_fn, al);
	if (rv != APR_SUCCESS) {
		if (!allocator)
			apr_allocator_destroy(al);
		return rv;
	}
	if (!allocator)
		al->owner = *newpool;
	return APR_SUCCESS;
}

EXPORT apr_status_t apr_pool_create_core_ex(apr_pool_t **newpool,
					    apr_abortfunc_t abort_fn,
					    apr_allocator_t *allocator)
{
	return apr_pool_create_unmanaged_ex(newpool, abort_fn, allocator);
}

EXPORT apr_status_t apr_pool_create_ex_debug(apr_pool_t **newpool,
					     apr_pool_t *parent,
					     apr_abortfunc_t abort_fn,
					     apr_allocator_t *allocator,
					     const char *file_line)
{
	(void)file_line;
	return apr_pool_create_ex(newpool, parent, abort_fn, allocator);
}

EXPORT apr_status_t apr_pool_create_core_ex_debug(apr_pool_t **newpool,
						  apr_abortfunc_t abort_fn,
						  apr_allocator_t *allocator,
						  const char *file_line)
{
	(void)file_line;
	return apr_pool_create_unmanaged_ex(newpool, abort_fn, allocator);
}

EXPORT apr_status_t apr_pool_create_unmanaged_ex_debug(apr_pool_t **newpool,
						       apr_abortfunc_t abort_fn,
						       apr_allocator_t *allocator,
						       const char *file_line)
{
	(void)file_line;
	return apr_pool_create_unmanaged_ex(newpool, abort_fn, allocator);
}

EXPORT void apr_pool_clear_debug(apr_pool_t *pool, const char *file_line)
{
	(void)file_line;
	apr_pool_clear(pool);
}

EXPORT void apr_pool_destroy_debug(apr_pool_t *pool, const char *file_line)
{
	(void)file_line;
	apr_pool_destroy(pool);
}

EXPORT apr_status_t apr_pool_initialize(void)
{
	apr_status_t rv;
	apr_thread_mutex_t *mutex;

	if (pools_initialized++)
		return APR_SUCCESS;
	rv = apr_allocator_create(&global_allocator);
	if (rv != APR_SUCCESS)
		goto fail;
	rv = apr_pool_create_ex(&global_pool, NULL, NULL, global_allocator);
	if (rv != APR_SUCCESS) {
		apr_allocator_destroy(global_allocator);
		global_allocator = NULL;
		goto fail;
	}
	apr_pool_tag(global_pool, "apr_global_pool");
	rv = apr_atomic_init(global_pool);
	if (rv != APR_SUCCESS)
		return rv;
	rv = apr_thread_mutex_create(&mutex, APR_THREAD_MUTEX_DEFAULT, global_pool);
	if (rv != APR_SUCCESS)
		return rv;
	apr_allocator_mutex_set(global_allocator, mutex);
	apr_allocator_owner_set(global_allocator, global_pool);
	return APR_SUCCESS;
fail:
	pools_initialized = 0;
	return rv;
}

EXPORT void apr_pool_terminate(void)
{
	if (!pools_initialized)
		return;
	if (--pools_initialized)
		return;
	if (global_pool)
		apr_pool_destroy(global_pool);	/* destroys global_allocator */
	global_pool = NULL;
	global_allocator = NULL;
}

/* ---- printf ------------------------------------------------------------ */

struct psprintf_data {
	apr_vformatter_buff_t vbuff;
	char *buf;		/* malloc'd once the stack buffer is full */
	size_t size;
	char *stack;
};

static int psprintf_flush(apr_vformatter_buff_t *vbuff)
{
	struct psprintf_data *ps = (struct psprintf_data *)vbuff;
	size_t len = ps->vbuff.curpos - (ps->buf ? ps->buf : ps->stack);
	size_t size = 2 * ps->size;
	char *n;

	if (size < ps->size)
		return -1;
	n = ps->buf ? realloc(ps->buf, size) : malloc(size);
	if (!n)
		return -1;
	if (!ps->buf)
		memcpy(n, ps->stack, len);
	ps->buf = n;
	ps->size = size;
	ps->vbuff.curpos = n + len;
	ps->vbuff.endpos = n + size - 1;	/* a byte for the NUL */
	return 0;
}

EXPORT char *apr_pvsprintf(apr_pool_t *pool, const char *fmt, va_list ap)
{
	char stack[512];
	struct psprintf_data ps = { .buf = NULL, .size = sizeof(stack),
				    .stack = stack };
	char *start, *s;
	size_t len;

	ps.vbuff.curpos = stack;
	ps.vbuff.endpos = stack + sizeof(stack) - 1;
	if (apr_vformatter(psprintf_flush, &ps.vbuff, fmt, ap) == -1) {
		free(ps.buf);
		if (pool->abort_fn)
			pool->abort_fn(APR_ENOMEM);
		return NULL;
	}
	start = ps.buf ? ps.buf : stack;
	len = ps.vbuff.curpos - start;
	s = pool_alloc(pool, len + 1);
	if (s) {
		memcpy(s, start, len);
		s[len] = '\0';
	}
	free(ps.buf);
	return s;
}

EXPORT char *apr_psprintf(apr_pool_t *pool, const char *fmt, ...)
{
	va_list ap;
	char *s;

	va_start(ap, fmt);
	s = apr_pvsprintf(pool, fmt, ap);
	va_end(ap);
	return s;
}

/* ---- accessors --------------------------------------------------------- */

EXPORT void apr_pool_abort_set(apr_abortfunc_t abort_fn, apr_pool_t *pool)
{
	pool->abort_fn = abort_fn;
}

EXPORT apr_abortfunc_t apr_pool_abort_get(apr_pool_t *pool)
{
	return pool->abort_fn;
}

EXPORT apr_pool_t *apr_pool_parent_get(apr_pool_t *pool)
{
	return pool->parent;
}

EXPORT apr_allocator_t *apr_pool_allocator_get(apr_pool_t *pool)
{
	return pool->allocator;
}

/* 1 if @a is @b or an ancestor of it; NULL is everyone's ancestor. */
EXPORT int apr_pool_is_ancestor(apr_pool_t *a, apr_pool_t *b)
{
	if (!a)
		return 1;
	for (; b; b = b->parent)
		if (a == b)
			return 1;
	return 0;
}

EXPORT void apr_pool_tag(apr_pool_t *pool, const char *tag)
{
	pool->tag = tag;
}

/* ---- user data --------------------------------------------------------- */

static struct userdata *userdata_find(apr_pool_t *pool, const char *key)
{
	struct userdata *u;

	for (u = pool->user_data; u; u = u->next)
		if (!strcmp(u->key, key))
			return u;
	return NULL;
}

static apr_status_t userdata_set(const void *data, const char *key,
				 apr_status_t (*cleanup)(void *),
				 apr_pool_t *pool, int copy)
{
	struct userdata *u = userdata_find(pool, key);

	if (!u) {
		u = pool_alloc(pool, sizeof(*u));
		if (!u)
			return APR_ENOMEM;
		if (copy) {
			size_t n = strlen(key) + 1;
			char *k = pool_alloc(pool, n);

			if (!k)
				return APR_ENOMEM;
			memcpy(k, key, n);
			key = k;
		}
		u->key = key;
		u->next = pool->user_data;
		pool->user_data = u;
	}
	u->data = data;
	if (cleanup)
		apr_pool_cleanup_register(pool, data, cleanup, cleanup);
	return APR_SUCCESS;
}

EXPORT apr_status_t apr_pool_userdata_set(const void *data, const char *key,
					  apr_status_t (*cleanup)(void *),
					  apr_pool_t *pool)
{
	return userdata_set(data, key, cleanup, pool, 1);
}

EXPORT apr_status_t apr_pool_userdata_setn(const void *data, const char *key,
					   apr_status_t (*cleanup)(void *),
					   apr_pool_t *pool)
{
	return userdata_set(data, key, cleanup, pool, 0);
}

EXPORT apr_status_t apr_pool_userdata_get(void **data, const char *key,
					  apr_pool_t *pool)
{
	struct userdata *u = userdata_find(pool, key);

	*data = u ? (void *)u->data : NULL;
	return APR_SUCCESS;
}

/* ---- cleanups ---------------------------------------------------------- */

static cleanup_t *cleanup_get(apr_pool_t *p)
{
	cleanup_t *c = p->free_cleanups;

	if (c) {
		p->free_cleanups = c->next;
		return c;
	}
	return pool_alloc(p, sizeof(cleanup_t));
}

EXPORT void apr_pool_cleanup_register(apr_pool_t *p, const void *data,
				      apr_status_t (*plain_cleanup_fn)(void *),
				      apr_status_t (*child_cleanup_fn)(void *))
{
	cleanup_t *c;

	if (!p || !(c = cleanup_get(p)))
		return;
	c->data = data;
	c->plain_cleanup_fn = plain_cleanup_fn;
	c->child_cleanup_fn = child_cleanup_fn;
	c->next = p->cleanups;
	p->cleanups = c;
}

EXPORT void apr_pool_pre_cleanup_register(apr_pool_t *p, const void *data,
					  apr_status_t (*plain_cleanup_fn)(void *))
{
	cleanup_t *c;

	if (!p || !(c = cleanup_get(p)))
		return;
	c->data = data;
	c->plain_cleanup_fn = plain_cleanup_fn;
	c->child_cleanup_fn = NULL;
	c->next = p->pre_cleanups;
	p->pre_cleanups = c;
}

static void cleanup_kill_in(apr_pool_t *p, cleanup_t **lastp, const void *data,
			    apr_status_t (*fn)(void *))
{
	cleanup_t *c;

	for (c = *lastp; c; lastp = &c->next, c = c->next) {
		if (c->data == data && c->plain_cleanup_fn == fn) {
			*lastp = c->next;
			c->next = p->free_cleanups;
			p->free_cleanups = c;
			return;
		}
	}
}

EXPORT void apr_pool_cleanup_kill(apr_pool_t *p, const void *data,
				  apr_status_t (*cleanup_fn)(void *))
{
	if (!p)
		return;
	cleanup_kill_in(p, &p->cleanups, data, cleanup_fn);
	cleanup_kill_in(p, &p->pre_cleanups, data, cleanup_fn);
}

EXPORT void apr_pool_child_cleanup_set(apr_pool_t *p, const void *data,
				       apr_status_t (*plain_cleanup_fn)(void *),
				       apr_status_t (*child_cleanup_fn)(void *))
{
	cleanup_t *c;

	if (!p)
		return;
	for (c = p->cleanups; c; c = c->next) {
		if (c->data == data && c->plain_cleanup_fn == plain_cleanup_fn) {
			c->child_cleanup_fn = child_cleanup_fn;
			break;
		}
	}
}

EXPORT apr_status_t apr_pool_cleanup_run(apr_pool_t *p, void *data,
					 apr_status_t (*cleanup_fn)(void *))
{
	apr_pool_cleanup_kill(p, data, cleanup_fn);
	return (*cleanup_fn)(data);
}

static void cleanup_pool_for_exec(apr_pool_t *p)
{
	cleanup_t *c;

	/* As APR: each child cleanup runs once, and leaves the list. */
	while ((c = p->cleanups) != NULL) {
		p->cleanups = c->next;
		(*c->child_cleanup_fn)((void *)c->data);
	}
	for (p = p->child; p; p = p->sibling)
		cleanup_pool_for_exec(p);
}

EXPORT void apr_pool_cleanup_for_exec(void)
{
	if (global_pool)
		cleanup_pool_for_exec(global_pool);
}

EXPORT apr_status_t apr_pool_cleanup_null(void *data)
{
	(void)data;
	return APR_SUCCESS;
}

EXPORT void apr_pool_note_subprocess(apr_pool_t *pool, apr_proc_t *proc,
				     apr_kill_conditions_e how)
{
	struct process_chain *pc = pool_alloc(pool, sizeof(*pc));

	if (!pc)
		return;
	pc->proc = proc;
	pc->kill_how = how;
	pc->next = pool->subprocesses;
	pool->subprocesses = pc;
}

/* ---- fork -------------------------------------------------------------- */

/*
 * prepare (in the parent, before libarena's own handler): take tree_lock,
 * which every change of the regions, every clear and every destroy needs,
 * and lay out one shared staging mapping: a header with a robust,
 * process-shared mutex the parent holds until it has copied, a record per
 * region (pool, start, room: its bytes, and the rest of its run for the
 * region other threads may still grow), then room for the bytes
 * (MAP_NORESERVE: only what is copied is touched). No byte is copied yet:
 * other threads go on bumping until the fork instant.
 *
 * parent (after the fork): copy each region's bytes as they are now (each
 * end read once, as other threads may still be bumping it; never less
 * than at the fork instant, since nothing can clear or forget a region
 * while tree_lock is held), one after the other, and its length into its
 * record; mark the header done and unlock; unmap, release tree_lock.
 *
 * child (after libarena's handler has put a PROT_NONE reservation over
 * the lost window): lock the header's mutex, which returns when the parent
 * has copied, or with EOWNERDEAD when it died first (then it cannot have
 * its pools); map each region's pages at their addresses and copy its
 * bytes up to the region's end as the child inherited it (the fork
 * instant's); unmap the staging, give each pool a new arena
 * and its inherited pages to release on clear/destroy.
 *
 * So every pool's extent is the fork instant's, as for a copy-on-write
 * child of stock APR; bytes that other threads write into existing
 * objects while the parent copies may reach the child as newer values
 * (libarena-apr(7), BUGS). No file descriptor, and the parent never waits
 * on the child: fork() works with every descriptor in use, and a child
 * that stops or dies costs the parent nothing (a child waits while its
 * parent is stopped before the copy). If prepare cannot have the mapping,
 * or the child cannot have its pools, the child says so and exits with
 * status 127 (libarena-apr(7)); the parent goes on.
 */
struct fork_rec {
	apr_pool_t *pool;
	size_t reg;		/* index in pool->regs */
	char *start;
	size_t room;		/* staging bytes for it */
	size_t len;		/* bytes copied, set by the parent */
};

struct fork_hdr {
	pthread_mutex_t lock;	/* robust, shared: held by the parent */
	int done;		/* the parent has copied */
	size_t n;		/* records */
};

static struct {
	char *buf;		/* the staging mapping: header, records, bytes */
	size_t len;
	int failed;		/* regions to carry, and no staging for them */
} fk;

/* The header and records, rounded up: where the bytes begin. */
static size_t fork_hdr_len(size_t n)
{
	size_t hdr = sizeof(struct fork_hdr) + n * sizeof(struct fork_rec);

	return (hdr + 15) & ~(size_t)15;
}

/*
 * The staging header's mutex, process-shared and robust, locked: the child
 * waits on it for the parent's copy, and gets EOWNERDEAD if the parent dies
 * first (a pid test would not do: in a new pid namespace getppid() is 0).
 */
static int fork_lock_init(pthread_mutex_t *m)
{
	pthread_mutexattr_t at;
	int err;

	if (pthread_mutexattr_init(&at))
		return -1;
	err = pthread_mutexattr_setpshared(&at, PTHREAD_PROCESS_SHARED) ||
	      pthread_mutexattr_setrobust(&at, PTHREAD_MUTEX_ROBUST) ||
	      pthread_mutex_init(m, &at);
	pthread_mutexattr_destroy(&at);
	if (err)
		return -1;
	if (pthread_mutex_lock(m)) {
		pthread_mutex_destroy(m);
		return -1;
	}
	return 0;
}

static void fork_prepare(void)
{
	struct fork_hdr *h;
	struct fork_rec *r;
	apr_pool_t *p;
	size_t n = 0, bytes = 0, used = 0, hdr, i;
	char *b;

	pthread_mutex_lock(&tree_lock);
	fk.buf = NULL;
	fk.len = 0;
	fk.failed = 0;
	/* The number of regions only changes under tree_lock. */
	for (p = all_pools; p; p = p->all_next) {
		n += p->nregs;
		for (i = 0; i < p->nregs; i++) {
			bytes += region_room(p, i);
			used += p->regs[i].end - p->regs[i].start;
		}
	}
	if (!n)
		return;
	hdr = fork_hdr_len(n);
	b = mmap(NULL, hdr + bytes, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (b == MAP_FAILED) {
		fk.failed = 1;
		return;
	}
	/*
	 * The pages the copy will fill, in one go: faulting them in one by
	 * one costs more (Linux 5.14; elsewhere they fault as they are
	 * written).
	 */
	madvise(b, hdr + used, MADV_POPULATE_WRITE);
	fk.buf = b;
	fk.len = hdr + bytes;
	h = (struct fork_hdr *)b;
	if (fork_lock_init(&h->lock)) {
		munmap(b, fk.len);
		fk.buf = NULL;
		fk.failed = 1;
		return;
	}
	h->done = 0;
	h->n = n;
	r = (struct fork_rec *)(h + 1);
	for (p = all_pools; p; p = p->all_next)
		for (i = 0; i < p->nregs; i++, r++) {
			r->pool = p;
			r->reg = i;
			r->start = p->regs[i].start;
			r->room = region_room(p, i);
			r->len = 0;
		}
}

static void fork_parent(void)
{
	struct fork_hdr *h = (struct fork_hdr *)fk.buf;
	struct fork_rec *r;
	size_t i;
	char *b;

	if (h) {
		r = (struct fork_rec *)(h + 1);
		b = fk.buf + fork_hdr_len(h->n);
		for (i = 0; i < h->n; i++, r++) {
			char *end = __atomic_load_n(&r->pool->regs[r->reg].end,
						    __ATOMIC_RELAXED);
			size_t len = end - r->start;

			if (len > r->room)
				len = r->room;
			memcpy(b, r->start, len);
			r->len = len;
			b += len;
		}
		h->done = 1;
		pthread_mutex_unlock(&h->lock);
		munmap(fk.buf, fk.len);
	}
	fk.buf = NULL;
	pthread_mutex_unlock(&tree_lock);
}

/*
 * In the child: nonzero once the parent's copy is there. The mutex is
 * unlocked again before the mapping goes: a robust mutex sits on its
 * owner's robust list, which must not point into unmapped memory.
 */
static int fork_wait_copy(struct fork_hdr *h)
{
	int err = pthread_mutex_lock(&h->lock), done;

	if (err && err != EOWNERDEAD)
		return 0;
	done = __atomic_load_n(&h->done, __ATOMIC_ACQUIRE);
	if (err == EOWNERDEAD)
		pthread_mutex_consistent(&h->lock);
	pthread_mutex_unlock(&h->lock);
	return done;
}

static size_t page_size(void)
{
	static size_t ps;

	if (!ps)
		ps = (size_t)sysconf(_SC_PAGESIZE);
	return ps;
}

static int legacy_add(apr_pool_t *p, char *start, size_t len)
{
	struct legacy *l;

	if (p->nlegacy) {
		l = &p->legacy[p->nlegacy - 1];
		/* Same or next page of the last range: grow it. */
		if (start >= l->start && start <= l->start + l->len) {
			if (start + len > l->start + l->len)
				l->len = start + len - l->start;
			return 1;
		}
		if (start + len <= l->start + l->len && start >= l->start)
			return 1;
	}
	l = realloc(p->legacy, (p->nlegacy + 1) * sizeof(*l));
	if (!l)
		return 0;
	p->legacy = l;
	l[p->nlegacy].start = start;
	l[p->nlegacy].len = len;
	p->nlegacy++;
	return 1;
}

static void fork_child(void)
{
	size_t ps = page_size(), i, n = 0;
	struct fork_hdr *h = (struct fork_hdr *)fk.buf;
	struct fork_rec *r = NULL;
	apr_pool_t *p;
	char *b = NULL;
	int fail = fk.failed;

	if (h) {
		n = h->n;
		r = (struct fork_rec *)(h + 1);
		b = fk.buf + fork_hdr_len(n);
		if (!fork_wait_copy(h))
			fail = 1;
	}
	/* Map every region's pages (regions of a pool may share one). */
	for (i = 0; i < n && !fail; i++) {
		char *s = (char *)((uintptr_t)r[i].start & ~(ps - 1));
		char *end = r[i].pool->regs[r[i].reg].end;
		char *e = (char *)(((uintptr_t)end + ps - 1) & ~(ps - 1));
		struct legacy *l;

		p = r[i].pool;
		l = p->nlegacy ? &p->legacy[p->nlegacy - 1] : NULL;
		if (e == s)
			continue;
		/* Skip pages the pool's last range already maps. */
		if (l && s < l->start + l->len && s >= l->start)
			s = l->start + l->len;
		if (s < e && mmap(s, e - s, PROT_READ | PROT_WRITE,
				  MAP_PRIVATE | MAP_ANONYMOUS | MAP_FIXED,
				  -1, 0) == MAP_FAILED)
			fail = 1;
		else if (s < e && !legacy_add(p, s, e - s))
			fail = 1;
	}
	/* Then the bytes, once every page is mapped, as far as we know them. */
	for (i = 0; i < n && !fail; i++) {
		size_t want = r[i].pool->regs[r[i].reg].end - r[i].start;

		if (want > r[i].len)
			fail = 1;
		else
			memcpy(r[i].start, b, want);
		b += r[i].len;
	}
	if (fk.buf)
		munmap(fk.buf, fk.len);
	fk.buf = NULL;
	/* The inherited arenas are dead (ECHILD): a new one for each pool. */
	for (p = all_pools; p; p = p->all_next) {
		p->arena = arena_new(POOL_ARENA_FLAGS);
		regions_forget(p);
		if (!p->arena)
			fail = 1;
	}
	pthread_mutex_unlock(&tree_lock);
	if (fail) {
		static const char msg[] =
			"libarena-apr: cannot carry the pools across fork\n";

		if (write(2, msg, sizeof(msg) - 1) < 0)
			_exit(127);
		_exit(127);
	}
}

static void atfork_register(void)
{
	pthread_atfork(fork_prepare, fork_parent, fork_child);
}
