// SPDX-License-Identifier: GPL-2.0
/*
 * Description: arena pages that something else references (a pipe that
 * vmsplice() filled, an O_DIRECT read in flight, process_vm_readv(),
 * /proc/PID/mem) are never handed out again while held, and the holder sees
 * the bytes written before the free. After the free the address faults, the
 * kernel's own accesses fail (EFAULT, EIO), and every chunk handed out later
 * is zero on first touch.
 *
 * If the module has the chunk pool (/sys/kernel/arena/chunks_quarantined
 * exists), a chunk freed while a pipe holds one of its pages is counted as
 * quarantined until the pipe lets go, and leaves the quarantine within two
 * seconds of that. Without the pool only the data checks run.
 *
 * The O_DIRECT tests read the VM's scratch disk ($ARENA_TEST_DISK, pattern
 * in arena_helpers.h) and skip without it.
 */
#include "arena_helpers.h"	/* first: it defines _GNU_SOURCE */

#include <limits.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

#include "kselftest_harness.h"

#define QUARANTINED	"chunks_quarantined"
#define POOL_SETTLE_MS	2000

/* Arena bytes the tests put there: 64-bit words with these top 32 bits. */
#define PIN_MAGIC	0xa5e1a5e100000000ULL
#define PIN_MAGIC_MASK	0xffffffff00000000ULL

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

static uint64_t pin_word(uint64_t tag, size_t i)
{
	return PIN_MAGIC | (tag << 12) | i;
}

/* Fill page @tag of the pattern (each page of a chunk gets its index). */
static void fill_page(char *p, uint64_t tag)
{
	uint64_t *w = (uint64_t *)p;
	size_t i;

	for (i = 0; i < PAGE_SZ / 8; i++)
		w[i] = pin_word(tag, i);
}

/* First wrong 64-bit word of page @tag, or -1. */
static long page_mismatch(const char *p, uint64_t tag)
{
	const uint64_t *w = (const uint64_t *)p;
	size_t i;

	for (i = 0; i < PAGE_SZ / 8; i++)
		if (w[i] != pin_word(tag, i))
			return i;
	return -1;
}

/* Offset of the first nonzero 64-bit word in @len bytes, or -1. */
static long first_nonzero(const char *p, size_t len)
{
	const uint64_t *w = (const uint64_t *)p;
	size_t i;

	for (i = 0; i < len / 8; i++)
		if (w[i])
			return i * 8;
	return -1;
}

/* Poll counter @name until it is @want, at most @ms; its last value. */
static long counter_wait(const char *name, long want, int ms)
{
	uint64_t end = now_ms() + ms;
	long v;

	for (;;) {
		v = arena_counter(name);
		if (v == want || now_ms() >= end)
			return v;
		usleep(10000);
	}
}

/* Counter @name once it has not moved for 300 ms (at most 3 s). */
static long counter_settled(const char *name)
{
	uint64_t end = now_ms() + 3000, still = now_ms();
	long v = arena_counter(name), w;

	while (now_ms() < end && now_ms() - still < 300) {
		usleep(20000);
		w = arena_counter(name);
		if (w != v) {
			v = w;
			still = now_ms();
		}
	}
	return v;
}

static ssize_t read_full(int fd, char *buf, size_t len)
{
	size_t done = 0;
	ssize_t n;

	while (done < len) {
		n = read(fd, buf + done, len - done);
		if (n <= 0)
			return done ? (ssize_t)done : n;
		done += n;
	}
	return done;
}

FIXTURE(pin) {
	int fd;
	struct arena_info info;
	char *base;
	size_t cs;
	bool pool;	/* the module counts quarantined chunks */
	long q0;	/* chunks_quarantined before the test */
	long saved_pool_low;	/* restore the parameter if >= 0 */
};

static int open_window(FIXTURE_DATA(pin) *self)
{
	self->base = NULL;
	self->fd = open(ARENA_DEV, O_RDWR | O_CLOEXEC);
	if (self->fd < 0)
		return -errno;
	if (arena_get_info(self->fd, &self->info))
		return -errno;
	self->cs = self->info.out_chunk_size;
	self->base = arena_map_window(self->fd, self->info.out_window_size);
	return self->base ? 0 : -errno;
}

