// SPDX-License-Identifier: GPL-2.0
/*
 * Description: the libarena tests of libarena_test.c on the mmap backend
 * (ARENA_BACKEND=mmap): one body, run once per backend under a program
 * name of its own. In the VM, next to /dev/arena, libarena_test runs it on
 * the kernel backend and this program on the mmap one; on the host, where
 * only the mmap backend exists, the host lane runs this program alone.
 * Then the mmap backend's own tests: freed chunks kept populated and moved
 * to fresh addresses (bounded, given back by arena_trim()), and revocation
 * that fails (mprotect(), guard markers, mmap(MAP_FIXED), mremap() made to
 * fail with ENOMEM through the backend's call table, and the real
 * vm.max_map_count): freed memory faults whatever happens, or the process
 * aborts, and fork still finds the window whole.
 */
#include <stdarg.h>
#include <stdlib.h>

/* Before the harness runs any test (each in its own child process). */
__attribute__((constructor)) static void force_mmap_backend(void)
{
	setenv("ARENA_BACKEND", "mmap", 1);
}

#include "libarena_test.c"

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL	102
#endif

#include "libarena_priv.h"	/* __arena_mmap_sys: the backend's calls */

/*
 * Fault injection: the mmap backend makes its memory calls through the
 * table __arena_mmap_sys (libarena_priv.h), which this program, linked
 * with libarena.a, points at these before any test runs. Each flag makes
 * one kind of call fail with ENOMEM, as at vm.max_map_count.
 */
static int fail_protect_none;	/* mprotect(PROT_NONE) */
static int fail_guard;		/* madvise(MADV_GUARD_INSTALL) */
static int fail_map_fixed;	/* mmap(MAP_FIXED, PROT_NONE) */
static int fail_remap;		/* mremap() */
static struct arena_mmap_sys real_sys;

static int inj_mprotect(void *p, size_t len, int prot)
{
	if (fail_protect_none && prot == PROT_NONE) {
		errno = ENOMEM;
		return -1;
	}
	return real_sys.mprotect(p, len, prot);
}

static int inj_madvise(void *p, size_t len, int advice)
{
	if (fail_guard && advice == MADV_GUARD_INSTALL) {
		errno = ENOMEM;
		return -1;
	}
	return real_sys.madvise(p, len, advice);
}

static void *inj_mmap(void *p, size_t len, int prot, int flags, int fd,
		      off_t off)
{
	if (fail_map_fixed && (flags & MAP_FIXED) && prot == PROT_NONE) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	return real_sys.mmap(p, len, prot, flags, fd, off);
}

static void *inj_mremap(void *p, size_t len, size_t nlen, int flags, ...)
{
	void *to = NULL;
	va_list ap;

	if (fail_remap) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	va_start(ap, flags);
	if (flags & MREMAP_FIXED)
		to = va_arg(ap, void *);
	va_end(ap);
	return real_sys.mremap(p, len, nlen, flags, to);
}

__attribute__((constructor)) static void inject_install(void)
{
	real_sys = __arena_mmap_sys;
	__arena_mmap_sys = (struct arena_mmap_sys){
		.mprotect = inj_mprotect, .madvise = inj_madvise,
		.mmap = inj_mmap, .mremap = inj_mremap,
	};
}

