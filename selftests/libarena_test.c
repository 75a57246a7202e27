// SPDX-License-Identifier: GPL-2.0
/*
 * Description: libarena's API on whichever backend the environment picks
 * (the kernel's /dev/arena when present, else mmap; ARENA_BACKEND=mmap
 * forces the fallback, see libarena_mmap_test.c): alignment, chunk edges,
 * large requests, zero sizes, overflow, strings, reset, contains, stats,
 * every freed byte faulting, errors as NULL + errno or -errno, the reverse
 * lookup, many arenas, threads on one ARENA_THREADSAFE arena, and fork.
 *
 * The harness runs each test in its own process, so each starts with no
 * backend chosen.
 */
#include "arena_helpers.h"	/* first: it defines _GNU_SOURCE */

#include <dirent.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <time.h>
#include <sys/wait.h>

#include <libarena.h>

#include "kselftest_harness.h"

/*
 * Under TCG, on a host shared with other VMs, the mmap backend's page-by-page
 * faults make the thread and fork tests take longer than the harness's 30 s.
 */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 120

#define MIB (1UL << 20)

/* The backend this process should get: "kernel" or "mmap". */
static const char *expected_backend(void)
{
	const char *env = getenv("ARENA_BACKEND");

	if (env && !strcmp(env, "mmap"))
		return "mmap";
	if (env && !strcmp(env, "kernel"))
		return "kernel";
	return access(ARENA_DEV, R_OK | W_OK) ? "mmap" : "kernel";
}

static bool on_kernel(void)
{
	return !strcmp(expected_backend(), "kernel");
}

/* The kernel backend on a module with ARENA_FREE_NEXT: threads' spares. */
static bool has_spare(void)
{
#ifdef LIBARENA_TEST_WHOLE_CHUNKS_ONLY
	return false;
#else
	return on_kernel();
#endif
}

static size_t round16(size_t n)
{
	return (n + 15) & ~(size_t)15;
}

/*
 * mapped == requested + waste + available; whole chunks are part of it,
 * and are all of it without small runs.
 */
static bool stats_add_up(struct arena *a, struct arena_stats *st)
{
	size_t chunks_bytes;

	if (arena_stats(a, st))
		return false;
	chunks_bytes = st->chunks * arena_chunk_size();
	return st->mapped == st->requested + st->waste + st->available &&
	       st->mapped >= chunks_bytes &&
	       (st->small_runs || st->mapped == chunks_bytes) &&
	       (!st->small_runs || st->mapped > chunks_bytes);
}

FIXTURE(lib) {
	struct arena *a;
	size_t cs;
	bool whole;	/* runs are whole chunks from the start */
};

/*
 * Every lib test runs on an arena that grows through small runs (the
 * default; whole chunks on the mmap backend) and on one that takes whole
 * chunks from the start.
 */
FIXTURE_VARIANT(lib) {
	unsigned int flags;
};

FIXTURE_VARIANT_ADD(lib, grow) {
	.flags = 0,
};

FIXTURE_VARIANT_ADD(lib, whole) {
	.flags = ARENA_WHOLE_CHUNKS,
};

FIXTURE_SETUP(lib)
{
	self->a = arena_new(variant->flags);
	ASSERT_NE(NULL, self->a);
	self->cs = arena_chunk_size();
	ASSERT_EQ(2UL << 20, self->cs);
	self->whole = (variant->flags & ARENA_WHOLE_CHUNKS) || !on_kernel();
#ifdef LIBARENA_TEST_WHOLE_CHUNKS_ONLY
	self->whole = true;
#endif
}

FIXTURE_TEARDOWN(lib)
{
	arena_free(self->a);
}


/* Every byte of @p[0..@n) is 0; out of line, past the compiler's sizes. */
static __attribute__((noinline)) bool all_zero_bytes(const void *p, size_t n)
{
	const volatile char *c = p;

	for (size_t i = 0; i < n; i++)
		if (c[i])
			return false;
	return true;
}

TEST(backend_is_the_expected_one)
{
	const char *b = arena_backend();

	ASSERT_NE(NULL, b);
	TH_LOG("backend %s", b);
	EXPECT_STREQ(expected_backend(), b);
	EXPECT_EQ(2UL << 20, arena_chunk_size());
	/* Asking again does not change it. */
	EXPECT_EQ(b, arena_backend());
}

TEST(lookup_before_any_arena_is_enoent)
{
	struct arena_addr_info info;

	EXPECT_EQ(-ENOENT, arena_lookup(&info, &info));
	EXPECT_EQ(-EINVAL, arena_lookup(&info, NULL));
}

TEST(bad_backend_variable_is_einval)
{
	setenv("ARENA_BACKEND", "floppy", 1);
	errno = 0;
	EXPECT_EQ(NULL, arena_backend());
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(NULL, arena_new(0));
	EXPECT_EQ(EINVAL, errno);
	EXPECT_EQ(0, arena_chunk_size());
}

TEST(forced_kernel_backend_needs_the_device)
{
	struct arena *a;

	setenv("ARENA_BACKEND", "kernel", 1);
	errno = 0;
	a = arena_new(0);
	if (access(ARENA_DEV, R_OK | W_OK)) {
		EXPECT_EQ(NULL, a);
		EXPECT_EQ(ENOENT, errno);
		EXPECT_EQ(NULL, arena_backend());
	} else {
		ASSERT_NE(NULL, a);
		EXPECT_STREQ("kernel", arena_backend());
	}
	arena_free(a);
}

TEST(forced_mmap_backend)
{
	struct arena *a;
	char *p;

	setenv("ARENA_BACKEND", "mmap", 1);
	a = arena_new(0);
	ASSERT_NE(NULL, a);
	EXPECT_STREQ("mmap", arena_backend());
	p = arena_alloc(a, 100);
	ASSERT_NE(NULL, p);
	memset(p, 1, 100);
	arena_free(a);
	EXPECT_TRUE(faults_at(p));
}

/* A new arena works and its memory faults once freed. */
static bool arena_round_trip(void)
{
	struct arena *a = arena_new(0);
	char *p = a ? arena_alloc(a, 100) : NULL;

	if (!p)
		return false;
	memset(p, 1, 100);
	arena_free(a);
	return faults_at(p);
}

/*
 * The automatic choice takes the mmap backend when /dev/arena cannot be
 * had for want of a file descriptor (EMFILE): on the host the device is
 * absent anyway, but open() says EMFILE before it looks.
 */
TEST(auto_backend_without_a_free_fd_falls_back_to_mmap)
{
	struct rlimit old, lim;
	int fds[64], n = 0, fd;
	const char *b;

	unsetenv("ARENA_BACKEND");
	ASSERT_EQ(0, getrlimit(RLIMIT_NOFILE, &old));
	lim = old;
	lim.rlim_cur = 32;
	ASSERT_EQ(0, setrlimit(RLIMIT_NOFILE, &lim));
	while (n < 64 && (fd = open("/dev/null", O_RDONLY | O_CLOEXEC)) >= 0)
		fds[n++] = fd;
	ASSERT_EQ(EMFILE, errno);
	b = arena_backend();
	ASSERT_NE(NULL, b) TH_LOG("arena_backend: %s", strerror(errno));
	EXPECT_STREQ("mmap", b);
	EXPECT_TRUE(arena_round_trip());
	while (n)
		close(fds[--n]);
	setrlimit(RLIMIT_NOFILE, &old);
}

/*
 * ... or when its window does not fit (ENOMEM: RLIMIT_AS below the
 * kernel's 64 GiB window; the mmap backend's steps down to 4 GiB).
 */
TEST(auto_backend_without_room_for_the_window_falls_back_to_mmap)
{
	unsigned long pages = 0;
	struct rlimit lim;
	const char *b;
	FILE *f;

	unsetenv("ARENA_BACKEND");
	f = fopen("/proc/self/statm", "r");
	ASSERT_NE(NULL, f);
	ASSERT_EQ(1, fscanf(f, "%lu", &pages));
	fclose(f);
	lim.rlim_cur = lim.rlim_max = pages * PAGE_SZ + (6UL << 30);
	ASSERT_EQ(0, setrlimit(RLIMIT_AS, &lim));
	b = arena_backend();
	ASSERT_NE(NULL, b) TH_LOG("arena_backend: %s", strerror(errno));
	EXPECT_STREQ("mmap", b);
	EXPECT_TRUE(arena_round_trip());
}

/* The library's /dev/arena descriptor, from /proc/self/fd; -1 if none. */
static int library_arena_fd(void)
{
	char path[300], target[64];
	struct dirent *e;
	int fd = -1;
	ssize_t n;
	DIR *d = opendir("/proc/self/fd");

	if (!d)
		return -1;
	while (fd < 0 && (e = readdir(d))) {
		snprintf(path, sizeof(path), "/proc/self/fd/%s", e->d_name);
		n = readlink(path, target, sizeof(target) - 1);
		if (n > 0) {
			target[n] = 0;
			if (!strcmp(target, ARENA_DEV))
				fd = atoi(e->d_name);
		}
	}
	closedir(d);
	return fd;
}

/*
 * Code that closes every descriptor (closefrom(), a daemon's close loop)
 * can close the library's /dev/arena under it, and the number may then
 * name another file. The library notices at its next ioctl: every call
 * that needs the device fails with EBADF, and arena_free() of an arena
 * with memory, which no ioctl can revoke any more, revokes it by hand or
 * (the module's window cannot be split: always, today) aborts rather than
 * leave it usable. In a child, once with the number left closed and once
 * reused for /dev/null.
 */
TEST(closed_device_descriptor_fails_safe)
{
	if (!on_kernel())
		SKIP(return, "the kernel backend's descriptor");
	for (int reuse = 0; reuse < 2; reuse++) {
		pid_t pid = fork();
		int st;

		ASSERT_LE(0, pid);
		if (!pid) {
			struct arena_addr_info info;
			struct arena *a, *b;
			int fd, bad = 0;
			char *p, *q;

			a = arena_new(0);
			p = a ? arena_alloc(a, 100) : NULL;
			fd = library_arena_fd();
			if (!p || fd < 0)
				_exit(64);
			memset(p, 1, 100);
			close(fd);
			if (reuse) {
				int n = open("/dev/null", O_RDWR);

				if (n < 0 || (n != fd && dup2(n, fd) != fd))
					_exit(65);
			}
			b = arena_new(0);
			q = b ? arena_alloc(b, 100) : NULL;
			bad |= !q && errno == EBADF ? 0 : 2;
			bad |= arena_lookup(p, &info) == -EBADF ? 0 : 4;
			/* Nothing to revoke: fine. */
			arena_free(b);
			if (bad)
				_exit(bad);
			/* Quiet: the library says why on stderr. */
			dup2(open("/dev/null", O_WRONLY), STDERR_FILENO);
			arena_free(a);
			/* Only if p was made to fault by hand. */
			_exit(faults_at(p) && faults_at(p + 99) ? 0 : 1);
		}
		ASSERT_EQ(pid, waitpid(pid, &st, 0));
		TH_LOG("reuse %d: status %#x", reuse, st);
		if (WIFEXITED(st)) {
			EXPECT_EQ(0, WEXITSTATUS(st));
		} else {
			EXPECT_EQ(SIGABRT, WTERMSIG(st));
		}
	}
}

