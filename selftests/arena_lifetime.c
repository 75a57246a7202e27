// SPDX-License-Identifier: GPL-2.0
/*
 * Description: concurrency and lifetime. Several threads store into, load
 * from, read() into, process_vm_writev() into and vmsplice() from the arena
 * another thread is freeing (or resetting); processes are SIGKILLed in the
 * middle of their ioctls; many processes churn arenas while another one
 * squeezes memory and the shrinker runs, each checking that every chunk it
 * gets is zero and that nobody else's bytes ever show up in it; and rmmod is
 * refused while any file or mapping is open, then unloads cleanly with a
 * pipe still holding arena pages, and the module is loaded again.
 *
 * arena_fault.c's free_racing_with_touch has one toucher, arena_pin.c races
 * O_DIRECT with free, arena_pool.c drives the shrinker once: this file adds
 * the many-at-once versions of those.
 */
#include "arena_helpers.h"	/* first: it defines _GNU_SOURCE */

#include <pthread.h>
#include <sched.h>
#include <stdatomic.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

#include "kselftest_harness.h"

/* 6.1's harness runs a test even when its fixture's setup skipped. */
#define RETURN_IF_SKIPPED() do {					\
	if (_metadata->skip)						\
		return;							\
} while (0)

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000ULL + ts.tv_nsec / 1000000;
}

FIXTURE(lt) {
	int fd;
	struct arena_info info;
	char *base;
	size_t cs;
	long low, high, q0, live0, win0, in_use0;
};

FIXTURE_SETUP(lt)
{
	self->low = -1;
	ARENA_SETUP_WINDOW(self);
	self->cs = self->info.out_chunk_size;
	self->low = arena_param("pool_low");
	self->high = arena_param("pool_high");
	self->q0 = arena_counter("chunks_quarantined");
	self->live0 = arena_counter("arenas_live");
	self->win0 = arena_counter("windows_open");
	self->in_use0 = arena_counter("chunks_in_use");
}

FIXTURE_TEARDOWN(lt)
{
	if (self->low >= 0 && arena_param("pool_low") >= 0) {
		arena_param_set("pool_high", 65536);
		arena_param_set("pool_low", self->low);
		arena_param_set("pool_high", self->high);
	}
	arena_close_window(self->fd, &self->info, self->base);
}

/* Counters back where the fixture found them (after pins let go). */
static bool back_to_base(FIXTURE_DATA(lt) *self)
{
	return arena_counter_wait("chunks_quarantined", self->q0, 30000) &&
	       arena_counter("arenas_live") == self->live0 &&
	       arena_counter("windows_open") == self->win0 &&
	       arena_counter("chunks_in_use") == self->in_use0 &&
	       arena_pool_settle(60000);
}

/* The device works: an arena, a zero chunk, a store, a free, a fault. */
static bool usable_here(FIXTURE_DATA(lt) *self)
{
	uint64_t off;
	long id = arena_create_id(self->fd);
	bool ok;

	if (id <= 0 || arena_chunks(self->fd, id, 1, &off))
		return false;
	ok = !self->base[off] && !self->base[off + self->cs - 1];
	self->base[off] = 1;
	return !arena_free_id(self->fd, id) && ok && faults_at(self->base + off);
}

/* ---- many accessors against one freer ------------------------------------------- */

enum { ACC_STORE, ACC_LOAD, ACC_READ, ACC_PVM, ACC_VMSPLICE, ACC_KINDS };

static const char *const acc_name[ACC_KINDS] = {
	"store", "load", "read() into", "process_vm_writev", "vmsplice",
};

struct race {
	_Atomic(char *) addr;	/* the arena being raced, NULL between rounds */
	atomic_uint gen;	/* bumped when addr's free has returned */
	atomic_int stop;
	size_t len;
	atomic_long ok[ACC_KINDS], failed[ACC_KINDS], late[ACC_KINDS];
};

struct accessor {
	struct race *r;
	int kind;
	unsigned int seed;
	pthread_t th;
};

