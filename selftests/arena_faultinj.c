// SPDX-License-Identifier: GPL-2.0
/*
 * Description: fault injection. Each test sweeps /proc/thread-self/fail-nth
 * over one operation (open, mmap, munmap, every ioctl, ALLOC_CHUNKS with a
 * cold and a warm pool and with RESET, ALLOC's small runs and whole chunks
 * with CREATE and RESET, the first touch of a chunk, GUP into a chunk,
 * vmsplice, close, netlink dumps): for n = 1, 2, ... the n-th fault site
 * the operation reaches (slab, page allocator, user copy) fails, until n is
 * past the last one. Every failure must come back as a clean errno, leave
 * the counters as they were (nothing leaked, nothing lost) and the device
 * usable. Then failslab and fail_page_alloc fail the test's own allocations
 * at random, inside each operation of whole sessions. The kmemleak scan
 * after rmmod on the debug lane checks that no failure leaked kernel
 * memory.
 *
 * Needs CONFIG_FAULT_INJECTION (and debugfs knobs for the random part):
 * the debug kernel of `make check-debug`. Stock kernels skip.
 */
#include "arena_helpers.h"	/* first: it defines _GNU_SOURCE */

#include <inttypes.h>
#include <sys/uio.h>
#include <sys/wait.h>

#include "arena_nl_helpers.h"
#include "kselftest_harness.h"

/* 6.1's harness runs a test even when its fixture's setup skipped. */
#define RETURN_IF_SKIPPED() do {					\
	if (_metadata->skip)						\
		return;							\
} while (0)

#define FAIL_NTH	"/proc/thread-self/fail-nth"
#define MAKE_IT_FAIL	"/proc/thread-self/make-it-fail"
#define DBG		"/sys/kernel/debug"
#define SWEEP_MAX	4000	/* more fault sites than any operation has */

/* ---- the knobs -------------------------------------------------------------- */

static int write_str(const char *path, const char *v)
{
	int fd = open(path, O_WRONLY | O_CLOEXEC), err = 0;

	if (fd < 0)
		return -errno;
	if (write(fd, v, strlen(v)) < 0)
		err = -errno;
	close(fd);
	return err;
}

static int read_str(const char *path, char *buf, size_t len)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	ssize_t n;

	if (fd < 0)
		return -errno;
	n = read(fd, buf, len - 1);
	close(fd);
	if (n < 0)
		return -errno;
	buf[n] = '\0';
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' '))
		buf[--n] = '\0';
	return 0;
}

/* A debugfs knob of failslab or fail_page_alloc, remembered for restore. */
struct knob {
	const char *attr, *name;
	char old[64];
	bool saved;
};

#define K(a, n) { .attr = a, .name = n }
static struct knob knobs[] = {
	K("failslab", "probability"), K("failslab", "interval"),
	K("failslab", "times"), K("failslab", "space"),
	K("failslab", "verbose"), K("failslab", "task-filter"),
	K("failslab", "ignore-gfp-wait"), K("failslab", "cache-filter"),
	K("failslab", "require-start"), K("failslab", "require-end"),
	K("failslab", "stacktrace-depth"),
	K("fail_page_alloc", "probability"), K("fail_page_alloc", "interval"),
	K("fail_page_alloc", "times"), K("fail_page_alloc", "space"),
	K("fail_page_alloc", "verbose"), K("fail_page_alloc", "task-filter"),
	K("fail_page_alloc", "ignore-gfp-wait"),
	K("fail_page_alloc", "ignore-gfp-highmem"),
	K("fail_page_alloc", "min-order"),
	K("fail_page_alloc", "require-start"),
	K("fail_page_alloc", "require-end"),
	K("fail_page_alloc", "stacktrace-depth"),
	K("fail_usercopy", "verbose"),
};
#undef K
#define NKNOBS (sizeof(knobs) / sizeof(knobs[0]))

static int knob_set(const char *attr, const char *name, const char *v)
{
	char path[128];

	snprintf(path, sizeof(path), DBG "/%s/%s", attr, name);
	for (size_t i = 0; i < NKNOBS; i++) {
		if (strcmp(knobs[i].attr, attr) || strcmp(knobs[i].name, name) ||
		    knobs[i].saved)
			continue;
		if (read_str(path, knobs[i].old, sizeof(knobs[i].old)))
			return -ENOENT;
		knobs[i].saved = true;
	}
	return write_str(path, v);
}

static void knobs_restore(void)
{
	char path[128];

	for (size_t i = 0; i < NKNOBS; i++) {
		if (!knobs[i].saved)
			continue;
		snprintf(path, sizeof(path), DBG "/%s/%s", knobs[i].attr,
			 knobs[i].name);
		write_str(path, knobs[i].old);
		knobs[i].saved = false;
	}
}

/*
 * Let fail-nth reach every allocation: by default failslab and
 * fail_page_alloc skip the ones that may sleep (all of ours), highmem
 * pages (chunks are GFP_HIGHUSER) and order 0. Quiet: no stack dumps.
 */