/* MADV_GUARD_INSTALL works here (Linux 6.13 and later). */
static bool have_guards(void)
{
	char *p = mmap(NULL, PAGE_SZ, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	bool ok;

	if (p == MAP_FAILED)
		return false;
	ok = !madvise(p, PAGE_SZ, MADV_GUARD_INSTALL);
	munmap(p, PAGE_SZ);
	return ok;
}

/* Minor faults of the process so far. */
static long minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

/* Resident anonymous pages of the process (RssAnon). */
static long resident_pages(void)
{
	char line[128];
	long kb = -1;
	FILE *f = fopen("/proc/self/status", "r");

	if (!f)
		return -1;
	while (fgets(line, sizeof(line), f))
		if (sscanf(line, "RssAnon: %ld kB", &kb) == 1)
			break;
	fclose(f);
	return kb < 0 ? -1 : kb / (long)(PAGE_SZ >> 10);
}

/* An arena with @len bytes written (@c); its memory in *@p. */
static struct arena *written_arena(unsigned int flags, size_t len, char c,
				   char **p)
{
	struct arena *a = arena_new(flags);

	*p = a ? arena_alloc(a, len) : NULL;
	if (!*p)
		return NULL;
	memset(*p, c, len);
	return a;
}

/* Every page of [p, p + len) and its last byte fault. */
static bool all_fault(char *p, size_t len)
{
	for (size_t o = 0; o < len; o += PAGE_SZ)
		if (!faults_at(p + o))
			return false;
	return faults_at(p + len - 1);
}

/* ---- kept chunks ----------------------------------------------------- */

/*
 * A per-request arena's freed chunk goes to the next arena populated, at a
 * new address, zeroed: no page fault to write it all again, and the old
 * address faults and reads as freed.
 */
TEST(freed_chunk_comes_back_populated_at_a_new_address)
{
	const size_t len = 80 << 10;
	struct arena_addr_info info;
	struct arena *a, *b;
	long f0, f1;
	char *p, *q;
	size_t i;

	a = written_arena(0, len, 0x5a, &p);
	ASSERT_NE(NULL, a);
	arena_free(a);
	ASSERT_TRUE(all_fault(p, len));
	ASSERT_EQ(0, arena_lookup(p, &info));
	EXPECT_EQ(ARENA_ADDR_FREED, info.state);

	b = arena_new(0);
	ASSERT_NE(NULL, b);
	f0 = minflt();
	q = arena_alloc(b, len);
	ASSERT_NE(NULL, q);
	for (i = 0; i < len; i++)
		if (q[i])
			break;
	EXPECT_EQ(len, i) TH_LOG("byte %zu of the kept chunk is %d", i, q[i]);
	memset(q, 0x6b, len);
	f1 = minflt();
	/* Another chunk, not the freed one at its old address. */
	EXPECT_NE((uintptr_t)p >> 21, (uintptr_t)q >> 21);
	EXPECT_LT(f1 - f0, 3) TH_LOG("%ld faults writing a kept chunk", f1 - f0);
	ASSERT_EQ(0, arena_lookup(q, &info));
	EXPECT_EQ(ARENA_ADDR_LIVE, info.state);
	EXPECT_EQ(arena_id(b), info.arena_id);
	EXPECT_TRUE(all_fault(p, len));
	arena_free(b);
	EXPECT_TRUE(all_fault(q, len));
}

/* An ARENA_NOZERO arena's bytes reach only another ARENA_NOZERO arena. */
TEST(nozero_bytes_reach_only_nozero_arenas)
{
	const size_t len = 64 << 10;
	struct arena *a, *b, *c;
	char *p, *q, *r;
	size_t i;

	a = written_arena(ARENA_NOZERO, len, 0x77, &p);
	ASSERT_NE(NULL, a);
	arena_free(a);
	b = arena_new(0);
	ASSERT_NE(NULL, b);
	q = arena_alloc(b, len);
	ASSERT_NE(NULL, q);
	for (i = 0; i < len; i++)
		ASSERT_EQ(0, q[i]);
	memset(q, 0x11, len);
	arena_free(b);
	/* A no-zero arena after a default one: zeroed too. */
	c = arena_new(ARENA_NOZERO);
	ASSERT_NE(NULL, c);
	r = arena_alloc(c, len);
	ASSERT_NE(NULL, r);
	for (i = 0; i < len; i++)
		ASSERT_EQ(0, r[i]);
	arena_free(c);
}

/*
 * At most 16 chunks and 4 MiB of written bytes are kept: freeing 24 arenas
 * of 400 KiB keeps 4 MiB resident at most, and arena_trim() gives them
 * back (the next arena faults its pages in again).
 */
TEST(kept_chunks_are_bounded_and_trimmed)
{
	const size_t len = 400 << 10;
	struct arena *a[24];
	long r0, r1, r2, f0;
	char *p[24], *q;
	int i;

	ASSERT_EQ(0, arena_trim());
	r0 = resident_pages();
	for (i = 0; i < 24; i++)
		ASSERT_NE(NULL, a[i] = written_arena(0, len, (char)i, &p[i]));
	for (i = 0; i < 24; i++)
		arena_free(a[i]);
	r1 = resident_pages();
	for (i = 0; i < 24; i++)
		ASSERT_TRUE(faults_at(p[i]) && faults_at(p[i] + len - 1));
	ASSERT_EQ(0, arena_trim());
	r2 = resident_pages();
	TH_LOG("resident: %ld pages before, %ld after the frees, %ld after trim",
	       r0, r1, r2);
	/* 4 MiB kept, and a little slack for the test's own pages. */
	EXPECT_LE(r1 - r0, (long)((4 << 20) / PAGE_SZ) + 64);
	EXPECT_GE(r1 - r0, (long)((3 << 20) / PAGE_SZ));
	EXPECT_LE(r2 - r0, 64);

	a[0] = arena_new(0);
	ASSERT_NE(NULL, a[0]);
	f0 = minflt();
	q = arena_alloc(a[0], 64 << 10);
	ASSERT_NE(NULL, q);
	memset(q, 1, 64 << 10);
	EXPECT_GE(minflt() - f0, 16);
	arena_free(a[0]);
}

/* ---- revocation that fails -------------------------------------------- */

/*
 * Free (or reset) an arena with the given steps failing, in a child;
 * returns its wait status. The child exits 0 if every freed byte faults
 * and reads as freed, else with a bit per broken promise.
 */
static int free_failing(bool reset, bool whole_run)
{
	size_t len = whole_run ? (3UL << 20) : (80UL << 10);
	struct arena_addr_info info;
	struct arena *a, *live;
	char *p, *l;
	pid_t pid;
	int st;

	pid = fork();
	if (!pid) {
		int bad = 0;

		live = written_arena(0, 100, 0x22, &l);
		a = written_arena(0, len, 0x33, &p);
		if (!a || !live)
			_exit(64);
		fail_protect_none = 1;
		fail_map_fixed = 1;
		if (reset)
			bad |= arena_reset(a) ? 1 : 0;
		else
			arena_free(a);
		bad |= all_fault(p, len) ? 0 : 2;
		bad |= !arena_lookup(p, &info) &&
		       info.state == ARENA_ADDR_FREED ? 0 : 4;
		/* The other arena is untouched. */
		bad |= l[99] == 0x22 ? 0 : 8;
		if (reset) {
			char *n = arena_alloc(a, 100);

			bad |= n && !n[0] ? 0 : 16;
			arena_free(a);
		}
		fail_protect_none = 0;
		fail_map_fixed = 0;
		arena_free(live);
		_exit(bad);
	}
	waitpid(pid, &st, 0);
	return st;
}

/*
 * mprotect(PROT_NONE) and mmap(MAP_FIXED, PROT_NONE) both failing (as
 * both need a memory map more at vm.max_map_count): guard markers make the
 * freed memory fault (Linux 6.13 and later); without them the process
 * aborts rather than keep it usable.
 */
TEST(free_revokes_when_mprotect_and_mmap_fail)
{
	bool guards = have_guards();
	int cases[4][2] = { { 0, 0 }, { 0, 1 }, { 1, 0 }, { 1, 1 } };

	for (int i = 0; i < 4; i++) {
		int st = free_failing(cases[i][0], cases[i][1]);

		TH_LOG("%s of a %s run: status %#x, guards %d",
		       cases[i][0] ? "reset" : "free",
		       cases[i][1] ? "3-chunk" : "1-chunk", st, guards);
		if (guards) {
			EXPECT_TRUE(WIFEXITED(st) && !WEXITSTATUS(st));
		} else {
			EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
		}
	}
}

/* Nothing works: the process aborts, the freed memory never usable. */
TEST(free_aborts_when_nothing_can_revoke)
{
	struct arena *a;
	pid_t pid;
	char *p;
	int st;

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		/* Quiet: the library says why on stderr; the test knows. */
		int fd = open("/dev/null", O_WRONLY);

		a = written_arena(0, 4096, 1, &p);
		if (!a)
			_exit(64);
		fail_protect_none = fail_guard = fail_map_fixed = 1;
		if (fd >= 0)
			dup2(fd, STDERR_FILENO);
		arena_free(a);
		/* Not reached: say what a caller would see. */
		_exit(try_write(p, 1, NULL) ? 1 : 2);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT)
		TH_LOG("status %#x", st);
}