static void *accessor_fn(void *arg)
{
	struct accessor *a = arg;
	struct race *r = a->r;
	int pfd[2];
	char buf[64];

	if (pipe2(pfd, O_NONBLOCK))
		return NULL;
	while (!atomic_load(&r->stop)) {
		char *base = atomic_load(&r->addr);
		unsigned int gen = atomic_load(&r->gen);
		char *p;
		bool ok = false;

		if (!base) {
			sched_yield();
			continue;
		}
		p = base + (rand_r(&a->seed) % (r->len / PAGE_SZ)) * PAGE_SZ +
		    rand_r(&a->seed) % (PAGE_SZ - 64);
		switch (a->kind) {
		case ACC_STORE:
			ok = try_write(p, 1, NULL);
			break;
		case ACC_LOAD: {
			char v;

			ok = try_read(p, &v, NULL);
			break;
		}
		case ACC_READ:
			/* copy_to_user from a pipe: faults in like a store */
			if (write(pfd[1], "0123456789abcdef", 16) == 16) {
				ok = read(pfd[0], p, 16) == 16;
				while (read(pfd[0], buf, sizeof(buf)) > 0)
					;
			}
			break;
		case ACC_PVM: {
			/* GUP: pin_user_pages_remote on our own mm */
			struct iovec l = { buf, 32 }, rv = { p, 32 };

			ok = process_vm_writev(getpid(), &l, 1, &rv, 1, 0) == 32;
			break;
		}
		default: {
			/* GUP fast: the pipe takes page references */
			struct iovec iov = {
				(void *)((uintptr_t)p & ~(PAGE_SZ - 1)), PAGE_SZ };

			ok = vmsplice(pfd[1], &iov, 1, SPLICE_F_NONBLOCK) ==
			     (ssize_t)PAGE_SZ;
			while (read(pfd[0], buf, sizeof(buf)) > 0)
				;
			break;
		}
		}
		if (!ok) {
			atomic_fetch_add(&r->failed[a->kind], 1);
			continue;
		}
		atomic_fetch_add(&r->ok[a->kind], 1);
		/*
		 * gen was read after base, and is odd once base's free has
		 * returned (the next base is published only after an even
		 * gen): this access started after the free, and worked.
		 */
		if (gen & 1)
			atomic_fetch_add(&r->late[a->kind], 1);
	}
	close(pfd[0]);
	close(pfd[1]);
	return NULL;
}

/*
 * @how: 0 FREE, 1 ALLOC_CHUNKS with RESET (the arena lives on, its old
 * chunks go). Rounds until @secs have passed: publish an arena, let the
 * accessors at it, free it, and bump gen to odd while it is freed: any
 * access that read an odd gen before it started and then worked is late.
 */