static void knobs_for_sweep(void)
{
	knob_set("failslab", "ignore-gfp-wait", "N");
	knob_set("failslab", "verbose", "0");
	knob_set("fail_page_alloc", "ignore-gfp-wait", "N");
	knob_set("fail_page_alloc", "ignore-gfp-highmem", "N");
	knob_set("fail_page_alloc", "min-order", "0");
	knob_set("fail_page_alloc", "verbose", "0");
	knob_set("fail_usercopy", "verbose", "0");
}

/* ---- fail-nth --------------------------------------------------------------- */

static int nth_fd = -1;

static void nth_arm(unsigned int n)
{
	char b[16];
	int l = snprintf(b, sizeof(b), "%u", n);

	/*
	 * The write's own copy from user space is a fault site too: if a
	 * count is still pending it may fail (EFAULT), consuming one. Each
	 * try brings the count down, so this ends.
	 */
	for (int i = 0; pwrite(nth_fd, b, l, 0) != l; i++) {
		if (errno != EFAULT || i > 64) {
			fprintf(stderr, "# fail-nth: write %u: %s\n", n,
				strerror(errno));
			abort();
		}
	}
}

/*
 * Fault sites left to go: 0 means the fault was injected. If the operation
 * did not reach the n-th site, this read's own copy to user space is the
 * next one (fail_usercopy): it fails with EFAULT, and that means "not
 * reached" just as well.
 */
static unsigned int nth_left(void)
{
	char b[16] = { 0 };
	ssize_t n = pread(nth_fd, b, sizeof(b) - 1, 0);

	if (n < 0 && errno == EFAULT)
		return 1;
	if (n <= 0) {
		fprintf(stderr, "# fail-nth: read: %zd (%s)\n", n, strerror(errno));
		abort();
	}
	return strtoul(b, NULL, 10);
}

/* /proc/thread-self/make-it-fail, kept open: arming allocates nothing. */
static int mif_fd = -1;

static void make_it_fail(bool on)
{
	while (pwrite(mif_fd, on ? "1" : "0", 1, 0) != 1)
		;
}

/* ---- state and its checks ------------------------------------------------------ */

struct base {
	long in_use, live, windows, quarantined;
};

static void base_read(struct base *b)
{
	b->in_use = arena_counter("chunks_in_use");
	b->live = arena_counter("arenas_live");
	b->windows = arena_counter("windows_open");
	b->quarantined = arena_counter("chunks_quarantined");
}

FIXTURE(fi) {
	int fd;
	struct arena_info info;
	char *base;
	size_t cs;
	struct base b0;
	long low, high;
	unsigned long injected, failed, succeeded, fallback;
};

FIXTURE_SETUP(fi)
{
	self->fd = -1;
	self->base = NULL;
	self->low = -1;
	if (access(FAIL_NTH, W_OK))
		SKIP(return, "no %s: kernel without CONFIG_FAULT_INJECTION",
		     FAIL_NTH);
	ARENA_SETUP_WINDOW(self);
	self->cs = self->info.out_chunk_size;
	nth_fd = open(FAIL_NTH, O_RDWR | O_CLOEXEC);
	ASSERT_GE(nth_fd, 0);
	self->low = arena_param("pool_low");
	self->high = arena_param("pool_high");
	knobs_for_sweep();
	base_read(&self->b0);
}

FIXTURE_TEARDOWN(fi)
{
	if (nth_fd >= 0) {
		nth_arm(0);
		close(nth_fd);
		nth_fd = -1;
	}
	if (mif_fd >= 0) {
		make_it_fail(false);
		close(mif_fd);
		mif_fd = -1;
	}
	knobs_restore();
	if (self->low >= 0) {
		arena_param_set("pool_high", 65536);
		arena_param_set("pool_low", self->low);
		arena_param_set("pool_high", self->high);
	}
	arena_close_window(self->fd, &self->info, self->base);
}

/* Counters where they were before the operation (plus @in_use chunks). */
static bool base_is(const struct base *b, long in_use, long live, long windows)
{
	return arena_counter("chunks_in_use") == b->in_use + in_use &&
	       arena_counter("arenas_live") == b->live + live &&
	       arena_counter("windows_open") == b->windows + windows;
}

/*
 * The device still works on @fd: an arena with a chunk, zero, writable,
 * freed, faulting after.
 */
static bool usable(int fd, char *base, size_t cs)
{
	uint64_t off;
	long id = arena_create_id(fd);
	bool ok;

	if (id <= 0 || arena_chunks(fd, id, 1, &off))
		return false;
	ok = !base || (base[off] == 0 && base[off + cs - 1] == 0);
	if (base)
		base[off + 4096] = 7;
	if (arena_free_id(fd, id))
		return false;
	return ok && (!base || faults_at(base + off + 4096));
}

static bool errno_in(int err, const int *ok, int n)
{
	for (int i = 0; i < n; i++)
		if (err == ok[i])
			return true;
	return false;
}

#define ERRNO_IN(err, ...) ({						\
	const int __ok[] = { __VA_ARGS__ };				\
	errno_in(err, __ok, sizeof(__ok) / sizeof(__ok[0]));		\
})

/*
 * The sweep: the block (the macro's last argument) runs with the n-th fault site armed; it sets err
 * (0 or an errno) and checks the result itself. The loop ends when an
 * operation completes without reaching the n-th site.
 */
