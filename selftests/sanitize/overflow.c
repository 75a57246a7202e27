// SPDX-License-Identifier: GPL-2.0
/*
 * Description: overflows inside an arena, for selftests/libarena_sanitize.sh
 * to run under AddressSanitizer (built with -fsanitize=address) and under
 * Valgrind's memcheck (built plainly). Each mode does one thing:
 *
 *   clean      allocates, writes every byte it owns, resets, frees, then
 *              5,000 short arenas one after another: no report
 *   overflow   writes one byte past a 16-byte object, into the next one's
 *              place (the next object is allocated: packed back to back it
 *              would be a valid address)
 *   tail       reads the run's unallocated byte after the newest object
 *   reset      writes to an object after arena_reset() of its arena
 *   aligned    overflows an arena_alloc_aligned() object by one byte
 *   shared     the overflow mode on an ARENA_THREADSAFE arena
 *
 * Exits 0 when nothing is reported (the tool's exit code otherwise).
 */
#include <stdio.h>
#include <string.h>

#include <libarena.h>

/* Keeps the compiler from proving anything about the access. */
static void touch(volatile char *p, char v)
{
	*p = v;
}

static char peek(volatile char *p)
{
	return *p;
}

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "clean";
	struct arena *a;
	char *x, *y;

	a = arena_new(!strcmp(mode, "shared") ? ARENA_THREADSAFE : 0);
	if (!a)
		return perror("arena_new"), 2;
	x = arena_alloc(a, 16);
	y = arena_alloc(a, 16);
	if (!x || !y)
		return perror("arena_alloc"), 2;
	memset(x, 'x', 16);
	memset(y, 'y', 16);
	if (!strcmp(mode, "clean")) {
		char *s = arena_strdup(a, "hello");
		char *z = arena_alloc_aligned(a, 100, 256);

		if (!s || !z)
			return 2;
		memset(z, 1, 100);
		touch(x + 15, peek(y));
		if (arena_reset(a))
			return 2;
		x = arena_alloc(a, 10);
		if (!x)
			return 2;
		memset(x, 0, 10);
		/*
		 * Thousands of short arenas: the mmap backend recycles freed
		 * chunks and their slots; the library's own zeroing must never
		 * touch memory the tool has poisoned.
		 */
		for (int i = 0; i < 5000; i++) {
			struct arena *b = arena_new(0);
			char *p = b ? arena_alloc(b, 100) : NULL;

			if (!p)
				return 2;
			p[0] = 1;
			arena_free(b);
		}
	} else if (!strcmp(mode, "overflow") || !strcmp(mode, "shared")) {
		touch(x + 16, 'o');
	} else if (!strcmp(mode, "tail")) {
		printf("%d\n", peek(y + 16));
	} else if (!strcmp(mode, "reset")) {
		if (arena_reset(a))
			return 2;
		touch(x, 'r');
	} else if (!strcmp(mode, "aligned")) {
		char *z = arena_alloc_aligned(a, 100, 256);

		if (!z)
			return 2;
		touch(z + 100, 'a');
	} else {
		fprintf(stderr, "unknown mode %s\n", mode);
		return 2;
	}
	arena_free(a);
	return 0;
}