static void close_window(FIXTURE_DATA(pin) *self)
{
	if (self->base)
		munmap(self->base, 2 * self->info.out_window_size);
	if (self->fd >= 0)
		close(self->fd);
	self->base = NULL;
	self->fd = -1;
}

FIXTURE_SETUP(pin)
{
	int err;

	self->saved_pool_low = -1;
	err = open_window(self);
	if (err == -ENOENT && self->fd < 0)
		SKIP(return, "no %s", ARENA_DEV);
	ASSERT_EQ(0, err);
	self->pool = arena_counter(QUARANTINED) >= 0;
	/* Whatever an earlier test left in flight has drained. */
	self->q0 = self->pool ? counter_settled(QUARANTINED) : -1;
	if (!self->pool)
		TH_LOG("no /sys/kernel/arena/%s: data checks only", QUARANTINED);
}

FIXTURE_TEARDOWN(pin)
{
	close_window(self);
	if (self->saved_pool_low >= 0)
		arena_param_set("pool_low", self->saved_pool_low);
}

/*
 * Reuse pressure: @n arenas of @chunks chunks each; every chunk must be zero
 * when first touched (nothing of an earlier owner, in particular none of
 * PIN_MAGIC). Each is dirtied and freed again, so a pool has to clean it
 * before it comes back. Returns the number of chunks that were not zero, or
 * -1 if the ioctls failed.
 */
static int churn(struct __test_metadata *_metadata, FIXTURE_DATA(pin) *self,
		 int n, unsigned int chunks)
{
	int a, bad = 0;
	unsigned int c;

	for (a = 0; a < n; a++) {
		long id = arena_create_id(self->fd);
		uint64_t off;

		if (id <= 0 || arena_chunks(self->fd, id, chunks, &off)) {
			TH_LOG("reuse pressure: arena %d: %s", a, strerror(errno));
			return -1;
		}
		for (c = 0; c < chunks; c++) {
			char *p = self->base + off + c * self->cs;
			long nz = first_nonzero(p, self->cs);

			if (nz >= 0) {
				uint64_t w = *(uint64_t *)(p + nz);

				bad++;
				TH_LOG("new chunk %p not zero at +%#lx: %#llx%s",
				       p, nz, (unsigned long long)w,
				       (w & PIN_MAGIC_MASK) == PIN_MAGIC ?
				       " (a freed chunk's data!)" : "");
			}
			memset(p, 0xc3, self->cs);
		}
		if (arena_free_id(self->fd, id)) {
			TH_LOG("reuse pressure: free: %s", strerror(errno));
			return -1;
		}
	}
	return bad;
}

/*
 * One chunk, every page patterned; the first page and one from the middle
 * go into a pipe by reference (vmsplice without SPLICE_F_GIFT). Returns the
 * arena id; *@mid is the middle page's offset in the chunk.
 */
static long spliced_chunk(struct __test_metadata *_metadata,
			  FIXTURE_DATA(pin) *self, int pfd[2], char **chunk,
			  size_t *mid)
{
	long id = arena_create_id(self->fd);
	struct iovec iov[2];
	uint64_t off;
	size_t pg;
	char *p;

	if (id <= 0 || arena_chunks(self->fd, id, 1, &off) || pipe(pfd)) {
		TH_LOG("setup: %s", strerror(errno));
		return -1;
	}
	p = self->base + off;
	for (pg = 0; pg < self->cs / PAGE_SZ; pg++)
		fill_page(p + pg * PAGE_SZ, pg);
	*mid = self->cs / 2;
	iov[0] = (struct iovec){ p, PAGE_SZ };
	iov[1] = (struct iovec){ p + *mid, PAGE_SZ };
	if (vmsplice(pfd[1], iov, 2, 0) != 2 * (ssize_t)PAGE_SZ) {
		TH_LOG("vmsplice: %s", strerror(errno));
		return -1;
	}
	*chunk = p;
	return id;
}

/* The pipe's 2 pages are the ones spliced_chunk() put there. */
static void expect_spliced_data(struct __test_metadata *_metadata, int rfd,
				size_t mid)
{
	static char got[2 * PAGE_SZ];

	ASSERT_EQ(2 * PAGE_SZ, read_full(rfd, got, sizeof(got)));
	EXPECT_EQ(-1, page_mismatch(got, 0));
	EXPECT_EQ(-1, page_mismatch(got + PAGE_SZ, mid / PAGE_SZ));
}