static void race_round_robin(struct __test_metadata *_metadata,
			     FIXTURE_DATA(lt) *self, int how, int secs)
{
	const unsigned int nr = 2;
	struct accessor acc[2 * ACC_KINDS];
	struct race r = { .len = nr * self->cs };
	long id = arena_create_id(self->fd), rounds = 0, dirty = 0;
	uint64_t deadline = now_ms() + secs * 1000ULL, off;
	long total_ok = 0, total_late = 0;

	ASSERT_GT(id, 0);
	ASSERT_EQ(0, arena_chunks(self->fd, id, nr, &off));
	for (int i = 0; i < 2 * ACC_KINDS; i++) {
		acc[i] = (struct accessor){ .r = &r, .kind = i % ACC_KINDS,
					    .seed = 1234 + i };
		ASSERT_EQ(0, pthread_create(&acc[i].th, NULL, accessor_fn, &acc[i]));
	}
	while (now_ms() < deadline) {
		char *p = self->base + off;
		struct arena_alloc_chunks ac = {
			.size = sizeof(ac), .flags = ARENA_ALLOC_RESET,
			.arena_id = id, .nr_chunks = nr,
		};

		/* Fresh chunks are zero before anyone touched them. */
		for (size_t i = 0; i < r.len; i += PAGE_SZ)
			if (p[i] || p[i + PAGE_SZ - 1])
				dirty++;
		atomic_store(&r.gen, 2 * rounds);
		atomic_store(&r.addr, p);
		usleep(rounds % 7 * 300);
		if (how == 0) {
			ASSERT_EQ(0, arena_free_id(self->fd, id));
		} else {
			ASSERT_EQ(0, arena_ioc(self->fd, ARENA_IOC_ALLOC_CHUNKS, &ac));
		}
		atomic_store(&r.gen, 2 * rounds + 1);
		/* Whatever the accessors did, the old range faults now. */
		ASSERT_TRUE(faults_at(p));
		ASSERT_TRUE(faults_at(p + r.len - 1));
		usleep(200);
		atomic_store(&r.addr, NULL);
		if (how == 0) {
			id = arena_create_id(self->fd);
			ASSERT_GT(id, 0);
			ASSERT_EQ(0, arena_chunks(self->fd, id, nr, &off));
		} else {
			off = ac.out_offset;
		}
		rounds++;
	}
	atomic_store(&r.stop, 1);
	for (int i = 0; i < 2 * ACC_KINDS; i++)
		pthread_join(acc[i].th, NULL);
	ASSERT_EQ(0, arena_free_id(self->fd, id));
	for (int k = 0; k < ACC_KINDS; k++) {
		TH_LOG("%-18s %8ld worked, %8ld faulted or EFAULT, %ld after the free",
		       acc_name[k], atomic_load(&r.ok[k]),
		       atomic_load(&r.failed[k]), atomic_load(&r.late[k]));
		total_ok += atomic_load(&r.ok[k]);
		total_late += atomic_load(&r.late[k]);
		/* Each kind both got in and was shut out. */
		EXPECT_GT(atomic_load(&r.ok[k]), 0);
		EXPECT_GT(atomic_load(&r.failed[k]), 0);
	}
	TH_LOG("%ld %s rounds, %ld accesses worked, %ld after the free returned, %ld non-zero fresh pages",
	       rounds, how ? "RESET" : "FREE", total_ok, total_late, dirty);
	EXPECT_EQ(0, total_late);
	EXPECT_EQ(0, dirty);
	EXPECT_TRUE(back_to_base(self));
}

TEST_F_TIMEOUT(lt, ten_threads_race_free, 300)
{
	RETURN_IF_SKIPPED();
	race_round_robin(_metadata, self, 0, 20);
}

TEST_F_TIMEOUT(lt, ten_threads_race_reset, 300)
{
	RETURN_IF_SKIPPED();
	race_round_robin(_metadata, self, 1, 20);
}

/* ---- SIGKILL in the middle of ioctls ------------------------------------------------- */

/*
 * A child that does ioctls as fast as it can until it is killed. *@inflight
 * is 1 from just before each ioctl to just after it: 1 after the kill means
 * the kill came while an ioctl was in flight.
 */
static volatile int *inflight;

static int storm_ioc(int fd, unsigned long cmd, void *arg)
{
	int err;

	*inflight = 1;
	err = ioctl(fd, cmd, arg) < 0 ? -errno : 0;
	*inflight = 0;
	return err;
}

static void __attribute__((noreturn)) ioctl_storm(int pipe_w, unsigned int seed)
{
	struct arena_info in;
	int fd = open(ARENA_DEV, O_RDWR);
	char *base;
	long ids[4] = { 0 };

	if (fd < 0 || arena_get_info(fd, &in))
		_exit(10);
	base = arena_map_window(fd, in.out_window_size);
	if (!base)
		_exit(11);
	for (unsigned int i = 0;; i++) {
		int k = rand_r(&seed) % 4;
		uint64_t off;
		struct arena_alloc_chunks ac = { .size = sizeof(ac) };

		struct arena_create cr = { .size = sizeof(cr) };
		struct arena_free fr = { .size = sizeof(fr) };

		if (!ids[k]) {
			if (storm_ioc(fd, ARENA_IOC_CREATE, &cr))
				continue;
			ids[k] = cr.out_arena_id;
		}
		ac.arena_id = fr.arena_id = ids[k];
		ac.nr_chunks = 1 + rand_r(&seed) % 8;
		ac.flags = rand_r(&seed) % 2 ? ARENA_ALLOC_RESET : 0;
		if (storm_ioc(fd, ARENA_IOC_ALLOC_CHUNKS, &ac)) {
			storm_ioc(fd, ARENA_IOC_FREE, &fr);
			ids[k] = 0;
			continue;
		}
		off = ac.out_offset;
		base[off] = 1;
		base[off + ac.nr_chunks * in.out_chunk_size - 1] = 2;
		if (i % 8 == 0) {
			struct iovec iov = { base + off, PAGE_SZ };

			vmsplice(pipe_w, &iov, 1, SPLICE_F_NONBLOCK);
		}
		if (rand_r(&seed) % 3 == 0) {
			storm_ioc(fd, ARENA_IOC_FREE, &fr);
			ids[k] = 0;
		}
	}
}

