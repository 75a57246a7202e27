/* SPDX-License-Identifier: MIT */
/*
 * libarena: arena allocation on kernel-backed memory (/dev/arena), with a
 * plain mmap fallback.
 *
 * An arena hands out memory by bumping a pointer through chunks mapped for
 * it, and frees everything at once. After arena_free() (or arena_reset())
 * every byte the arena had faults (SIGSEGV at the exact address), so a
 * use-after-free is caught where it happens instead of corrupting the next
 * owner's data.
 *
 * Backends: the kernel's /dev/arena (2 MiB chunks, one page-table entry per
 * chunk, use-after-free reported by the kernel), or, where it is absent or
 * ARENA_BACKEND=mmap is set, plain anonymous memory that is made
 * inaccessible with mprotect(PROT_NONE) and dropped with MADV_DONTNEED on
 * free. arena_backend() says which one runs.
 *
 * Threads: an arena made without ARENA_THREADSAFE belongs to one thread at
 * a time (as Go's arenas do); different arenas may be used by different
 * threads at once. An ARENA_THREADSAFE arena may be allocated from by any
 * number of threads at once; freeing or resetting it must not race with its
 * use. After fork() the child's inherited arenas fail with ECHILD and their
 * memory faults in the child; the child can create new arenas.
 *
 * Errors: functions returning a pointer return NULL with errno set; those
 * returning int return 0 or -errno (and leave errno alone). Nothing aborts,
 * but as a last resort when freed memory cannot be made to fault at all.
 * The full guide is Documentation/libarena.rst; each function has a man page.
 */
#ifndef LIBARENA_H
#define LIBARENA_H

#include <stdarg.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/*
 * The version of this header; arena_version() gives the library's, which
 * may be newer (never older: each version's symbols have their own version
 * node, so a program built on 1.2 does not start on a 1.1 library).
 * LIBARENA_VERSION_CHECK(1, 2, 0) is true from 1.2.0 on.
 */
#define LIBARENA_VERSION_MAJOR	1
#define LIBARENA_VERSION_MINOR	2
#define LIBARENA_VERSION_PATCH	0
#define LIBARENA_VERSION_NUMBER(major, minor, patch) \
	(((major) << 16) | ((minor) << 8) | (patch))
#define LIBARENA_VERSION \
	LIBARENA_VERSION_NUMBER(LIBARENA_VERSION_MAJOR, \
				LIBARENA_VERSION_MINOR, LIBARENA_VERSION_PATCH)
#define LIBARENA_VERSION_CHECK(major, minor, patch) \
	(LIBARENA_VERSION >= LIBARENA_VERSION_NUMBER(major, minor, patch))

/*
 * Attributes that let the compiler see arena objects: their size for
 * _FORTIFY_SOURCE, -fsanitize=object-size and __builtin_dynamic_object_size
 * (GCC sees it through out-of-line calls only: arena_alloc() is inline),
 * their alignment, and that a returned object aliases nothing.
 */
#ifdef __has_attribute
#define ARENA_HAS_ATTR_(x) __has_attribute(x)
#else
#define ARENA_HAS_ATTR_(x) 0
#endif
#if ARENA_HAS_ATTR_(__malloc__)
#define ARENA_ATTR_MALLOC __attribute__((__malloc__))
#else
#define ARENA_ATTR_MALLOC
#endif
#if ARENA_HAS_ATTR_(__alloc_size__)
#define ARENA_ATTR_ALLOC_SIZE(...) __attribute__((__alloc_size__(__VA_ARGS__)))
#else
#define ARENA_ATTR_ALLOC_SIZE(...)
#endif
#if ARENA_HAS_ATTR_(__alloc_align__)
#define ARENA_ATTR_ALLOC_ALIGN(n) __attribute__((__alloc_align__(n)))
#else
#define ARENA_ATTR_ALLOC_ALIGN(n)
#endif
#if ARENA_HAS_ATTR_(__warn_unused_result__)
#define ARENA_ATTR_WUR __attribute__((__warn_unused_result__))
#else
#define ARENA_ATTR_WUR
#endif
#if ARENA_HAS_ATTR_(__format__)
#define ARENA_ATTR_PRINTF(f, a) __attribute__((__format__(__printf__, f, a)))
#else
#define ARENA_ATTR_PRINTF(f, a)
#endif
#if ARENA_HAS_ATTR_(__nonnull__)
#define ARENA_ATTR_NONNULL(...) __attribute__((__nonnull__(__VA_ARGS__)))
#else
#define ARENA_ATTR_NONNULL(...)
#endif
#define ARENA_ALLOCATOR_ ARENA_ATTR_MALLOC ARENA_ATTR_WUR

