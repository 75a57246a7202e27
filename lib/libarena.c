/* SPDX-License-Identifier: MIT */
/*
 * libarena: the slow paths.
 *
 * The process opens /dev/arena once, on the first arena_new(), and maps its
 * whole window. Each arena is a kernel arena id plus the bump range of its
 * current chunk; a miss asks the kernel for one more chunk, and a request
 * larger than a quarter chunk gets its own run of consecutive chunks so the
 * current chunk's remainder is not thrown away for it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/arena.h>

#include "libarena.h"

#define ARENA_EXPORT __attribute__((visibility("default")))

struct __arena {
	struct arena pub;		/* the fast path's part, first */
	unsigned int id;		/* kernel arena id */
	int dead;			/* inherited across fork: unusable */
	struct __arena *prev, *next;	/* the process's arenas, for fork */
};

/* Process-wide state; @lock protects it and the arena list. */
static struct {
	pthread_mutex_t lock;
	pthread_once_t atfork_once;
	int fd;
	char *base;
	size_t chunk_size;
	size_t window_size;
	struct __arena *arenas;
} g = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.atfork_once = PTHREAD_ONCE_INIT,
	.fd = -1,
};

static struct __arena *to_impl(struct arena *a)
{
	return (struct __arena *)a;
}

static void atfork_prepare(void)
{
	pthread_mutex_lock(&g.lock);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&g.lock);
}

/*
 * The child has no window (the kernel maps it VM_DONTCOPY and refuses the
 * inherited file to any other process): kill the inherited arenas so the
 * fast path misses and the slow path says ECHILD, and let the child open its
 * own window if it creates arenas.
 */
static void atfork_child(void)
{
	struct __arena *ai;

	for (ai = g.arenas; ai; ai = ai->next) {
		ai->dead = 1;
		ai->pub.__cur = NULL;
		ai->pub.__end = NULL;
	}
	g.arenas = NULL;
	if (g.fd >= 0)
		close(g.fd);
	g.fd = -1;
	g.base = NULL;
	pthread_mutex_unlock(&g.lock);
}

