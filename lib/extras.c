/* SPDX-License-Identifier: MIT */
/*
 * libarena 1.2: the calls built on the allocator (copies, formatted
 * strings, resizing the last object, typed arrays), cleanups and the
 * version.
 *
 * Resizing and formatting work on the arena's bump range directly: the
 * range a single-threaded arena keeps in the public struct arena
 * (pub.cur_ .. pub.end_), or a thread-safe arena's cursor ts_cur, which
 * is only ever moved by a compare-and-swap. Bytes past the cursor have
 * never been handed out and are zero (unless ARENA_NOZERO); whatever these
 * calls write there and then give back is zeroed again, so the next
 * allocation still gets zero memory.
 */
#include <errno.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "libarena_priv.h"

#define g __arena_g

static inline size_t round_align(size_t size)
{
	return (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
}

ARENA_EXPORT unsigned int arena_version(void)
{
	return LIBARENA_VERSION;
}

ARENA_EXPORT void *arena_memdup(struct arena *a, const void *src, size_t size)
{
	void *p;

	if (!a || (!src && size)) {
		errno = EINVAL;
		return NULL;
	}
	p = arena_alloc(a, size);
	if (p && size)
		memcpy(p, src, size);
	return p;
}

ARENA_EXPORT void *arena_alloc_array(struct arena *a, size_t n, size_t size,
				     size_t align)
{
	size_t total;

	if (!a) {
		errno = EINVAL;
		return NULL;
	}
	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	if (align <= ARENA_ALIGN && align && !(align & (align - 1)))
		return arena_alloc(a, total);
	return arena_alloc_aligned(a, total, align);
}

/*
 * A single-threaded arena formats in place at its cursor when the result
 * fits in the run (one pass); otherwise vsnprintf() measures it, the
 * bytes it wrote past the cursor are zeroed again, and the string is
 * formatted into an object of its size.
 */
ARENA_EXPORT char *arena_vsprintf(struct arena *a, const char *fmt, va_list ap)
{
	struct __arena *ai = __arena_impl(a);
	char *cur, *p;
	size_t room = 0;
	va_list aq;
	int n;

	if (!a || !fmt) {
		errno = EINVAL;
		return NULL;
	}
	if (ai->dead) {
		errno = ECHILD;
		return NULL;
	}
	cur = a->cur_;
	if (cur && !(ai->flags & ARENA_THREADSAFE))
		room = a->end_ - cur;
	/* vsnprintf() takes an int's worth at most. */
	if (room > INT32_MAX)
		room = INT32_MAX;

	va_copy(aq, ap);
	n = vsnprintf(room ? cur : NULL, room, fmt, aq);
	va_end(aq);
	if (n < 0) {
		/* It may have written part of the string at the cursor. */
		if (room && !(ai->flags & ARENA_NOZERO))
			memset(cur, 0, room);
		return NULL;	/* errno from vsnprintf(): EOVERFLOW, ... */
	}
	if ((size_t)n < room) {
		/* It fit: the string becomes the arena's newest object. */
		a->cur_ = cur + round_align((size_t)n + 1);
		return cur;
	}
	/*
	 * Past the cursor stays zero, ARENA_NOZERO or not: the mmap backend
	 * zeroes a kept chunk for its next arena only up to the cursor.
	 */
	if (room)
		memset(cur, 0, room);

	p = arena_alloc(a, (size_t)n + 1);
	if (p)
		vsnprintf(p, (size_t)n + 1, fmt, ap);
	return p;
}

ARENA_EXPORT char *arena_sprintf(struct arena *a, const char *fmt, ...)
{
	va_list ap;
	char *p;

	va_start(ap, fmt);
	p = arena_vsprintf(a, fmt, ap);
	va_end(ap);
	return p;
}

/* Resize @p in place if it is the newest object: 1 if done, else 0. */
static int resize_in_place(struct __arena *ai, char *p, size_t old,
			   size_t size)
{
	struct arena *a = &ai->pub;
	size_t ro = round_align(old), rn = round_align(size);
	int zero = !(ai->flags & ARENA_NOZERO);

	if (ai->instr)
		return 0;	/* the gap after @p is poisoned: copy */
	/* Sizes a run cannot hold (their rounding would wrap). */
	if (size > g.chunk_size || old > g.chunk_size)
		return size <= old;
	if (ai->flags & ARENA_THREADSAFE) {
		uintptr_t cur = (uintptr_t)p + ro, end;

		/*
		 * Growing only: a shrunk tail could not be zeroed again
		 * before another thread took it.
		 */
		if (rn <= ro) {
			/* A shrink left old bytes there: grown, they are new. */
			if (zero && size > old)
				memset(p + old, 0, size - old);
			return 1;
		}
		end = (((uintptr_t)p + ro - 1) | (g.chunk_size - 1)) + 1;
		if (!ro || rn > end - (uintptr_t)p)
			return 0;
		if (zero)
			memset(p + old, 0, ro - old);
		/* The cursor never rests on a chunk's first byte: ro > 0. */
		return atomic_compare_exchange_strong(&ai->ts_cur, &cur,
						      (uintptr_t)p + rn);
	}
	if (!a->cur_ || p + ro != a->cur_)
		return size <= old;	/* a shrink stays where it is */
	if (rn > (size_t)(a->end_ - p))
		return 0;
	if (size < old)	/* past the cursor stays zero, as in vsprintf */
		memset(p + size, 0, ro - size);
	else if (zero)
		memset(p + old, 0, ro - old);
	a->cur_ = p + rn;
	return 1;
}

ARENA_EXPORT void *arena_realloc(struct arena *a, void *p, size_t old,
				 size_t size)
{
	struct __arena *ai = __arena_impl(a);
	void *q;

	if (!a) {
		errno = EINVAL;
		return NULL;
	}
	if (!p)
		return arena_alloc(a, size);
	if (ai->dead) {
		errno = ECHILD;
		return NULL;
	}
	/* A shrink to nothing keeps the object. */
	if (!size || resize_in_place(ai, p, old, size))
		return p;
	if (size <= old)
		return p;
	q = arena_alloc(a, size);
	if (q)
		memcpy(q, p, old);
	return q;
}

/* ---- cleanups ---------------------------------------------------------- */

struct arena_cleanup {
	struct arena_cleanup *next;
	void (*fn)(void *arg);
	void *arg;
};

ARENA_EXPORT int arena_on_free(struct arena *a, void (*fn)(void *arg),
			       void *arg)
{
	struct __arena *ai = __arena_impl(a);
	int saved_errno = errno, ts;
	struct arena_cleanup *c;

	if (!a || !fn)
		return -EINVAL;
	if (ai->dead)
		return -ECHILD;
	c = arena_alloc(a, sizeof(*c));
	errno = saved_errno;
	if (!c)
		return -ENOMEM;
	c->fn = fn;
	c->arg = arg;
	ts = ai->flags & ARENA_THREADSAFE;
	if (ts)
		pthread_mutex_lock(&ai->lock);
	c->next = ai->cleanups;
	ai->cleanups = c;
	if (ts)
		pthread_mutex_unlock(&ai->lock);
	return 0;
}

/*
 * Newest first, each record unlinked before its function runs: a cleanup
 * registered by a cleanup runs next, and the arena is whole (it may be
 * allocated from) until the last one returns.
 */
void __arena_run_cleanups(struct __arena *ai)
{
	int saved_errno = errno;
	struct arena_cleanup *c;

	if (!ai->cleanups)
		return;
	ai->in_cleanup = 1;
	while ((c = ai->cleanups)) {
		ai->cleanups = c->next;
		c->fn(c->arg);
	}
	ai->in_cleanup = 0;
	errno = saved_errno;
}

/* ---- ABI compatibility ------------------------------------------------- */

/*
 * arena_lookup() has two versions. LIBARENA_1.2 (the default, what the 1.2
 * header binds to) fills struct arena_addr_info with its reserved fields;
 * LIBARENA_1.0, for programs built with the 1.0 and 1.1 headers, fills
 * the struct those declared (32 bytes on LP64, no reserved fields), so it
 * never writes past a caller's smaller struct. Both are
 * __arena_lookup() (libarena.c), the second with a copy; neither adds
 * anything that is not async-signal-safe.
 */
struct arena_addr_info_v1 {
	enum arena_addr_state state;
	unsigned int arena_id;
	size_t offset;
	unsigned long long freed_ns_ago;
	int freed_by_pid;
};

#ifndef LIBARENA_SHARED
/* libarena.a: programs linked with it use this header's struct. */
ARENA_EXPORT int arena_lookup(const void *addr, struct arena_addr_info *info)
{
	return __arena_lookup(addr, info);
}
#else
ARENA_EXPORT int arena_lookup_v12(const void *addr,
				  struct arena_addr_info *info);
ARENA_EXPORT int arena_lookup_v10(const void *addr,
				  struct arena_addr_info_v1 *info);
__asm__(".symver arena_lookup_v12, arena_lookup@@LIBARENA_1.2");
__asm__(".symver arena_lookup_v10, arena_lookup@LIBARENA_1.0");

ARENA_EXPORT int arena_lookup_v12(const void *addr,
				  struct arena_addr_info *info)
{
	return __arena_lookup(addr, info);
}

ARENA_EXPORT int arena_lookup_v10(const void *addr,
				  struct arena_addr_info_v1 *info)
{
	struct arena_addr_info full;
	int err;

	if (!info)
		return -EINVAL;
	err = __arena_lookup(addr, &full);
	memset(info, 0, sizeof(*info));
	info->state = full.state;
	info->arena_id = full.arena_id;
	info->offset = full.offset;
	info->freed_ns_ago = full.freed_ns_ago;
	info->freed_by_pid = full.freed_by_pid;
	return err;
}
#endif /* LIBARENA_SHARED */