/* Every allocation is aligned to this many bytes. */
#define ARENA_ALIGN 16

/* arena_new() flag: the arena may be allocated from by many threads. */
#define ARENA_THREADSAFE	0x1U
/*
 * arena_new() flag: take whole chunks from the start, skipping the small
 * runs that a kernel-backed arena otherwise grows through (for arenas that
 * will hold megabytes anyway). ARENA_THREADSAFE arenas always do.
 */
#define ARENA_WHOLE_CHUNKS	0x2U
/*
 * The arena's memory need not be zeroed, as malloc()'s is not: on the
 * kernel backend, memory this process's earlier ARENA_NOZERO arenas freed
 * (whole chunks, and the pages of small runs where the module has
 * ARENA_FEATURE_NOZERO_SMALL), once nothing maps or pins it, is handed to
 * its next ones as it is, old bytes included, which spares zeroing it.
 * Never another process's bytes, and never in an arena made without the
 * flag; freed addresses still fault. arena_calloc() still zeroes.
 */
#define ARENA_NOZERO		0x4U
#define ARENA_VALID_FLAGS	(ARENA_THREADSAFE | ARENA_WHOLE_CHUNKS | \
				 ARENA_NOZERO)

/*
 * The part of an arena the inline fast path reads. Arenas are created by
 * arena_new() (the library's object is larger); do not touch the fields.
 * A thread-safe or dead (inherited across fork) arena keeps both NULL, so
 * its every allocation takes the out-of-line path.
 */
struct arena {
	char *cur_;	/* next free byte in the current run */
	char *end_;	/* end of the current run */
};

/*
 * Frozen for the soname libarena.so.1: programs compiled against any 1.x
 * header read these two fields inline, so their offsets and the struct's
 * size never change without a new soname.
 */
#if defined(__cplusplus) && __cplusplus >= 201103L
static_assert(offsetof(struct arena, cur_) == 0, "struct arena is frozen");
static_assert(offsetof(struct arena, end_) == sizeof(char *),
	      "struct arena is frozen");
static_assert(sizeof(struct arena) == 2 * sizeof(char *),
	      "struct arena is frozen");
#elif !defined(__cplusplus) && defined(__STDC_VERSION__) && \
	__STDC_VERSION__ >= 201112L
_Static_assert(offsetof(struct arena, cur_) == 0, "struct arena is frozen");
_Static_assert(offsetof(struct arena, end_) == sizeof(char *),
	       "struct arena is frozen");
_Static_assert(sizeof(struct arena) == 2 * sizeof(char *),
	       "struct arena is frozen");
#endif

/* Where an address is: see arena_lookup(). */
enum arena_addr_state {
	ARENA_ADDR_UNKNOWN = 0,	/* not in an arena, or never handed out */
	ARENA_ADDR_LIVE = 1,	/* in a live arena */
	ARENA_ADDR_FREED = 2,	/* in an arena that has been freed or reset */
};

struct arena_addr_info {
	enum arena_addr_state state;
	unsigned int arena_id;		/* the arena's id, as arena_id() */
	size_t offset;			/* offset in the run (of chunks, or a
					 * small run of pages) it lies in */
	unsigned long long freed_ns_ago;	/* FREED: time since the free */
	int freed_by_pid;		/* FREED: process that freed it */
	/*
	 * Since 1.2 (arena_lookup@LIBARENA_1.2; programs built with older
	 * headers call arena_lookup@LIBARENA_1.0, which fills the 32 bytes
	 * above only): room for more answers, zero.
	 */
	unsigned int reserved0_;
	unsigned long long reserved_[4];
};