static void atfork_register(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* Open and map the window once per process. Called with g.lock held. */
static int window_open(void)
{
	struct arena_info info = { .size = sizeof(info) };
	void *base;
	int fd, err;

	if (g.fd >= 0)
		return 0;
	fd = open("/dev/arena", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (ioctl(fd, ARENA_IOC_GET_INFO, &info) < 0) {
		err = -errno;
		goto close_fd;
	}
	if (info.out_abi_version != ARENA_ABI_VERSION) {
		err = -EPROTO;
		goto close_fd;
	}
	base = mmap(NULL, info.out_window_size, PROT_READ | PROT_WRITE,
		    MAP_SHARED, fd, 0);
	if (base == MAP_FAILED) {
		err = -errno;
		goto close_fd;
	}
	g.fd = fd;
	g.base = base;
	g.chunk_size = info.out_chunk_size;
	g.window_size = info.out_window_size;
	return 0;

close_fd:
	close(fd);
	return err;
}

ARENA_EXPORT struct arena *arena_new(unsigned int flags)
{
	struct arena_create cr = { .size = sizeof(cr) };
	struct __arena *ai;
	int err;

	if (flags) {
		errno = EINVAL;
		return NULL;
	}
	pthread_once(&g.atfork_once, atfork_register);
	ai = calloc(1, sizeof(*ai));
	if (!ai)
		return NULL;

	pthread_mutex_lock(&g.lock);
	err = window_open();
	if (!err && ioctl(g.fd, ARENA_IOC_CREATE, &cr) < 0)
		err = -errno;
	if (err) {
		pthread_mutex_unlock(&g.lock);
		free(ai);
		errno = -err;
		return NULL;
	}
	ai->id = cr.out_arena_id;
	ai->next = g.arenas;
	if (g.arenas)
		g.arenas->prev = ai;
	g.arenas = ai;
	pthread_mutex_unlock(&g.lock);
	return &ai->pub;
}

ARENA_EXPORT void arena_free(struct arena *a)
{
	struct arena_free fr = { .size = sizeof(fr) };
	struct __arena *ai;
	int saved_errno = errno;

	if (!a)
		return;
	ai = to_impl(a);
	pthread_mutex_lock(&g.lock);
	if (!ai->dead) {
		fr.arena_id = ai->id;
		/* Cannot fail for an arena this process created and holds. */
		ioctl(g.fd, ARENA_IOC_FREE, &fr);
		if (ai->prev)
			ai->prev->next = ai->next;
		else
			g.arenas = ai->next;
		if (ai->next)
			ai->next->prev = ai->prev;
	}
	pthread_mutex_unlock(&g.lock);
	free(ai);
	errno = saved_errno;
}

/* Map @nr consecutive chunks for @ai; returns their address or NULL. */
static char *chunks_alloc(struct __arena *ai, size_t nr)
{
	struct arena_alloc_chunks ac = { .size = sizeof(ac) };

	if (nr > UINT32_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	ac.arena_id = ai->id;
	ac.nr_chunks = nr;
	/* g.fd and g.base only change in a fork child, where ai is dead. */
	if (ioctl(g.fd, ARENA_IOC_ALLOC_CHUNKS, &ac) < 0) {
		/* EINVAL here means more chunks than the window holds. */
		if (errno == EINVAL || errno == ENOSPC)
			errno = ENOMEM;
		return NULL;
	}
	return g.base + ac.out_offset;
}

ARENA_EXPORT void *__arena_alloc_slow(struct arena *a, size_t size)
{
	struct __arena *ai = to_impl(a);
	size_t need, chunk = g.chunk_size;
	char *p;

	if (ai->dead) {
		errno = ECHILD;
		return NULL;
	}
	if (size > SIZE_MAX - chunk) {
		errno = ENOMEM;
		return NULL;
	}
	need = (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
	/* A zero-byte request still gets an address inside a chunk. */
	if (!need)
		need = ARENA_ALIGN;
	/* The exact fit, which the inline compare leaves to us. */
	if (need <= (size_t)(a->__end - a->__cur)) {
		p = a->__cur;
		a->__cur += need;
		return p;
	}
	/* Large: a run of its own, freed and faulted with the arena. */
	if (need > chunk / 4)
		return chunks_alloc(ai, (need + chunk - 1) / chunk);

	p = chunks_alloc(ai, 1);
	if (!p)
		return NULL;
	a->__cur = p + need;
	a->__end = p + chunk;
	return p;
}

ARENA_EXPORT int arena_lookup(const void *addr, struct arena_addr_info *info)
{
	struct arena_lookup lk = { .size = sizeof(lk) };
	uintptr_t p = (uintptr_t)addr, base;
	int err = 0;

	memset(info, 0, sizeof(*info));
	pthread_mutex_lock(&g.lock);
	if (g.fd < 0) {
		err = -ENOENT;
		goto out;
	}
	base = (uintptr_t)g.base;
	if (p < base || p - base >= g.window_size)
		goto out;
	lk.offset = p - base;
	if (ioctl(g.fd, ARENA_IOC_LOOKUP, &lk) < 0) {
		err = -errno;
		goto out;
	}
	info->state = (enum arena_addr_state)lk.out_state;
	info->arena_id = lk.out_arena_id;
	info->offset = lk.out_arena_offset;
	info->freed_ns_ago = lk.out_freed_ns_ago;
	info->freed_by_pid = (int)lk.out_freed_by_pid;
out:
	pthread_mutex_unlock(&g.lock);
	return err;
}

ARENA_EXPORT unsigned int arena_id(const struct arena *a)
{
	return ((const struct __arena *)a)->id;
}

ARENA_EXPORT size_t arena_chunk_size(void)
{
	return g.chunk_size;
}
