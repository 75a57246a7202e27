/* SPDX-License-Identifier: MIT */
/*
 * libarena's kernel backend: /dev/arena.
 *
 * The process opens the device once and maps its whole window (the chunk
 * window and, right after it, the small window); an arena is a kernel
 * arena id, and its runs (small runs of pages, or whole chunks) come from
 * ARENA_IOC_ALLOC as offsets in the file, which are offsets from the base.
 * The kernel arena is created by the arena's first ARENA_IOC_ALLOC
 * (ARENA_ALLOC_CREATE). ARENA_IOC_FREE revokes every run and, with
 * ARENA_FREE_NEXT, hands back the thread's next arena with its first run
 * already mapped (libarena.c keeps it as the thread's spare), so a loop of
 * arena_new() + arena_free() costs one system call a round and no page
 * fault while the first run lasts. ARENA_ALLOC_RESET revokes an arena's
 * runs in the same call that maps a fresh run (arena_reset()). The kernel
 * remembers every page, so arena_lookup() is one ARENA_IOC_LOOKUP.
 */
#include <errno.h>
#include <fcntl.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <linux/arena.h>

#include "libarena_priv.h"

#define g __arena_g

/*
 * The device the library opened, to know its descriptor again: code that
 * closes every descriptor (closefrom(), a daemon's close loop) can close
 * it under the library, and the number may then name another file. The
 * window stays mapped (the mapping holds the file), but no ioctl reaches
 * it any more. Checked when an ioctl fails, never on success (that would
 * cost a system call a request): from then on every call that needs the
 * device fails with EBADF, and arena_free() revokes by hand.
 */
static dev_t dev_rdev;
static ino_t dev_ino;
static int fd_lost;

/* ioctl() on the library's descriptor: 0, or -1 with errno set. */
static int dev_ioctl(unsigned long cmd, void *arg)
{
	struct stat st;
	int err;

	if (fd_lost) {
		errno = EBADF;
		return -1;
	}
	if (ioctl(g.fd, cmd, arg) >= 0)
		return 0;
	err = errno;
	if (fstat(g.fd, &st) || !S_ISCHR(st.st_mode) ||
	    st.st_rdev != dev_rdev || st.st_ino != dev_ino) {
		fd_lost = 1;
		err = EBADF;
	}
	errno = err;
	return -1;
}

/* The library's descriptor was found closed or reused: EBADF from now on. */
int __arena_kernel_lost(void)
{
	return fd_lost;
}

/*
 * Map the chunk window at a chunk-aligned base and the small window right
 * after it: reserve both plus a chunk of slack, then map over the
 * reservation. Returns the base or MAP_FAILED with errno set.
 */
static char *kernel_map_window(int fd, const struct arena_info *info,
			       size_t small)
{
	size_t cs = info->out_chunk_size, ws = info->out_window_size;
	size_t total = ws + small, head;
	char *res, *base;
	int err;

	res = mmap(NULL, total + cs, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED)
		return MAP_FAILED;
	head = (cs - ((uintptr_t)res & (cs - 1))) & (cs - 1);
	base = res + head;
	if (head)
		munmap(res, head);
	munmap(base + total, cs - head);
	if (mmap(base, ws, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 fd, 0) == MAP_FAILED)
		goto unmap;
	if (small && mmap(base + ws, small, PROT_READ | PROT_WRITE,
			  MAP_SHARED | MAP_FIXED, fd, (off_t)ws) == MAP_FAILED)
		goto unmap;
	return base;

unmap:
	err = errno;
	munmap(base, total);
	errno = err;
	return MAP_FAILED;
}

/* Open and map the window. Called with g.lock held. */
int __arena_kernel_init(void)
{
	struct arena_info info = { .size = sizeof(info) };
	size_t small = 0;
	char *base;
	struct stat st;
	int fd, err;

	fd = open("/dev/arena", O_RDWR | O_CLOEXEC);
	if (fd < 0)
		return -errno;
	if (fstat(fd, &st)) {
		err = -errno;
		goto close_fd;
	}
	if (ioctl(fd, ARENA_IOC_GET_INFO, &info) < 0) {
		err = -errno;
		goto close_fd;
	}
	/*
	 * 2: the same ioctls without the small window (what the module
	 * can do is in out_features); 3: this header's.
	 */
	if (info.out_abi_version != ARENA_ABI_VERSION &&
	    info.out_abi_version != 2) {
		err = -EPROTO;
		goto close_fd;
	}
	if (info.out_features & ARENA_FEATURE_SMALL_WINDOW)
		small = info.out_small_window_size;
	base = kernel_map_window(fd, &info, small);
	if (base == MAP_FAILED && small) {
		/* Whole chunks only: small runs would live in the small window. */
		small = 0;
		info.out_features &= ~ARENA_FEATURE_SMALL_RUNS;
		base = kernel_map_window(fd, &info, 0);
	}
	if (base == MAP_FAILED) {
		err = -errno;
		goto close_fd;
	}
	g.fd = fd;
	dev_rdev = st.st_rdev;
	dev_ino = st.st_ino;
	fd_lost = 0;
	g.base = base;
	g.chunk_size = info.out_chunk_size;
	g.chunk_shift = info.out_chunk_shift;
	g.page_size = (size_t)sysconf(_SC_PAGESIZE);
	/* A module without small runs has ARENA_IOC_ALLOC_CHUNKS only. */
	g.small_runs = !!(info.out_features & ARENA_FEATURE_SMALL_RUNS);
	g.free_next = !!(info.out_features & ARENA_FEATURE_FREE_NEXT);
	g.nozero = !!(info.out_features & ARENA_FEATURE_NOZERO);
	g.nozero_small = !!(info.out_features & ARENA_FEATURE_NOZERO_SMALL);
	g.window_size = info.out_window_size + small;
	g.backend = BACKEND_KERNEL;
	return 0;

close_fd:
	close(fd);
	return err;
}

