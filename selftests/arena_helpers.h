/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Helpers shared by the arena selftests: raw ioctl wrappers, the window, the
 * module's counters, and fault probes that report whether an access worked
 * and where it faulted.
 */
#ifndef ARENA_HELPERS_H
#define ARENA_HELPERS_H

#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <linux/arena.h>
#include <linux/capability.h>

#define ARENA_DEV "/dev/arena"
#define PAGE_SZ 4096UL

/* Returns 0 or -errno, like the library's int functions. */
static inline int arena_ioc(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? -errno : 0;
}

static inline int arena_get_info(int fd, struct arena_info *info)
{
	memset(info, 0, sizeof(*info));
	info->size = sizeof(*info);
	return arena_ioc(fd, ARENA_IOC_GET_INFO, info);
}

/* Returns the new id (> 0) or -errno. */
static inline long arena_create_id(int fd)
{
	struct arena_create cr = { .size = sizeof(cr) };
	int err = arena_ioc(fd, ARENA_IOC_CREATE, &cr);

	return err ? err : (long)cr.out_arena_id;
}

static inline int arena_chunks(int fd, uint32_t id, uint32_t nr,
			       uint64_t *offset)
{
	struct arena_alloc_chunks ac = {
		.size = sizeof(ac), .arena_id = id, .nr_chunks = nr,
	};
	int err = arena_ioc(fd, ARENA_IOC_ALLOC_CHUNKS, &ac);

	if (!err)
		*offset = ac.out_offset;
	return err;
}

static inline int arena_free_id(int fd, uint32_t id)
{
	struct arena_free fr = { .size = sizeof(fr), .arena_id = id };

	return arena_ioc(fd, ARENA_IOC_FREE, &fr);
}

static inline int arena_lookup_off(int fd, uint64_t off,
				   struct arena_lookup *lk)
{
	memset(lk, 0, sizeof(*lk));
	lk->size = sizeof(*lk);
	lk->offset = off;
	return arena_ioc(fd, ARENA_IOC_LOOKUP, lk);
}

/* Returns 0 or -errno; with @flags ARENA_ALLOC_CREATE *@id is set. */
static inline int arena_alloc_len(int fd, uint32_t *id, uint64_t len,
				  uint32_t flags, uint64_t *off)
{
	struct arena_alloc al = {
		.size = sizeof(al), .flags = flags, .arena_id = *id,
		.length = len,
	};
	int err = arena_ioc(fd, ARENA_IOC_ALLOC, &al);

	if (!err) {
		*id = al.arena_id;
		*off = al.out_offset;
	}
	return err;
}

/* A new arena with one small run of @pages pages; 0 or -errno. */
static inline int small_arena(int fd, size_t pages, uint32_t *id,
			      uint64_t *off)
{
	*id = 0;
	return arena_alloc_len(fd, id, pages * PAGE_SZ, ARENA_ALLOC_CREATE,
			       off);
}

/* Drop CAP_IPC_LOCK, so that RLIMIT_MEMLOCK applies; 0 or -1. */
static inline int drop_cap_ipc_lock(void)
{
	struct __user_cap_header_struct hdr = {
		.version = _LINUX_CAPABILITY_VERSION_3,
	};
	struct __user_cap_data_struct data[2];

	if (syscall(SYS_capget, &hdr, data))
		return -1;
	data[CAP_IPC_LOCK / 32].effective &= ~(1u << (CAP_IPC_LOCK % 32));
	data[CAP_IPC_LOCK / 32].permitted &= ~(1u << (CAP_IPC_LOCK % 32));
	return syscall(SYS_capset, &hdr, data);
}

/*
 * Map the whole window of @fd: the chunk window (@window bytes, at file
 * offset 0, chunk aligned) and right after it the small window (as large,
 * at file offset @window), as libarena does, so that every file offset the
 * ioctls return is an offset from the base. NULL (errno set) on failure.
 */
