/* SPDX-License-Identifier: MIT */
/*
 * libarena's kernel backend: /dev/arena.
 *
 * The process opens the device once and maps its whole window; an arena is
 * a kernel arena id, and its chunks come from ARENA_IOC_ALLOC_CHUNKS as
 * offsets in the window. ARENA_IOC_FREE revokes them all, and
 * ARENA_ALLOC_RESET revokes them in the same call that maps a fresh chunk
 * (arena_reset()). The kernel remembers every slot, so arena_lookup() is
 * one ARENA_IOC_LOOKUP.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#include <linux/arena.h>

#include "libarena_priv.h"

#define g __arena_g

/* Open and map the window. Called with g.lock held. */
int __arena_kernel_init(void)
{
	struct arena_info info = { .size = sizeof(info) };
	void *base;
	int fd, err;

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
	g.chunk_shift = info.out_chunk_shift;
	g.window_size = info.out_window_size;
	g.backend = BACKEND_KERNEL;
	return 0;

close_fd:
	close(fd);
	return err;
}

/* In a fork child: the file is the parent's (the kernel refuses it to us). */
void __arena_kernel_forget(void)
{
	if (g.fd >= 0)
		close(g.fd);
	g.fd = -1;
}

/* Called with g.lock held. */
int __arena_kernel_create(struct __arena *ai)
{
	struct arena_create cr = { .size = sizeof(cr) };

	if (ioctl(g.fd, ARENA_IOC_CREATE, &cr) < 0)
		return -errno;
	ai->id = cr.out_arena_id;
	return 0;
}

/*
 * Map @nr consecutive chunks for @ai, revoking all its others first if
 * @reset; returns their address or NULL with errno set. g.fd and g.base
 * only change in a fork child, where @ai is dead and never gets here.
 */
char *__arena_kernel_chunks(struct __arena *ai, size_t nr, int reset)
{
	struct arena_alloc_chunks ac = { .size = sizeof(ac) };

	if (nr > UINT32_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	ac.flags = reset ? ARENA_ALLOC_RESET : 0;
	ac.arena_id = ai->id;
	ac.nr_chunks = nr;
	if (ioctl(g.fd, ARENA_IOC_ALLOC_CHUNKS, &ac) < 0) {
		/* EINVAL here means more chunks than the window holds. */
		if (errno == EINVAL || errno == ENOSPC)
			errno = ENOMEM;
		return NULL;
	}
	return g.base + ac.out_offset;
}

void __arena_kernel_free(struct __arena *ai)
{
	struct arena_free fr = { .size = sizeof(fr), .arena_id = ai->id };

	/* Cannot fail for an arena this process created and holds. */
	ioctl(g.fd, ARENA_IOC_FREE, &fr);
}

/* Called with g.lock held. */
int __arena_kernel_lookup(uintptr_t p, struct arena_addr_info *info)
{
	struct arena_lookup lk = { .size = sizeof(lk) };
	uintptr_t base = (uintptr_t)g.base;

	if (p < base || p - base >= g.window_size)
		return 0;
	lk.offset = p - base;
	if (ioctl(g.fd, ARENA_IOC_LOOKUP, &lk) < 0)
		return -errno;
	info->state = (enum arena_addr_state)lk.out_state;
	info->arena_id = lk.out_arena_id;
	info->offset = lk.out_arena_offset;
	info->freed_ns_ago = lk.out_freed_ns_ago;
	info->freed_by_pid = (int)lk.out_freed_by_pid;
	return 0;
}
