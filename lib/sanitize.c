/* SPDX-License-Identifier: MIT */
/*
 * Arena memory as AddressSanitizer and Valgrind's memcheck see it.
 *
 * Objects are packed back to back, so without help an overflow from one
 * into the next, or a read of the unused rest of a run, is a valid access
 * to these tools. When either is present, an arena is made in a checked
 * mode (ai->instr): it runs as a thread-safe arena, which keeps the public
 * bump range empty, so every allocation, also those of the header's inline
 * arena_alloc(), comes out of line; each object is followed by a gap of
 * ARENA_REDZONE bytes; a run is poisoned (ASan) or made inaccessible
 * (memcheck) when it is mapped and each object is unpoisoned (a memcheck
 * mempool chunk) when it is handed out, to its exact size. A free or reset
 * poisons every run again (destroys the mempool), so a use after it is
 * reported as such by the tool before the page fault would be.
 *
 * AddressSanitizer: the library need not be built with it. Its runtime's
 * poisoning interface is referenced weakly: in a program built with
 * -fsanitize=address (the runtime is linked into, or preloaded by, it) the
 * references resolve and arenas are checked; elsewhere they are NULL and
 * nothing changes. Valgrind: the client requests (valgrind/memcheck.h,
 * used if the header is there at build time) are a few no-op
 * instructions outside Valgrind; RUNNING_ON_VALGRIND is asked once per
 * arena_new().
 */
#include <stddef.h>

#include "libarena_priv.h"

#if defined(__has_include)
#if __has_include(<valgrind/memcheck.h>)
#include <valgrind/memcheck.h>
#define HAVE_VALGRIND 1
#endif
#endif

void __asan_poison_memory_region(void const volatile *addr, size_t size)
	__attribute__((weak));
void __asan_unpoison_memory_region(void const volatile *addr, size_t size)
	__attribute__((weak));

#define INSTR_ASAN	1
#define INSTR_VALGRIND	2

int __arena_instr_init(struct __arena *ai)
{
	ai->instr = 0;
	if (__asan_poison_memory_region && __asan_unpoison_memory_region)
		ai->instr = INSTR_ASAN;
#ifdef HAVE_VALGRIND
	else if (RUNNING_ON_VALGRIND) {
		ai->instr = INSTR_VALGRIND;
		/* Arena memory is zero (defined) when handed out. */
		VALGRIND_CREATE_MEMPOOL(ai, 0, !(ai->flags & ARENA_NOZERO));
	}
#endif
	return ai->instr;
}

void __arena_instr_run(struct __arena *ai, void *p, size_t len)
{
	if (ai->instr == INSTR_ASAN)
		__asan_poison_memory_region(p, len);
#ifdef HAVE_VALGRIND
	else if (ai->instr == INSTR_VALGRIND)
		VALGRIND_MAKE_MEM_NOACCESS(p, len);
#endif
}

void __arena_instr_alloc(struct __arena *ai, void *p, size_t size)
{
	if (ai->instr == INSTR_ASAN)
		__asan_unpoison_memory_region(p, size);
#ifdef HAVE_VALGRIND
	else if (ai->instr == INSTR_VALGRIND)
		VALGRIND_MEMPOOL_ALLOC(ai, p, size);
#endif
}

void __arena_instr_release(struct __arena *ai, int reset)
{
	size_t i;

	if (!ai->instr)
		return;
	for (i = 0; i < ai->nr_runs; i++)
		__arena_instr_run(ai, ai->runs[i].base, ai->runs[i].len);
#ifdef HAVE_VALGRIND
	if (ai->instr == INSTR_VALGRIND) {
		VALGRIND_DESTROY_MEMPOOL(ai);
		if (reset)
			VALGRIND_CREATE_MEMPOOL(ai, 0,
						!(ai->flags & ARENA_NOZERO));
	}
#else
	(void)reset;
#endif
}