static inline char *arena_map_window(int fd, size_t window)
{
	size_t cs = (size_t)2 << 20, head;
	char *res, *p;
	int err;

	/* Chunks are at most 2 MiB (chunk_kib); align the base to that. */
	res = mmap(NULL, 2 * window + cs, PROT_NONE,
		   MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	if (res == MAP_FAILED)
		return NULL;
	head = (cs - ((uintptr_t)res & (cs - 1))) & (cs - 1);
	p = res + head;
	if (head)
		munmap(res, head);
	munmap(p + 2 * window, cs - head);
	if (mmap(p, window, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_FIXED,
		 fd, 0) == MAP_FAILED ||
	    mmap(p + window, window, PROT_READ | PROT_WRITE,
		 MAP_SHARED | MAP_FIXED, fd, (off_t)window) == MAP_FAILED) {
		err = errno;
		munmap(p, 2 * window);
		errno = err;
		return NULL;
	}
	return p;
}

/*
 * Open /dev/arena and map its whole window, as most fixtures do: returns
 * the fd with *@info and *@base set, or -errno (*@base NULL).
 */
static inline int arena_open_window(struct arena_info *info, char **base)
{
	int fd = open(ARENA_DEV, O_RDWR | O_CLOEXEC), err;

	*base = NULL;
	if (fd < 0)
		return -errno;
	err = arena_get_info(fd, info);
	if (!err) {
		*base = arena_map_window(fd, info->out_window_size);
		if (!*base)
			err = -errno;
	}
	if (err) {
		close(fd);
		return err;
	}
	return fd;
}

/*
 * In a child process: limit RLIMIT_MEMLOCK to @chunks chunks (and a page),
 * drop CAP_IPC_LOCK so that the limit applies, then open and map a window
 * as arena_open_window() does. Returns the fd, or -errno.
 */
static inline int arena_open_window_memlock(unsigned int chunks,
					    struct arena_info *info,
					    char **base)
{
	int fd = open(ARENA_DEV, O_RDWR | O_CLOEXEC), err;
	struct rlimit rl;

	*base = NULL;
	if (fd < 0)
		return -errno;
	err = arena_get_info(fd, info);
	close(fd);
	if (err)
		return err;
	rl.rlim_cur = rl.rlim_max = chunks * info->out_chunk_size + 4096;
	if (setrlimit(RLIMIT_MEMLOCK, &rl) || drop_cap_ipc_lock())
		return -EPERM;
	return arena_open_window(info, base);
}

/*
 * In a FIXTURE_SETUP whose fixture has fd, info and base: open and map a
 * window, or skip the test where the device is absent or closed to us.
 */
#define ARENA_SETUP_WINDOW(self) do {					\
	(self)->fd = arena_open_window(&(self)->info, &(self)->base);	\
	if ((self)->fd == -ENOENT || (self)->fd == -EACCES)		\
		SKIP(return, "cannot open %s: %s", ARENA_DEV,		\
		     strerror(-(self)->fd));				\
	ASSERT_LE(0, (self)->fd);					\
} while (0)

/* Undo arena_open_window(); either part may be missing (-1, NULL). */
static inline void arena_close_window(int fd, const struct arena_info *info,
				      char *base)
{
	if (base)
		munmap(base, 2 * info->out_window_size);
	if (fd >= 0)
		close(fd);
}

/* One decimal number from a file, or -1 if it cannot be read. */
static inline long read_long_file(const char *dir, const char *name)
{
	char path[160];
	long v = -1;
	FILE *f;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	f = fopen(path, "r");
	if (!f)
		return -1;
	if (fscanf(f, "%ld", &v) != 1)
		v = -1;
	fclose(f);
	return v;
}

/* A counter from /sys/kernel/arena/, or -1 if it cannot be read. */
static inline long arena_counter(const char *name)
{
	return read_long_file("/sys/kernel/arena", name);
}

/* Module parameters under /sys/module/arena/parameters/. */
static inline long arena_param(const char *name)
{
	return read_long_file("/sys/module/arena/parameters", name);
}

/* Returns 0 or -errno. */
/* Write @val to the file @path (sysfs, cgroupfs, tracefs); 0 or -errno. */
static inline int write_file_str(const char *path, const char *val)
{
	ssize_t len = strlen(val);
	int fd, err = 0;

	fd = open(path, O_WRONLY | O_TRUNC);
	if (fd < 0)
		return -errno;
	if (write(fd, val, len) != len)
		err = -errno;
	close(fd);
	return err;
}

static inline int arena_param_set(const char *name, long v)
{
	char path[128], buf[32];

	snprintf(path, sizeof(path), "/sys/module/arena/parameters/%s", name);
	snprintf(buf, sizeof(buf), "%ld", v);
	return write_file_str(path, buf);
}

/* Write 1 to /sys/kernel/arena/drain; 0 or -errno. */
static inline int arena_drain(void)
{
	int fd = open("/sys/kernel/arena/drain", O_WRONLY), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, "1", 1) != 1)
		err = -errno;
	close(fd);
	return err;
}

/* Poll a counter until it equals @want, for up to @ms; true on success. */
static inline bool arena_counter_wait(const char *name, long want, int ms)
{
	for (int t = 0; t <= ms; t += 10) {
		if (arena_counter(name) == want)
			return true;
		usleep(10000);
	}
	return false;
}

/*
 * Wait until the pool worker is idle: nothing dirty, and every chunk the
 * module holds is in a list (a chunk the worker is zeroing is in none).
 */
static inline bool arena_pool_settle(int ms)
{
	for (int t = 0; t <= ms; t += 10) {
		long total = arena_counter("chunks_total");
		long sum = arena_counter("chunks_ready") +
			   arena_counter("chunks_dirty") +
			   arena_counter("chunks_in_use") +
			   arena_counter("chunks_quarantined");

		if (!arena_counter("chunks_dirty") && total == sum &&
		    total == arena_counter("chunks_total"))
			return true;
		usleep(10000);
	}
	return false;
}

/*
 * Fault probes. A SIGSEGV inside a probe jumps back out of it and records
 * the faulting address; each thread has its own jump buffer. Freed arena
 * memory faults with SIGSEGV only: a SIGBUS (or a fault outside a probe)
 * is a failure, and kills the test with that signal.
 */