/*
 * What an arena holds, from arena_stats(). Always
 * mapped == requested + waste + available.
 */
struct arena_stats {
	size_t requested;	/* bytes handed out, each request rounded up to
				 * ARENA_ALIGN (a zero-byte one counts
				 * ARENA_ALIGN) */
	size_t mapped;		/* bytes the arena holds: whole chunks and
				 * small runs */
	size_t chunks;		/* whole chunks the arena holds */
	size_t waste;		/* bytes never to be handed out: run tails
				 * left on a miss, tails of large runs,
				 * alignment padding */
	size_t available;	/* bytes left to hand out without a new run */
	size_t small_runs;	/* small runs (a few pages) the arena holds */
	size_t reserved_[2];	/* zero */
};

/*
 * Create an arena. @flags is 0 or any of ARENA_THREADSAFE,
 * ARENA_WHOLE_CHUNKS and ARENA_NOZERO. The first call picks the backend. On the kernel backend the arena
 * gets its kernel id (and memory) with its first allocation. Returns NULL with errno set on failure: EINVAL (unknown
 * flags, bad ARENA_BACKEND), ENOENT/EACCES (ARENA_BACKEND=kernel without a
 * usable /dev/arena), ENOMEM.
 */
struct arena *arena_new(unsigned int flags);

/*
 * Free @a and everything allocated from it; every such address faults from
 * now on. arena_free(NULL) does nothing.
 */
void arena_free(struct arena *a);

/*
 * Free everything allocated from @a so far (it faults, as after
 * arena_free()), keeping @a usable. Returns 0 or -errno (-ECHILD in a
 * forked child, -ENOMEM; on failure @a is unchanged).
 */
int arena_reset(struct arena *a);

/*
 * Out of line: a new chunk, a run of chunks, or a shared arena's bump.
 * For arena_alloc() only. (Called __arena_alloc_slow by 1.0 and 1.1
 * headers; the library keeps that name, for programs built with them.)
 */
void *arena_alloc_slow(struct arena *a, size_t size);

/*
 * Allocate @size bytes, ARENA_ALIGN aligned, zero when handed out (unless
 * the arena is ARENA_NOZERO). Returns
 * NULL with errno set on failure (ENOMEM, ECHILD in a forked child). A size
 * of 0 gets an object of its own, ARENA_ALIGN bytes, as glibc's malloc(0):
 * its address is never that of another allocation. @a must be an arena.
 *
 * The hit path: one compare and one store. cur_ and end_ are ARENA_ALIGN
 * aligned, so when @size is at most the room left its rounded-up size fits
 * too. @size - 1 wraps for 0, so a zero-byte request always misses (and
 * the slow path gives it ARENA_ALIGN bytes), as does every request when
 * the room is 0 (a full run, or the NULL range of a thread-safe arena).
 */
static inline ARENA_ALLOCATOR_ ARENA_ATTR_ALLOC_SIZE(2)
void *arena_alloc(struct arena *a, size_t size)
{
	char *p = a->cur_;
	size_t last = size - 1;

	if (__builtin_expect(last < (size_t)(a->end_ - p), 1)) {
		a->cur_ = p + ((last | (ARENA_ALIGN - 1)) + 1);
		return p;
	}
	return arena_alloc_slow(a, size);
}

/*
 * Allocate @size bytes aligned to @align, a power of two up to
 * arena_chunk_size() (EINVAL otherwise).
 */
ARENA_ALLOCATOR_ ARENA_ATTR_ALLOC_SIZE(2) ARENA_ATTR_ALLOC_ALIGN(3)
void *arena_alloc_aligned(struct arena *a, size_t size, size_t align);

/* Allocate @n * @size zero bytes; ENOMEM if the product overflows. */
ARENA_ALLOCATOR_ ARENA_ATTR_ALLOC_SIZE(2, 3)
void *arena_calloc(struct arena *a, size_t n, size_t size);

/* Copy the string @s (at most @n bytes of it) into @a, NUL-terminated. */
ARENA_ALLOCATOR_ char *arena_strdup(struct arena *a, const char *s);
ARENA_ALLOCATOR_ char *arena_strndup(struct arena *a, const char *s, size_t n);