#define SWEEP(self, name, ...) do {					\
	unsigned int __n, __left = 0;					\
	for (__n = 1; __n < SWEEP_MAX; __n++) {				\
		int err = 0;						\
		bool injected;						\
		(void)injected;						\
		(void)err;						\
		__VA_ARGS__						\
		if (__left)						\
			break;						\
	}								\
	ASSERT_LT(__n, SWEEP_MAX);					\
	TH_LOG("%s: %u fault sites: %lu failures returned an errno, %lu were absorbed", \
	       name, __n - 1, self->failed, self->succeeded);		\
	self->injected += __n - 1;					\
} while (0)

/* Arm, run @op (a statement setting err), disarm; sets injected. */
#define INJECT(op) do {							\
	nth_arm(__n);							\
	op;								\
	__left = nth_left();						\
	if (__left)							\
		nth_arm(0);						\
	injected = !__left;						\
} while (0)

#define TALLY(self, err) do {						\
	if (injected) {							\
		if (err)						\
			(self)->failed++;				\
		else							\
			(self)->succeeded++;				\
	}								\
} while (0)

/* ---- the sweeps -------------------------------------------------------------------- */

TEST_F_TIMEOUT(fi, open, 600)
{
	RETURN_IF_SKIPPED();
	SWEEP(self, "open", {
		int fd2;

		INJECT(fd2 = open(ARENA_DEV, O_RDWR | O_CLOEXEC); err = fd2 < 0 ? errno : 0);
		TALLY(self, err);
		/* EFAULT: the copy of the path name was failed. */
		ASSERT_TRUE(!err || ERRNO_IN(err, ENOMEM, ENFILE, EFAULT)) TH_LOG("open: %s", strerror(err));
		ASSERT_TRUE(base_is(&self->b0, 0, 0, !err));
		if (!err) {
			ASSERT_TRUE(usable(fd2, NULL, self->cs));
			close(fd2);
		}
		ASSERT_TRUE(base_is(&self->b0, 0, 0, 0));
	});
}