TEST_F(lib, allocations_are_aligned_and_disjoint)
{
	char *prev = NULL, *p;
	size_t sizes[] = { 0, 1, 7, 15, 16, 17, 31, 100, 4096, 5000 };
	size_t prev_size = 0;
	int i;

	for (i = 0; i < 1000; i++) {
		size_t sz = sizes[i % 10];

		p = arena_alloc(self->a, sz);
		ASSERT_NE(NULL, p);
		ASSERT_EQ(0, (uintptr_t)p % ARENA_ALIGN);
		ASSERT_TRUE(arena_contains(self->a, p));
		if (prev && p > prev)
			ASSERT_GE((size_t)(p - prev), prev_size);
		memset(p, i, sz);
		prev = p;
		prev_size = sz;
	}
}

TEST_F(lib, fills_chunks_and_crosses_into_new_ones)
{
	size_t n = 3 * self->cs / 1000 + 10, i;
	unsigned int **v = calloc(n, sizeof(*v));
	struct arena_stats st;

	ASSERT_NE(NULL, v);
	for (i = 0; i < n; i++) {
		v[i] = arena_alloc(self->a, 1000);
		ASSERT_NE(NULL, v[i]);
		for (size_t k = 0; k < 1000 / sizeof(unsigned int); k++)
			v[i][k] = (unsigned int)(i * 1000 + k);
	}
	for (i = 0; i < n; i++)
		for (size_t k = 0; k < 1000 / sizeof(unsigned int); k++)
			ASSERT_EQ(i * 1000 + k, v[i][k]);
	ASSERT_TRUE(stats_add_up(self->a, &st));
	EXPECT_EQ(n * 1008, st.requested);
	if (self->whole) {
		EXPECT_EQ(4, st.chunks);
		/* Each full chunk leaves the tail a 1008-byte block missed. */
		EXPECT_EQ(3 * (self->cs % 1008), st.waste);
	} else {
		/* 4 KiB, 8 KiB ... 64 KiB small runs, then whole chunks. */
		EXPECT_EQ(5, st.small_runs);
		EXPECT_EQ(3, st.chunks);
	}
	free(v);
}

TEST_F(lib, exact_fit_fills_the_chunk)
{
	char *p, *q, *r;
	size_t quarter = self->cs / 4;
	struct arena_stats st;
	int i;

	if (!self->whole)
		SKIP(return, "about whole chunks: see grow_runs_double");
	p = arena_alloc(self->a, 16);
	ASSERT_NE(NULL, p);
	/* p starts a fresh chunk; fill it to the last byte. */
	for (i = 0; i < 3; i++)
		ASSERT_EQ(p + 16 + i * quarter, arena_alloc(self->a, quarter));
	q = arena_alloc(self->a, quarter - 16);
	EXPECT_EQ(p + 16 + 3 * quarter, q);
	memset(q, 1, quarter - 16);
	ASSERT_TRUE(stats_add_up(self->a, &st));
	EXPECT_EQ(0, st.available);
	EXPECT_EQ(0, st.waste);
	/* Full: the next one starts another chunk. */
	r = arena_alloc(self->a, 1);
	ASSERT_NE(NULL, r);
	EXPECT_TRUE(r < p || r >= p + self->cs);
	ASSERT_TRUE(stats_add_up(self->a, &st));
	EXPECT_EQ(2, st.chunks);
	EXPECT_EQ(0, st.waste);
}

/*
 * A kernel-backed arena starts with one page and doubles each next run (or
 * more, to fit the request) up to 64 KiB; then whole chunks.
 */
TEST_F(lib, grow_runs_double)
{
	struct arena_stats st;
	char *p, *q, *r;
	size_t total;
	int i;

	if (self->whole)
		SKIP(return, "whole chunks from the start");
	p = arena_alloc(self->a, 16);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, (uintptr_t)p % 4096);
	ASSERT_TRUE(stats_add_up(self->a, &st));
	EXPECT_EQ(4096, st.mapped);
	EXPECT_EQ(1, st.small_runs);
	EXPECT_EQ(0, st.chunks);
	EXPECT_EQ(4080, st.available);
	/* The exact fit, then the next run is twice as large. */
	q = arena_alloc(self->a, 4080);
	EXPECT_EQ(p + 16, q);
	memset(q, 1, 4080);
	r = arena_alloc(self->a, 16);
	ASSERT_NE(NULL, r);
	EXPECT_TRUE(r < p || r >= p + 4096);
	ASSERT_TRUE(stats_add_up(self->a, &st));
	EXPECT_EQ(4096 + 8192, st.mapped);
	EXPECT_EQ(2, st.small_runs);
	EXPECT_EQ(0, st.waste);
	/* 20000 bytes do not fit 8 KiB: the next run doubles to 32 KiB. */
	q = arena_alloc(self->a, 20000);
	ASSERT_NE(NULL, q);
	ASSERT_TRUE(stats_add_up(self->a, &st));
	EXPECT_EQ(4096 + 8192 + 32768, st.mapped);
	EXPECT_EQ(3, st.small_runs);
	/* An 8 KiB alignment inside a small run. */
	q = arena_alloc_aligned(self->a, 100, 8192);
	ASSERT_NE(NULL, q);
	EXPECT_EQ(0, (uintptr_t)q % 8192);
	memset(q, 2, 100);
	/* Keep going: 64 KiB, then whole chunks. */
	for (i = 0; i < 40; i++)
		ASSERT_NE(NULL, arena_alloc(self->a, 100000));
	ASSERT_TRUE(stats_add_up(self->a, &st));
	EXPECT_GE(st.chunks, 1);
	total = st.mapped;
	TH_LOG("%zu small runs, %zu chunks, %zu bytes mapped", st.small_runs,
	       st.chunks, total);
	EXPECT_EQ(3, st.small_runs);	/* 4, 8 and 32 KiB */
	arena_free(self->a);
	self->a = NULL;
	EXPECT_TRUE(faults_at(p));
	EXPECT_TRUE(faults_at(q + 99));
	EXPECT_TRUE(faults_at(r));
}

/* The mapped bytes and small runs of a new arena after one 16-byte alloc. */
static void first_run_of_new_arena(size_t *mapped, size_t *runs)
{
	struct arena *b = arena_new(0);
	struct arena_stats st = { 0 };

	if (b && arena_alloc(b, 16))
		arena_stats(b, &st);
	*mapped = st.mapped;
	*runs = st.small_runs;
	arena_free(b);
}

/* An arena that bump-allocates @bytes in 208-byte pieces, then is freed. */
static bool use_and_free(size_t bytes)
{
	struct arena *b = arena_new(0);
	size_t done;

	if (!b)
		return false;
	for (done = 0; done < bytes; done += 208)
		if (!arena_alloc(b, 200)) {
			arena_free(b);
			return false;
		}
	arena_free(b);
	return true;
}

/*
 * A new arena's first run follows what the arenas freed before it used:
 * rising at most twofold per free, falling at once, never past 64 KiB.
 */
TEST_F(lib, first_run_follows_freed_arenas)
{
	size_t mapped, runs;
	int i;

	if (self->whole)
		SKIP(return, "whole chunks from the start");
	/* Each probe is itself a 16-byte arena: after it, a page again. */
	first_run_of_new_arena(&mapped, &runs);
	EXPECT_EQ(4096, mapped);
	/* 20 KiB requests: 8, 16, then 32 KiB, which holds one whole. */
	for (i = 0; i < 3; i++)
		ASSERT_TRUE(use_and_free(20000));
	first_run_of_new_arena(&mapped, &runs);
	EXPECT_EQ(32768, mapped);
	EXPECT_EQ(1, runs);
	/*
	 * Small probes bring it back down once the last 8 freed arenas all
	 * used less (the one above was the first of them).
	 */
	for (i = 0; i < 7; i++)
		first_run_of_new_arena(&mapped, &runs);
	EXPECT_EQ(32768, mapped);
	first_run_of_new_arena(&mapped, &runs);
	EXPECT_EQ(4096, mapped);
	/* One large arena among small ones moves it only twofold. */
	ASSERT_TRUE(use_and_free(1 << 20));
	first_run_of_new_arena(&mapped, &runs);
	EXPECT_EQ(8192, mapped);
	/* Never past 64 KiB. */
	for (i = 0; i < 8; i++)
		ASSERT_TRUE(use_and_free(1 << 20));
	first_run_of_new_arena(&mapped, &runs);
	EXPECT_EQ(65536, mapped);
	EXPECT_EQ(1, runs);
}

/*
 * Many live arenas after a phase of large ones: first runs of the learned
 * size hold at most 8 MiB in all, the other arenas start with a page.
 */
TEST_F(lib, first_runs_of_live_arenas_are_bounded)
{
	enum { N = 300 };
	struct arena *b[N];
	struct arena_stats st;
	size_t big = 0, total = 0;
	int i;

	if (self->whole)
		SKIP(return, "whole chunks from the start");
	for (i = 0; i < 8; i++)
		ASSERT_TRUE(use_and_free(1 << 20));
	for (i = 0; i < N; i++) {
		b[i] = arena_new(0);
		ASSERT_NE(NULL, b[i]);
		ASSERT_NE(NULL, arena_alloc(b[i], 1000));
		ASSERT_EQ(0, arena_stats(b[i], &st));
		EXPECT_TRUE(st.mapped == 65536 || st.mapped == 4096);
		big += st.mapped == 65536;
		total += st.mapped;
	}
	TH_LOG("%zu of %d arenas started with 64 KiB, %zu bytes in all", big,
	       N, total);
	EXPECT_GE(big, 1);
	/* The fixture's arena is live too: 8 MiB / 64 KiB, less one. */
	EXPECT_LE(big, 127);
	EXPECT_LE(total, (8 << 20) + N * 4096);
	EXPECT_EQ(4096, st.mapped);
	for (i = 0; i < N; i++)
		arena_free(b[i]);
	/* They used 1 KiB each: a page again. */
	first_run_of_new_arena(&big, &total);
	EXPECT_EQ(4096, big);
}

