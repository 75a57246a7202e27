// SPDX-License-Identifier: GPL-2.0
/*
 * Description: libarena as a foreign-function binding uses it: dlopen() of
 * the shared library named by argv[1] and every call through dlvsym() at
 * its version node, arena_alloc (inline in the header) included, and
 * both versions of arena_lookup: each writes its own struct's size only.
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
	int (*lookup10)(const void *, void *), (*lookup12)(const void *, void *);
	unsigned char info[128];
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
	lookup10 = (int (*)(const void *, void *))SYM(h, "arena_lookup", "LIBARENA_1.0");
	lookup12 = (int (*)(const void *, void *))SYM(h, "arena_lookup", "LIBARENA_1.2");
	if (!new_ || !free_ || !alloc || !version || !lookup10 || !lookup12)
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
	/*
	 * arena_lookup@LIBARENA_1.0 fills the 32 bytes of the old struct and
	 * nothing after; @LIBARENA_1.2 the 64 of the new one (LP64).
	 */
	memset(info, 0xee, sizeof(info));
	if (lookup10(p[5], info) || *(int *)info != 1 /* LIVE */)
		return fprintf(stderr, "arena_lookup@LIBARENA_1.0 failed\n"), 1;
	for (i = 32; i < (int)sizeof(info); i++)
		if (info[i] != 0xee)
			return fprintf(stderr, "arena_lookup@LIBARENA_1.0 wrote byte %d\n", i), 1;
	memset(info, 0xee, sizeof(info));
	if (lookup12(p[5], info) || *(int *)info != 1)
		return fprintf(stderr, "arena_lookup@LIBARENA_1.2 failed\n"), 1;
	for (i = 32; i < 64; i++)
		if (info[i])
			return fprintf(stderr, "arena_lookup@LIBARENA_1.2: byte %d not zero\n", i), 1;
	for (i = 64; i < (int)sizeof(info); i++)
		if (info[i] != 0xee)
			return fprintf(stderr, "arena_lookup@LIBARENA_1.2 wrote byte %d\n", i), 1;
	free_(a);
	printf("ok %u.%u.%u\n", version() >> 16, (version() >> 8) & 0xff,
	       version() & 0xff);
	return 0;
}
