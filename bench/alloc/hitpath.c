// SPDX-License-Identifier: GPL-2.0
/*
 * The instructions one allocation costs, counted by callgrind on the host
 * (bench/alloc/hitpath.sh runs this under valgrind --tool=callgrind
 * --toggle-collect=FUNCTION, on the mmap backend: the hit path is the same
 * inline code on both backends). Each measured operation is a noinline
 * function, called CALLS times; the count per call includes its ret (and
 * the wrapper's own few instructions, which "empty" measures).
 *
 *   hitpath MODE SIZE      SIZE: a number, or "mixed" (16 to 4096 bytes,
 *                          the sizes of the throughput benchmark in turn)
 *   MODE  arena          arena_alloc(a, size), every call a hit
 *         arena_const    arena_alloc(a, 32) with the size known at compile
 *                        time (a struct), every call a hit
 *         arena_ts       arena_alloc on an ARENA_THREADSAFE arena (a call
 *                        and a compare-and-swap), every call a hit
 *         malloc         malloc(size) then free() of it: glibc's best case,
 *                        the tcache hit
 *         malloc_batch   100 malloc(size) then their 100 free(), per object
 *         empty          a wrapper that returns its argument
 *
 * Prints "calls=N": the number of measured calls.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libarena.h>

#define CALLS 100000
#define BATCH 100

static void *volatile sink;
static void *batch[BATCH];

__attribute__((noinline)) void *measure_arena(struct arena *a, size_t n)
{
	return arena_alloc(a, n);
}

__attribute__((noinline)) void *measure_arena_const(struct arena *a)
{
	return arena_alloc(a, 32);
}

__attribute__((noinline)) void measure_malloc(size_t n)
{
	void *p = malloc(n);

	sink = p;
	free(p);
}

__attribute__((noinline)) void measure_malloc_batch(const size_t *n)
{
	int i;

	for (i = 0; i < BATCH; i++)
		batch[i] = malloc(n[i]);
	for (i = 0; i < BATCH; i++)
		free(batch[i]);
}

__attribute__((noinline)) void *measure_empty(struct arena *a, size_t n)
{
	(void)n;
	return a;
}

static const size_t mixed[] = { 16, 64, 256, 1024, 4096 };

/* Room for the next request without a miss, else start over (unmeasured). */
static void ensure_room(struct arena *a, size_t n, int ts)
{
	struct arena_stats st;

	if (!ts && (size_t)(a->end_ - a->cur_) > n)
		return;
	if (ts && !arena_stats(a, &st) && st.available > n + 16)
		return;
	arena_reset(a);
	arena_alloc(a, 16);
}

int main(int argc, char **argv)
{
	static size_t sizes[CALLS];
	const char *mode;
	struct arena *a;
	long calls = CALLS, i;

	if (argc != 3) {
		fprintf(stderr, "usage: hitpath MODE SIZE|mixed\n");
		return 2;
	}
	mode = argv[1];
	for (i = 0; i < CALLS; i++)
		sizes[i] = strcmp(argv[2], "mixed") ? strtoul(argv[2], NULL, 0) :
			   mixed[i % 5];
	a = arena_new(strcmp(mode, "arena_ts") ? 0 : ARENA_THREADSAFE);
	if (!a) {
		perror("arena_new");
		return 1;
	}
	arena_alloc(a, 16);

	if (!strcmp(mode, "arena") || !strcmp(mode, "arena_ts")) {
		int ts = !strcmp(mode, "arena_ts");

		/* The threadsafe stats call is too slow to run every time. */
		for (i = 0; i < CALLS; i++) {
			if (!ts || i % 64 == 0)
				ensure_room(a, ts ? 64 * 4096 : sizes[i], ts);
			sink = measure_arena(a, sizes[i]);
		}
	} else if (!strcmp(mode, "arena_const")) {
		for (i = 0; i < CALLS; i++) {
			ensure_room(a, 32, 0);
			sink = measure_arena_const(a);
		}
	} else if (!strcmp(mode, "malloc")) {
		for (i = 0; i < CALLS; i++)
			measure_malloc(sizes[i]);
	} else if (!strcmp(mode, "malloc_batch")) {
		for (i = 0; i + BATCH <= CALLS; i += BATCH)
			measure_malloc_batch(&sizes[i]);
	} else if (!strcmp(mode, "empty")) {
		for (i = 0; i < CALLS; i++)
			sink = measure_empty(a, sizes[i]);
	} else {
		fprintf(stderr, "hitpath: unknown mode %s\n", mode);
		return 2;
	}
	arena_free(a);
	printf("calls=%ld\n", calls);
	return 0;
}