TEST_F_TIMEOUT(lt, sigkill_in_the_middle_of_ioctls, 600)
{
	RETURN_IF_SKIPPED();
	const int rounds = 30, kids = 4;
	long in_ioctl = 0, kills = 0;
	unsigned int seed = 42;
	volatile int *flags = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE,
				   MAP_SHARED | MAP_ANONYMOUS, -1, 0);

	ASSERT_NE(MAP_FAILED, flags);

	/* A cold pool: allocations zero and allocate in the ioctl. */
	ASSERT_EQ(0, arena_param_set("pool_low", 0));
	for (int r = 0; r < rounds; r++) {
		pid_t pid[4];
		int pfd[2], status;
		char buf[PAGE_SZ];

		ASSERT_EQ(0, pipe2(pfd, O_NONBLOCK));
		if (r % 3 == 0)
			ASSERT_EQ(0, arena_drain());
		for (int k = 0; k < kids; k++) {
			pid[k] = fork();
			ASSERT_GE(pid[k], 0);
			if (pid[k] == 0) {
				close(pfd[0]);
				inflight = &flags[k];
				ioctl_storm(pfd[1], r * kids + k);
			}
		}
		close(pfd[1]);
		usleep(20000 + rand_r(&seed) % 200000);
		for (int k = 0; k < kids; k++) {
			ASSERT_EQ(0, kill(pid[k], SIGKILL));
			kills++;
		}
		for (int k = 0; k < kids; k++) {
			ASSERT_EQ(pid[k], waitpid(pid[k], &status, 0));
			ASSERT_TRUE(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL)
				TH_LOG("child exited with %d", WEXITSTATUS(status));
			in_ioctl += flags[k];
			flags[k] = 0;
		}
		/* The pipe outlived its writers: their bytes are there. */
		while (read(pfd[0], buf, sizeof(buf)) == (ssize_t)sizeof(buf))
			ASSERT_EQ(1, buf[0]);
		close(pfd[0]);
	}
	TH_LOG("%ld processes killed, %ld of them with an ioctl in flight",
	       kills, in_ioctl);
	munmap((void *)flags, PAGE_SZ);
	EXPECT_TRUE(back_to_base(self));
	EXPECT_TRUE(usable_here(self));
}

/* ---- many processes, memory pressure, the shrinker ---------------------------------- */

/*
 * A worker: arenas of 1 to 4 chunks, one after the other, until *@stop.
 * Every page of a new chunk must be zero; the worker writes its tag (pid,
 * round, page) on each page and reads all of them back before it frees.
 * Exit status: 0, or 1 for old bytes in a new chunk, 2 for someone else's
 * bytes, 3 setup.
 */