TEST_F(lib, large_requests_get_their_own_run)
{
	char *small = arena_alloc(self->a, 64), *big, *after;
	size_t bigsz = self->cs * 3 + 12345;
	struct arena_stats st;

	ASSERT_NE(NULL, small);
	big = arena_alloc(self->a, bigsz);
	ASSERT_NE(NULL, big);
	EXPECT_EQ(0, (uintptr_t)big % self->cs);
	memset(big, 0x33, bigsz);
	EXPECT_EQ(0x33, big[bigsz - 1]);
	EXPECT_TRUE(arena_contains(self->a, big + bigsz - 1));
	/* The small allocations continue in the first chunk. */
	after = arena_alloc(self->a, 64);
	EXPECT_EQ(small + 64, after);
	ASSERT_TRUE(stats_add_up(self->a, &st));
	EXPECT_EQ(self->whole ? 5 : 4, st.chunks);
	EXPECT_EQ(self->whole ? 0 : 1, st.small_runs);
	EXPECT_EQ(128 + round16(bigsz), st.requested);
	EXPECT_EQ(4 * self->cs - round16(bigsz), st.waste);
	/*
	 * Over a quarter chunk is large when it misses: with room left it
	 * comes from the chunk (the inline path does not look at sizes).
	 */
	if (!self->whole)
		return;		/* a one-page first run has no such room */
	after = arena_alloc(self->a, self->cs / 2);
	EXPECT_EQ(small + 128, after);
	big = arena_alloc(self->a, self->cs / 2);
	EXPECT_EQ(0, (uintptr_t)big % self->cs);
	after = arena_alloc(self->a, 64);
	EXPECT_EQ(small + 128 + self->cs / 2, after);
}

TEST_F(lib, huge_and_overflowing_sizes_fail_with_enomem)
{
	errno = 0;
	EXPECT_EQ(NULL, arena_alloc(self->a, SIZE_MAX));
	EXPECT_EQ(ENOMEM, errno);
	errno = 0;
	EXPECT_EQ(NULL, arena_alloc(self->a, SIZE_MAX - 8));
	EXPECT_EQ(ENOMEM, errno);
	errno = 0;
	EXPECT_EQ(NULL, arena_alloc(self->a, SIZE_MAX - self->cs + 1));
	EXPECT_EQ(ENOMEM, errno);
	errno = 0;
	EXPECT_EQ(NULL, arena_alloc(self->a, (size_t)1 << 50));
	EXPECT_EQ(ENOMEM, errno);
	errno = 0;
	EXPECT_EQ(NULL, arena_alloc_aligned(self->a, SIZE_MAX, 64));
	EXPECT_EQ(ENOMEM, errno);
	/* The arena still works. */
	EXPECT_NE(NULL, arena_alloc(self->a, 10));
}

/*
 * A zero-byte request gets an object of its own, ARENA_ALIGN bytes (as
 * glibc's malloc(0)): never the address of another request, on every path.
 */
static void zero_size_unique(struct __test_metadata *_metadata,
			     struct arena *a, int n)
{
	int i, k, shared = -1;
	char *p[8];

	for (i = 0; i < n; i++) {
		p[i] = arena_alloc(a, 0);
		ASSERT_NE(NULL, p[i]);
		ASSERT_EQ(0, (uintptr_t)p[i] % ARENA_ALIGN);
		ASSERT_TRUE(arena_contains(a, p[i]));
		memset(p[i], 0x5a, ARENA_ALIGN);
	}
	p[n] = arena_alloc(a, 1);
	ASSERT_NE(NULL, p[n]);
	*p[n] = 1;
	for (i = 0; i <= n; i++)
		for (k = 0; k < i; k++)
			if (p[i] < p[k] + ARENA_ALIGN &&
			    p[k] < p[i] + ARENA_ALIGN)
				shared = i;
	ASSERT_LT(shared, 0) TH_LOG("request %d overlaps an earlier one",
				    shared);
}

TEST_F(lib, zero_size_requests_get_valid_pointers)
{
	struct arena_stats st, st0;
	char *p, *s;

	/* The first allocation: the slow path (no run yet). */
	zero_size_unique(_metadata, self->a, 3);
	/* Room left in the run: the inline hit path. */
	zero_size_unique(_metadata, self->a, 3);
	/* Each counts ARENA_ALIGN bytes requested. */
	ASSERT_TRUE(stats_add_up(self->a, &st0));
	ASSERT_NE(NULL, arena_alloc(self->a, 0));
	ASSERT_TRUE(stats_add_up(self->a, &st));
	EXPECT_EQ(st0.requested + ARENA_ALIGN, st.requested);
	/* A full run: the miss. */
	ASSERT_TRUE(stats_add_up(self->a, &st));
	while (st.available) {
		size_t n = st.available > self->cs / 4 ? self->cs / 4 :
			   st.available;

		ASSERT_NE(NULL, arena_alloc(self->a, n));
		ASSERT_TRUE(stats_add_up(self->a, &st));
	}
	zero_size_unique(_metadata, self->a, 3);

	p = arena_calloc(self->a, 0, 100);
	ASSERT_NE(NULL, p);
	/* Its 16 bytes, which the compiler sizes as 0 (alloc_size). */
	EXPECT_TRUE(all_zero_bytes(p, ARENA_ALIGN));
	p = arena_calloc(self->a, 100, 0);
	ASSERT_NE(NULL, p);
	/* Aligned: the out-of-line path, and its own object too. */
	p = arena_alloc_aligned(self->a, 0, 256);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, (uintptr_t)p % 256);
	EXPECT_TRUE(arena_contains(self->a, p));
	s = arena_alloc(self->a, 0);
	ASSERT_NE(NULL, s);
	EXPECT_GE(s, p + ARENA_ALIGN);
	p = arena_alloc_aligned(self->a, 0, 16);
	s = arena_alloc_aligned(self->a, 0, 16);
	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, s);
	EXPECT_GE(s, p + ARENA_ALIGN);
	s = arena_strndup(self->a, "abc", 0);
	ASSERT_NE(NULL, s);
	EXPECT_STREQ("", s);
	s = arena_strdup(self->a, "");
	ASSERT_NE(NULL, s);
	EXPECT_STREQ("", s);
}

TEST(zero_size_first_allocation_of_a_shared_arena)
{
	struct arena *a = arena_new(ARENA_THREADSAFE);

	ASSERT_NE(NULL, a);
	zero_size_unique(_metadata, a, 4);
	zero_size_unique(_metadata, a, 4);
	arena_free(a);
}

TEST_F(lib, aligned_allocations)
{
	struct arena_stats st;
	size_t align;
	char *p;

	for (align = 1; align <= self->cs; align *= 2) {
		/* An odd-sized block first, so the cursor is misaligned. */
		ASSERT_NE(NULL, arena_alloc(self->a, 24));
		p = arena_alloc_aligned(self->a, 40, align);
		ASSERT_NE(NULL, p);
		EXPECT_EQ(0, (uintptr_t)p % align);
		EXPECT_EQ(0, (uintptr_t)p % ARENA_ALIGN);
		EXPECT_TRUE(arena_contains(self->a, p));
		memset(p, 0x5a, 40);
	}
	/* Large and aligned: its own run, chunk aligned. */
	p = arena_alloc_aligned(self->a, self->cs + 1, self->cs);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, (uintptr_t)p % self->cs);
	p = arena_alloc_aligned(self->a, 100, 4096);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, (uintptr_t)p % 4096);
	ASSERT_TRUE(stats_add_up(self->a, &st));
	/* The padding counts as waste, not as requested. */
	EXPECT_GT(st.waste, 0);
}

TEST_F(lib, aligned_rejects_bad_alignments)
{
	size_t bad[] = { 0, 3, 24, 48, 100, 4095, 2 * 2UL << 20,
			 (size_t)1 << 40, ((size_t)1 << 63) };
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		EXPECT_EQ(NULL, arena_alloc_aligned(self->a, 16, bad[i]));
		EXPECT_EQ(EINVAL, errno);
	}
	errno = 0;
	EXPECT_EQ(NULL, arena_alloc_aligned(NULL, 16, 16));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(lib, calloc_zeroes_and_checks_overflow)
{
	unsigned long *v;
	char *big;
	size_t i;

	v = arena_calloc(self->a, 1000, sizeof(*v));
	ASSERT_NE(NULL, v);
	for (i = 0; i < 1000; i++)
		ASSERT_EQ(0, v[i]);
	big = arena_calloc(self->a, 3, self->cs);
	ASSERT_NE(NULL, big);
	EXPECT_EQ(0, big[0]);
	EXPECT_EQ(0, big[3 * self->cs - 1]);

	errno = 0;
	EXPECT_EQ(NULL, arena_calloc(self->a, SIZE_MAX / 2, 3));
	EXPECT_EQ(ENOMEM, errno);
	errno = 0;
	EXPECT_EQ(NULL, arena_calloc(self->a, SIZE_MAX, SIZE_MAX));
	EXPECT_EQ(ENOMEM, errno);
	errno = 0;
	EXPECT_EQ(NULL, arena_calloc(self->a, (size_t)1 << 32,
				     (size_t)1 << 32));
	EXPECT_EQ(ENOMEM, errno);
	errno = 0;
	EXPECT_EQ(NULL, arena_calloc(NULL, 1, 1));
	EXPECT_EQ(EINVAL, errno);
	/* Still works. */
	EXPECT_NE(NULL, arena_calloc(self->a, 2, 2));
}

TEST_F(lib, memory_after_reset_is_zero_again)
{
	unsigned char *p = arena_alloc(self->a, 4096), *q;
	int i;

	ASSERT_NE(NULL, p);
	memset(p, 0xff, 4096);
	ASSERT_EQ(0, arena_reset(self->a));
	q = arena_calloc(self->a, 4096, 1);
	ASSERT_NE(NULL, q);
	for (i = 0; i < 4096; i++)
		ASSERT_EQ(0, q[i]);
}

TEST_F(lib, strdup_and_strndup)
{
	const char *s = "arena memory";
	char *p;

	p = arena_strdup(self->a, s);
	ASSERT_NE(NULL, p);
	EXPECT_STREQ(s, p);
	EXPECT_NE(s, p);
	EXPECT_TRUE(arena_contains(self->a, p));
	p = arena_strndup(self->a, s, 5);
	ASSERT_NE(NULL, p);
	EXPECT_STREQ("arena", p);
	p = arena_strndup(self->a, s, 1000);
	ASSERT_NE(NULL, p);
	EXPECT_STREQ(s, p);
	p = arena_strndup(self->a, s, strlen(s));
	ASSERT_NE(NULL, p);
	EXPECT_STREQ(s, p);

	errno = 0;
	EXPECT_EQ(NULL, arena_strdup(self->a, NULL));
	EXPECT_EQ(EINVAL, errno);
	errno = 0;
	EXPECT_EQ(NULL, arena_strndup(NULL, s, 3));
	EXPECT_EQ(EINVAL, errno);
}