TEST_F(pin, vmsplice_pages_outlive_free)
{
	int pfd[2];
	size_t mid;
	char *p;
	long id = spliced_chunk(_metadata, self, pfd, &p, &mid);

	ASSERT_GT(id, 0);
	ASSERT_EQ(0, arena_free_id(self->fd, id));
	EXPECT_TRUE(faults_at(p));
	EXPECT_TRUE(faults_at(p + mid + 5));
	if (self->pool)
		EXPECT_EQ(self->q0 + 1,
			  counter_wait(QUARANTINED, self->q0 + 1, POOL_SETTLE_MS));

	/* The held chunk must not come back while the pipe has it. */
	EXPECT_EQ(0, churn(_metadata, self, 20, 1));
	if (self->pool)
		EXPECT_EQ(self->q0 + 1, arena_counter(QUARANTINED));

	expect_spliced_data(_metadata, pfd[0], mid);
	if (self->pool)
		EXPECT_EQ(self->q0,
			  counter_wait(QUARANTINED, self->q0, POOL_SETTLE_MS));
	/* Back through dirty and ready: whoever gets it gets zeroes. */
	EXPECT_EQ(0, churn(_metadata, self, 4, 2));
	close(pfd[0]);
	close(pfd[1]);
}

TEST_F(pin, vmsplice_pipe_closed_unread)
{
	int pfd[2];
	size_t mid;
	char *p;
	long id = spliced_chunk(_metadata, self, pfd, &p, &mid);

	ASSERT_GT(id, 0);
	ASSERT_EQ(0, arena_free_id(self->fd, id));
	EXPECT_TRUE(faults_at(p + mid));
	if (self->pool)
		EXPECT_EQ(self->q0 + 1,
			  counter_wait(QUARANTINED, self->q0 + 1, POOL_SETTLE_MS));
	close(pfd[0]);
	close(pfd[1]);
	if (self->pool)
		EXPECT_EQ(self->q0,
			  counter_wait(QUARANTINED, self->q0, POOL_SETTLE_MS));
	EXPECT_EQ(0, churn(_metadata, self, 4, 1));
}

/* close() of the whole window frees the arena while the pipe holds it. */
TEST_F(pin, vmsplice_outlives_window_close)
{
	int pfd[2];
	size_t mid;
	char *p;
	long id = spliced_chunk(_metadata, self, pfd, &p, &mid);

	ASSERT_GT(id, 0);
	close_window(self);
	if (self->pool)
		EXPECT_EQ(self->q0 + 1,
			  counter_wait(QUARANTINED, self->q0 + 1, POOL_SETTLE_MS));
	ASSERT_EQ(0, open_window(self));
	EXPECT_EQ(0, churn(_metadata, self, 8, 1));
	expect_spliced_data(_metadata, pfd[0], mid);
	if (self->pool)
		EXPECT_EQ(self->q0,
			  counter_wait(QUARANTINED, self->q0, POOL_SETTLE_MS));
	close(pfd[0]);
	close(pfd[1]);
}

#define NO_DISK INT_MIN

/* The scratch disk opened for O_DIRECT reads, NO_DISK, or -errno. */
static int open_disk(void)
{
	const char *disk = getenv(ARENA_DISK_ENV);
	int fd;

	if (!disk || !*disk)
		return NO_DISK;
	fd = open(disk, O_RDONLY | O_DIRECT | O_CLOEXEC);
	return fd < 0 ? -errno : fd;
}

