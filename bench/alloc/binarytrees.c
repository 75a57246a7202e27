// SPDX-License-Identifier: GPL-2.0
/*
 * The Computer Language Benchmarks Game's binary-trees, single-threaded,
 * in three versions (bench/alloc/Makefile):
 *
 *   -DUSE_MALLOC   every node malloc()ed and free()d (the plain C version)
 *   -DUSE_APR      nodes from an APR pool, apr_pool_clear() after each
 *                  tree (the structure of the APR-pools C program)
 *   -DUSE_ARENA    nodes from an arena, arena_reset() after each tree
 *                  (the same structure; every freed node faults)
 *
 *   binarytrees_X [MAX_DEPTH [RUNS]]
 *                   depth: default 16 (12 with ARENA_BENCH_QUICK set); the
 *                   game uses 21. RUNS: default 3 (1 quick), the whole
 *                   program run that many times in one process.
 *
 * Prints the game's output (first run), then per run "@bt impl=...
 * depth=... run=N secs=... cpu_s=... kthread_s=... faults=...": wall time,
 * the process's CPU, the CPU of the module's kernel threads (comm "arena*")
 * until the pool has caught up with what the run freed, and page faults.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#include "../kentry.h"

#if defined(USE_ARENA)
#include <libarena.h>
#define IMPL "arena"
typedef struct arena pool_t;
#define node_alloc(pool) ((tree_node *)arena_alloc(pool, sizeof(tree_node)))
#elif defined(USE_APR)
#include <apr_general.h>
#include <apr_pools.h>
#define IMPL "apr"
typedef apr_pool_t pool_t;
#define node_alloc(pool) ((tree_node *)apr_palloc(pool, sizeof(tree_node)))
#else
#define IMPL "malloc"
typedef void pool_t;
#define node_alloc(pool) ((tree_node *)malloc(sizeof(tree_node)))
#endif

typedef struct tree_node {
	struct tree_node *left, *right;
} tree_node;

static tree_node *create_tree(int depth, pool_t *pool)
{
	tree_node *n = node_alloc(pool);

	if (!n) {
		perror("alloc");
		exit(1);
	}
	if (depth > 0) {
		n->left = create_tree(depth - 1, pool);
		n->right = create_tree(depth - 1, pool);
	} else {
		n->left = n->right = NULL;
	}
	return n;
}

static long check_tree(const tree_node *n)
{
	return n->left ? 1 + check_tree(n->left) + check_tree(n->right) : 1;
}

static pool_t *pool_new(void)
{
#if defined(USE_ARENA)
	struct arena *a = arena_new(0);

	if (!a) {
		perror("arena_new");
		exit(1);
	}
	return a;
#elif defined(USE_APR)
	apr_pool_t *p;

	if (apr_pool_create(&p, NULL) != APR_SUCCESS)
		exit(1);
	return p;
#else
	return NULL;
#endif
}

/* Free one tree: the pool's clear, or free() node by node. */
static void tree_done(tree_node *n, pool_t *pool)
{
#if defined(USE_ARENA)
	(void)n;
	if (arena_reset(pool)) {
		perror("arena_reset");
		exit(1);
	}
#elif defined(USE_APR)
	(void)n;
	apr_pool_clear(pool);
#else
	(void)pool;
	if (n->left) {
		tree_done(n->left, pool);
		tree_done(n->right, pool);
	}
	free(n);
#endif
}

static void pool_done(tree_node *n, pool_t *pool)
{
#if defined(USE_ARENA)
	(void)n;
	arena_free(pool);
#elif defined(USE_APR)
	(void)n;
	apr_pool_destroy(pool);
#else
	if (n)
		tree_done(n, pool);
#endif
}

#ifdef FORCE_MMAP
__attribute__((constructor)) static void force_mmap_backend(void)
{
	setenv("ARENA_BACKEND", "mmap", 1);
}
#endif

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static int verbose = 1;

static void run_once(int max_depth)
{
	int min_depth = 4, d;
	tree_node *t, *long_lived;
	pool_t *pool, *ll_pool;

	pool = pool_new();
	t = create_tree(max_depth + 1, pool);
	if (verbose)
		printf("stretch tree of depth %d\t check: %ld\n", max_depth + 1,
		       check_tree(t));
	pool_done(t, pool);

	ll_pool = pool_new();
	long_lived = create_tree(max_depth, ll_pool);

	for (d = min_depth; d <= max_depth; d += 2) {
		long iterations = 1L << (max_depth - d + min_depth), i, check = 0;

		pool = pool_new();
		for (i = 0; i < iterations; i++) {
			t = create_tree(d, pool);
			check += check_tree(t);
			tree_done(t, pool);
		}
		pool_done(NULL, pool);
		if (verbose)
			printf("%ld\t trees of depth %d\t check: %ld\n",
			       iterations, d, check);
	}
	if (verbose)
		printf("long lived tree of depth %d\t check: %ld\n", max_depth,
		       check_tree(long_lived));
	pool_done(long_lived, ll_pool);
}

int main(int argc, char **argv)
{
	int quick = getenv("ARENA_BENCH_QUICK") != NULL;
	int max_depth = argc > 1 ? atoi(argv[1]) : quick ? 12 : 16;
	int runs = argc > 2 ? atoi(argv[2]) : quick ? 1 : 3, r;
	const char *backend = "-";

#if defined(USE_APR)
	apr_initialize();
#elif defined(USE_ARENA)
	backend = arena_backend();
#endif
	if (max_depth < 6)
		max_depth = 6;
	for (r = 1; r <= runs; r++) {
		uint64_t c0, k0, k1;
		long f0;
		double t0, t;

		kentry_pool_settle(60);
		k0 = kthread_cpu_ns(NULL);
		f0 = page_faults();
		c0 = self_cpu_ns();
		t0 = now_s();
		run_once(max_depth);
		t = now_s() - t0;
		c0 = self_cpu_ns() - c0;
		f0 = page_faults() - f0;
		kentry_pool_settle(60);
		k1 = kthread_cpu_ns(NULL);
		verbose = 0;
		printf("@bt impl=%s backend=%s depth=%d run=%d secs=%.3f cpu_s=%.3f kthread_s=%.3f faults=%ld\n",
		       IMPL, backend ? backend : "none", max_depth, r, t,
		       c0 / 1e9, (k1 - k0) / 1e9, f0);
		fflush(stdout);
	}
	return 0;
}