TEST_F_TIMEOUT(fi, mmap, 600)
{
	RETURN_IF_SKIPPED();
	SWEEP(self, "mmap", {
		int fd2 = open(ARENA_DEV, O_RDWR | O_CLOEXEC);
		void *p;

		ASSERT_GE(fd2, 0);
		INJECT(p = mmap(NULL, self->info.out_window_size,
				PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
		       err = p == MAP_FAILED ? errno : 0);
		TALLY(self, err);
		ASSERT_TRUE(!err || ERRNO_IN(err, ENOMEM, EAGAIN)) TH_LOG("mmap: %s", strerror(err));
		if (err) {
			/* A failed mmap must not use up the one mapping. */
			p = mmap(NULL, self->info.out_window_size,
				 PROT_READ | PROT_WRITE, MAP_SHARED, fd2, 0);
			ASSERT_NE(MAP_FAILED, p) TH_LOG("mmap after an injected failure: %s",
						       strerror(errno));
		}
		ASSERT_TRUE(usable(fd2, p, self->cs));
		ASSERT_EQ(0, munmap(p, self->info.out_window_size));
		close(fd2);
		ASSERT_TRUE(base_is(&self->b0, 0, 0, 0));
	});
}

TEST_F_TIMEOUT(fi, munmap_with_live_chunks, 600)
{
	RETURN_IF_SKIPPED();
	SWEEP(self, "munmap", {
		int fd2 = open(ARENA_DEV, O_RDWR | O_CLOEXEC);
		char *p;
		uint64_t off;
		long id;

		ASSERT_GE(fd2, 0);
		p = arena_map_window(fd2, self->info.out_window_size);
		ASSERT_NE(NULL, p);
		id = arena_create_id(fd2);
		ASSERT_GT(id, 0);
		ASSERT_EQ(0, arena_chunks(fd2, id, 2, &off));
		p[off] = 1;
		p[off + self->cs] = 2;
		INJECT(err = munmap(p, 2 * self->info.out_window_size) ? errno : 0);
		TALLY(self, err);
		ASSERT_TRUE(!err || ERRNO_IN(err, ENOMEM)) TH_LOG("munmap: %s", strerror(err));
		if (err) {
			/* Still mapped, still whole. */
			ASSERT_EQ(1, p[off]);
			ASSERT_EQ(2, p[off + self->cs]);
			ASSERT_EQ(0, munmap(p, 2 * self->info.out_window_size));
		}
		close(fd2);
		ASSERT_TRUE(base_is(&self->b0, 0, 0, 0));
	});
}

TEST_F_TIMEOUT(fi, get_info, 600)
{
	RETURN_IF_SKIPPED();
	SWEEP(self, "GET_INFO", {
		struct arena_info in;

		memset(&in, 0, sizeof(in));
		in.size = sizeof(in);
		INJECT(err = arena_ioc(self->fd, ARENA_IOC_GET_INFO, &in));
		err = -err;
		TALLY(self, err);
		ASSERT_TRUE(!err || ERRNO_IN(err, EFAULT)) TH_LOG("GET_INFO: %s", strerror(err));
		if (!err)
			ASSERT_EQ(self->info.out_window_size, in.out_window_size);
	});
}

TEST_F_TIMEOUT(fi, create, 600)
{
	RETURN_IF_SKIPPED();
	SWEEP(self, "CREATE", {
		struct arena_create cr = { .size = sizeof(cr) };

		INJECT(err = -arena_ioc(self->fd, ARENA_IOC_CREATE, &cr));
		TALLY(self, err);
		ASSERT_TRUE(!err || ERRNO_IN(err, ENOMEM, EFAULT)) TH_LOG("CREATE: %s", strerror(err));
		/* EFAULT on the way out: the arena was taken back. */
		ASSERT_TRUE(base_is(&self->b0, 0, !err, 0));
		if (!err)
			ASSERT_EQ(0, arena_free_id(self->fd, cr.out_arena_id));
		ASSERT_TRUE(usable(self->fd, self->base, self->cs));
		ASSERT_TRUE(base_is(&self->b0, 0, 0, 0));
	});
}

/* Every page of @nr chunks at @p starts zero, the first page all zero. */
static bool chunks_zero(const char *p, size_t cs, unsigned int nr)
{
	for (size_t i = 0; i < nr * cs; i += PAGE_SZ)
		if (p[i] || p[i + PAGE_SZ - 1])
			return false;
	for (size_t i = 0; i < PAGE_SZ; i++)
		if (p[i])
			return false;
	return true;
}

static void sweep_alloc(struct __test_metadata *_metadata,
			FIXTURE_DATA(fi) *self, bool warm, bool reset)
{
	const unsigned int nr = 2;
	long fb0 = arena_counter("chunks_fallback");

	/* Cold: no ready chunk, every chunk comes from the page allocator. */
	ASSERT_EQ(0, arena_param_set("pool_low", warm ? 8 : 0));
	SWEEP(self, warm ? "ALLOC_CHUNKS, warm pool" :
		    reset ? "ALLOC_CHUNKS with RESET" : "ALLOC_CHUNKS, cold pool", {
		struct arena_alloc_chunks ac = { .size = sizeof(ac),
						 .nr_chunks = nr };
		long id = arena_create_id(self->fd);
		uint64_t old = 0;

		ASSERT_GT(id, 0);
		if (reset) {
			ASSERT_EQ(0, arena_chunks(self->fd, id, 1, &old));
			memset(self->base + old, 0x5a, PAGE_SZ);
			ac.flags = ARENA_ALLOC_RESET;
		}
		if (warm) {
			for (int t = 0; t < 500 &&
			     arena_counter("chunks_ready") < nr; t++)
				usleep(10000);
		} else {
			ASSERT_EQ(0, arena_drain());
		}
		ac.arena_id = id;
		INJECT(err = -arena_ioc(self->fd, ARENA_IOC_ALLOC_CHUNKS, &ac));
		TALLY(self, err);
		ASSERT_TRUE(!err || ERRNO_IN(err, ENOMEM, EFAULT)) TH_LOG("ALLOC_CHUNKS: %s", strerror(err));
		if (!err) {
			ASSERT_TRUE(base_is(&self->b0, nr, 1, 0));
			ASSERT_TRUE(chunks_zero(self->base + ac.out_offset,
						self->cs, nr));
			if (reset)
				ASSERT_TRUE(faults_at(self->base + old));
		} else if (reset && err == ENOMEM) {
			/* Failed: the arena is as it was, old bytes and all. */
			ASSERT_TRUE(base_is(&self->b0, 1, 1, 0));
			ASSERT_EQ(0x5a, self->base[old + PAGE_SZ - 1]);
		} else if (err == ENOMEM) {
			ASSERT_TRUE(base_is(&self->b0, 0, 1, 0));
		}
		/* EFAULT writing the offset back: the chunks are the arena's. */
		ASSERT_EQ(0, arena_free_id(self->fd, id));
		ASSERT_TRUE(base_is(&self->b0, 0, 0, 0));
		ASSERT_TRUE(usable(self->fd, self->base, self->cs));
	});
	self->fallback = arena_counter("chunks_fallback") - fb0;
	TH_LOG("chunks made of smaller folios after a failed 2 MiB allocation: %lu",
	       self->fallback);
	ASSERT_TRUE(arena_pool_settle(60000));
}

TEST_F_TIMEOUT(fi, alloc_cold_pool, 1200)
{
	RETURN_IF_SKIPPED();
	sweep_alloc(_metadata, self, false, false);
	/* The 64 KiB and 4 KiB fallbacks ran. */
	EXPECT_GT(self->fallback, 0);
}

TEST_F_TIMEOUT(fi, alloc_warm_pool, 600)
{
	RETURN_IF_SKIPPED();
	sweep_alloc(_metadata, self, true, false);
}

TEST_F_TIMEOUT(fi, alloc_reset, 1200)
{
	RETURN_IF_SKIPPED();
	sweep_alloc(_metadata, self, false, true);
}

/*
 * ARENA_IOC_ALLOC on a file of its own each round, so that every round
 * takes the whole path: a shared chunk to carve (from a cold pool), a small
 * slot of the small window, the run; or whole chunks for @len of a
 * chunk or more. With @create the arena is made in the same call (and
 * unmade if the call fails); with @reset an arena with a small run of
 * known bytes is reset (and must keep them if the call fails).
 */
static void sweep_alloc2(struct __test_metadata *_metadata,
			 FIXTURE_DATA(fi) *self, const char *name,
			 uint64_t len, bool create, bool reset)
{
	const size_t win = self->info.out_window_size;

	ASSERT_EQ(0, arena_param_set("pool_low", 0));
	SWEEP(self, name, {
		struct arena_alloc al = { .size = sizeof(al), .length = len };
		int fd2 = open(ARENA_DEV, O_RDWR | O_CLOEXEC);
		uint64_t old = 0, want = len < self->cs ? len :
			(len + self->cs - 1) & ~(uint64_t)(self->cs - 1);
		char *p;
		long id = 0;

		ASSERT_GE(fd2, 0);
		p = arena_map_window(fd2, win);
		ASSERT_NE(NULL, p);
		if (!create) {
			id = arena_create_id(fd2);
			ASSERT_GT(id, 0);
			al.arena_id = id;
		} else {
			al.flags = ARENA_ALLOC_CREATE;
		}
		if (reset) {
			struct arena_alloc al0 = { .size = sizeof(al0),
				.arena_id = id, .length = 2 * PAGE_SZ };

			ASSERT_EQ(0, arena_ioc(fd2, ARENA_IOC_ALLOC, &al0));
			old = al0.out_offset;
			memset(p + old, 0x5a, 2 * PAGE_SZ);
			al.flags = ARENA_ALLOC_RESET;
		}
		ASSERT_EQ(0, arena_drain());
		INJECT(err = -arena_ioc(fd2, ARENA_IOC_ALLOC, &al));
		TALLY(self, err);
		ASSERT_TRUE(!err || ERRNO_IN(err, ENOMEM, EFAULT)) TH_LOG("ALLOC: %s", strerror(err));
		if (!err) {
			ASSERT_EQ(want, al.out_length);
			ASSERT_TRUE(chunks_zero(p + al.out_offset, PAGE_SZ,
						al.out_length / PAGE_SZ));
			if (reset)
				ASSERT_TRUE(faults_at(p + old));
			ASSERT_EQ(0, arena_free_id(fd2, al.arena_id));
			ASSERT_TRUE(faults_at(p + al.out_offset));
		} else if (err == ENOMEM) {
			/* The arena is as it was; a new one was taken back. */
			ASSERT_EQ(self->b0.live + !create,
				  arena_counter("arenas_live"));
			if (reset)
				ASSERT_EQ(0x5a, p[old + 2 * PAGE_SZ - 1]);
		}
		munmap(p, 2 * win);	/* both parts */
		close(fd2);
		ASSERT_TRUE(base_is(&self->b0, 0, 0, 0));
		ASSERT_TRUE(usable(self->fd, self->base, self->cs));
	});
	ASSERT_TRUE(arena_pool_settle(60000));
}

TEST_F_TIMEOUT(fi, alloc_small_run, 1200)
{
	RETURN_IF_SKIPPED();
	sweep_alloc2(_metadata, self, "ALLOC, small run", 3 * PAGE_SZ,
		     false, false);
}

TEST_F_TIMEOUT(fi, alloc_small_run_create, 1200)
{
	RETURN_IF_SKIPPED();
	sweep_alloc2(_metadata, self, "ALLOC CREATE, small run", PAGE_SZ,
		     true, false);
}

TEST_F_TIMEOUT(fi, alloc_small_run_reset, 1200)
{
	RETURN_IF_SKIPPED();
	sweep_alloc2(_metadata, self, "ALLOC RESET, small run", 5 * PAGE_SZ,
		     false, true);
}

TEST_F_TIMEOUT(fi, alloc_chunks_create, 1200)
{
	RETURN_IF_SKIPPED();
	sweep_alloc2(_metadata, self, "ALLOC CREATE, whole chunks",
		     self->cs + PAGE_SZ, true, false);
}

TEST_F_TIMEOUT(fi, free, 600)
{
	RETURN_IF_SKIPPED();
	SWEEP(self, "FREE", {
		uint64_t off;
		long id = arena_create_id(self->fd);
		struct arena_free fr = { .size = sizeof(fr) };

		ASSERT_GT(id, 0);
		ASSERT_EQ(0, arena_chunks(self->fd, id, 2, &off));
		self->base[off] = 3;
		fr.arena_id = id;
		INJECT(err = -arena_ioc(self->fd, ARENA_IOC_FREE, &fr));
		TALLY(self, err);
		ASSERT_TRUE(!err || ERRNO_IN(err, EFAULT)) TH_LOG("FREE: %s", strerror(err));
		if (err) {
			/* Not freed: still there. */
			ASSERT_EQ(3, self->base[off]);
			ASSERT_EQ(0, arena_free_id(self->fd, id));
		}
		ASSERT_TRUE(faults_at(self->base + off));
		ASSERT_TRUE(base_is(&self->b0, 0, 0, 0));
	});
}

TEST_F_TIMEOUT(fi, lookup, 600)
{
	RETURN_IF_SKIPPED();
	uint64_t off;
	long id = arena_create_id(self->fd);

	ASSERT_GT(id, 0);
	ASSERT_EQ(0, arena_chunks(self->fd, id, 1, &off));
	SWEEP(self, "LOOKUP", {
		struct arena_lookup lk;

		memset(&lk, 0, sizeof(lk));
		lk.size = sizeof(lk);
		lk.offset = off + 5;
		INJECT(err = -arena_ioc(self->fd, ARENA_IOC_LOOKUP, &lk));
		TALLY(self, err);
		ASSERT_TRUE(!err || ERRNO_IN(err, EFAULT)) TH_LOG("LOOKUP: %s", strerror(err));
		if (!err) {
			ASSERT_EQ(ARENA_SLOT_LIVE, lk.out_state);
			ASSERT_EQ(id, lk.out_arena_id);
		}
	});
	ASSERT_EQ(0, arena_free_id(self->fd, id));
}

/* The page fault that maps a chunk: page tables may fail; it retries. */
TEST_F_TIMEOUT(fi, first_touch, 600)
{
	RETURN_IF_SKIPPED();
	SWEEP(self, "first touch", {
		uint64_t off;
		long id = arena_create_id(self->fd);
		volatile char *p;

		ASSERT_GT(id, 0);
		ASSERT_EQ(0, arena_chunks(self->fd, id, 1, &off));
		p = self->base + off + self->cs / 2;
		INJECT(*p = 9);
		TALLY(self, 0);
		ASSERT_EQ(9, *p);
		ASSERT_EQ(0, p[1]);
		ASSERT_EQ(0, arena_free_id(self->fd, id));
		ASSERT_TRUE(faults_at((char *)p));
		ASSERT_TRUE(base_is(&self->b0, 0, 0, 0));
	});
}

/* GUP into an unmapped chunk: process_vm_writev faults it in. */
TEST_F_TIMEOUT(fi, gup_into_chunk, 600)
{
	RETURN_IF_SKIPPED();
	static char src[2 * PAGE_SZ];

	memset(src, 0x6b, sizeof(src));
	SWEEP(self, "process_vm_writev into a chunk", {
		uint64_t off;
		long id = arena_create_id(self->fd);
		struct iovec l = { src, sizeof(src) }, r;
		ssize_t n;

		ASSERT_GT(id, 0);
		ASSERT_EQ(0, arena_chunks(self->fd, id, 1, &off));
		r.iov_base = self->base + off + PAGE_SZ;
		r.iov_len = sizeof(src);
		INJECT(n = process_vm_writev(getpid(), &l, 1, &r, 1, 0);
		       err = n < 0 ? errno : 0);
		TALLY(self, err);
		ASSERT_TRUE(!err || ERRNO_IN(err, ENOMEM, EFAULT)) TH_LOG("process_vm_writev: %s", strerror(err));
		if (!err)
			ASSERT_TRUE(n > 0 && self->base[off + PAGE_SZ] == 0x6b);
		ASSERT_EQ(0, self->base[off]);
		ASSERT_EQ(0, arena_free_id(self->fd, id));
		ASSERT_TRUE(base_is(&self->b0, 0, 0, 0));
	});
}

TEST_F_TIMEOUT(fi, vmsplice, 600)
{
	RETURN_IF_SKIPPED();
	SWEEP(self, "vmsplice", {
		uint64_t off;
		long id = arena_create_id(self->fd);
		struct iovec iov;
		char buf[PAGE_SZ];
		int pfd[2];
		ssize_t n;

		ASSERT_GT(id, 0);
		ASSERT_EQ(0, arena_chunks(self->fd, id, 1, &off));
		memset(self->base + off, 0x3c, 2 * PAGE_SZ);
		ASSERT_EQ(0, pipe2(pfd, O_NONBLOCK));
		iov.iov_base = self->base + off;
		iov.iov_len = 2 * PAGE_SZ;
		INJECT(n = vmsplice(pfd[1], &iov, 1, 0); err = n < 0 ? errno : 0);
		TALLY(self, err);
		ASSERT_TRUE(!err || ERRNO_IN(err, ENOMEM, EFAULT)) TH_LOG("vmsplice: %s", strerror(err));
		ASSERT_EQ(0, arena_free_id(self->fd, id));
		/* What made it into the pipe is still the arena's bytes. */
		if (n > 0) {
			ASSERT_EQ(PAGE_SZ, read(pfd[0], buf, PAGE_SZ));
			ASSERT_EQ(0x3c, buf[0]);
			ASSERT_EQ(0x3c, buf[PAGE_SZ - 1]);
		}
		close(pfd[0]);
		close(pfd[1]);
		ASSERT_TRUE(arena_counter_wait("chunks_quarantined",
					       self->b0.quarantined, 30000));
		ASSERT_TRUE(base_is(&self->b0, 0, 0, 0));
	});
}

/* close() runs the release: arenas, runs, the window's inode. */
TEST_F_TIMEOUT(fi, close_with_arenas, 600)
{
	RETURN_IF_SKIPPED();
	SWEEP(self, "close", {
		int fd2 = open(ARENA_DEV, O_RDWR | O_CLOEXEC);
		uint64_t off;
		long id;

		ASSERT_GE(fd2, 0);
		id = arena_create_id(fd2);
		ASSERT_GT(id, 0);
		ASSERT_EQ(0, arena_chunks(fd2, id, 2, &off));
		ASSERT_GT(arena_create_id(fd2), 0);
		INJECT(err = close(fd2) ? errno : 0);
		TALLY(self, err);
		ASSERT_EQ(0, err);
		ASSERT_TRUE(base_is(&self->b0, 0, 0, 0));
	});
}

static int count_cb(const struct nlmsghdr *nlh, void *arg)
{
	(void)nlh;
	(*(int *)arg)++;
	return 0;
}

TEST_F_TIMEOUT(fi, netlink_dumps, 600)
{
	RETURN_IF_SKIPPED();
	static struct anl nl;
	uint64_t off;
	long id = arena_create_id(self->fd);
	int n;

	if (anl_open(&nl) || anl_resolve(&nl, ARENA_NL_FAMILY_NAME))
		SKIP(return, "no arena netlink family");
	ASSERT_GT(id, 0);
	ASSERT_EQ(0, arena_chunks(self->fd, id, 1, &off));
	for (int cmd = ARENA_NL_CMD_POOL_GET; cmd <= ARENA_NL_CMD_QUARANTINE_GET; cmd++) {
		self->failed = self->succeeded = 0;
		SWEEP(self, cmd == ARENA_NL_CMD_POOL_GET ? "netlink pool-get" :
			    cmd == ARENA_NL_CMD_ARENA_GET ? "netlink arena-get" :
			    "netlink quarantine-get", {
			n = 0;
			INJECT(err = -anl_dump(&nl, cmd, count_cb, &n));
			TALLY(self, err);
			/* A lost reply times out; then start over. */
			if (err == ETIMEDOUT) {
				anl_close(&nl);
				ASSERT_EQ(0, anl_open(&nl));
				ASSERT_EQ(0, anl_resolve(&nl, ARENA_NL_FAMILY_NAME));
			}
			n = 0;
			ASSERT_EQ(0, anl_dump(&nl, cmd, count_cb, &n));
			ASSERT_GE(n, cmd == ARENA_NL_CMD_QUARANTINE_GET ? 0 : 1);
		});
	}
	anl_close(&nl);
	ASSERT_EQ(0, arena_free_id(self->fd, id));
}

/* ---- random failures: failslab and fail_page_alloc ------------------------------------ */

/*
 * Whole sessions (open, mmap, create, alloc with or without RESET, touch,
 * vmsplice, free, close) while allocations fail at random. Any syscall may
 * fail with a clean errno; cleanup runs with injection off; in the end the
 * counters must be back and the device usable.
 */
static void random_sessions(struct __test_metadata *_metadata,
			    FIXTURE_DATA(fi) *self, const char *const *attrs,
			    const char *pct, int rounds)
{
	const size_t win = self->info.out_window_size;
	unsigned long ops = 0, fails = 0;
	unsigned int seed = 0x5eed ^ rounds;
	char what[64] = "";

	/*
	 * Only this thread, and only inside each operation (make-it-fail
	 * is on for the one syscall): 6.1's stack trace filter, which could
	 * narrow failures down to arena.ko's own calls, is !X86_64.
	 */
	for (int i = 0; attrs[i]; i++) {
		if (knob_set(attrs[i], "probability", "0"))
			SKIP(return, "no %s/%s", DBG, attrs[i]);
		ASSERT_EQ(0, knob_set(attrs[i], "task-filter", "Y"));
		ASSERT_EQ(0, knob_set(attrs[i], "interval", "1"));
		ASSERT_EQ(0, knob_set(attrs[i], "times", "-1"));
		ASSERT_EQ(0, knob_set(attrs[i], "space", "0"));
		ASSERT_EQ(0, knob_set(attrs[i], "verbose", "0"));
		ASSERT_EQ(0, knob_set(attrs[i], "probability", pct));
		snprintf(what + strlen(what), sizeof(what) - strlen(what),
			 "%s%s", i ? "+" : "", attrs[i]);
	}
	mif_fd = open(MAKE_IT_FAIL, O_WRONLY | O_CLOEXEC);
	ASSERT_GE(mif_fd, 0);

#define FAILABLE(stmt, okcond) ({					\
	bool __ok;							\
	make_it_fail(true);						\
	stmt;								\
	__ok = (okcond);						\
	make_it_fail(false);						\
	ops++;								\
	if (!__ok)							\
		fails++;						\
	__ok;								\
})

	for (int r = 0; r < rounds; r++) {
		int fd2 = -1, err = 0, pfd[2] = { -1, -1 };
		char *p = MAP_FAILED;
		struct arena_create cr = { .size = sizeof(cr) };
		struct arena_alloc_chunks ac = { .size = sizeof(ac) };
		struct iovec iov;
		bool have_arena = false;

		if (!FAILABLE(fd2 = open(ARENA_DEV, O_RDWR | O_CLOEXEC),
			      fd2 >= 0)) {
			ASSERT_TRUE(ERRNO_IN(errno, ENOMEM, ENFILE));
			continue;
		}
		/*
		 * Both parts (small runs live in the small window), mapped
		 * without injection: a failure between the two mmaps could
		 * leave the first mapped if the cleanup's munmap failed too.
		 * fi.mmap injects into the mmap of a window.
		 */
		p = arena_map_window(fd2, win);
		ASSERT_NE(NULL, p);
		if (FAILABLE(err = arena_ioc(fd2, ARENA_IOC_CREATE, &cr), !err))
			have_arena = true;
		else
			ASSERT_TRUE(ERRNO_IN(-err, ENOMEM, EFAULT));
		for (int k = 0; have_arena && k < 3; k++) {
			struct arena_alloc al = {
				.size = sizeof(al), .arena_id = cr.out_arena_id,
				.length = PAGE_SZ * (1 + rand_r(&seed) % 64),
			};

			ac.arena_id = cr.out_arena_id;
			ac.nr_chunks = 1 + rand_r(&seed) % 3;
			ac.flags = rand_r(&seed) % 3 ? 0 : ARENA_ALLOC_RESET;
			/* Half the time a small run instead. */
			if (rand_r(&seed) % 2) {
				al.flags = ac.flags;
				if (!FAILABLE(err = arena_ioc(fd2, ARENA_IOC_ALLOC, &al),
					      !err)) {
					ASSERT_TRUE(ERRNO_IN(-err, ENOMEM, EFAULT));
					continue;
				}
				ac.out_offset = al.out_offset;
			} else if (!FAILABLE(err = arena_ioc(fd2, ARENA_IOC_ALLOC_CHUNKS, &ac),
					     !err)) {
				ASSERT_TRUE(ERRNO_IN(-err, ENOMEM, EFAULT));
				continue;
			}
			if (p == MAP_FAILED)
				continue;
			/* Touching may need page tables: it retries. */
			FAILABLE(p[ac.out_offset] = 1, true);
			ASSERT_EQ(0, p[ac.out_offset + PAGE_SZ - 1]);
			if (rand_r(&seed) % 2 && pfd[0] < 0 &&
			    !pipe2(pfd, O_NONBLOCK)) {
				iov.iov_base = p + ac.out_offset;
				iov.iov_len = PAGE_SZ;
				if (!FAILABLE(err = vmsplice(pfd[1], &iov, 1, 0),
					      err == PAGE_SZ))
					ASSERT_TRUE(ERRNO_IN(errno, ENOMEM, EFAULT));
			}
		}
		if (have_arena) {
			struct arena_free fr = { .size = sizeof(fr),
						 .arena_id = cr.out_arena_id };

			if (!FAILABLE(err = arena_ioc(fd2, ARENA_IOC_FREE, &fr),
				      !err)) {
				ASSERT_TRUE(ERRNO_IN(-err, EFAULT));
				ASSERT_EQ(0, arena_ioc(fd2, ARENA_IOC_FREE, &fr));
			}
		}
		if (pfd[0] >= 0) {
			close(pfd[0]);
			close(pfd[1]);
		}
		if (p != MAP_FAILED &&
		    !FAILABLE(err = munmap(p, 2 * win), !err)) {
			ASSERT_TRUE(ERRNO_IN(errno, ENOMEM));
			ASSERT_EQ(0, munmap(p, 2 * win));
		}
		FAILABLE(close(fd2), true);
	}