TEST_F(pin, odirect_read_into_arena)
{
	const size_t mib = 1UL << 20;
	long id = arena_create_id(self->fd);
	int dfd = open_disk();
	uint64_t off;
	char *p, *q, *r;

	if (dfd == NO_DISK)
		SKIP(return, "no scratch disk ($%s unset)", ARENA_DISK_ENV);
	ASSERT_GE(dfd, 0) TH_LOG("open %s: %s", getenv(ARENA_DISK_ENV),
				 strerror(-dfd));
	ASSERT_GT(id, 0);
	ASSERT_EQ(0, arena_chunks(self->fd, id, 4, &off));
	p = self->base + off;

	/* 1 MiB into a chunk never touched: the read faults it in. */
	ASSERT_EQ(mib, pread(dfd, p, mib, 0));
	EXPECT_EQ(-1, disk_pattern_mismatch(p, 0, mib));
	EXPECT_EQ(0, p[mib]);

	/* 1 MiB across the boundary of the first and second chunk. */
	q = p + self->cs - mib / 2;
	ASSERT_EQ(mib, pread(dfd, q, mib, 3 * mib));
	EXPECT_EQ(-1, disk_pattern_mismatch(q, 3 * mib, mib));
	EXPECT_EQ(0, q[-1]);
	EXPECT_EQ(0, q[mib]);

	/* 4 MiB (several bios) from a page offset, over three chunks. */
	r = p + self->cs + 3 * mib / 4 + PAGE_SZ;
	ASSERT_EQ(4 * mib, pread(dfd, r, 4 * mib, 4 * mib));
	EXPECT_EQ(-1, disk_pattern_mismatch(r, 4 * mib, 4 * mib));

	ASSERT_EQ(0, arena_free_id(self->fd, id));
	EXPECT_TRUE(faults_at(p));
	EXPECT_EQ(-1, pread(dfd, p, mib, 0));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, pread(dfd, r, mib, 0));
	EXPECT_EQ(EFAULT, errno);
	close(dfd);
}

/*
 * A thread reads 8 MiB with O_DIRECT into a run of 4 chunks, again and
 * again, while this thread frees the arena. Each read completes or fails
 * with EFAULT; nothing else. A read that completes after the free has
 * returned had its pages held across the free (quarantined, with the pool).
 *
 * With the pool, it is emptied (and kept from refilling) right before each
 * free, so that the chunks allocated right after come from what that free
 * released: were the chunks the read holds among them, the read would write
 * into the next owner's memory.
 */
struct dio_race {
	int dfd;
	char *buf;
	size_t len;
	atomic_int started;
	atomic_int freed;	/* the free has returned */
	atomic_int stop;
	long ok, efault, other, overlapped;
	ssize_t other_ret;
	int other_errno;
};

static void *dio_reader(void *arg)
{
	struct dio_race *r = arg;

	atomic_store(&r->started, 1);
	while (!atomic_load(&r->stop)) {
		int was_freed = atomic_load(&r->freed);
		ssize_t n = pread(r->dfd, r->buf, r->len, 0);

		if (n == (ssize_t)r->len) {
			r->ok++;
			if (!was_freed && atomic_load(&r->freed))
				r->overlapped++;
			continue;
		}
		if (n < 0 && errno == EFAULT) {
			r->efault++;
		} else {
			r->other++;
			r->other_ret = n;
			r->other_errno = n < 0 ? errno : 0;
		}
		break;
	}
	return NULL;
}