static void __attribute__((noreturn)) churn_worker(volatile int *stop)
{
	struct arena_info in;
	int fd = open(ARENA_DEV, O_RDWR);
	uint64_t tag0 = (uint64_t)getpid() << 40;
	unsigned int seed = getpid();
	char *base;

	if (fd < 0 || arena_get_info(fd, &in))
		_exit(3);
	base = arena_map_window(fd, in.out_window_size);
	if (!base)
		_exit(3);
	for (uint64_t round = 0; !*stop; round++) {
		unsigned int nr = 1 + rand_r(&seed) % 4;
		size_t pages = nr * in.out_chunk_size / PAGE_SZ;
		long id = arena_create_id(fd);
		uint64_t off;

		if (id <= 0)
			continue;
		if (arena_chunks(fd, id, nr, &off)) {
			arena_free_id(fd, id);
			usleep(1000);	/* ENOMEM under pressure: fine */
			continue;
		}
		for (size_t pg = 0; pg < pages; pg++) {
			uint64_t *w = (uint64_t *)(base + off + pg * PAGE_SZ);

			if (w[0] || w[PAGE_SZ / 8 - 1] || w[pg % (PAGE_SZ / 8)])
				_exit(1);
			w[0] = tag0 | round << 20 | pg;
			w[PAGE_SZ / 8 - 1] = ~w[0];
		}
		for (size_t pg = 0; pg < pages; pg++) {
			uint64_t *w = (uint64_t *)(base + off + pg * PAGE_SZ);

			if (w[0] != (tag0 | round << 20 | pg) ||
			    w[PAGE_SZ / 8 - 1] != ~w[0])
				_exit(2);
		}
		if (arena_free_id(fd, id))
			_exit(3);
	}
	_exit(0);
}

/*
 * Asks for all of RAM at once (MAP_POPULATE: the kernel faults it in, fast
 * even under TCG), lets go, again, until killed: reclaim runs, the
 * shrinker with it, and the OOM killer takes this process first.
 */
static void __attribute__((noreturn)) squeezer(void)
{
	size_t len = (size_t)sysconf(_SC_PHYS_PAGES) * PAGE_SZ;
	FILE *f = fopen("/proc/self/oom_score_adj", "w");

	if (f) {
		fputs("1000", f);
		fclose(f);
	}
	for (;;) {
		char *p = mmap(NULL, len, PROT_READ | PROT_WRITE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
			       MAP_POPULATE, -1, 0);

		if (p != MAP_FAILED)
			munmap(p, len);
	}
}

TEST_F_TIMEOUT(lt, many_processes_under_memory_pressure, 900)
{
	const int workers = 6, min_secs = 15, max_secs = 300;
	long released0 = arena_counter("shrinker_released");
	long mapped0 = arena_counter("chunks_mapped");
	volatile int *stop = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE,
				  MAP_SHARED | MAP_ANONYMOUS, -1, 0);
	uint64_t t0 = now_ms();
	pid_t pid[6], sq = -1;
	int status, bad = 0, squeezes = 0;

	RETURN_IF_SKIPPED();
	ASSERT_NE(MAP_FAILED, stop);
	/* A big pool for the shrinker to take from, refilled as it does. */
	ASSERT_EQ(0, arena_param_set("pool_high", 256));
	ASSERT_EQ(0, arena_param_set("pool_low", 64));
	for (int k = 0; k < workers; k++) {
		pid[k] = fork();
		ASSERT_GE(pid[k], 0);
		if (pid[k] == 0) {
			FILE *f = fopen("/proc/self/oom_score_adj", "w");

			if (f) {
				fputs("-1000", f);
				fclose(f);
			}
			churn_worker(stop);
		}
	}
	/* Until the shrinker has given chunks back, and a while more. */
	while (now_ms() - t0 < max_secs * 1000ULL &&
	       (now_ms() - t0 < min_secs * 1000ULL ||
		arena_counter("shrinker_released") == released0)) {
		/* The OOM killer may take the squeezer: start another. */
		if (sq < 0 || waitpid(sq, &status, WNOHANG) == sq) {
			sq = fork();
			ASSERT_GE(sq, 0);
			if (sq == 0)
				squeezer();
			squeezes++;
		}
		usleep(100000);
	}
	kill(sq, SIGKILL);
	waitpid(sq, &status, 0);
	*stop = 1;
	for (int k = 0; k < workers; k++) {
		ASSERT_EQ(pid[k], waitpid(pid[k], &status, 0));
		if (!WIFEXITED(status) || WEXITSTATUS(status)) {
			bad++;
			TH_LOG("worker %d: %s %d", k,
			       WIFEXITED(status) ? "exit" : "signal",
			       WIFEXITED(status) ? WEXITSTATUS(status) : WTERMSIG(status));
		}
	}
	TH_LOG("%d workers for %llu s, %ld chunks handed out, %d squeezers, shrinker released %ld chunks",
	       workers, (unsigned long long)(now_ms() - t0) / 1000,
	       arena_counter("chunks_mapped") - mapped0, squeezes,
	       arena_counter("shrinker_released") - released0);
	EXPECT_EQ(0, bad);
	EXPECT_GT(arena_counter("shrinker_released"), released0);
	munmap((void *)stop, PAGE_SZ);
	EXPECT_TRUE(back_to_base(self));
}