static __thread sigjmp_buf probe_jmp;
static __thread volatile int probe_armed;
static __thread void *volatile probe_addr;
static __thread volatile int probe_signo;

static void probe_handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (!probe_armed || sig != SIGSEGV) {
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	probe_signo = sig;
	probe_addr = si->si_addr;
	siglongjmp(probe_jmp, 1);
}

/*
 * Send SIGSEGV and SIGBUS to @handler (SA_SIGINFO). SA_NODEFER: handlers
 * that leave by siglongjmp do so with the mask untouched.
 */
static inline void arena_catch_faults(void (*handler)(int, siginfo_t *,
						     void *))
{
	struct sigaction sa = { 0 };

	sa.sa_sigaction = handler;
	sa.sa_flags = SA_SIGINFO | SA_NODEFER;
	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
}

static inline void probe_install(void)
{
	arena_catch_faults(probe_handler);
}

/* True if the read worked; if it faulted, *fault gets si_addr. */
static inline bool try_read(const volatile char *p, char *val, void **fault)
{
	probe_install();
	probe_addr = NULL;
	if (sigsetjmp(probe_jmp, 1)) {
		probe_armed = 0;
		if (fault)
			*fault = probe_addr;
		return false;
	}
	probe_armed = 1;
	*val = *p;
	probe_armed = 0;
	return true;
}

static inline bool try_write(volatile char *p, char val, void **fault)
{
	probe_install();
	probe_addr = NULL;
	if (sigsetjmp(probe_jmp, 1)) {
		probe_armed = 0;
		if (fault)
			*fault = probe_addr;
		return false;
	}
	probe_armed = 1;
	*p = val;
	probe_armed = 0;
	return true;
}

/* True if the access to @p faulted with si_addr exactly @p. */
static inline bool faults_at(volatile char *p)
{
	void *fault = NULL;
	char v;

	if (try_read(p, &v, &fault))
		return false;
	if (fault != (void *)p)
		return false;
	fault = NULL;
	if (try_write(p, 1, &fault))
		return false;
	return fault == (void *)p;
}

/* Sum of a field ("FilePmdMapped:" etc.) in kB over the VMA at @addr. */
static inline long smaps_field_kb(void *addr, const char *field)
{
	unsigned long start, end, want = (unsigned long)addr;
	char line[512];
	bool in = false;
	long kb = -1;
	FILE *f = fopen("/proc/self/smaps", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f)) {
		if (sscanf(line, "%lx-%lx ", &start, &end) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = want >= start && want < end;
			continue;
		}
		if (in && !strncmp(line, field, strlen(field))) {
			kb = strtol(line + strlen(field), NULL, 10);
			break;
		}
	}
	fclose(f);
	return kb;
}

/*
 * The scratch disk of the test VM (scripts/vm-run.sh attaches it on
 * virtio-blk, scripts/guest-init.sh exports its path): $ARENA_TEST_DISK, a
 * block device the tests only read. Its first ARENA_DISK_PATTERN_SIZE bytes
 * hold a pattern: 4 KiB block i starts with i as a 64-bit little-endian
 * number, and its other 4088 bytes are the byte i & 0xff. The rest of the
 * disk is zero. Tests that need it SKIP when the variable is unset.
 */
#define ARENA_DISK_ENV		"ARENA_TEST_DISK"
#define ARENA_DISK_BLOCK	4096UL
#define ARENA_DISK_PATTERN_SIZE	(8UL << 20)

/* One block of the pattern. */
static inline void disk_pattern_block(uint64_t i, unsigned char *blk)
{
	uint64_t le = i;
	int b;

	for (b = 0; b < 8; b++, le >>= 8)
		blk[b] = le & 0xff;
	memset(blk + 8, i & 0xff, ARENA_DISK_BLOCK - 8);
}

/*
 * Check @len bytes read from disk offset @pos into @buf against the pattern;
 * both must be multiples of ARENA_DISK_BLOCK and within the pattern. Returns
 * the offset in @buf of the first wrong byte, or -1 if all are right.
 */
static inline long disk_pattern_mismatch(const void *buf, uint64_t pos,
					 size_t len)
{
	unsigned char want[ARENA_DISK_BLOCK];
	const unsigned char *p = buf;
	size_t done, b;

	if (pos % ARENA_DISK_BLOCK || len % ARENA_DISK_BLOCK ||
	    pos + len > ARENA_DISK_PATTERN_SIZE)
		return 0;
	for (done = 0; done < len; done += ARENA_DISK_BLOCK) {
		disk_pattern_block((pos + done) / ARENA_DISK_BLOCK, want);
		if (!memcmp(p + done, want, ARENA_DISK_BLOCK))
			continue;
		for (b = 0; b < ARENA_DISK_BLOCK; b++)
			if (p[done + b] != want[b])
				return done + b;
	}
	return -1;
}

#endif /* ARENA_HELPERS_H */