TEST_F_TIMEOUT(pin, odirect_read_racing_free, 120)
{
	const size_t len = 8UL << 20;
	long ok = 0, efault = 0, other = 0, overlapped = 0, dirty = 0, id;
	long victim_id, nz;
	int dfd = open_disk(), i;
	uint64_t off, t0, t_read_us, deadline;
	struct timespec ts;
	unsigned int nr;
	bool squeeze;

	if (dfd == NO_DISK)
		SKIP(return, "no scratch disk ($%s unset)", ARENA_DISK_ENV);
	ASSERT_GE(dfd, 0);
	nr = (len + self->cs - 1) / self->cs;
	squeeze = arena_param("pool_low") >= 0 &&
		  !access("/sys/kernel/arena/drain", W_OK);
	if (squeeze) {
		self->saved_pool_low = arena_param("pool_low");
		ASSERT_EQ(0, arena_param_set("pool_low", 0));
	}

	/* How long one read takes here, and that it reads the pattern. */
	id = arena_create_id(self->fd);
	ASSERT_GT(id, 0);
	ASSERT_EQ(0, arena_chunks(self->fd, id, nr, &off));
	memset(self->base + off, 0x5a, nr * self->cs);
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t0 = ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000;
	ASSERT_EQ(len, pread(dfd, self->base + off, len, 0));
	clock_gettime(CLOCK_MONOTONIC, &ts);
	t_read_us = ts.tv_sec * 1000000ULL + ts.tv_nsec / 1000 - t0 + 1;
	EXPECT_EQ(-1, disk_pattern_mismatch(self->base + off, 0, len));
	ASSERT_EQ(0, arena_free_id(self->fd, id));

	deadline = now_ms() + 10000;
	for (i = 0; i < 100 && now_ms() < deadline; i++) {
		struct dio_race r = { .dfd = dfd, .len = len };
		pthread_t t;
		char *buf, *victim;

		id = arena_create_id(self->fd);
		ASSERT_GT(id, 0);
		ASSERT_EQ(0, arena_chunks(self->fd, id, nr, &off));
		buf = self->base + off;
		/* Half the time mapped already, half faulted in by GUP. */
		if (i & 1)
			memset(buf, 0x5a, nr * self->cs);
		r.buf = buf;
		ASSERT_EQ(0, pthread_create(&t, NULL, dio_reader, &r));
		while (!atomic_load(&r.started))
			sched_yield();
		/* 0 to 2 reads' time: before, during and between reads. */
		usleep((i % 17) * t_read_us / 8);
		if (squeeze)
			ASSERT_EQ(0, arena_drain());
		ASSERT_EQ(0, arena_free_id(self->fd, id));
		atomic_store(&r.freed, 1);
		/*
		 * New chunks while the read may still be in flight: zero, and
		 * still zero once it is done (had they been the ones the read
		 * holds, it would have written the disk's pattern into them).
		 */
		victim_id = arena_create_id(self->fd);
		ASSERT_GT(victim_id, 0);
		ASSERT_EQ(0, arena_chunks(self->fd, victim_id, nr, &off));
		victim = self->base + off;
		nz = first_nonzero(victim, nr * self->cs);
		/* Let it run into the freed arena now and then. */
		if (i % 3 == 0)
			usleep(t_read_us);
		atomic_store(&r.stop, 1);
		pthread_join(t, NULL);
		if (nz < 0)
			nz = first_nonzero(victim, nr * self->cs);
		if (nz >= 0) {
			dirty++;
			TH_LOG("new chunks %p not zero at +%#lx: %#llx", victim,
			       nz, *(unsigned long long *)(victim + nz));
		}
		ASSERT_EQ(0, arena_free_id(self->fd, victim_id));

		ok += r.ok;
		efault += r.efault;
		other += r.other;
		overlapped += r.overlapped;
		if (r.other)
			TH_LOG("read returned %zd (%s), not %zu or EFAULT",
			       r.other_ret, strerror(r.other_errno), len);
		EXPECT_TRUE(faults_at(buf));
		EXPECT_TRUE(faults_at(buf + len - 1));
	}
	TH_LOG("%d frees during %lu us reads: %ld reads done (%ld across the free), %ld EFAULT",
	       i, (unsigned long)t_read_us, ok, overlapped, efault);
	EXPECT_EQ(0, other);
	EXPECT_EQ(0, dirty);
	EXPECT_GT(efault, 0);
	if (self->pool)
		EXPECT_EQ(self->q0,
			  counter_wait(QUARANTINED, self->q0, POOL_SETTLE_MS));
	EXPECT_EQ(0, churn(_metadata, self, 8, 1));
	EXPECT_EQ(0, churn(_metadata, self, 2, nr));
	close(dfd);
}

/* process_vm_readv() of @len bytes at @remote in process @pid. */
static ssize_t pvm_read(pid_t pid, void *local, void *remote, size_t len)
{
	struct iovec l = { local, len }, r = { remote, len };

	return process_vm_readv(pid, &l, 1, &r, 1, 0);
}

static ssize_t pvm_write(pid_t pid, void *remote, const void *local,
			 size_t len)
{
	struct iovec l = { (void *)local, len }, r = { remote, len };

	return process_vm_writev(pid, &l, 1, &r, 1, 0);
}

/*
 * A child reads @len bytes at @remote of its parent: exit status 0 if it got
 * @want (or, for @want NULL, failed with EFAULT), 1 if not, 2 on an error.
 * @want must not be arena memory: the child has no window (VM_DONTCOPY).
 */
static int child_pvm_read(void *remote, const char *want, size_t len)
{
	pid_t parent = getpid(), pid = fork();
	int status;

	if (pid < 0)
		return -1;
	if (pid == 0) {
		static char buf[2 * PAGE_SZ];
		ssize_t n = pvm_read(parent, buf, remote, len);

		if (!want)
			_exit(n == -1 && errno == EFAULT ? 0 : 1);
		if (n != (ssize_t)len)
			_exit(2);
		_exit(memcmp(buf, want, len) ? 1 : 0);
	}
	if (waitpid(pid, &status, 0) != pid || !WIFEXITED(status))
		return -1;
	return WEXITSTATUS(status);
}