#undef FAILABLE
	for (int i = 0; attrs[i]; i++) {
		ASSERT_EQ(0, knob_set(attrs[i], "probability", "0"));
		ASSERT_EQ(0, knob_set(attrs[i], "task-filter", "N"));
	}
	close(mif_fd);
	mif_fd = -1;
	TH_LOG("%s at %s%%: %d sessions, %lu operations, %lu failed", what,
	       pct, rounds, ops, fails);
	self->injected += fails;
	EXPECT_GT(fails, 0);
	ASSERT_TRUE(arena_counter_wait("chunks_quarantined",
				       self->b0.quarantined, 30000));
	ASSERT_TRUE(base_is(&self->b0, 0, 0, 0));
	ASSERT_TRUE(usable(self->fd, self->base, self->cs));
	ASSERT_TRUE(arena_pool_settle(60000));
}

TEST_F_TIMEOUT(fi, failslab_random, 1200)
{
	static const char *const attrs[] = { "failslab", NULL };

	RETURN_IF_SKIPPED();
	random_sessions(_metadata, self, attrs, "20", 150);
}

TEST_F_TIMEOUT(fi, fail_page_alloc_random, 1200)
{
	static const char *const attrs[] = { "fail_page_alloc", NULL };

	RETURN_IF_SKIPPED();
	random_sessions(_metadata, self, attrs, "20", 150);
}

TEST_F_TIMEOUT(fi, failslab_and_fail_page_alloc_random, 1200)
{
	static const char *const attrs[] = { "failslab", "fail_page_alloc",
					     NULL };

	RETURN_IF_SKIPPED();
	random_sessions(_metadata, self, attrs, "10", 150);
}

TEST_HARNESS_MAIN
