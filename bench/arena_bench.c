// SPDX-License-Identifier: GPL-2.0
/*
 * arena_bench: what a 2 MiB chunk costs from /dev/arena against the kernel's
 * other ways of getting and dropping 2 MiB of zeroed memory.
 *
 *   acquisition, per 2 MiB (get + write one byte in every 4 KiB page + drop):
 *     arena       ARENA_IOC_CREATE + ALLOC_CHUNKS(1) + touch + ARENA_IOC_FREE,
 *                 back to back
 *     arena_warm  the same, but before each iteration (untimed) wait until the
 *                 pool has re-zeroed what the last one freed (pool only)
 *     mmap4k      mmap anon + MADV_NOHUGEPAGE + touch (512 faults) + munmap
 *     populate    mmap anon MAP_POPULATE (4 KiB pages) + touch + munmap
 *     thp         mmap 4 MiB anon, align to 2 MiB, MADV_HUGEPAGE + touch +
 *                 munmap
 *   freeing 1, 16 and 64 chunks' worth of touched memory, the drop timed alone:
 *     arena       ARENA_IOC_FREE
 *     munmap_thp, munmap_4k, prot_thp, prot_4k (mprotect(PROT_NONE) +
 *     madvise(MADV_DONTNEED)), anonymous memory, THP- or 4 KiB-backed
 *
 * Output: "@..." lines of key=value pairs (bench/report.sh turns them into
 * tables) and "#" comments. Times are nanoseconds of CLOCK_MONOTONIC, CPU
 * times nanoseconds too.
 *
 * If /sys/kernel/arena/chunks_dirty exists (the chunk pool), every case starts
 * with the pool settled, and each acquisition case's CPU figure includes the
 * CPU time of the module's kernel threads (comm "arena*", e.g. arena_pool)
 * and the wait until the pool has dealt with every chunk the loop freed (no
 * dirty or quarantined chunk, worker idle for 20 ms). Without the pool those
 * parts read as zero.
 *
 * After each back-to-back acquisition case's timed loop, an untimed pass of
 * KENTRY_ITERS iterations counts the kernel entries per iteration: system
 * calls (a ptrace helper) and page faults (getrusage), see kentry.h.
 *
 * arena_bench [-b MS] [-q]
 *   -b MS  time budget per case in milliseconds (default 3000)
 *   -q     quick: budget 300 ms, for a smoke test (also ARENA_BENCH_QUICK=1
 *          in the environment)
 */
#include "selftests/arena_helpers.h"
#include "kentry.h"

#include <ctype.h>
#include <dirent.h>
#include <sys/resource.h>
#include <sys/utsname.h>
#include <time.h>

#define CHUNK (2UL << 20)
#define PAGE 4096UL
#define KENTRY_ITERS 20

static long budget_ms = 3000;

static int afd = -1;
static char *win;
static struct arena_info info;
static int have_pool;	/* /sys/kernel/arena/chunks_dirty exists */

/* ---- clocks and counters ------------------------------------------------ */