/* In a fork child: the file is the parent's (the kernel refuses it to us). */
void __arena_kernel_forget(void)
{
	if (g.fd >= 0 && !fd_lost)
		close(g.fd);
	g.fd = -1;
	fd_lost = 0;
}

/*
 * Map @len bytes (a page multiple; a chunk multiple from a chunk up) for
 * @ai, creating its kernel arena with the first one, revoking all its
 * other runs first if @reset. Returns the address or NULL with errno set.
 * g.fd and g.base only change in a fork child, where @ai is dead and never
 * gets here.
 */
/* A module without ARENA_IOC_ALLOC: whole chunks, CREATE first. */
static char *kernel_map_chunks(struct __arena *ai, size_t len, int reset)
{
	struct arena_alloc_chunks ac = { .size = sizeof(ac) };
	struct arena_create cr = { .size = sizeof(cr) };
	size_t nr = len >> g.chunk_shift;

	if (nr > UINT32_MAX) {
		errno = ENOMEM;
		return NULL;
	}
	if (!ai->id) {
		if (dev_ioctl(ARENA_IOC_CREATE, &cr) < 0)
			return NULL;
		ai->id = cr.out_arena_id;
	}
	ac.flags = reset ? ARENA_ALLOC_RESET : 0;
	ac.arena_id = ai->id;
	ac.nr_chunks = nr;
	if (dev_ioctl(ARENA_IOC_ALLOC_CHUNKS, &ac) < 0) {
		if (errno == EINVAL || errno == ENOSPC)
			errno = ENOMEM;
		return NULL;
	}
	return g.base + ac.out_offset;
}

char *__arena_kernel_map(struct __arena *ai, size_t len, int reset)
{
	struct arena_alloc al = { .size = sizeof(al) };

	if (!g.small_runs)
		return kernel_map_chunks(ai, len, reset);

	al.length = len;
	al.arena_id = ai->id;
	if (!ai->id)
		al.flags = ARENA_ALLOC_CREATE;
	else if (reset)
		al.flags = ARENA_ALLOC_RESET;
	if ((ai->flags & ARENA_NOZERO) && g.nozero)
		al.flags |= ARENA_ALLOC_NOZERO;
	if (dev_ioctl(ARENA_IOC_ALLOC, &al) < 0) {
		/* EINVAL here means more than the window holds. */
		if (errno == EINVAL || errno == ENOSPC)
			errno = ENOMEM;
		return NULL;
	}
	ai->id = al.arena_id;
	return g.base + al.out_offset;
}

/*
 * Free kernel arena @id; with @next_len, also make the next arena with
 * that much memory mapped (no-zero memory with @next_nozero, which needs
 * g.nozero_small): its id is returned (0 if none could be had) and its
 * address stored in *@next.
 */
unsigned int __arena_kernel_free_id(unsigned int id, size_t next_len,
				    int next_nozero, char **next)
{
	struct arena_free fr = { .size = sizeof(fr), .arena_id = id };

	/* Never allocated from: there is no kernel arena. */
	if (!id)
		return 0;
	if (next_len) {
		fr.flags = ARENA_FREE_NEXT;
		if (next_nozero)
			fr.flags |= ARENA_FREE_NEXT_NOZERO;
		fr.next_length = next_len;
	}
	/*
	 * Cannot fail for an arena this process created and holds; if the
	 * next arena is what the module refused, the plain free still runs.
	 */
	if (dev_ioctl(ARENA_IOC_FREE, &fr) < 0) {
		if (fr.flags && errno != EBADF && errno != ENOENT) {
			fr.flags = 0;
			fr.next_length = 0;
			dev_ioctl(ARENA_IOC_FREE, &fr);
		}
		return 0;
	}
	if (!fr.out_next_id)
		return 0;
	*next = g.base + fr.out_next_offset;
	return fr.out_next_id;
}

/* No lock (arena_lookup() is async-signal-safe): one ioctl. */
int __arena_kernel_lookup(uintptr_t p, struct arena_addr_info *info)
{
	struct arena_lookup lk = { .size = sizeof(lk) };
	uintptr_t base = (uintptr_t)g.base;

	if (p < base || p - base >= g.window_size)
		return 0;
	lk.offset = p - base;
	if (dev_ioctl(ARENA_IOC_LOOKUP, &lk) < 0)
		return -errno;
	info->state = (enum arena_addr_state)lk.out_state;
	info->arena_id = lk.out_arena_id;
	info->offset = lk.out_arena_offset;
	info->freed_ns_ago = lk.out_freed_ns_ago;
	info->freed_by_pid = (int)lk.out_freed_by_pid;
	return 0;
}