/* Since 1.2: see each one's man page. */

/* Copy @size bytes from @src into a new object of @a. */
ARENA_ALLOCATOR_ ARENA_ATTR_ALLOC_SIZE(3)
void *arena_memdup(struct arena *a, const void *src, size_t size);

/* printf() into a new string of @a. */
ARENA_ALLOCATOR_ ARENA_ATTR_PRINTF(2, 3)
char *arena_sprintf(struct arena *a, const char *fmt, ...);
ARENA_ALLOCATOR_ ARENA_ATTR_PRINTF(2, 0)
char *arena_vsprintf(struct arena *a, const char *fmt, va_list ap);

/*
 * Resize @p (allocated from @a with @old bytes, or NULL) to @size bytes:
 * in place when @p is the arena's most recent object and the run has room,
 * else a copy in a new object (the old one stays until the arena goes).
 * Not ARENA_ATTR_MALLOC: the result may be @p.
 */
ARENA_ATTR_WUR ARENA_ATTR_ALLOC_SIZE(4)
void *arena_realloc(struct arena *a, void *p, size_t old, size_t size);

/*
 * @n objects of @size bytes aligned to @align (a power of two), for
 * ARENA_NEW() and ARENA_NEW_ARRAY(); ENOMEM if @n * @size overflows.
 */
ARENA_ALLOCATOR_ ARENA_ATTR_ALLOC_SIZE(2, 3) ARENA_ATTR_ALLOC_ALIGN(4)
void *arena_alloc_array(struct arena *a, size_t n, size_t size, size_t align);

/*
 * Typed allocation, as Go's arena.New[T] and MakeSlice: a T (an array of
 * @n T) from @a, aligned for T, zero as the arena's memory is; NULL with
 * errno ENOMEM if @n * sizeof(T) overflows.
 */
#define ARENA_NEW(a, T) \
	((T *)arena_alloc_array((a), 1, sizeof(T), __alignof__(T)))
#define ARENA_NEW_ARRAY(a, T, n) \
	((T *)arena_alloc_array((a), (n), sizeof(T), __alignof__(T)))

/*
 * Call @fn(@arg) when @a is freed or reset, before its memory is revoked;
 * cleanups run newest first. Returns 0 or -errno (-EINVAL, -ENOMEM,
 * -ECHILD). The record lives in @a's memory.
 */
int arena_on_free(struct arena *a, void (*fn)(void *arg), void *arg);

/* The library's version, LIBARENA_VERSION_NUMBER() of it. */
unsigned int arena_version(void);

/* 1 if @p is inside one of the runs (chunks, small runs) @a holds, else 0. */
int arena_contains(const struct arena *a, const void *p);

/* Fill @st for @a: 0 or -errno (-EINVAL, -ECHILD). */
int arena_stats(const struct arena *a, struct arena_stats *st);

/*
 * The backend in use, "kernel" or "mmap", choosing it if no arena exists
 * yet; NULL with errno set if none can be used.
 */
const char *arena_backend(void);

/*
 * Where @addr is: 0 or -errno (-ENOENT if no arena was ever created).
 * Async-signal-safe: it takes no lock and allocates nothing, so a SIGSEGV
 * handler may call it, even one that interrupted the library.
 */
int arena_lookup(const void *addr, struct arena_addr_info *info);

/*
 * The id of @a, as arena_lookup() and the kernel log report it; on the
 * kernel backend 0 until the arena's first allocation.
 */
unsigned int arena_id(const struct arena *a);

/*
 * Give back what the library keeps for the calling thread's next arena:
 * on the kernel backend, the arena (and its mapped first run) that the
 * thread's last arena_free() made ready for its next arena_new(). Also done
 * at thread exit. On the mmap backend, the freed chunks kept populated (at
 * fresh addresses) for the process's next arenas. Returns 0.
 */
int arena_trim(void);

/* Size of the backend's chunks (choosing the backend); 0 if none. */
size_t arena_chunk_size(void);

#ifdef __cplusplus
}
#endif

#endif /* LIBARENA_H */
