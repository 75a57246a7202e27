/* SPDX-License-Identifier: MIT */
/*
 * libarena: arena allocation on kernel-backed memory (/dev/arena).
 *
 * An arena hands out memory by bumping a pointer through chunks the kernel
 * maps for it, and frees everything at once. After arena_free() every byte
 * the arena had faults (SIGSEGV at the exact address), so a use-after-free
 * is caught where it happens instead of corrupting the next owner's data.
 *
 * Threads: an arena belongs to one thread at a time; different arenas may be
 * used by different threads at once. After fork() the child's inherited
 * arenas fail with ECHILD (the window is not inherited); the child can create
 * new ones.
 */
#ifndef LIBARENA_H
#define LIBARENA_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Every allocation is aligned to this many bytes. */
#define ARENA_ALIGN 16

/*
 * The part of an arena the inline fast path reads. Arenas are created by
 * arena_new() (the library's object is larger); do not touch the fields.
 */
struct arena {
	char *__cur;	/* next free byte in the current chunk */
	char *__end;	/* end of the current chunk */
};

/* Where an address is, as the kernel sees it: see arena_lookup(). */
enum arena_addr_state {
	ARENA_ADDR_UNKNOWN = 0,	/* not in an arena, or never handed out */
	ARENA_ADDR_LIVE = 1,	/* in a live arena */
	ARENA_ADDR_FREED = 2,	/* in an arena that has been freed */
};

struct arena_addr_info {
	enum arena_addr_state state;
	unsigned int arena_id;		/* the kernel's arena id */
	size_t offset;			/* offset in that arena's run of chunks */
	unsigned long long freed_ns_ago;	/* FREED: time since the free */
	int freed_by_pid;		/* FREED: process that freed it */
};

/*
 * Create an arena. @flags must be 0. Returns NULL with errno set on failure
 * (ENOENT or EACCES when /dev/arena cannot be opened, EINVAL for unknown
 * flags, ENOMEM).
 */
struct arena *arena_new(unsigned int flags);

/*
 * Free @a and everything allocated from it; every such address faults from
 * now on. arena_free(NULL) does nothing.
 */
void arena_free(struct arena *a);

/* Where @addr is: 0 or -errno (-ENOENT if no arena was ever created). */
int arena_lookup(const void *addr, struct arena_addr_info *info);

/* The kernel's id of @a, as arena_lookup() and the kernel log report it. */
unsigned int arena_id(const struct arena *a);

/* Size of the kernel's chunks, 0 before the first arena_new(). */
size_t arena_chunk_size(void);

/* Out of line: maps a new chunk, or a run of chunks for a large request. */
void *__arena_alloc_slow(struct arena *a, size_t size);

/*
 * Allocate @size bytes, ARENA_ALIGN aligned, zeroed the first time the
 * memory is used. Returns NULL with errno set on failure (ENOMEM, ECHILD in
 * a forked child). A size of 0 returns a valid pointer to no bytes.
 *
 * The hit path: one compare and one store. __cur and __end are ARENA_ALIGN
 * aligned, so when @size is below the room left its rounded-up size fits
 * too; the exact fit and every miss take the slow path.
 */
static inline void *arena_alloc(struct arena *a, size_t size)
{
	char *p = a->__cur;

	if (__builtin_expect(size < (size_t)(a->__end - p), 1)) {
		a->__cur = p + ((size + ARENA_ALIGN - 1) &
				~(size_t)(ARENA_ALIGN - 1));
		return p;
	}
	return __arena_alloc_slow(a, size);
}

#ifdef __cplusplus
}
#endif

#endif /* LIBARENA_H */
