// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the compiler sees the size of arena objects (libarena.h's
 * alloc_size attributes), built by selftests/libarena_sanitize.sh with
 * -O2 -D_FORTIFY_SOURCE=3. Modes:
 *
 *   sizes    prints __builtin_dynamic_object_size() of an ARENA_NEW_ARRAY()
 *            of 5 ints, an arena_alloc_aligned() of 100 bytes, an
 *            arena_calloc() of 3 x 7 and an arena_memdup() of 9 bytes
 *   array    memcpy()s one int too many into ARENA_NEW_ARRAY(a, int, 5)
 *   aligned  memcpy()s 101 bytes into arena_alloc_aligned(a, 100, 64)
 *
 * The sizes are not constants the compiler could fold: they come from
 * argv, so only the dynamic object size can know them.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <libarena.h>

int main(int argc, char **argv)
{
	const char *mode = argc > 1 ? argv[1] : "sizes";
	size_t n = argc > 2 ? strtoul(argv[2], NULL, 0) : 5;
	static char src[4096];
	struct arena *a = arena_new(0);
	int *v;
	char *p;

	if (!a)
		return perror("arena_new"), 2;
	if (!strcmp(mode, "sizes")) {
		v = ARENA_NEW_ARRAY(a, int, n);
		p = arena_alloc_aligned(a, n * 20, 64);
		char *c = arena_calloc(a, n - 2, n + 2);
		char *d = arena_memdup(a, src, n + 4);

		if (!v || !p || !c || !d)
			return 2;
		printf("%zu %zu %zu %zu\n", __builtin_dynamic_object_size(v, 0),
		       __builtin_dynamic_object_size(p, 0),
		       __builtin_dynamic_object_size(c, 0),
		       __builtin_dynamic_object_size(d, 0));
	} else if (!strcmp(mode, "array")) {
		v = ARENA_NEW_ARRAY(a, int, n);
		if (!v)
			return 2;
		memcpy(v, src, (n + 1) * sizeof(int));
		printf("%d\n", v[0]);
	} else if (!strcmp(mode, "aligned")) {
		p = arena_alloc_aligned(a, n * 20, 64);
		if (!p)
			return 2;
		memcpy(p, src, n * 20 + 1);
		printf("%d\n", p[0]);
	}
	arena_free(a);
	return 0;
}