TEST_F(lib, strings_at_chunk_edges)
{
	char s31[32], s32[33], *first, *p, *q, *run;
	struct arena_stats st;
	size_t left, rs;

	memset(s31, 'x', 31);
	s31[31] = '\0';
	memset(s32, 'y', 32);
	s32[32] = '\0';

	/* Leave exactly 32 bytes in the current run. */
	first = arena_alloc(self->a, 16);
	ASSERT_NE(NULL, first);
	ASSERT_TRUE(stats_add_up(self->a, &st));
	rs = st.available + 16;		/* the run's size */
	left = rs - 16 - 32;
	while (left) {
		size_t n = left > self->cs / 4 ? self->cs / 4 : left;

		ASSERT_NE(NULL, arena_alloc(self->a, n));
		left -= n;
	}
	ASSERT_TRUE(stats_add_up(self->a, &st));
	ASSERT_EQ(32, st.available);

	/* 31 characters and the NUL: the exact fit, the run's last bytes. */
	p = arena_strdup(self->a, s31);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(first + rs - 32, p);
	EXPECT_STREQ(s31, p);
	EXPECT_EQ('\0', first[rs - 1]);
	/* 33 bytes cannot fit anywhere in it now: a new run. */
	q = arena_strdup(self->a, s32);
	ASSERT_NE(NULL, q);
	EXPECT_TRUE(q < first || q >= first + rs);
	EXPECT_STREQ(s32, q);

	/*
	 * A source without a NUL that ends at a chunk's last byte, before a
	 * slot that faults: strndup must not read past n.
	 */
	run = arena_alloc(self->a, self->cs);
	ASSERT_NE(NULL, run);
	if (!faults_at(run + self->cs))
		SKIP(return, "the slot after the run is mapped");
	memcpy(run + self->cs - 8, "abcdefgh", 8);
	p = arena_strndup(self->a, run + self->cs - 8, 8);
	ASSERT_NE(NULL, p);
	EXPECT_STREQ("abcdefgh", p);
	p = arena_strndup(self->a, run + self->cs - 8, 5);
	ASSERT_NE(NULL, p);
	EXPECT_STREQ("abcde", p);
}

TEST(unknown_flags_einval)
{
	unsigned int bad[] = { 8, 16, 0x80000000u, ~0u, ARENA_THREADSAFE | 8,
			       ~ARENA_VALID_FLAGS };
	unsigned int i;

	for (i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		errno = 0;
		EXPECT_EQ(NULL, arena_new(bad[i]));
		EXPECT_EQ(EINVAL, errno);
	}
}

TEST(null_arguments)
{
	struct arena_stats st;
	struct arena *a;

	arena_free(NULL);
	EXPECT_EQ(-EINVAL, arena_reset(NULL));
	EXPECT_EQ(-EINVAL, arena_stats(NULL, &st));
	EXPECT_EQ(0, arena_contains(NULL, &st));
	EXPECT_EQ(0, arena_id(NULL));
	a = arena_new(0);
	ASSERT_NE(NULL, a);
	EXPECT_EQ(-EINVAL, arena_stats(a, NULL));
	EXPECT_EQ(0, arena_contains(a, NULL));
	arena_free(a);
}

TEST(free_keeps_errno)
{
	struct arena *a = arena_new(0);

	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, arena_alloc(a, 100));
	errno = 1234;
	arena_free(a);
	EXPECT_EQ(1234, errno);
}

TEST(every_freed_allocation_faults)
{
	struct arena *a;
	char *p[64];
	size_t sz[64];
	int i;

	a = arena_new(0);
	ASSERT_NE(NULL, a);
	for (i = 0; i < 64; i++) {
		sz[i] = (i % 8 == 7) ? (1 << 20) : 24 + i * 100;
		p[i] = arena_alloc(a, sz[i]);
		ASSERT_NE(NULL, p[i]);
		memset(p[i], 0xee, sz[i]);
	}
	arena_free(a);
	for (i = 0; i < 64; i++) {
		ASSERT_TRUE(faults_at(p[i]));
		ASSERT_TRUE(faults_at(p[i] + sz[i] - 1));
	}
}

static void reset_revokes(struct __test_metadata *_metadata, unsigned int fl)
{
	struct arena_addr_info info;
	struct arena_stats st;
	char *small, *big, *n;
	struct arena *a;
	size_t cs = arena_chunk_size();

	a = arena_new(fl);
	ASSERT_NE(NULL, a);
	/* Resetting an empty arena is fine and maps nothing. */
	ASSERT_EQ(0, arena_reset(a));
	ASSERT_EQ(0, arena_stats(a, &st));
	EXPECT_EQ(0, st.chunks);

	small = arena_alloc(a, 100);
	big = arena_alloc(a, 3 * cs);
	ASSERT_NE(NULL, small);
	ASSERT_NE(NULL, big);
	memset(small, 1, 100);
	memset(big, 2, 3 * cs);
	ASSERT_EQ(0, arena_reset(a));

	EXPECT_TRUE(faults_at(small));
	EXPECT_TRUE(faults_at(small + 99));
	EXPECT_TRUE(faults_at(big));
	EXPECT_TRUE(faults_at(big + 3 * cs - 1));
	EXPECT_FALSE(arena_contains(a, small));
	EXPECT_FALSE(arena_contains(a, big));
	ASSERT_EQ(0, arena_lookup(small, &info));
	EXPECT_EQ(ARENA_ADDR_FREED, info.state);
	EXPECT_EQ(arena_id(a), info.arena_id);
	EXPECT_EQ(getpid(), info.freed_by_pid);

	ASSERT_TRUE(stats_add_up(a, &st));
	EXPECT_EQ(0, st.requested);
	EXPECT_EQ(0, st.waste);
	/* The kernel maps the fresh run in the call that revokes. */
	EXPECT_EQ(on_kernel() ? 1 : 0, st.chunks + st.small_runs);

	n = arena_alloc(a, 100);
	ASSERT_NE(NULL, n);
	EXPECT_TRUE(arena_contains(a, n));
	EXPECT_EQ(0, n[0]);
	memset(n, 3, 100);
	ASSERT_TRUE(stats_add_up(a, &st));
	EXPECT_EQ(1, st.chunks + st.small_runs);
	EXPECT_EQ(112, st.requested);
	ASSERT_EQ(0, arena_lookup(n, &info));
	EXPECT_EQ(ARENA_ADDR_LIVE, info.state);

	/* Twice in a row, then free. */
	ASSERT_EQ(0, arena_reset(a));
	ASSERT_EQ(0, arena_reset(a));
	EXPECT_TRUE(faults_at(n));
	ASSERT_NE(NULL, arena_alloc(a, 10));
	arena_free(a);
}

TEST(reset_revokes_and_keeps_the_arena)
{
	reset_revokes(_metadata, 0);
}

TEST(reset_revokes_and_keeps_a_shared_arena)
{
	reset_revokes(_metadata, ARENA_THREADSAFE);
}

TEST_F(lib, contains_only_its_own_chunks)
{
	struct arena *b = arena_new(0);
	char *p = arena_alloc(self->a, 10), *q, local;

	ASSERT_NE(NULL, b);
	ASSERT_NE(NULL, p);
	q = arena_alloc(b, 10);
	ASSERT_NE(NULL, q);
	EXPECT_TRUE(arena_contains(self->a, p));
	EXPECT_FALSE(arena_contains(self->a, q));
	EXPECT_TRUE(arena_contains(b, q));
	EXPECT_FALSE(arena_contains(b, p));
	EXPECT_FALSE(arena_contains(self->a, &local));
	EXPECT_FALSE(arena_contains(self->a, self));
	/* The whole run, handed out or not, and not a byte beyond. */
	{
		size_t run = self->whole ? self->cs : 4096;

		p = (char *)((uintptr_t)p & ~(uintptr_t)(run - 1));
		EXPECT_TRUE(arena_contains(self->a, p));
		EXPECT_TRUE(arena_contains(self->a, p + run - 1));
		EXPECT_FALSE(arena_contains(self->a, p + run));
		EXPECT_FALSE(arena_contains(self->a, p - 1));
	}
	arena_free(b);
}

TEST_F(lib, stats_add_up)
{
	struct arena_stats st;
	size_t want = 0, sz;
	unsigned int seed = 7;
	int i;

	ASSERT_TRUE(stats_add_up(self->a, &st));
	EXPECT_EQ(0, st.requested);
	EXPECT_EQ(0, st.mapped);
	EXPECT_EQ(0, st.chunks);
	for (i = 0; i < 5000; i++) {
		seed = seed * 1103515245 + 12345;
		sz = 1 + (seed >> 8) % (i % 100 == 99 ? 3 * self->cs : 3000);
		if (i % 7 == 0) {
			ASSERT_NE(NULL, arena_alloc_aligned(self->a, sz, 256));
		} else {
			ASSERT_NE(NULL, arena_alloc(self->a, sz));
		}
		want += round16(sz);
	}
	ASSERT_TRUE(stats_add_up(self->a, &st));
	EXPECT_EQ(want, st.requested);
	EXPECT_GT(st.chunks, 3);
	TH_LOG("requested %zu mapped %zu chunks %zu waste %zu available %zu",
	       st.requested, st.mapped, st.chunks, st.waste, st.available);
	EXPECT_EQ(0, st.reserved_[0]);
}

TEST(lookup_names_the_arena)
{
	struct arena_addr_info info;
	struct arena *a, *b;
	char *pa, *pb, *big;

	a = arena_new(0);
	b = arena_new(0);
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, b);
	pa = arena_alloc(a, 100);
	pb = arena_alloc(b, 100);
	ASSERT_NE(NULL, pa);
	ASSERT_NE(NULL, pb);
	/* (On the kernel backend an arena gets its id with its memory.) */
	EXPECT_NE(arena_id(a), arena_id(b));
	EXPECT_NE(0, arena_id(a));

	ASSERT_EQ(0, arena_lookup(pa + 50, &info));
	EXPECT_EQ(ARENA_ADDR_LIVE, info.state);
	EXPECT_EQ(arena_id(a), info.arena_id);
	EXPECT_EQ(50, info.offset);

	/* An offset in a run of several chunks counts from the run. */
	big = arena_alloc(a, 5 * (2UL << 20));
	ASSERT_NE(NULL, big);
	ASSERT_EQ(0, arena_lookup(big + 3 * (2UL << 20) + 7, &info));
	EXPECT_EQ(ARENA_ADDR_LIVE, info.state);
	EXPECT_EQ(arena_id(a), info.arena_id);
	EXPECT_EQ(3 * (2UL << 20) + 7, info.offset);

	arena_free(b);
	ASSERT_EQ(0, arena_lookup(pb, &info));
	EXPECT_EQ(ARENA_ADDR_FREED, info.state);
	EXPECT_EQ(getpid(), info.freed_by_pid);
	EXPECT_LT(info.freed_ns_ago, 60ULL * 1000000000);

	ASSERT_EQ(0, arena_lookup(&info, &info));
	EXPECT_EQ(ARENA_ADDR_UNKNOWN, info.state);
	arena_free(a);
}

