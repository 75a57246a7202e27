/* SPDX-License-Identifier: MIT */
/*
 * arena_alloc() as a symbol (LIBARENA_1.2), for dlsym() and foreign-function
 * bindings that cannot use the header's inline function. C programs that
 * include <libarena.h> never call it: they inline the same code.
 *
 * The header's static inline arena_alloc() is declared here too, so the
 * exported function has another C name and takes the symbol name with an
 * asm label; nothing in this file calls the inline one, so it is never
 * emitted next to it.
 */
#include "libarena_priv.h"

ARENA_EXPORT void *arena_alloc_symbol(struct arena *a, size_t size)
	__asm__("arena_alloc");

ARENA_EXPORT void *arena_alloc_symbol(struct arena *a, size_t size)
{
	/* libarena.h's arena_alloc(): a zero-byte request wraps and misses. */
	char *p = a->cur_;
	size_t last = size - 1;

	if (last < (size_t)(a->end_ - p)) {
		a->cur_ = p + ((last | (ARENA_ALIGN - 1)) + 1);
		return p;
	}
	return arena_alloc_slow(a, size);
}