/* The move of a freed chunk failing: it is revoked the usual way. */
TEST(free_without_the_move_still_revokes)
{
	struct arena *a, *b;
	char *p, *q;
	long f0;

	fail_remap = 1;
	a = written_arena(0, 64 << 10, 0x44, &p);
	ASSERT_NE(NULL, a);
	arena_free(a);
	EXPECT_TRUE(all_fault(p, 64 << 10));
	b = arena_new(0);
	ASSERT_NE(NULL, b);
	f0 = minflt();
	q = arena_alloc(b, 64 << 10);
	ASSERT_NE(NULL, q);
	EXPECT_EQ(0, q[0]);
	EXPECT_EQ(0, q[(64 << 10) - 1]);
	/* Nothing was kept: fresh pages, faulted in. */
	EXPECT_GE(minflt() - f0, 2);
	arena_free(b);
	EXPECT_TRUE(faults_at(q));
}

/*
 * The real wall: the process at vm.max_map_count, an arena freed between
 * two live ones (making it PROT_NONE would split their memory map). Its
 * memory faults (guard markers), or the process aborts (no guard markers).
 * Filling the map count is about 65,000 mprotect() splits: seconds on a
 * stock kernel, more than the harness's 30 s under the debug kernel,
 * hence the fixture (only for its longer timeout) and, in the test VM, a
 * lower vm.max_map_count for the run.
 */