TEST(thousand_arenas_at_once)
{
	struct arena *a[1000];
	char *p[1000];
	int i;

	for (i = 0; i < 1000; i++) {
		a[i] = arena_new(i % 2 ? ARENA_THREADSAFE : 0);
		ASSERT_NE(NULL, a[i]);
	}
	/* Only a few get memory: arenas cost nothing until they allocate. */
	for (i = 0; i < 1000; i += 100) {
		p[i] = arena_alloc(a[i], 32);
		ASSERT_NE(NULL, p[i]);
		*p[i] = (char)i;
	}
	for (i = 0; i < 1000; i += 100)
		EXPECT_EQ((char)i, *p[i]);
	for (i = 0; i < 1000; i++)
		arena_free(a[i]);
	/* The last free made the thread's spare; it goes with arena_trim(). */
	if (has_spare())
		EXPECT_EQ(1, arena_counter("arenas_live"));
	EXPECT_EQ(0, arena_trim());
	if (on_kernel())
		EXPECT_EQ(0, arena_counter("arenas_live"));
}

/*
 * Freed address space is kept faulting up to a budget, 4 GiB by default
 * (the kernel's va_quarantine_mb, the mmap backend's quarantine), and
 * recycled oldest first beyond it. Whole-chunk arenas take 2 MiB of it
 * each: a quarter more of them than the budget holds must start reusing
 * the oldest addresses, never before the budget is full, and keep the part
 * of the window they use bounded by it.
 */
#define VA_BUDGET	(4UL << 30)

TEST(many_short_arenas_recycle_address_space)
{
	size_t cs = arena_chunk_size(), budget = VA_BUDGET / cs;
	int n = budget + budget / 4, i, k, first_reuse = -1;
	uintptr_t lo = UINTPTR_MAX, hi = 0;
	char **seen = calloc(n, sizeof(*seen)), *p = NULL;

	ASSERT_NE(NULL, seen);
	ASSERT_NE(0, cs);
	for (i = 0; i < n; i++) {
		struct arena *a = arena_new(ARENA_WHOLE_CHUNKS);

		ASSERT_NE(NULL, a);
		p = arena_alloc(a, 1000);
		ASSERT_NE(NULL, p);
		ASSERT_EQ(0, p[0]);
		memset(p, 0x77, 1000);
		arena_free(a);
		seen[i] = p;
		if ((uintptr_t)p < lo)
			lo = (uintptr_t)p;
		if ((uintptr_t)p > hi)
			hi = (uintptr_t)p;
		for (k = 0; first_reuse < 0 && k < i; k++)
			if (seen[k] == p)
				first_reuse = i;
	}
	TH_LOG("%d arenas of a chunk: first address reused by arena %d, "
	       "window span %zu chunks (budget %zu)", n, first_reuse,
	       (size_t)((hi - lo) / cs + 1), budget);
	/* Nothing freed came back while the budget had room... */
	EXPECT_GE(first_reuse, (int)budget);
	/* ...and beyond it, the oldest did: the span stays near the budget. */
	EXPECT_LE((hi - lo) / cs + 1, budget + 8);
	EXPECT_TRUE(faults_at(p));
	free(seen);
}

/* ---- threads ------------------------------------------------------------ */

#define HAMMER_THREADS	4
#define HAMMER_ALLOCS	10000
#define HAMMER_STRIDE	61

/*
 * Mark an allocation as @id's: every byte of a small one, one byte a page
 * and the last of a large one (the mmap backend faults each page in, which
 * TCG makes slow), so that overlapping allocations would show.
 */
static void hammer_fill(char *p, size_t sz, int id)
{
	size_t k;

	if (sz <= 4096) {
		memset(p, id, sz);
		return;
	}
	for (k = 0; k < sz; k += 4096)
		p[k] = id;
	p[sz - 1] = id;
}

static bool hammer_check(const char *p, size_t sz, int id)
{
	size_t k, step = sz <= 4096 ? HAMMER_STRIDE : 4096;

	for (k = 0; k < sz; k += step)
		if (p[k] != id)
			return false;
	return p[sz - 1] == id;
}

struct hammer {
	pthread_t tid;
	struct arena *a;
	int id;
	char **p;
	size_t *sz;
	size_t want;		/* sum of the rounded sizes */
	int bad;
};

static void *hammer_thread(void *arg)
{
	struct hammer *h = arg;
	unsigned int seed = h->id * 7919 + 1;
	int i;

	for (i = 0; i < HAMMER_ALLOCS; i++) {
		size_t sz, align = 0;
		char *p;

		seed = seed * 1103515245 + 12345;
		sz = 1 + (seed >> 8) % 700;
		if (i % 2500 == 1249)
			sz = (1 + (seed >> 4) % 2) << 20;	/* large */
		else if (i % 50 == 7)
			align = 4096;
		else if (i % 10 == 3)
			align = 64;
		p = align ? arena_alloc_aligned(h->a, sz, align) :
			    arena_alloc(h->a, sz);
		if (!p || (uintptr_t)p % (align ? align : ARENA_ALIGN)) {
			h->bad++;
			continue;
		}
		/* Zero when handed out, then ours: overlaps would show. */
		if (p[0] || p[sz - 1])
			h->bad++;
		hammer_fill(p, sz, h->id);
		h->p[i] = p;
		h->sz[i] = sz;
		h->want += round16(sz);
	}
	return NULL;
}

TEST(threads_hammer_one_threadsafe_arena)
{
	struct hammer h[HAMMER_THREADS];
	struct arena_stats st;
	size_t want = 0;
	struct arena *a;
	int t, i;

	a = arena_new(ARENA_THREADSAFE);
	ASSERT_NE(NULL, a);
	for (t = 0; t < HAMMER_THREADS; t++) {
		h[t] = (struct hammer){ .a = a, .id = t + 1 };
		h[t].p = calloc(HAMMER_ALLOCS, sizeof(char *));
		h[t].sz = calloc(HAMMER_ALLOCS, sizeof(size_t));
		ASSERT_NE(NULL, h[t].p);
		ASSERT_NE(NULL, h[t].sz);
	}
	for (t = 0; t < HAMMER_THREADS; t++)
		ASSERT_EQ(0, pthread_create(&h[t].tid, NULL, hammer_thread,
					    &h[t]));
	for (t = 0; t < HAMMER_THREADS; t++)
		pthread_join(h[t].tid, NULL);

	for (t = 0; t < HAMMER_THREADS; t++) {
		EXPECT_EQ(0, h[t].bad);
		want += h[t].want;
		for (i = 0; i < HAMMER_ALLOCS; i++) {
			char *p = h[t].p[i];

			if (!p)
				continue;
			ASSERT_TRUE(arena_contains(a, p));
			ASSERT_TRUE(hammer_check(p, h[t].sz[i], h[t].id));
		}
	}
	ASSERT_TRUE(stats_add_up(a, &st));
	EXPECT_EQ(want, st.requested);
	TH_LOG("requested %zu mapped %zu chunks %zu waste %zu", st.requested,
	       st.mapped, st.chunks, st.waste);
	arena_free(a);
	for (t = 0; t < HAMMER_THREADS; t++) {
		EXPECT_TRUE(faults_at(h[t].p[0]));
		EXPECT_TRUE(faults_at(h[t].p[HAMMER_ALLOCS - 1]));
		free(h[t].p);
		free(h[t].sz);
	}
}

struct own_arena {
	pthread_t tid;
	int id, bad;
};

/* Each thread its own single-threaded arenas, all at once. */
static void *own_arena_thread(void *arg)
{
	struct own_arena *o = arg;
	int r, i;

	for (r = 0; r < 20; r++) {
		struct arena *a = arena_new(0);
		char *first = NULL, *p = NULL;

		if (!a) {
			o->bad++;
			continue;
		}
		for (i = 0; i < 3000; i++) {
			p = arena_alloc(a, 16 + (i % 40) * 16);
			if (!p || p[0]) {
				o->bad++;
				break;
			}
			memset(p, o->id, 16);
			if (!first)
				first = p;
		}
		if (first && first[0] != o->id)
			o->bad++;
		arena_free(a);
	}
	return NULL;
}

TEST(threads_with_their_own_arenas)
{
	struct own_arena o[4];
	int t;

	for (t = 0; t < 4; t++) {
		o[t] = (struct own_arena){ .id = t + 1 };
		ASSERT_EQ(0, pthread_create(&o[t].tid, NULL, own_arena_thread,
					    &o[t]));
	}
	for (t = 0; t < 4; t++) {
		pthread_join(o[t].tid, NULL);
		EXPECT_EQ(0, o[t].bad);
	}
}

TEST(threadsafe_arena_single_thread_edges)
{
	struct arena *a = arena_new(ARENA_THREADSAFE);
	size_t cs = arena_chunk_size(), quarter = cs / 4;
	struct arena_stats st;
	char *p, *q;
	int i;

	ASSERT_NE(NULL, a);
	p = arena_alloc(a, 16);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, (uintptr_t)p % cs);	/* a fresh chunk's first byte */
	for (i = 0; i < 3; i++)
		ASSERT_EQ(p + 16 + i * quarter, arena_alloc(a, quarter));
	q = arena_alloc(a, quarter - 16);
	EXPECT_EQ(p + 16 + 3 * quarter, q);
	ASSERT_TRUE(stats_add_up(a, &st));
	EXPECT_EQ(0, st.available);
	q = arena_alloc(a, 1);
	ASSERT_NE(NULL, q);
	EXPECT_TRUE(q < p || q >= p + cs);
	q = arena_alloc(a, 3 * cs);
	ASSERT_NE(NULL, q);
	EXPECT_EQ(0, (uintptr_t)q % cs);
	ASSERT_TRUE(stats_add_up(a, &st));
	EXPECT_EQ(5, st.chunks);
	arena_free(a);
	EXPECT_TRUE(faults_at(p));
}

/* ---- fork --------------------------------------------------------------- */