/* ---- rmmod -------------------------------------------------------------------------- */

static int delete_module(const char *name)
{
	return syscall(SYS_delete_module, name, O_NONBLOCK) ? -errno : 0;
}

static int load_module(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC), err;

	if (fd < 0)
		return -errno;
	err = syscall(SYS_finit_module, fd, "", 0) ? -errno : 0;
	close(fd);
	return err;
}

#define GUEST_MODULE "/arena.ko"	/* scripts/vm-run.sh puts it there */

TEST(rmmod_refused_while_in_use_then_clean)
{
	struct arena_info in;
	char *p, buf[PAGE_SZ];
	int fd, pfd[2];
	uint64_t off;
	long id;

	/* Only in the test VM, which loaded the module from there. */
	if (access(GUEST_MODULE, R_OK) || access("/sys/module/arena", F_OK))
		SKIP(return, "not in the test VM (no %s) or no module", GUEST_MODULE);
	fd = open(ARENA_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(-EWOULDBLOCK, delete_module("arena"));
	ASSERT_EQ(0, arena_get_info(fd, &in));
	p = arena_map_window(fd, in.out_window_size);
	ASSERT_NE(NULL, p);
	id = arena_create_id(fd);
	ASSERT_GT(id, 0);
	ASSERT_EQ(0, arena_chunks(fd, id, 1, &off));
	memset(p + off, 0x77, PAGE_SZ);
	/* Closed, but the mapping holds the file. */
	close(fd);
	EXPECT_EQ(-EWOULDBLOCK, delete_module("arena"));
	EXPECT_EQ(0x77, p[off]);

	/* A pipe holds one page; the mapping goes: the arena is freed. */
	ASSERT_EQ(0, pipe(pfd));
	{
		struct iovec iov = { p + off, PAGE_SZ };

		ASSERT_EQ(PAGE_SZ, vmsplice(pfd[1], &iov, 1, 0));
	}
	ASSERT_EQ(0, munmap(p, 2 * in.out_window_size));
	EXPECT_GE(arena_counter("chunks_quarantined"), 1);

	/* Nothing open: unload. The quarantined chunk stays the pipe's. */
	for (int t = 0; t < 50; t++) {
		if (!delete_module("arena"))
			break;
		usleep(100000);
	}
	ASSERT_NE(0, access("/sys/module/arena", F_OK)) TH_LOG("rmmod failed");
	EXPECT_EQ(-1, open(ARENA_DEV, O_RDWR));
	ASSERT_EQ(PAGE_SZ, read(pfd[0], buf, PAGE_SZ));
	EXPECT_EQ(0x77, buf[0]);
	EXPECT_EQ(0x77, buf[PAGE_SZ - 1]);
	close(pfd[0]);
	close(pfd[1]);

	/* And back, for the tests after this one. */
	ASSERT_EQ(0, load_module(GUEST_MODULE));
	for (int t = 0; t < 50 && access(ARENA_DEV, F_OK); t++)
		usleep(100000);
	fd = open(ARENA_DEV, O_RDWR | O_CLOEXEC);
	ASSERT_GE(fd, 0);
	EXPECT_EQ(0, arena_counter("chunks_total"));
	EXPECT_EQ(1, arena_counter("windows_open"));
	ASSERT_EQ(0, arena_get_info(fd, &in));
	p = arena_map_window(fd, in.out_window_size);
	ASSERT_NE(NULL, p);
	id = arena_create_id(fd);
	ASSERT_GT(id, 0);
	ASSERT_EQ(0, arena_chunks(fd, id, 1, &off));
	EXPECT_EQ(0, p[off]);
	ASSERT_EQ(0, arena_free_id(fd, id));
	munmap(p, 2 * in.out_window_size);
	close(fd);
}

TEST_HARNESS_MAIN