TEST_F(pin, process_vm_rw_live_and_freed)
{
	static char got[2 * PAGE_SZ], want[2 * PAGE_SZ];
	static const char msg[] = "written by process_vm_writev";
	long id, id0 = arena_create_id(self->fd);
	uint64_t off, off0;
	size_t pg;
	char *p, *s;

	/* A live arena, and (next-fit) the one under test right after it. */
	ASSERT_GT(id0, 0);
	ASSERT_EQ(0, arena_chunks(self->fd, id0, 1, &off0));
	memset(self->base + off0 + self->cs - PAGE_SZ, 0x3c, PAGE_SZ);
	id = arena_create_id(self->fd);
	ASSERT_GT(id, 0);
	ASSERT_EQ(0, arena_chunks(self->fd, id, 1, &off));
	p = self->base + off;
	for (pg = 0; pg < 4; pg++)
		fill_page(p + pg * PAGE_SZ, pg);

	/* Unaligned, over three pages. */
	s = p + PAGE_SZ / 2;
	ASSERT_EQ(sizeof(got), pvm_read(getpid(), got, s, sizeof(got)));
	EXPECT_EQ(0, memcmp(got, s, sizeof(got)));
	EXPECT_EQ(sizeof(msg), pvm_write(getpid(), p + 5000, msg, sizeof(msg)));
	EXPECT_STREQ(msg, p + 5000);
	/* Another process reading ours. */
	memcpy(want, s, sizeof(want));
	EXPECT_EQ(0, child_pvm_read(s, want, sizeof(want)));

	ASSERT_EQ(0, arena_free_id(self->fd, id));
	EXPECT_EQ(-1, pvm_read(getpid(), got, s, sizeof(got)));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(-1, pvm_write(getpid(), p + 5000, msg, sizeof(msg)));
	EXPECT_EQ(EFAULT, errno);
	EXPECT_EQ(0, child_pvm_read(s, NULL, sizeof(got)));
	if (off == off0 + self->cs) {
		/* From the live arena into the freed one: stops at the edge. */
		memset(got, 0, sizeof(got));
		EXPECT_EQ(PAGE_SZ, pvm_read(getpid(), got, p - PAGE_SZ,
					    sizeof(got)));
		EXPECT_EQ(0x3c, got[0]);
		EXPECT_EQ(0x3c, got[PAGE_SZ - 1]);
		EXPECT_EQ(0, got[PAGE_SZ]);
	} else {
		TH_LOG("arenas not adjacent (%#llx, %#llx): no edge check",
		       (unsigned long long)off0, (unsigned long long)off);
	}
	EXPECT_TRUE(faults_at(s));
	EXPECT_EQ(0, arena_free_id(self->fd, id0));
}

TEST_F(pin, proc_self_mem_live_and_freed)
{
	static char got[PAGE_SZ];
	static const char msg[] = "written through /proc/self/mem";
	long id = arena_create_id(self->fd);
	int mfd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	uint64_t off;
	char *p;

	ASSERT_GE(mfd, 0);
	ASSERT_GT(id, 0);
	ASSERT_EQ(0, arena_chunks(self->fd, id, 1, &off));
	p = self->base + off;
	fill_page(p, 7);
	fill_page(p + PAGE_SZ, 8);

	ASSERT_EQ(sizeof(got), pread(mfd, got, sizeof(got),
				     (off_t)(uintptr_t)(p + 123)));
	EXPECT_EQ(0, memcmp(got, p + 123, sizeof(got)));
	EXPECT_EQ(sizeof(msg), pwrite(mfd, msg, sizeof(msg),
				      (off_t)(uintptr_t)(p + 3000)));
	EXPECT_STREQ(msg, p + 3000);

	ASSERT_EQ(0, arena_free_id(self->fd, id));
	EXPECT_EQ(-1, pread(mfd, got, sizeof(got), (off_t)(uintptr_t)p));
	EXPECT_EQ(EIO, errno);
	EXPECT_EQ(-1, pwrite(mfd, msg, sizeof(msg),
			     (off_t)(uintptr_t)(p + 3000)));
	EXPECT_EQ(EIO, errno);
	EXPECT_TRUE(faults_at(p + 3000));
	close(mfd);
}

TEST_HARNESS_MAIN
