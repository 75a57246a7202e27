// SPDX-License-Identifier: GPL-2.0
/*
 * Description: libarena as a foreign-function binding uses it: dlopen() of
 * the shared library named by argv[1] and every call through dlvsym() at
 * its version node, arena_alloc (inline in the header) included.
 * Prints "ok <version>" and exits 0, or says what failed and exits 1.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

struct arena;

#define SYM(h, name, ver) dlvsym(h, name, ver)

int main(int argc, char **argv)
{
	struct arena *(*new_)(unsigned int);
	void *(*alloc)(struct arena *, size_t);
	void (*free_)(struct arena *);
	unsigned int (*version)(void);
	char *p[100];
	void *h;
	int i;

	if (argc < 2)
		return fprintf(stderr, "usage: %s LIBARENA.so\n", argv[0]), 1;
	h = dlopen(argv[1], RTLD_NOW | RTLD_LOCAL);
	if (!h)
		return fprintf(stderr, "dlopen: %s\n", dlerror()), 1;
	new_ = (struct arena *(*)(unsigned int))SYM(h, "arena_new", "LIBARENA_1.0");
	free_ = (void (*)(struct arena *))SYM(h, "arena_free", "LIBARENA_1.0");
	alloc = (void *(*)(struct arena *, size_t))SYM(h, "arena_alloc", "LIBARENA_1.2");
	version = (unsigned int (*)(void))SYM(h, "arena_version", "LIBARENA_1.2");
	if (!new_ || !free_ || !alloc || !version)
		return fprintf(stderr, "dlvsym: a symbol is missing\n"), 1;

	struct arena *a = new_(0);

	if (!a)
		return perror("arena_new"), 1;
	for (i = 0; i < 100; i++) {
		p[i] = alloc(a, i * 100 + 1);
		if (!p[i] || (uintptr_t)p[i] % 16)
			return fprintf(stderr, "arena_alloc %d: %p\n", i, (void *)p[i]), 1;
		if (p[i][0] || p[i][i * 100])
			return fprintf(stderr, "arena_alloc %d: not zero\n", i), 1;
		memset(p[i], i, i * 100 + 1);
	}
	for (i = 0; i < 100; i++)
		if (p[i][0] != (char)i || p[i][i * 100] != (char)i)
			return fprintf(stderr, "object %d overwritten\n", i), 1;
	/* A huge request fails as the inline one does. */
	if (alloc(a, SIZE_MAX))
		return fprintf(stderr, "arena_alloc(SIZE_MAX) succeeded\n"), 1;
	free_(a);
	printf("ok %u.%u.%u\n", version() >> 16, (version() >> 8) & 0xff,
	       version() & 0xff);
	return 0;
}