TEST(fork_child_gets_echild_and_can_start_over)
{
	struct arena *a, *s;
	char *p, *ps;
	pid_t pid;
	int status;

	a = arena_new(0);
	s = arena_new(ARENA_THREADSAFE);
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, s);
	p = arena_alloc(a, 100);
	ps = arena_alloc(s, 100);
	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, ps);
	strcpy(p, "parent");
	strcpy(ps, "shared");

	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		struct arena_stats st;
		struct arena *c;
		char *q;
		int bad = 0;

		errno = 0;
		bad |= (arena_alloc(a, 10) != NULL || errno != ECHILD) << 0;
		bad |= (arena_alloc(a, 0) != NULL) << 1;
		bad |= !faults_at(p) << 2;
		bad |= !faults_at(ps) << 3;
		errno = 0;
		bad |= (arena_alloc(s, 10) != NULL || errno != ECHILD) << 4;
		bad |= (arena_alloc_aligned(a, 10, 64) != NULL ||
			errno != ECHILD) << 5;
		bad |= (arena_calloc(s, 1, 10) != NULL || errno != ECHILD) << 6;
		bad |= (arena_strdup(a, "x") != NULL || errno != ECHILD) << 7;
		bad |= (arena_reset(a) != -ECHILD) << 8;
		bad |= (arena_stats(s, &st) != -ECHILD) << 9;
		bad |= arena_contains(a, p) << 10;
		arena_free(a);	/* harmless in the child */
		arena_free(s);
		c = arena_new(0);
		bad |= !c << 11;
		if (c) {
			q = arena_alloc(c, 100);
			bad |= !q << 12;
			if (q) {
				strcpy(q, "child");
				/* The old window stays reserved. */
				bad |= (q == p) << 13;
			}
			arena_free(c);
		}
		bad |= strcmp(arena_backend(), expected_backend()) ? 1 << 14 : 0;
		_exit(bad);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	EXPECT_EQ(0, strcmp(p, "parent"));
	EXPECT_EQ(0, strcmp(ps, "shared"));
	EXPECT_NE(NULL, arena_alloc(a, 10));
	EXPECT_NE(NULL, arena_alloc(s, 10));
	arena_free(a);
	arena_free(s);
}

struct forker {
	struct arena *a;
	int stop;		/* __atomic */
	int bad;
};

static void *fork_alloc_thread(void *arg)
{
	struct forker *f = arg;

	unsigned int n = 0;

	while (!__atomic_load_n(&f->stop, __ATOMIC_RELAXED)) {
		char *p = arena_alloc(f->a, 64 + 4096);

		if (!p) {
			f->bad++;
			break;
		}
		memset(p, 1, 64);
		/* Only this thread uses the arena: it may reset it. */
		if (++n % 512 == 0 && arena_reset(f->a))
			f->bad++;
	}
	return NULL;
}

TEST(fork_while_threads_allocate)
{
	struct forker f = { 0 };
	pthread_t tid;
	int i, status;

	f.a = arena_new(ARENA_THREADSAFE);
	ASSERT_NE(NULL, f.a);
	ASSERT_EQ(0, pthread_create(&tid, NULL, fork_alloc_thread, &f));
	for (i = 0; i < 20; i++) {
		pid_t pid = fork();

		ASSERT_GE(pid, 0);
		if (pid == 0) {
			struct arena *c = arena_new(ARENA_THREADSAFE);
			char *q = c ? arena_alloc(c, 5000) : NULL;

			_exit(!q || arena_alloc(f.a, 1) != NULL);
		}
		ASSERT_EQ(pid, waitpid(pid, &status, 0));
		ASSERT_TRUE(WIFEXITED(status));
		EXPECT_EQ(0, WEXITSTATUS(status));
	}
	__atomic_store_n(&f.stop, 1, __ATOMIC_RELAXED);
	pthread_join(tid, NULL);
	EXPECT_EQ(0, f.bad);
	arena_free(f.a);
}

/* Minor faults of the calling thread so far. */
static long thread_minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_THREAD, &ru);
	return ru.ru_minflt;
}

/*
 * The kernel backend's per-request loop: arena_free() hands the thread its
 * next arena in the same ioctl, so arena_new() after it makes no system
 * call (the arena has its kernel id already) and its first run is mapped
 * (no fault); arena_trim() gives it back.
 */
TEST(thread_spare_is_taken_by_the_next_arena)
{
	struct arena *a, *b;
	long live0, f0;
	char *p;

	if (!has_spare())
		SKIP(return, "the spare is the kernel backend's (ARENA_FREE_NEXT)");
	a = arena_new(0);
	ASSERT_NE(NULL, a);
	live0 = arena_counter("arenas_live");
	EXPECT_EQ(0, arena_id(a));	/* made by its first allocation */
	ASSERT_NE(NULL, arena_alloc(a, 3000));
	EXPECT_EQ(live0 + 1, arena_counter("arenas_live"));
	arena_free(a);
	/* Freed, and the spare made in its place. */
	EXPECT_EQ(live0 + 1, arena_counter("arenas_live"));
	b = arena_new(0);
	ASSERT_NE(NULL, b);
	EXPECT_NE(0, arena_id(b));
	f0 = thread_minflt();
	p = arena_alloc(b, 2000);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, p[0]);
	p[1999] = 1;
	EXPECT_EQ(f0, thread_minflt());
	EXPECT_EQ(live0 + 1, arena_counter("arenas_live"));
	arena_free(b);
	EXPECT_EQ(live0 + 1, arena_counter("arenas_live"));
	EXPECT_EQ(0, arena_trim());
	EXPECT_EQ(live0, arena_counter("arenas_live"));
	/* Nothing to give back twice. */
	EXPECT_EQ(0, arena_trim());
	/* Other flags never take the spare, and free makes none. */
	a = arena_new(ARENA_THREADSAFE);
	ASSERT_NE(NULL, arena_alloc(a, 10));
	arena_free(a);
	EXPECT_EQ(live0, arena_counter("arenas_live"));
}

static void *spare_thread(void *arg)
{
	struct arena *a = arena_new(0);

	(void)arg;
	if (!a || !arena_alloc(a, 100))
		return (void *)1;
	arena_free(a);
	return NULL;
}

/* A thread's spare goes back to the kernel when the thread exits. */
TEST(thread_spare_goes_at_thread_exit)
{
	long live0;
	pthread_t t[4];
	void *ret;
	int i;

	if (!has_spare())
		SKIP(return, "the spare is the kernel backend's (ARENA_FREE_NEXT)");
	ASSERT_STREQ("kernel", arena_backend());
	live0 = arena_counter("arenas_live");
	for (i = 0; i < 4; i++)
		ASSERT_EQ(0, pthread_create(&t[i], NULL, spare_thread, NULL));
	for (i = 0; i < 4; i++) {
		ASSERT_EQ(0, pthread_join(t[i], &ret));
		EXPECT_EQ(NULL, ret);
	}
	EXPECT_EQ(live0, arena_counter("arenas_live"));
}

/*
 * A fork child does not take the parent's spare (its window is not the
 * child's): its arenas work, and the parent's spare stays the parent's.
 */
TEST(thread_spare_across_fork)
{
	struct arena *a;
	int status;
	pid_t pid;
	char *p;

	if (!has_spare())
		SKIP(return, "the spare is the kernel backend's (ARENA_FREE_NEXT)");
	a = arena_new(0);
	ASSERT_NE(NULL, arena_alloc(a, 100));
	arena_free(a);
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct arena *c = arena_new(0);
		char *q = c ? arena_alloc(c, 100) : NULL;

		if (!q || q[0])
			_exit(1);
		q[99] = 1;
		arena_free(c);
		c = arena_new(0);
		q = c ? arena_alloc(c, 100) : NULL;
		_exit(q && !q[0] ? 0 : 2);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	a = arena_new(0);
	ASSERT_NE(0, arena_id(a));
	p = arena_alloc(a, 100);
	ASSERT_NE(NULL, p);
	EXPECT_EQ(0, p[0]);
	arena_free(a);
	arena_trim();
}

/*
 * ARENA_NOZERO: a no-zero arena may get the chunk the last one freed, old
 * bytes included (the kernel's pool; the mmap backend's kept chunks, moved
 * to a fresh address); arena_calloc() still zeroes, and a default arena
 * never sees them.
 */
TEST(nozero_arenas)
{
	size_t len = arena_chunk_size() / 2;
	struct arena *a, *b, *c;
	char *p, *q, *r;
	size_t i;
	bool old = false;

	a = arena_new(ARENA_NOZERO | ARENA_WHOLE_CHUNKS);
	ASSERT_NE(NULL, a);
	p = arena_alloc(a, len);
	ASSERT_NE(NULL, p);
	memset(p, 0x77, len);
	arena_free(a);
	b = arena_new(ARENA_NOZERO | ARENA_WHOLE_CHUNKS);
	ASSERT_NE(NULL, b);
	q = arena_alloc(b, 64);
	ASSERT_NE(NULL, q);
	old = q[0] == 0x77;
#ifdef LIBARENA_TEST_WHOLE_CHUNKS_ONLY
	EXPECT_FALSE(old);	/* no ARENA_FEATURE_NOZERO: zeroed */
#else
	EXPECT_TRUE(old);
#endif
	/* At a new address: the freed one still faults. */
	EXPECT_NE(p, q);
	EXPECT_TRUE(faults_at(p));
	q = arena_calloc(b, 1, len / 2);
	ASSERT_NE(NULL, q);
	for (i = 0; i < len / 2; i++)
		ASSERT_EQ(0, q[i]);
	c = arena_new(ARENA_WHOLE_CHUNKS);
	r = arena_alloc(c, len);
	ASSERT_NE(NULL, r);
	for (i = 0; i < len; i++)
		ASSERT_EQ(0, r[i]);
	arena_free(b);
	arena_free(c);
	EXPECT_EQ(NULL, arena_new(0x80));
	EXPECT_EQ(EINVAL, errno);
}

/*
 * A loop of small no-zero arenas: where the module has
 * ARENA_FEATURE_NOZERO_SMALL, their pages come back with this process's old
 * bytes once a shared chunk's worth has been freed, and the thread's spare
 * after a no-zero arena's free is a no-zero one, which a default arena
 * never takes: a default arena's memory stays zero throughout.
 */
TEST(nozero_small_arenas_and_the_spare)
{
	const size_t len = 60000;
	bool seen = false;
	struct arena *a;
	char *p;

	for (int round = 0; round < 100; round++) {
		a = arena_new(ARENA_NOZERO);
		ASSERT_NE(NULL, a);
		p = arena_alloc(a, len);
		ASSERT_NE(NULL, p);
		seen |= p[0] == (char)0xab;
		memset(p, 0xab, len);
		arena_free(a);
		if (round % 10)
			continue;
		/* The no-zero spare is left alone: zeroed memory. */
		a = arena_new(0);
		ASSERT_NE(NULL, a);
		p = arena_alloc(a, len);
		ASSERT_NE(NULL, p);
		for (size_t i = 0; i < len; i++) {
			ASSERT_EQ(0, p[i])
				TH_LOG("round %d byte %zu", round, i);
		}
		arena_free(a);
	}
	/*
	 * A default loop after it: the no-zero spare is given back, so
	 * from the second round on each arena_new(0) takes a default spare
	 * (its kernel arena comes with it: an id before any allocation).
	 */
	for (int round = 0; round < 4; round++) {
		a = arena_new(0);
		ASSERT_NE(NULL, a);
		if (round >= 1 && has_spare())
			EXPECT_NE(0, arena_id(a)) TH_LOG("round %d", round);
		p = arena_alloc(a, len);
		ASSERT_NE(NULL, p);
		ASSERT_EQ(0, p[len - 1]);
		arena_free(a);
	}
	/* (The mmap backend may recycle this process's pages too.) */
#ifdef LIBARENA_TEST_WHOLE_CHUNKS_ONLY
	if (on_kernel())
		EXPECT_FALSE(seen);	/* no features: always zeroed */
#else
	if (on_kernel())
		EXPECT_TRUE(seen);
#endif
	arena_trim();
}