static uint64_t ts_ns(clockid_t clk)
{
	struct timespec ts;

	clock_gettime(clk, &ts);
	return (uint64_t)ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

/*
 * Set during the passes that count kernel entries: the iterations then read
 * no clock (clock_gettime can be a system call in the guest, see kentry.h).
 */
static int counting;

static uint64_t now_ns(void)
{
	return counting ? 0 : ts_ns(CLOCK_MONOTONIC);
}

static long self_minflt(void)
{
	struct rusage ru;

	getrusage(RUSAGE_SELF, &ru);
	return ru.ru_minflt;
}

static int read_small(const char *path, char *buf, size_t len)
{
	FILE *f = fopen(path, "r");
	size_t n;

	if (!f)
		return -1;
	n = fread(buf, 1, len - 1, f);
	fclose(f);
	buf[n] = 0;
	return 0;
}

/*
 * CPU time of the module's kernel threads (arena_pool, and any other kernel
 * thread whose comm starts with "arena"): bench/kentry.h.
 */
static uint64_t worker_cpu_ns(int *nthreads)
{
	return kthread_cpu_ns(nthreads);
}

/* Chunks the pool still has to deal with: dirty plus quarantined. */
static long pool_pending(void)
{
	long d = arena_counter("chunks_dirty"), q = arena_counter("chunks_quarantined");

	return (d > 0 ? d : 0) + (q > 0 ? q : 0);
}

/*
 * Wait (sleeping) until the pool has settled: no dirty or quarantined chunk
 * left and, if @idle, the arena_pool threads have used no CPU for 20 ms (the
 * worker also refills the ready list after the dirty one is empty). Returns
 * the ns waited.
 */
static uint64_t pool_settle(double max_s, int idle)
{
	uint64_t t0 = now_ns(), w0, w1;

	if (!have_pool)
		return 0;
	for (;;) {
		if (now_ns() - t0 > (uint64_t)(max_s * 1e9)) {
			printf("# warning: pool not settled after %.0f s (dirty %ld, quarantined %ld)\n",
			       max_s, arena_counter("chunks_dirty"),
			       arena_counter("chunks_quarantined"));
			break;
		}
		if (pool_pending() > 0) {
			usleep(1000);
			continue;
		}
		if (!idle)
			break;
		w0 = worker_cpu_ns(NULL);
		usleep(20000);
		w1 = worker_cpu_ns(NULL);
		if (w1 == w0 && pool_pending() <= 0)
			break;
	}
	return now_ns() - t0;
}

/* ---- statistics ---------------------------------------------------------- */

/* what timing an empty interval costs (clock_cost_ns(), kentry.h) */
static uint64_t clk_ns;

static uint64_t sub_clk(uint64_t d, int reads)
{
	return d > reads * clk_ns ? d - reads * clk_ns : 0;
}

static int cmp_u64(const void *a, const void *b)
{
	uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;

	return x < y ? -1 : x > y;
}

struct stats {
	uint64_t med, p10, p90, min, max, mean;
};

/* Sorts @v. */
static struct stats stats_of(uint64_t *v, size_t n)
{
	struct stats s = { 0 };
	long double sum = 0;

	if (!n)
		return s;
	qsort(v, n, sizeof(*v), cmp_u64);
	for (size_t i = 0; i < n; i++)
		sum += v[i];
	s.min = v[0];
	s.max = v[n - 1];
	s.p10 = v[n / 10];
	s.med = n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
	s.p90 = v[(n * 9) / 10 < n ? (n * 9) / 10 : n - 1];
	s.mean = (uint64_t)(sum / n);
	return s;
}

/* ---- memory helpers ------------------------------------------------------ */

static void touch(char *p, size_t len)
{
	volatile char *v = p;

	for (size_t off = 0; off < len; off += PAGE)
		v[off] = 1;
}

static void die(const char *what)
{
	printf("@error what=%s errno=%d\n", what, errno);
	printf("# arena_bench: %s: %s\n", what, strerror(errno));
	fflush(stdout);
	exit(1);
}

/* Anonymous memory, 2 MiB aligned, exactly @len bytes in its own VMA. */
static char *map_aligned(size_t len)
{
	char *raw = mmap(NULL, len + CHUNK, PROT_READ | PROT_WRITE,
			 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	char *p;
	size_t head, tail;

	if (raw == MAP_FAILED)
		die("mmap");
	p = (char *)(((uintptr_t)raw + CHUNK - 1) & ~(CHUNK - 1));
	head = p - raw;
	tail = CHUNK - head;
	if (head)
		munmap(raw, head);
	if (tail)
		munmap(p + len, tail);
	return p;
}

/*
 * A place for 4 KiB-page mappings: 4 KiB past a 2 MiB boundary, so that no
 * 2 MiB mapping placed there can get a huge page whatever THP's "enabled"
 * says (Debian's default is "always").
 */
static char *unaligned_hint;

static void pick_unaligned_hint(void)
{
	char *p = map_aligned(4 * CHUNK);

	munmap(p, 4 * CHUNK);
	unaligned_hint = p + PAGE;
}

/* AnonHugePages in kB of the VMA at @p (-1 if unknown). */
static long anon_huge_kb(void *p)
{
	return smaps_field_kb(p, "AnonHugePages:");
}

/* ---- acquisition ---------------------------------------------------------- */

/*
 * One iteration: get 2 MiB, touch every page, drop it. Fills t[0..3]:
 * start, acquired, touched, released.
 */
typedef void (*acq_fn)(uint64_t t[4]);

/* AnonHugePages of the first (warm-up) call of the case running now */
static long huge_check_kb = -2;

/* One chunk for a new arena (ARENA_ALLOC_CREATE), with @flags. */
static void acq_arena_flags(uint64_t t[4], uint32_t flags)
{
	uint32_t id = 0;
	uint64_t off;
	int err;

	t[0] = now_ns();
	err = arena_alloc_len(afd, &id, CHUNK, ARENA_ALLOC_CREATE | flags,
			      &off);
	if (err) {
		errno = -err;
		die("ARENA_IOC_ALLOC");
	}
	t[1] = now_ns();
	touch(win + off, CHUNK);
	t[2] = now_ns();
	err = arena_free_id(afd, id);
	if (err) {
		errno = -err;
		die("ARENA_IOC_FREE");
	}
	t[3] = now_ns();
}

static void acq_arena(uint64_t t[4])
{
	acq_arena_flags(t, 0);
}

/* The no-zero flag: this process's own freed chunk, not zeroed again. */
static void acq_arena_nozero(uint64_t t[4])
{
	acq_arena_flags(t, ARENA_ALLOC_NOZERO);
}

static void acq_mmap4k(uint64_t t[4])
{
	char *p;

	t[0] = now_ns();
	p = mmap(NULL, CHUNK, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (p == MAP_FAILED)
		die("mmap");
	if (madvise(p, CHUNK, MADV_NOHUGEPAGE))
		die("madvise(MADV_NOHUGEPAGE)");
	t[1] = now_ns();
	touch(p, CHUNK);
	t[2] = now_ns();
	if (huge_check_kb == -2)
		huge_check_kb = anon_huge_kb(p);
	if (munmap(p, CHUNK))
		die("munmap");
	t[3] = now_ns();
}

static void acq_populate(uint64_t t[4])
{
	char *p;

	t[0] = now_ns();
	p = mmap(unaligned_hint, CHUNK, PROT_READ | PROT_WRITE,
		 MAP_PRIVATE | MAP_ANONYMOUS | MAP_POPULATE, -1, 0);
	if (p == MAP_FAILED)
		die("mmap(MAP_POPULATE)");
	t[1] = now_ns();
	touch(p, CHUNK);
	t[2] = now_ns();
	if (huge_check_kb == -2)
		huge_check_kb = anon_huge_kb(p);
	if (munmap(p, CHUNK))
		die("munmap");
	t[3] = now_ns();
}

static void acq_thp(uint64_t t[4])
{
	char *raw, *p;

	t[0] = now_ns();
	raw = mmap(NULL, 2 * CHUNK, PROT_READ | PROT_WRITE,
		   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (raw == MAP_FAILED)
		die("mmap");
	p = (char *)(((uintptr_t)raw + CHUNK - 1) & ~(CHUNK - 1));
	if (madvise(p, CHUNK, MADV_HUGEPAGE))
		die("madvise(MADV_HUGEPAGE)");
	t[1] = now_ns();
	touch(p, CHUNK);
	t[2] = now_ns();
	if (huge_check_kb == -2)	/* first (warm-up) call only */
		huge_check_kb = anon_huge_kb(p);
	if (munmap(raw, 2 * CHUNK))
		die("munmap");
	t[3] = now_ns();
}

/* Pool counters whose change over a loop is reported as d_<name>=. */
static const char *const pool_counters[] = {
	"chunks_reused",	/* taken from the ready list */
	"chunks_zeroed_inline",	/* dirty chunk zeroed in the ioctl */
	"chunks_allocated",	/* new from the page allocator */
	"chunks_fallback",	/* ... of a smaller order than a chunk */
	"chunks_zeroed",	/* zeroed by the worker */
	"chunks_released",	/* back to the page allocator */
};
#define NR_POOL_COUNTERS (sizeof(pool_counters) / sizeof(pool_counters[0]))

static void pool_sample(long *v)
{
	for (size_t i = 0; i < NR_POOL_COUNTERS; i++)
		v[i] = arena_counter(pool_counters[i]);
}

/*
 * @settle_each: wait for the pool to settle before every iteration (outside
 * the timed part), so that every iteration finds a ready chunk.
 */
static void run_acq(const char *name, acq_fn fn, long max_iters, int settle_each)
{
	uint64_t t[4], *tot, *get, *tch, *rel;
	uint64_t wall0, wall1, cpu0, cpu1, wk0, wk1, wait, settle;
	uint64_t c0, cpu_iters = 0;
	long flt0, flt1, ready0, ready1;
	long pc0[NR_POOL_COUNTERS], pc1[NR_POOL_COUNTERS];
	int nwk = 0;
	long n = 0, warm = 5;
	struct kentry ke = { .sys = -1, .flt = -1 };
	struct stats st, sg, sc, sr;

	tot = calloc(max_iters, sizeof(*tot));
	get = calloc(max_iters, sizeof(*get));
	tch = calloc(max_iters, sizeof(*tch));
	rel = calloc(max_iters, sizeof(*rel));
	if (!tot || !get || !tch || !rel)
		die("calloc");

	huge_check_kb = -2;
	pool_settle(30, 1);
	for (long i = 0; i < warm; i++) {
		if (settle_each)
			pool_settle(30, 0);
		fn(t);
	}
	settle = pool_settle(30, 1);

	ready0 = arena_counter("chunks_ready");
	pool_sample(pc0);
	wk0 = worker_cpu_ns(&nwk);
	flt0 = self_minflt();
	cpu0 = self_cpu_ns();
	wall0 = now_ns();
	while (n < max_iters) {
		if (settle_each) {
			/* own CPU of the iterations only, not of the polling */
			pool_settle(30, 0);
			c0 = self_cpu_ns();
			fn(t);
			cpu_iters += self_cpu_ns() - c0;
		} else {
			fn(t);
		}
		/*
		 * Less what the clock reads cost (kentry.h): one per part, three
		 * in the whole (the two inside it and the pair's own).
		 */
		tot[n] = sub_clk(t[3] - t[0], 3);
		get[n] = sub_clk(t[1] - t[0], 1);
		tch[n] = sub_clk(t[2] - t[1], 1);
		rel[n] = sub_clk(t[3] - t[2], 1);
		n++;
		if (n >= 20 && t[3] - wall0 > (uint64_t)budget_ms * 1000000)
			break;
	}
	cpu1 = self_cpu_ns();
	wall1 = now_ns();
	flt1 = self_minflt();
	ready1 = arena_counter("chunks_ready");
	/*
	 * Let the pool finish with what the loop freed: the worker's CPU is
	 * counted until then; the process only polls meanwhile.
	 */
	wait = pool_settle(60, 1);
	wk1 = worker_cpu_ns(&nwk);
	pool_sample(pc1);

	/* Kernel entries, untimed (the trigger slows every system call). */
	if (!settle_each) {
		pool_settle(30, 1);
		counting = 1;
		kentry_begin(&ke);
		for (long i = 0; i < KENTRY_ITERS; i++)
			fn(t);
		kentry_end(&ke);
		counting = 0;
		pool_settle(60, 1);
	}

	st = stats_of(tot, n);
	sg = stats_of(get, n);
	sc = stats_of(tch, n);
	sr = stats_of(rel, n);
	printf("@acq name=%s iters=%ld med=%llu p10=%llu p90=%llu min=%llu max=%llu mean=%llu"
	       " get_med=%llu touch_med=%llu rel_med=%llu"
	       " loop_wall=%llu catchup_wall=%llu self_cpu=%llu worker_cpu=%llu workers=%d"
	       " minflt_x100=%ld ready_before=%ld ready_after=%ld settle_before=%llu"
	       " settle_each=%d anon_huge_kb=%ld",
	       name, n,
	       (unsigned long long)st.med, (unsigned long long)st.p10,
	       (unsigned long long)st.p90, (unsigned long long)st.min,
	       (unsigned long long)st.max, (unsigned long long)st.mean,
	       (unsigned long long)sg.med, (unsigned long long)sc.med,
	       (unsigned long long)sr.med,
	       (unsigned long long)(wall1 - wall0), (unsigned long long)wait,
	       (unsigned long long)(settle_each ? cpu_iters : cpu1 - cpu0),
	       (unsigned long long)(wk1 >= wk0 ? wk1 - wk0 : 0), nwk,
	       n ? (flt1 - flt0) * 100 / n : 0, ready0, ready1,
	       (unsigned long long)settle, settle_each, huge_check_kb);
	if (ke.sys >= 0)
		printf(" kentry_iters=%d sys_x100=%ld kflt_x100=%ld sysmix=%s",
		       KENTRY_ITERS, ke.sys * 100 / KENTRY_ITERS,
		       ke.flt * 100 / KENTRY_ITERS, ke.mix[0] ? ke.mix : "-");
	else if (!settle_each)
		printf(" kentry_iters=%d sys_x100=-1 kflt_x100=%ld", KENTRY_ITERS,
		       ke.flt >= 0 ? ke.flt * 100 / KENTRY_ITERS : -1);
	for (size_t i = 0; i < NR_POOL_COUNTERS; i++)
		printf(" d_%s=%ld", pool_counters[i],
		       pc0[i] >= 0 && pc1[i] >= 0 ? pc1[i] - pc0[i] : -1);
	printf("\n");
	fflush(stdout);
	free(tot);
	free(get);
	free(tch);
	free(rel);
}

/* ---- freeing --------------------------------------------------------------- */

enum free_kind { F_ARENA, F_MUNMAP_THP, F_MUNMAP_4K, F_PROT_THP, F_PROT_4K, F_NR };
static const char *const free_names[F_NR] = {
	"arena", "munmap_thp", "munmap_4k", "prot_thp", "prot_4k",
};

static void run_free(enum free_kind kind, unsigned int nchunks, long max_iters)
{
	size_t len = nchunks * CHUNK;
	uint64_t *v, start = now_ns();
	long n = 0, huge_kb = -2, flt_setup = 0;
	struct stats st;

	v = calloc(max_iters, sizeof(*v));
	if (!v)
		die("calloc");
	while (n < max_iters) {
		uint64_t t0, t1, off;
		char *p = NULL;
		long id = 0, f0;
		int err;

		/* setup, not timed */
		f0 = self_minflt();
		switch (kind) {
		case F_ARENA:
			id = arena_create_id(afd);
			if (id < 0) {
				errno = -id;
				die("ARENA_IOC_CREATE");
			}
			err = arena_chunks(afd, id, nchunks, &off);
			if (err) {
				errno = -err;
				die("ARENA_IOC_ALLOC_CHUNKS");
			}
			p = win + off;
			break;
		case F_MUNMAP_THP:
		case F_PROT_THP:
			p = map_aligned(len);
			if (madvise(p, len, MADV_HUGEPAGE))
				die("madvise(MADV_HUGEPAGE)");
			break;
		case F_MUNMAP_4K:
		case F_PROT_4K:
			p = mmap(NULL, len, PROT_READ | PROT_WRITE,
				 MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
			if (p == MAP_FAILED)
				die("mmap");
			if (madvise(p, len, MADV_NOHUGEPAGE))
				die("madvise(MADV_NOHUGEPAGE)");
			break;
		default:
			abort();
		}
		touch(p, len);
		if (n == 0) {
			flt_setup = self_minflt() - f0;
			if (kind != F_ARENA)
				huge_kb = anon_huge_kb(p);
		}
		pool_settle(30, nchunks > 1);

		/* the drop, timed */
		t0 = now_ns();
		switch (kind) {
		case F_ARENA:
			err = arena_free_id(afd, id);
			if (err) {
				errno = -err;
				die("ARENA_IOC_FREE");
			}
			break;
		case F_MUNMAP_THP:
		case F_MUNMAP_4K:
			if (munmap(p, len))
				die("munmap");
			break;
		case F_PROT_THP:
		case F_PROT_4K:
			if (mprotect(p, len, PROT_NONE))
				die("mprotect");
			if (madvise(p, len, MADV_DONTNEED))
				die("madvise(MADV_DONTNEED)");
			break;
		default:
			abort();
		}
		t1 = now_ns();
		v[n++] = t1 - t0;
		if (kind == F_PROT_THP || kind == F_PROT_4K)
			munmap(p, len);
		if (n >= 5 && now_ns() - start > (uint64_t)budget_ms * 1000000)
			break;
	}
	st = stats_of(v, n);
	printf("@free name=%s chunks=%u iters=%ld med=%llu p10=%llu p90=%llu min=%llu max=%llu mean=%llu"
	       " setup_minflt=%ld anon_huge_kb=%ld\n",
	       free_names[kind], nchunks, n,
	       (unsigned long long)st.med, (unsigned long long)st.p10,
	       (unsigned long long)st.p90, (unsigned long long)st.min,
	       (unsigned long long)st.max, (unsigned long long)st.mean,
	       flt_setup, huge_kb);
	fflush(stdout);
	free(v);
}

/* ---- main ------------------------------------------------------------------ */

/* The selected word of a THP sysfs file ("always [madvise] never"). */
static void thp_setting(const char *file, char *out, size_t len)
{
	char path[128], buf[256], *l, *r;

	snprintf(out, len, "unknown");
	snprintf(path, sizeof(path), "/sys/kernel/mm/transparent_hugepage/%s", file);
	if (read_small(path, buf, sizeof(buf)))
		return;
	l = strchr(buf, '[');
	r = l ? strchr(l, ']') : NULL;
	if (l && r) {
		*r = 0;
		snprintf(out, len, "%s", l + 1);
	}
}

int main(int argc, char **argv)
{
	static const unsigned int sizes[] = { 1, 16, 64 };
	char thp_en[32], thp_defrag[32], date[64], clocksource[64];
	struct utsname un;
	time_t now = time(NULL);
	int opt, nwk = 0;
	uint64_t t_start = now_ns();

	while ((opt = getopt(argc, argv, "b:q")) != -1) {
		switch (opt) {
		case 'b':
			budget_ms = strtol(optarg, NULL, 10);
			break;
		case 'q':
			budget_ms = 300;
			break;
		default:
			fprintf(stderr, "usage: %s [-b MS] [-q]\n", argv[0]);
			return 2;
		}
	}
	/* The VM passes it from the kernel command line (VM_APPEND). */
	if (getenv("ARENA_BENCH_QUICK"))
		budget_ms = 300;
	setvbuf(stdout, NULL, _IOLBF, 0);

	if (read_small("/sys/devices/system/clocksource/clocksource0/current_clocksource",
		       clocksource, sizeof(clocksource)) || !clocksource[0])
		snprintf(clocksource, sizeof(clocksource), "unknown");
	clocksource[strcspn(clocksource, "\n ")] = 0;
	clk_ns = clock_cost_ns();
	uname(&un);
	strftime(date, sizeof(date), "%Y-%m-%dT%H:%M:%SZ", gmtime(&now));
	thp_setting("enabled", thp_en, sizeof(thp_en));
	thp_setting("defrag", thp_defrag, sizeof(thp_defrag));
	have_pool = arena_counter("chunks_dirty") >= 0;
	worker_cpu_ns(&nwk);

	afd = open(ARENA_DEV, O_RDWR | O_CLOEXEC);
	if (afd < 0) {
		/* still useful for the baselines, e.g. on a machine without it */
		printf("# arena_bench: %s: %s; the arena cases are skipped\n",
		       ARENA_DEV, strerror(errno));
		info.out_max_chunks = 64;
	} else {
		if (arena_get_info(afd, &info))
			die("ARENA_IOC_GET_INFO");
		if (info.out_chunk_size != CHUNK) {
			printf("# arena_bench: chunk size %llu, this benchmark assumes 2 MiB\n",
			       (unsigned long long)info.out_chunk_size);
			return 1;
		}
		win = arena_map_window(afd, info.out_window_size);
		if (!win)
			die("mmap window");
	}
	pick_unaligned_hint();

	printf("@meta kernel=%s date=%s cpus=%ld mem_mib=%ld thp_enabled=%s thp_defrag=%s pool=%s pool_threads=%d"
	       " budget_ms=%ld window_mib=%llu max_chunks=%llu erms=%d clock_syscalls=%.2f clocksource=%s clock_ns=%llu\n",
	       un.release, date, sysconf(_SC_NPROCESSORS_ONLN),
	       (long)(sysconf(_SC_PHYS_PAGES) * (sysconf(_SC_PAGESIZE) / 1024) / 1024),
	       thp_en,
	       thp_defrag, have_pool ? "yes" : "no", nwk, budget_ms,
	       (unsigned long long)(info.out_window_size >> 20),
	       (unsigned long long)info.out_max_chunks, cpu_has_flag("erms"),
	       clock_syscalls(), clocksource, (unsigned long long)clk_ns);
	if (have_pool)
		printf("# pool: chunks_ready=%ld chunks_dirty=%ld chunks_in_use=%ld chunks_zeroed=%ld\n",
		       arena_counter("chunks_ready"), arena_counter("chunks_dirty"),
		       arena_counter("chunks_in_use"), arena_counter("chunks_zeroed"));

	printf("# acquisition: get 2 MiB + write every 4 KiB page + drop, %ld ms per case\n",
	       budget_ms);
	if (afd >= 0)
		run_acq("arena", acq_arena, 4000, 0);
	if (afd >= 0 && have_pool)
		run_acq("arena_warm", acq_arena, 4000, 1);
	if (afd >= 0 && (info.out_features & ARENA_FEATURE_NOZERO))
		run_acq("arena_nozero", acq_arena_nozero, 4000, 0);
	run_acq("mmap4k", acq_mmap4k, 4000, 0);
	run_acq("populate", acq_populate, 4000, 0);
	run_acq("thp", acq_thp, 4000, 0);

	printf("# freeing: touched memory, only the drop timed\n");
	for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
		unsigned int nc = sizes[i];

		if (nc > info.out_max_chunks) {
			printf("# skipping %u chunks: more than out_max_chunks\n", nc);
			continue;
		}
		for (int k = afd >= 0 ? 0 : 1; k < F_NR; k++)
			run_free(k, nc, nc == 1 ? 400 : nc == 16 ? 100 : 40);
	}
	if (have_pool)
		printf("# pool: chunks_ready=%ld chunks_dirty=%ld chunks_in_use=%ld chunks_zeroed=%ld\n",
		       arena_counter("chunks_ready"), arena_counter("chunks_dirty"),
		       arena_counter("chunks_in_use"), arena_counter("chunks_zeroed"));
	printf("@end secs=%.1f\n", (now_ns() - t_start) / 1e9);
	return 0;
}