FIXTURE(map_limit) {};
FIXTURE_SETUP(map_limit) {}
FIXTURE_TEARDOWN(map_limit) {}

#define LOW_MAP_COUNT 4096L

static int write_map_count(long n)
{
	FILE *f = fopen("/proc/sys/vm/max_map_count", "w");
	int bad;

	if (!f)
		return -1;
	bad = fprintf(f, "%ld\n", n) < 0;
	bad |= fclose(f) != 0;
	return bad ? -1 : 0;
}

TEST_F_TIMEOUT(map_limit, free_at_the_map_count_limit, 280)
{
	long max = 0, lowered = 0;
	bool guards = have_guards();
	FILE *f = fopen("/proc/sys/vm/max_map_count", "r");
	pid_t pid;
	int st;

	ASSERT_NE(NULL, f);
	ASSERT_EQ(1, fscanf(f, "%ld", &max));
	fclose(f);
	if (max > 1000000)
		SKIP(return, "vm.max_map_count %ld: too many maps to fill", max);
	/*
	 * In the test VM (its own machine), a lower limit for the run: the
	 * debug kernel checks the whole maple tree on every split, so
	 * filling 65,530 maps is quadratic there (over 280 s).
	 */
	if (getenv("ARENA_TEST_VM") && max > LOW_MAP_COUNT &&
	    !write_map_count(LOW_MAP_COUNT))
		lowered = max;
	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		struct arena *c, *a, *b;
		char *pc, *pa, *pb, *big;
		size_t n = 2 * (size_t)max + 16, i;
		int fd = open("/dev/null", O_WRONLY), bad = 0;

		c = written_arena(ARENA_WHOLE_CHUNKS, 4096, 1, &pc);
		a = written_arena(ARENA_WHOLE_CHUNKS, 4096, 2, &pa);
		b = written_arena(ARENA_WHOLE_CHUNKS, 4096, 3, &pb);
		if (!a || !b || !c)
			_exit(64);
		big = mmap(NULL, n * PAGE_SZ, PROT_READ, MAP_PRIVATE |
			   MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (big == MAP_FAILED)
			_exit(65);
		/* Every other page its own map, until there are no more. */
		for (i = 1; i < n; i += 2)
			if (mprotect(big + i * PAGE_SZ, PAGE_SZ, PROT_NONE))
				break;
		if (i >= n || errno != ENOMEM)
			_exit(66);
		if (fd >= 0)
			dup2(fd, STDERR_FILENO);
		arena_free(a);
		bad |= all_fault(pa, 4096) ? 0 : 1;
		bad |= pc[0] == 1 && pb[0] == 3 ? 0 : 2;
		munmap(big, n * PAGE_SZ);
		arena_free(b);
		arena_free(c);
		bad |= faults_at(pb) && faults_at(pc) ? 0 : 4;
		_exit(bad);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	if (lowered)
		ASSERT_EQ(0, write_map_count(lowered));
	TH_LOG("status %#x, guards %d, vm.max_map_count %ld", st, guards,
	       lowered ? LOW_MAP_COUNT : max);
	if (guards) {
		EXPECT_TRUE(WIFEXITED(st) && !WEXITSTATUS(st));
	} else {
		EXPECT_TRUE(WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT);
	}
}

/*
 * A revoke that fell back to mmap(MAP_FIXED, PROT_NONE) keeps the window's
 * MADV_DONTFORK: a fork child has nothing of the window, so it reserves
 * all of it again (no page of it can be mapped by anything else there),
 * and makes arenas of its own.
 */
TEST(fork_after_a_fallback_revoke_reserves_the_whole_window)
{
	struct arena *a, *live;
	char *p, *l;
	pid_t pid;
	int st;

	live = written_arena(0, 100, 0x22, &l);
	ASSERT_NE(NULL, live);
	a = written_arena(0, 4096, 0x33, &p);
	ASSERT_NE(NULL, a);
	fail_protect_none = fail_guard = 1;
	arena_free(a);
	fail_protect_none = fail_guard = 0;
	ASSERT_TRUE(faults_at(p));

	pid = fork();
	ASSERT_LE(0, pid);
	if (!pid) {
		int bad = 0;
		void *m;

		/* Reserved: nothing else may map there. */
		m = mmap(l, PAGE_SZ, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS |
			 MAP_FIXED_NOREPLACE, -1, 0);
		bad |= m == MAP_FAILED && errno == EEXIST ? 0 : 1;
		m = mmap(p, PAGE_SZ, PROT_READ, MAP_PRIVATE | MAP_ANONYMOUS |
			 MAP_FIXED_NOREPLACE, -1, 0);
		bad |= m == MAP_FAILED && errno == EEXIST ? 0 : 2;
		bad |= faults_at(l) && faults_at(p) ? 0 : 4;
		bad |= arena_round_trip() ? 0 : 8;
		_exit(bad);
	}
	ASSERT_EQ(pid, waitpid(pid, &st, 0));
	EXPECT_TRUE(WIFEXITED(st));
	EXPECT_EQ(0, WEXITSTATUS(st));
	EXPECT_EQ(0x22, l[99]);
	arena_free(live);
}

/*
 * Slots revoked by guard markers come back to use once the quarantine
 * lets them go: zero and writable, the markers gone (replaced by a kept
 * chunk's move, or removed with MADV_GUARD_REMOVE when handed out as they
 * are: with the move failing). A 3-chunk run freed with mprotect()
 * failing, then more one-chunk arenas than the quarantine holds (4 GiB,
 * 2048 chunks), each writing its first page, until one gets a guarded slot.
 */
static void guarded_slots_come_back(struct __test_metadata *_metadata,
				    int no_move)
{
	const size_t cs = 2UL << 20, len = 3 * cs;
	struct arena *a;
	int i, hits = 0;
	char *p, *q;

	if (!have_guards())
		SKIP(return, "no MADV_GUARD_INSTALL (Linux 6.13)");
	a = written_arena(0, len, 0x55, &p);
	ASSERT_NE(NULL, a);
	fail_protect_none = 1;
	arena_free(a);
	fail_protect_none = 0;
	ASSERT_TRUE(faults_at(p) && faults_at(p + len - 1));

	fail_remap = no_move;
	for (i = 0; i < 2200; i++) {
		a = arena_new(0);
		ASSERT_NE(NULL, a);
		q = arena_alloc(a, 4096);
		ASSERT_NE(NULL, q);
		if (q >= p && q < p + len)
			hits++;
		ASSERT_EQ(0, q[0]);
		/* A marker left would make this fault (the test dies). */
		memset(q, 1, 4096);
		arena_free(a);
	}
	fail_remap = 0;
	TH_LOG("the 3 guarded slots were handed out %d times", hits);
	EXPECT_GE(hits, 3);
}

TEST(guarded_slots_come_back_as_kept_chunks)
{
	guarded_slots_come_back(_metadata, 0);
}

TEST(guarded_slots_come_back_unguarded)
{
	guarded_slots_come_back(_metadata, 1);
}