/* ---- the library's contract under injected failures and signals -------- */

/*
 * The test programs are linked with -Wl,--wrap for posix_memalign, mmap,
 * mprotect, madvise and mremap (selftests/Makefile): libarena's calls come
 * here first. Unarmed, each wrapper only calls the real function.
 */
int __real_posix_memalign(void **p, size_t align, size_t size);
void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd,
		  off_t off);
int __real_mprotect(void *addr, size_t len, int prot);
int __real_madvise(void *addr, size_t len, int advice);
void *__real_mremap(void *old, size_t old_len, size_t new_len, int flags,
		    ...);

static atomic_int fail_memalign;	/* fail the next posix_memalign()s */

int __wrap_posix_memalign(void **p, size_t align, size_t size)
{
	if (atomic_load(&fail_memalign) > 0) {
		atomic_fetch_sub(&fail_memalign, 1);
		return ENOMEM;	/* as POSIX says: errno is left alone */
	}
	return __real_posix_memalign(p, align, size);
}

/*
 * The memory-call hook: armed on a range (a chunk), it acts on the first
 * mprotect(PROT_NONE), madvise(), MAP_FIXED mmap() or mremap() of the
 * library that touches it, i.e. on the revocation of that chunk (however
 * the backend does it): HOOK_FAIL makes an mprotect(PROT_NONE) fail with
 * ENOMEM (the backend must cope, and keep errno), HOOK_PAUSE lets the call
 * through, then holds the revoking thread until the racer has allocated
 * (or for 300 ms).
 */
enum { HOOK_OFF, HOOK_FAIL, HOOK_PAUSE };
static struct {
	atomic_int mode;
	uintptr_t lo, hi;
	atomic_int fired;		/* the revocation was reached */
	atomic_int racer_done;
} hook;

static bool hook_hits(void *addr, size_t len)
{
	uintptr_t a = (uintptr_t)addr;

	return atomic_load(&hook.mode) != HOOK_OFF && a < hook.hi &&
	       a + len > hook.lo;
}

/* After the real call: the range is revoked; let the racer try it. */
static void hook_pause(void)
{
	/* Only a pause hook is spent here: a fail hook waits for its call. */
	if (atomic_load(&hook.mode) != HOOK_PAUSE ||
	    atomic_exchange(&hook.mode, HOOK_OFF) != HOOK_PAUSE)
		return;
	atomic_store(&hook.fired, 1);
	for (int t = 0; t < 300 && !atomic_load(&hook.racer_done); t++)
		usleep(1000);
}

int __wrap_mprotect(void *addr, size_t len, int prot)
{
	int ret;

	if (prot == PROT_NONE && hook_hits(addr, len) &&
	    atomic_load(&hook.mode) == HOOK_FAIL) {
		atomic_store(&hook.mode, HOOK_OFF);
		atomic_store(&hook.fired, 1);
		errno = ENOMEM;
		return -1;
	}
	ret = __real_mprotect(addr, len, prot);
	if (prot == PROT_NONE && hook_hits(addr, len))
		hook_pause();
	return ret;
}

int __wrap_madvise(void *addr, size_t len, int advice)
{
	int ret = __real_madvise(addr, len, advice);

	if (hook_hits(addr, len))
		hook_pause();
	return ret;
}

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd,
		  off_t off)
{
	void *ret = __real_mmap(addr, len, prot, flags, fd, off);

	if ((flags & MAP_FIXED) && hook_hits(addr, len))
		hook_pause();
	return ret;
}

void *__wrap_mremap(void *old, size_t old_len, size_t new_len, int flags,
		    ...)
{
	void *ret, *new_addr = NULL;
	va_list ap;

	va_start(ap, flags);
	if (flags & MREMAP_FIXED)
		new_addr = va_arg(ap, void *);
	va_end(ap);
	ret = __real_mremap(old, old_len, new_len, flags, new_addr);
	if (hook_hits(old, old_len))
		hook_pause();
	return ret;
}

static void hook_arm(int mode, void *p, size_t len)
{
	hook.lo = (uintptr_t)p;
	hook.hi = (uintptr_t)p + len;
	atomic_store(&hook.fired, 0);
	atomic_store(&hook.racer_done, 0);
	atomic_store(&hook.mode, mode);
}

TEST(new_sets_errno_when_out_of_memory)
{
	unsigned int flags[] = { 0, ARENA_THREADSAFE, ARENA_WHOLE_CHUNKS };
	struct arena *a;

	for (unsigned int i = 0; i < 3; i++) {
		atomic_store(&fail_memalign, 1);
		errno = 0;
		a = arena_new(flags[i]);
		atomic_store(&fail_memalign, 0);
		EXPECT_EQ(NULL, a);
		EXPECT_EQ(ENOMEM, errno);
		arena_free(a);
	}
	/* And the next one works. */
	a = arena_new(0);
	ASSERT_NE(NULL, a);
	EXPECT_NE(NULL, arena_alloc(a, 10));
	arena_free(a);
}

/* The fd libarena holds on /dev/arena, or -1. */
static int arena_dev_fd(void)
{
	char path[64], link[64];
	int fd;

	for (fd = 0; fd < 1024; fd++) {
		ssize_t n;

		snprintf(path, sizeof(path), "/proc/self/fd/%d", fd);
		n = readlink(path, link, sizeof(link) - 1);
		if (n <= 0)
			continue;
		link[n] = '\0';
		if (!strcmp(link, ARENA_DEV))
			return fd;
	}
	return -1;
}

#define ERRNO_SENTINEL	4242
#define KEEPS_ERRNO(call) do {						\
	errno = ERRNO_SENTINEL;						\
	ret = (call);							\
	EXPECT_EQ(ERRNO_SENTINEL, errno) TH_LOG("%s = %d", #call, ret);	\
} while (0)

/*
 * Functions returning int leave errno alone, whether they succeed or fail
 * (libarena.h), on every failure they have.
 */
TEST(int_functions_leave_errno_alone)
{
	struct arena_addr_info info = { 0 };
	struct arena_stats st;
	struct arena *a, *s;
	int ret, status;
	char *p, *q;
	pid_t pid;

	KEEPS_ERRNO(arena_lookup(&info, &info));
	EXPECT_EQ(-ENOENT, ret);
	KEEPS_ERRNO(arena_lookup(&info, NULL));
	EXPECT_EQ(-EINVAL, ret);
	KEEPS_ERRNO(arena_reset(NULL));
	EXPECT_EQ(-EINVAL, ret);
	KEEPS_ERRNO(arena_stats(NULL, &st));
	EXPECT_EQ(-EINVAL, ret);
	KEEPS_ERRNO(arena_contains(NULL, &st));
	EXPECT_EQ(0, ret);
	KEEPS_ERRNO(arena_trim());
	EXPECT_EQ(0, ret);

	a = arena_new(0);
	s = arena_new(ARENA_THREADSAFE);
	ASSERT_NE(NULL, a);
	ASSERT_NE(NULL, s);
	KEEPS_ERRNO(arena_stats(a, NULL));
	EXPECT_EQ(-EINVAL, ret);
	KEEPS_ERRNO(arena_reset(a));		/* empty */
	EXPECT_EQ(0, ret);
	p = arena_alloc(a, 100);
	q = arena_alloc(s, 100);
	ASSERT_NE(NULL, p);
	ASSERT_NE(NULL, q);
	KEEPS_ERRNO(arena_lookup(p, &info));
	EXPECT_EQ(0, ret);
	KEEPS_ERRNO(arena_contains(a, p));
	EXPECT_EQ(1, ret);
	KEEPS_ERRNO(arena_stats(s, &st));
	EXPECT_EQ(0, ret);
	KEEPS_ERRNO(arena_reset(a));
	EXPECT_EQ(0, ret);

	if (!on_kernel()) {
		/*
		 * The revocation's mprotect() fails (as at vm.max_map_count):
		 * whatever the backend does about it, errno stays.
		 */
		p = arena_alloc(a, 100);
		ASSERT_NE(NULL, p);
		hook_arm(HOOK_FAIL, p, 1);
		KEEPS_ERRNO(arena_reset(a));
		EXPECT_TRUE(ret == 0 || ret == -ENOMEM);
		EXPECT_EQ(1, atomic_load(&hook.fired));
		hook_arm(HOOK_OFF, NULL, 0);
		EXPECT_TRUE(faults_at(p));
		q = arena_alloc(s, 100);
		ASSERT_NE(NULL, q);
		hook_arm(HOOK_FAIL, q, 1);
		KEEPS_ERRNO(arena_reset(s));
		EXPECT_TRUE(ret == 0 || ret == -ENOMEM);
		EXPECT_EQ(1, atomic_load(&hook.fired));
		hook_arm(HOOK_OFF, NULL, 0);
		EXPECT_TRUE(faults_at(q));
	} else {
		/*
		 * The kernel refuses the library's calls: its file replaced
		 * by /dev/null under it (as code that closes every fd might).
		 */
		int fd = arena_dev_fd(), null = open("/dev/null", O_RDWR);

		ASSERT_GE(fd, 0);
		ASSERT_GE(null, 0);
		ASSERT_NE(NULL, arena_alloc(a, 100));
		ASSERT_EQ(fd, dup2(null, fd));
		KEEPS_ERRNO(arena_lookup(p, &info));
		EXPECT_LE(ret, 0);
		KEEPS_ERRNO(arena_reset(a));
		EXPECT_LE(ret, 0);
		close(null);
	}

	/* In a fork child: -ECHILD, errno kept. */
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0) {
		int bad = 0;

		errno = ERRNO_SENTINEL;
		bad |= (arena_reset(a) != -ECHILD) << 0;
		bad |= (arena_stats(s, &st) != -ECHILD) << 1;
		bad |= (arena_lookup(p, &info) != 0 &&
			arena_lookup(p, &info) != -ENOENT) << 2;
		bad |= (arena_contains(a, p) != 0) << 3;
		bad |= (errno != ERRNO_SENTINEL) << 4;
		_exit(bad);
	}
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	ASSERT_TRUE(WIFEXITED(status));
	EXPECT_EQ(0, WEXITSTATUS(status));
	if (!on_kernel()) {
		arena_free(a);
		arena_free(s);
	}
}

/*
 * arena_reset() of a thread-safe arena racing an allocation is forbidden,
 * but must fail safe: an allocation that starts after the reset revoked
 * the old chunk never gets memory in it. The hook holds the resetting
 * thread right after the revocation while another thread allocates.
 */
struct reset_racer {
	struct arena *a;
	char *p;
	bool writable;
};

static void *reset_racer_fn(void *arg)
{
	struct reset_racer *r = arg;

	for (int t = 0; t < 10000 && !atomic_load(&hook.fired); t++)
		usleep(1000);
	r->p = arena_alloc(r->a, 64);
	atomic_store(&hook.racer_done, 1);
	r->writable = r->p && try_write(r->p, 1, NULL);
	return NULL;
}

TEST(reset_racing_a_shared_arena_allocation_fails_safe)
{
	struct reset_racer r = { 0 };
	size_t cs;
	pthread_t t;
	char *old;

	/* The hook sees the mmap backend's revocation. */
	setenv("ARENA_BACKEND", "mmap", 1);
	r.a = arena_new(ARENA_THREADSAFE);
	ASSERT_NE(NULL, r.a);
	cs = arena_chunk_size();
	old = arena_alloc(r.a, 64);
	ASSERT_NE(NULL, old);
	old = (char *)((uintptr_t)old & ~(uintptr_t)(cs - 1));
	hook_arm(HOOK_PAUSE, old, cs);
	ASSERT_EQ(0, pthread_create(&t, NULL, reset_racer_fn, &r));
	EXPECT_EQ(0, arena_reset(r.a));
	pthread_join(t, NULL);
	/* The hook held the reset right after it revoked the old chunk. */
	ASSERT_EQ(1, atomic_load(&hook.fired));
	hook_arm(HOOK_OFF, NULL, 0);
	ASSERT_NE(NULL, r.p);
	TH_LOG("old chunk %p, racing allocation %p", old, r.p);
	EXPECT_FALSE(r.p >= old && r.p < old + cs);
	EXPECT_TRUE(r.writable);
	EXPECT_TRUE(arena_contains(r.a, r.p));
	EXPECT_TRUE(faults_at(old));
	arena_free(r.a);
}

/*
 * arena_lookup() from a signal handler, as a SIGSEGV handler reporting a
 * use-after-free would call it: the signal lands on the thread that creates
 * arenas, allocates (misses included) and frees them, at any instruction,
 * also with the library's lock held. Every lookup must return and be right:
 * a live arena's address, a freed one's, and the interrupted loop's own
 * current arena. A watchdog turns a deadlock into a failure.
 */
#define SIGLOOKUP_DEAD_ROUNDS	1500	/* below the freed-address budget */
#define SIGLOOKUP_CALLS		1000	/* lookups wanted, in... */
#define SIGLOOKUP_MIN_SECONDS	2	/* ...at least this long... */
#define SIGLOOKUP_MAX_SECONDS	30	/* ...at most this long */

enum { CUR_NONE, CUR_LIVE, CUR_FREEING, CUR_FREED };

static struct {
	char *live, *dead;
	struct arena_addr_info live_info, dead_info;
	_Atomic(char *) cur;
	atomic_uint cur_id;
	atomic_int cur_state;
	atomic_long calls, wrong, errno_changed;
	atomic_long progress;
	atomic_int stop;
	pthread_t target;
} sl;

static bool siglookup_is(const char *p, enum arena_addr_state state,
			 unsigned int id, const struct arena_addr_info *want)
{
	struct arena_addr_info info;

	errno = ERRNO_SENTINEL;
	if (arena_lookup(p, &info))
		return false;
	if (errno != ERRNO_SENTINEL)
		atomic_fetch_add(&sl.errno_changed, 1);
	if (info.state != state || info.arena_id != id)
		return false;
	return !want || info.offset == want->offset;
}

static void siglookup_handler(int sig)
{
	int saved = errno, st = atomic_load(&sl.cur_state);
	char *cur = atomic_load(&sl.cur);
	unsigned int id = atomic_load(&sl.cur_id);
	bool ok;

	(void)sig;
	ok = siglookup_is(sl.live, ARENA_ADDR_LIVE, sl.live_info.arena_id,
			  &sl.live_info);
	/* Until the freed address space kept faulting may be recycled. */
	if (atomic_load(&sl.progress) < SIGLOOKUP_DEAD_ROUNDS)
		ok = ok && siglookup_is(sl.dead, ARENA_ADDR_FREED,
					sl.dead_info.arena_id, &sl.dead_info);
	/* The interrupted thread is this one: its state holds still. */
	if (st == CUR_LIVE)
		ok = ok && siglookup_is(cur, ARENA_ADDR_LIVE, id, NULL);
	else if (st == CUR_FREED)
		ok = ok && siglookup_is(cur, ARENA_ADDR_FREED, id, NULL);
	if (!ok && !atomic_fetch_add(&sl.wrong, 1))
		dprintf(2, "# siglookup: wrong answer (state %d, current %p, arena %u)\n",
			st, cur, id);
	atomic_fetch_add(&sl.calls, 1);
	errno = saved;
}

static void *siglookup_signaller(void *arg)
{
	struct timespec last_t, t;
	long last = -1;

	(void)arg;
	clock_gettime(CLOCK_MONOTONIC, &last_t);
	while (!atomic_load(&sl.stop)) {
		long now = atomic_load(&sl.progress);

		pthread_kill(sl.target, SIGUSR1);
		for (volatile int spin = 0; spin < 2000; spin++)
			;
		clock_gettime(CLOCK_MONOTONIC, &t);
		if (now != last) {
			last = now;
			last_t = t;
		} else if (t.tv_sec - last_t.tv_sec > 20) {
			dprintf(2, "# siglookup: no progress for 20 s after round %ld: arena_lookup() in the handler deadlocked\n",
				now);
			abort();
		}
	}
	return NULL;
}

TEST(lookup_from_a_signal_handler)
{
	struct sigaction sa = { 0 };
	struct timespec t0, t1;
	struct arena *keep, *d;
	pthread_t sig_thread;
	int i, bad = 0;

	keep = arena_new(0);
	d = arena_new(0);
	ASSERT_NE(NULL, keep);
	ASSERT_NE(NULL, d);
	sl.live = arena_alloc(keep, 100);
	sl.dead = arena_alloc(d, 100);
	ASSERT_NE(NULL, sl.live);
	ASSERT_NE(NULL, sl.dead);
	arena_free(d);
	ASSERT_EQ(0, arena_lookup(sl.live, &sl.live_info));
	ASSERT_EQ(ARENA_ADDR_LIVE, sl.live_info.state);
	ASSERT_EQ(0, arena_lookup(sl.dead, &sl.dead_info));
	ASSERT_EQ(ARENA_ADDR_FREED, sl.dead_info.state);

	sa.sa_handler = siglookup_handler;
	sa.sa_flags = SA_RESTART;
	sigemptyset(&sa.sa_mask);
	ASSERT_EQ(0, sigaction(SIGUSR1, &sa, NULL));
	sl.target = pthread_self();
	ASSERT_EQ(0, pthread_create(&sig_thread, NULL, siglookup_signaller,
				    NULL));
	clock_gettime(CLOCK_MONOTONIC, &t0);
	for (i = 0;; i++) {
		struct arena *a = arena_new(i % 4 == 3 ? ARENA_THREADSAFE : 0);
		char *p, *q, *r;

		if (!a) {
			bad++;
			break;
		}
		p = arena_alloc(a, 100);
		q = arena_alloc(a, 5000);	/* a miss: a second small run */
		r = arena_alloc(a, 100);
		if (!p || !q || !r) {
			bad++;
			arena_free(a);
			break;
		}
		/* No state while the pointer and the id change. */
		atomic_store(&sl.cur_state, CUR_NONE);
		atomic_store(&sl.cur, p);
		atomic_store(&sl.cur_id, arena_id(a));
		atomic_store(&sl.cur_state, CUR_LIVE);
		memset(q, 1, 5000);
		atomic_store(&sl.cur_state, CUR_FREEING);
		arena_free(a);
		atomic_store(&sl.cur_state, CUR_FREED);
		atomic_fetch_add(&sl.progress, 1);
		clock_gettime(CLOCK_MONOTONIC, &t1);
		if (t1.tv_sec - t0.tv_sec >= SIGLOOKUP_MAX_SECONDS ||
		    (t1.tv_sec - t0.tv_sec >= SIGLOOKUP_MIN_SECONDS &&
		     atomic_load(&sl.calls) >= SIGLOOKUP_CALLS))
			break;
	}
	atomic_store(&sl.stop, 1);
	pthread_join(sig_thread, NULL);
	signal(SIGUSR1, SIG_IGN);
	TH_LOG("%ld rounds, %ld lookups from the handler", 
	       atomic_load(&sl.progress), atomic_load(&sl.calls));
	EXPECT_EQ(0, bad);
	EXPECT_GT(atomic_load(&sl.calls), 100);
	EXPECT_EQ(0, atomic_load(&sl.wrong));
	EXPECT_EQ(0, atomic_load(&sl.errno_changed));
	arena_free(keep);
}

/*
 * The fault probes take only SIGSEGV for a fault: a SIGBUS (here: a page
 * past the end of a file) is no revocation and kills the prober.
 */
TEST(probes_do_not_take_sigbus_for_a_fault)
{
	int fd = memfd_create("libarena_test", 0), status;
	char *p;
	pid_t pid;

	ASSERT_GE(fd, 0);
	p = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
	ASSERT_NE(MAP_FAILED, p);
	pid = fork();
	ASSERT_GE(pid, 0);
	if (pid == 0)
		_exit(faults_at(p) ? 1 : 2);
	ASSERT_EQ(pid, waitpid(pid, &status, 0));
	EXPECT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGBUS)
		TH_LOG("status %#x", status);
	munmap(p, PAGE_SZ);
	close(fd);
}

/*
 * With /dev/arena absent the automatic choice is the mmap backend (the
 * host lane runs this program only as libarena_mmap_test, with
 * ARENA_BACKEND=mmap: this test drops the variable).
 */
TEST(auto_backend_falls_back_without_the_device)
{
	const char *b;

	unsetenv("ARENA_BACKEND");
	b = arena_backend();
	ASSERT_NE(NULL, b);
	EXPECT_STREQ(access(ARENA_DEV, R_OK | W_OK) ? "mmap" : "kernel", b);
}

TEST_HARNESS_MAIN
