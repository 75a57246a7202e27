// SPDX-License-Identifier: GPL-2.0
/*
 * Description: a seeded, replayable fuzzer of /dev/arena. Several threads
 * each run a random sequence of operations on their own open files
 * ("windows"): open, mmap (right and wrong), every ioctl with valid and
 * corrupt arguments (bad sizes, flags, reserved fields, huge counts, bad
 * pointers, structs in arena memory), alloc, free, reset, loads, stores,
 * read()/write()/process_vm_*v()/proc-mem accesses of live, freed and
 * never-allocated addresses, vmsplice pins drained later, madvise (every
 * advice but the poisoning ones), mprotect, mremap, munmap, close with the
 * window still mapped, fork (children that must die of SIGSEGV on freed
 * addresses) and child processes that are killed in the middle of their
 * ioctls, tunables and netlink dumps. Some windows are "shared": the other
 * threads race their own memory accesses, lookups and double frees against
 * the owner's frees there.
 *
 * Each thread keeps a model of its windows and checks every result against
 * it: exact errno for every corrupt argument, nothing written back on an
 * error, fresh chunks zero, written words intact (also in pipes after the
 * arena is gone), every freed address faulting at the exact address, lookups
 * naming the right arena, the window never split or moved. At the end the
 * pool counters in /sys/kernel/arena/ must be back where they started.
 *
 * Replay: the seed is printed first. ARENA_FUZZ_SEED=<seed> (or --seed),
 * ARENA_FUZZ_OPS=<total operations> (--ops), ARENA_FUZZ_THREADS=<n>
 * (--threads) and ARENA_FUZZ_TRACE=1 (--trace: one line per operation).
 * With one thread a seed gives the same operations and, but for ENOMEM, the
 * same results; with several, each thread's sequence is the same but their
 * interleaving is not.
 */
#include "arena_helpers.h"	/* first: it defines _GNU_SOURCE */

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <sys/resource.h>
#include <sys/uio.h>
#include <sys/wait.h>
#include <time.h>

#include "arena_nl_helpers.h"
#include "kselftest_harness.h"
#include "fuzz_rng.h"

/* 6.1's harness runs a test even when its fixture's setup skipped. */
#define RETURN_IF_SKIPPED() do {					\
	if (_metadata->skip)						\
		return;							\
} while (0)

#ifndef MADV_COLLAPSE
#define MADV_COLLAPSE 25
#endif

#define FZ_MAX_THREADS	16
#define FZ_WINS		4	/* open files per thread */
#define FZ_ARENAS	8	/* arenas per window */
#define FZ_RUNS		4	/* runs per arena */
#define FZ_FREED	48	/* freed runs per window known to fault */
#define FZ_MAX_NR	8	/* largest run the fuzzer asks for */
#define FZ_LIVE_PAGES	(20 * 512)	/* live pages per thread */
#define FZ_RUN_POOL	(FZ_WINS * (FZ_ARENAS * FZ_RUNS + FZ_FREED) + 64)
#define FZ_PIPE_PAGES	12	/* vmspliced pages a thread keeps in its pipe */
#define FZ_MSGS		4
#define FZ_PGWORDS	(PAGE_SZ / 8)
/*
 * ENOMEM is fine now and then (the fuzzer's own limits, memory pressure),
 * but a module that said it to more than this share of the calls that may
 * (open, mmap, CREATE, ALLOC, ALLOC_CHUNKS) fails the run.
 */
#define FZ_ENOMEM_MAX_PCT	10

/* ---- configuration and the random numbers --------------------------------- */

static struct {
	uint64_t seed;
	unsigned long ops;		/* over all threads */
	unsigned int threads;
	bool trace;
	size_t cs, window;
	size_t span;			/* both parts: 2 * window */
	unsigned long nr_slots;
	pid_t pid;
	atomic_int stop;		/* too many failures: wind down */
	pthread_mutex_t vm_lock;	/* serialises our own mmap/munmap */
} fz;

static bool fz_seed_set;

/* struct rng, rnd(), rn(), chance(): fuzz_rng.h */

static uint32_t hash32(uint32_t x)
{
	x ^= x >> 16;
	x *= 0x7feb352dU;
	x ^= x >> 15;
	x *= 0x846ca68bU;
	return x ^ (x >> 16);
}

/* ---- the model --------------------------------------------------------------- */

/*
 * One ARENA_IOC_ALLOC_CHUNKS result. Each page of it holds at most one
 * word the fuzzer wrote, at a position and with a value that depend on
 * @salt and the page; every other byte must be zero.
 */
struct fz_run {
	uint64_t off;
	uint32_t npages;	/* a small run is shorter than a chunk */
	uint32_t salt;
	uint32_t arena_id;
	int refs;		/* the arena or freed ring, + pages in a pipe */
	bool freed;
	uint64_t written[FZ_MAX_NR * FZ_PGWORDS / 64];
	struct fz_run *next_free;
};

enum { A_NONE, A_LIVE, A_FREEING };

struct fz_arena {
	uint32_t id;
	int state;
	int nruns;
	struct fz_run *runs[FZ_RUNS];
	unsigned int opaque;	/* pages whose offset we never learnt */
	atomic_int racer_freed;	/* a racer's FREE of it returned 0 */
};

struct fz_win {
	int fd;			/* -1: closed (the window may live on) */
	char *base;		/* NULL: not mapped */
	bool used;		/* the entry is in use */
	bool mapped_once;	/* mmap again must be EBUSY */
	bool shared;		/* other threads race on it */
	bool dofork;		/* MADV_DOFORK: children get the window */
	uint32_t last_id;
	/*
	 * [hiwater, lowater) was never handed out: whole chunks are taken
	 * from the bottom of the chunk window (lowater stays at its end);
	 * small runs live in the small window after it, which the wild
	 * probes leave alone.
	 */
	uint64_t hiwater, lowater;
	struct fz_arena ar[FZ_ARENAS];
	struct fz_run *freed[FZ_FREED];	/* newest freed runs, a ring */
	unsigned int nfreed, freed_next;
	uint32_t dead_id;	/* an id freed earlier */
	/*
	 * Last, and alive for the thread's whole run (win_clear() stops
	 * before it): racers take it for reading while they touch a shared
	 * window, the owner for writing whenever it changes the entry.
	 */
	pthread_rwlock_t lock;
};

static void win_clear(struct fz_win *w)
{
	memset(w, 0, offsetof(struct fz_win, lock));
	w->fd = -1;
	w->lowater = fz.window;
}

/*
 * Operations and their weights, per 10,000. Loads and stores are most of
 * them because they are cheap; the rest are weighted so that a million
 * operations fit in a few minutes on the debug kernel under TCG, where a
 * fork takes about a quarter of a second and an ioctl 0.1 to 0.6 ms.
 */
#define FZ_OPS(X)			\
	X(TOUCH_WRITE, 3450)		\
	X(TOUCH_READ, 3450)		\
	X(SYS_WRITE, 150)		\
	X(SYS_READ, 150)		\
	X(PAGE_CHECK, 150)		\
	X(CHUNK_CHECK, 3)		\
	X(FREED_PROBE, 100)		\
	X(FREED_SYS, 60)		\
	X(WILD_PROBE, 40)		\
	X(IOC_INFO, 60)			\
	X(IOC_CREATE, 120)		\
	X(IOC_ALLOC, 80)		\
	X(IOC_ALLOC2, 90)		\
	X(IOC_FREE, 120)		\
	X(IOC_LOOKUP, 250)		\
	X(IOC_CORRUPT, 800)		\
	X(IOC_IN_ARENA, 40)		\
	X(VMSPLICE, 60)			\
	X(PIPE_DRAIN, 20)		\
	X(MADVISE, 50)			\
	X(MPROTECT, 15)			\
	X(MREMAP, 8)			\
	X(MUNMAP, 6)			\
	X(MMAP, 14)			\
	X(OPEN, 10)			\
	X(CLOSE, 8)			\
	X(FORK_CHECK, 1)		\
	X(FORK_EXIT, 2)			\
	X(TUNABLE, 2)			\
	X(NETLINK, 6)			\
	X(SYSFS_READ, 10)		\
	X(RACE, 500)

#define FZ_ENUM(n, w) OP_##n,
#define FZ_NAME(n, w) #n,
#define FZ_WEIGHT(n, w) w,
enum { FZ_OPS(FZ_ENUM) FZ_NOPS };
static const char *const fz_op_name[] = { FZ_OPS(FZ_NAME) };
static unsigned int fz_op_weight[] = { FZ_OPS(FZ_WEIGHT) };

struct fz_thread {
	int idx;
	pthread_t th;
	struct rng rng;
	unsigned long opno, nops;
	int op;
	struct fz_win win[FZ_WINS];
	int live_pages;
	uint32_t salt_next;
	struct fz_run runs[FZ_RUN_POOL];
	struct fz_run *run_free;
	int dpipe[2];		/* words for read()/write() */
	int spipe[2];		/* vmspliced pages, checked when drained */
	struct { struct fz_run *run; uint32_t page; } spliced[FZ_PIPE_PAGES];
	int nspliced;
	int rpipe[2];		/* the racer's vmsplice pipe, not checked */
	int nrpiped;
	int memfd;		/* /proc/self/mem */
	char *iopg;		/* [struct page][guard page][read-only page] */
	struct anl *nl;
	bool nl_ok;
	uint32_t child_seq;
	char mapsbuf[65536];
	/* what happened */
	unsigned long n[FZ_NOPS];
	uint64_t ns[FZ_NOPS];
	unsigned long faults, wild, efaults, enomem, forks, kills, spliced_pages;
	unsigned long corrupt, races;
	unsigned long nomem_tries;	/* calls that may say ENOMEM */
	int failures;
	char msg[FZ_MSGS][320];
};

static struct fz_thread *fz_threads;

/* ---- failures ------------------------------------------------------------------ */

static __thread struct fz_thread *cur;

static void fz_fail(struct fz_thread *t, const char *fmt, ...)
{
	char buf[256];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	if (t->failures < FZ_MSGS)
		snprintf(t->msg[t->failures], sizeof(t->msg[0]),
			 "thread %d op %lu (%s): %s", t->idx, t->opno,
			 fz_op_name[t->op], buf);
	dprintf(2, "# arena_fuzz: FAIL seed %#" PRIx64 " thread %d op %lu (%s): %s\n",
		fz.seed, t->idx, t->opno, fz_op_name[t->op], buf);
	if (++t->failures >= 20)
		atomic_store(&fz.stop, 1);
}

#define CHECK(t, cond, ...) do {				\
	if (!(cond))						\
		fz_fail(t, __VA_ARGS__);			\
} while (0)

/* ---- probes: loads and stores that may fault ------------------------------------ */

static __thread sigjmp_buf fz_jb;
static __thread volatile int fz_armed;
static __thread void *volatile fz_si_addr;
static __thread volatile int fz_si_code, fz_si_signo;

static void fz_signal(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (fz_armed) {
		fz_armed = 0;
		fz_si_signo = sig;
		fz_si_addr = si->si_addr;
		fz_si_code = si->si_code;
		siglongjmp(fz_jb, 1);
	}
	if (cur)
		dprintf(2, "# arena_fuzz: unexpected signal %d at %p: seed %#" PRIx64 " thread %d op %lu (%s)\n",
			sig, si->si_addr, fz.seed, cur->idx, cur->opno,
			fz_op_name[cur->op]);
	signal(sig, SIG_DFL);
	raise(sig);
}

static void fz_signals(void)
{
	arena_catch_faults(fz_signal);
}

/* True if the load worked. */
static bool __attribute__((noinline)) fz_load(volatile uint64_t *p, uint64_t *v)
{
	if (sigsetjmp(fz_jb, 0))
		return false;
	fz_armed = 1;
	*v = *p;
	fz_armed = 0;
	return true;
}

static bool __attribute__((noinline)) fz_store(volatile uint64_t *p, uint64_t v)
{
	if (sigsetjmp(fz_jb, 0))
		return false;
	fz_armed = 1;
	*p = v;
	fz_armed = 0;
	return true;
}

static bool __attribute__((noinline)) fz_load8(volatile char *p, char *v)
{
	if (sigsetjmp(fz_jb, 0))
		return false;
	fz_armed = 1;
	*v = *p;
	fz_armed = 0;
	return true;
}

static bool __attribute__((noinline)) fz_store8(volatile char *p, char v)
{
	if (sigsetjmp(fz_jb, 0))
		return false;
	fz_armed = 1;
	*p = v;
	fz_armed = 0;
	return true;
}

/* First word of @p (@n words) that differs from what the model says. */
static bool __attribute__((noinline)) fz_scan(const volatile uint64_t *p,
					      unsigned int n, unsigned int pos,
					      uint64_t val, unsigned int *bad,
					      uint64_t *got)
{
	if (sigsetjmp(fz_jb, 0)) {
		*bad = ~0U;
		return false;
	}
	fz_armed = 1;
	for (unsigned int i = 0; i < n; i++) {
		uint64_t v = p[i];

		if (v != (i == pos ? val : 0)) {
			fz_armed = 0;
			*bad = i;
			*got = v;
			return false;
		}
	}
	fz_armed = 0;
	return true;
}

/* ---- runs, words, windows ---------------------------------------------------------- */

static struct fz_run *run_new(struct fz_thread *t, uint32_t id, uint64_t off,
			      uint32_t npages)
{
	struct fz_run *r = t->run_free;

	if (!r)
		return NULL;
	t->run_free = r->next_free;
	memset(r, 0, sizeof(*r));
	r->off = off;
	r->npages = npages;
	r->arena_id = id;
	r->salt = (uint32_t)t->idx << 24 | (++t->salt_next & 0xffffff);
	r->refs = 1;
	return r;
}

static void run_put(struct fz_thread *t, struct fz_run *r)
{
	if (--r->refs)
		return;
	r->next_free = t->run_free;
	t->run_free = r;
}

static unsigned int w_pos(const struct fz_run *r, uint32_t page)
{
	return hash32(r->salt * 0x9e3779b1U ^ page) % FZ_PGWORDS;
}

static uint64_t w_val(const struct fz_run *r, uint32_t page)
{
	return ((uint64_t)r->salt << 32 | page) ^ 0xa5a5000000a50001ULL;
}

static bool w_written(const struct fz_run *r, uint32_t page)
{
	return r->written[page / 64] >> (page % 64) & 1;
}

static void w_mark(struct fz_run *r, uint32_t page)
{
	r->written[page / 64] |= 1ULL << (page % 64);
}

static uint32_t run_pages(const struct fz_run *r)
{
	return r->npages;
}

static volatile uint64_t *w_ptr(struct fz_win *w, struct fz_run *r,
				uint32_t page)
{
	return (volatile uint64_t *)(w->base + r->off + (uint64_t)page * PAGE_SZ) +
	       w_pos(r, page);
}

static uint64_t w_expect(const struct fz_run *r, uint32_t page)
{
	return w_written(r, page) ? w_val(r, page) : 0;
}

/* A freed run joins the window's ring of runs known to fault. */
static void freed_push(struct fz_thread *t, struct fz_win *w, struct fz_run *r)
{
	r->freed = true;
	if (w->nfreed == FZ_FREED)
		run_put(t, w->freed[w->freed_next]);
	else
		w->nfreed++;
	w->freed[w->freed_next] = r;
	w->freed_next = (w->freed_next + 1) % FZ_FREED;
}

/* Every run of @a is freed: into the ring; the arena entry stays. */
static void arena_runs_freed(struct fz_thread *t, struct fz_win *w,
			     struct fz_arena *a)
{
	for (int i = 0; i < a->nruns; i++) {
		t->live_pages -= a->runs[i]->npages;
		freed_push(t, w, a->runs[i]);
		a->runs[i] = NULL;
	}
	a->nruns = 0;
	t->live_pages -= a->opaque;
	a->opaque = 0;
}

static void arena_gone(struct fz_thread *t, struct fz_win *w,
		       struct fz_arena *a)
{
	arena_runs_freed(t, w, a);
	w->dead_id = a->id;
	a->id = 0;
	a->state = A_NONE;
}

/* The file is gone (closed and unmapped): forget everything in it. */
static void win_forget(struct fz_thread *t, struct fz_win *w)
{
	pthread_rwlock_wrlock(&w->lock);
	for (int i = 0; i < FZ_ARENAS; i++)
		if (w->ar[i].id)
			arena_runs_freed(t, w, &w->ar[i]);
	for (unsigned int i = 0; i < w->nfreed; i++)
		run_put(t, w->freed[i]);
	win_clear(w);
	pthread_rwlock_unlock(&w->lock);
}

static void wlock(struct fz_win *w)
{
	pthread_rwlock_wrlock(&w->lock);
}

static void wunlock(struct fz_win *w)
{
	pthread_rwlock_unlock(&w->lock);
}

static uint64_t cs_align_down(uint64_t v)
{
	return v & ~(uint64_t)(fz.cs - 1);
}

/* ---- picking things ------------------------------------------------------------------ */

struct pick {
	struct fz_win *w;
	struct fz_arena *a;
	struct fz_run *r;
	uint32_t page;
};

enum { P_PRIVATE = 1, P_SHARED = 2, P_ANY = 3 };

static bool win_kind_ok(const struct fz_win *w, int kinds)
{
	return w->used && ((kinds & P_PRIVATE && !w->shared) ||
			   (kinds & P_SHARED && w->shared));
}

/* A page of a live run in a mapped window. */
static bool pick_live(struct fz_thread *t, int kinds, struct pick *p)
{
	struct pick c[FZ_WINS * FZ_ARENAS * FZ_RUNS];
	int n = 0;

	for (int i = 0; i < FZ_WINS; i++) {
		struct fz_win *w = &t->win[i];

		if (!win_kind_ok(w, kinds) || !w->base)
			continue;
		for (int j = 0; j < FZ_ARENAS; j++) {
			struct fz_arena *a = &w->ar[j];

			if (a->state != A_LIVE)
				continue;
			for (int k = 0; k < a->nruns; k++)
				c[n++] = (struct pick){ w, a, a->runs[k], 0 };
		}
	}
	if (!n)
		return false;
	*p = c[rn(&t->rng, n)];
	p->page = rn(&t->rng, run_pages(p->r));
	return true;
}

/* A page of a freed run that still faults, in a mapped window. */
static bool pick_freed(struct fz_thread *t, int kinds, struct pick *p)
{
	struct pick c[FZ_WINS * FZ_FREED];
	int n = 0;

	for (int i = 0; i < FZ_WINS; i++) {
		struct fz_win *w = &t->win[i];

		if (!win_kind_ok(w, kinds) || !w->base)
			continue;
		for (unsigned int j = 0; j < w->nfreed; j++)
			c[n++] = (struct pick){ w, NULL, w->freed[j], 0 };
	}
	if (!n)
		return false;
	*p = c[rn(&t->rng, n)];
	p->page = rn(&t->rng, run_pages(p->r));
	return true;
}

static struct fz_win *pick_win(struct fz_thread *t, bool need_fd,
			       bool need_map)
{
	int s = rn(&t->rng, FZ_WINS);

	for (int i = 0; i < FZ_WINS; i++) {
		struct fz_win *w = &t->win[(s + i) % FZ_WINS];

		if (!w->used || (need_fd && w->fd < 0) ||
		    (need_map && !w->base))
			continue;
		return w;
	}
	return NULL;
}

static struct fz_arena *pick_arena(struct fz_thread *t, struct fz_win *w)
{
	int s = rn(&t->rng, FZ_ARENAS);

	for (int i = 0; i < FZ_ARENAS; i++) {
		struct fz_arena *a = &w->ar[(s + i) % FZ_ARENAS];

		if (a->state == A_LIVE)
			return a;
	}
	return NULL;
}

/* ---- ioctl buffers ------------------------------------------------------------------ */

#define IO_PAGE(t)	((t)->iopg)
#define IO_GUARD(t)	((t)->iopg + PAGE_SZ)
#define IO_RDONLY(t)	((t)->iopg + 2 * PAGE_SZ)
#define CANARY		0xa5

struct cmd_desc {
	unsigned long cmd;
	const char *name;
	size_t ksize;
	long reserved_off;	/* -1: none */
	uint32_t valid_flags;
	bool out;		/* writes the struct back */
};

enum { C_INFO, C_CREATE, C_ALLOC, C_FREE, C_LOOKUP, C_ALLOC2, C_NR };

static const struct cmd_desc cmds[C_NR] = {
	[C_INFO] = { ARENA_IOC_GET_INFO, "GET_INFO", sizeof(struct arena_info),
		     -1, 0, true },
	[C_CREATE] = { ARENA_IOC_CREATE, "CREATE", sizeof(struct arena_create),
		       offsetof(struct arena_create, __reserved), 0, true },
	[C_ALLOC] = { ARENA_IOC_ALLOC_CHUNKS, "ALLOC_CHUNKS",
		      sizeof(struct arena_alloc_chunks), -1,
		      ARENA_ALLOC_VALID_FLAGS, true },
	[C_FREE] = { ARENA_IOC_FREE, "FREE", sizeof(struct arena_free),
		     offsetof(struct arena_free, out_next_id), 0, false },
	[C_LOOKUP] = { ARENA_IOC_LOOKUP, "LOOKUP", sizeof(struct arena_lookup),
		       offsetof(struct arena_lookup, __reserved), 0, true },
	[C_ALLOC2] = { ARENA_IOC_ALLOC, "ALLOC", sizeof(struct arena_alloc),
		       offsetof(struct arena_alloc, __reserved),
		       ARENA_IOC_ALLOC_VALID_FLAGS, true },
};

/* The layouts have no holes: every byte the kernel copies out is a field. */
_Static_assert(sizeof(struct arena_info) == 56, "arena_info layout");
_Static_assert(sizeof(struct arena_create) == 16, "arena_create layout");
_Static_assert(sizeof(struct arena_alloc_chunks) == 24, "alloc layout");
_Static_assert(sizeof(struct arena_free) == 32, "arena_free layout");
_Static_assert(sizeof(struct arena_lookup) == 48, "arena_lookup layout");
_Static_assert(sizeof(struct arena_alloc) == 40, "arena_alloc layout");

/* The smallest struct each command takes: its first version. */
static size_t cmd_minsize(int c)
{
	if (c == C_INFO)
		return offsetof(struct arena_info, out_max_chunks) +
		       sizeof(((struct arena_info *)0)->out_max_chunks);
	/* FREE's first version ended at out_next_id (then __reserved). */
	if (c == C_FREE)
		return offsetof(struct arena_free, next_length);
	return cmds[c].ksize;
}

static int xioctl(int fd, unsigned long cmd, void *arg)
{
	return ioctl(fd, cmd, arg) < 0 ? errno : 0;
}

/*
 * A struct at @p, @usize bytes as the caller claims, followed by @tail
 * canary bytes: the copy of the whole thing before the call, to check
 * that the kernel wrote nothing on an error and nothing past @usize.
 */
struct iobuf {
	char *p;
	size_t usize, span;
	unsigned char before[256];
};

static void io_snap(struct iobuf *b, char *p, size_t usize, size_t tail)
{
	b->p = p;
	b->usize = usize;
	b->span = usize + tail;
	if (b->span > sizeof(b->before))
		b->span = sizeof(b->before);
	memcpy(b->before, p, b->span);
}

static bool io_unchanged(const struct iobuf *b)
{
	return !memcmp(b->before, b->p, b->span);
}

/* Bytes past min(usize, ksize) unchanged (the kernel copies out no more). */
static bool io_tail_unchanged(const struct iobuf *b, size_t ksize)
{
	size_t from = b->usize < ksize ? b->usize : ksize;

	return !memcmp(b->before + from, b->p + from, b->span - from);
}

/* ---- operations: memory ------------------------------------------------------------- */

static void op_touch_write(struct fz_thread *t)
{
	struct pick p;

	if (!pick_live(t, P_ANY, &p))
		return;
	if (!fz_store(w_ptr(p.w, p.r, p.page), w_val(p.r, p.page))) {
		fz_fail(t, "store to live run %#" PRIx64 " page %u faulted at %p",
			p.r->off, p.page, fz_si_addr);
		return;
	}
	w_mark(p.r, p.page);
}

static void op_touch_read(struct fz_thread *t)
{
	struct pick p;
	uint64_t v;

	if (!pick_live(t, P_ANY, &p))
		return;
	if (!fz_load(w_ptr(p.w, p.r, p.page), &v)) {
		fz_fail(t, "load from live run %#" PRIx64 " page %u faulted at %p",
			p.r->off, p.page, fz_si_addr);
		return;
	}
	/* Racers write into shared windows: only private ones are exact. */
	if (!p.w->shared)
		CHECK(t, v == w_expect(p.r, p.page),
		      "run %#" PRIx64 " page %u: read %#" PRIx64 ", expected %#" PRIx64,
		      p.r->off, p.page, v, w_expect(p.r, p.page));
}

static void drain_fd(int fd)
{
	char buf[512];

	while (read(fd, buf, sizeof(buf)) > 0)
		;
}

/* Copy 8 bytes into @dst through the kernel, one of three ways. */
static ssize_t sys_copy_in(struct fz_thread *t, void *dst, const void *src,
			   int how)
{
	struct iovec l = { (void *)src, 8 }, r = { dst, 8 };
	ssize_t n;

	switch (how) {
	case 0:		/* read() from a pipe: copy_to_user */
		if (write(t->dpipe[1], src, 8) != 8)
			return -2;
		n = read(t->dpipe[0], dst, 8);
		if (n != 8) {
			int e = errno;

			drain_fd(t->dpipe[0]);
			errno = e;
		}
		return n;
	case 1:		/* GUP on our own mm */
		return process_vm_writev(fz.pid, &l, 1, &r, 1, 0);
	default:	/* GUP with FOLL_FORCE */
		return pwrite(t->memfd, src, 8, (off_t)(uintptr_t)dst);
	}
}

static ssize_t sys_copy_out(struct fz_thread *t, void *dst, const void *src,
			    int how)
{
	struct iovec l = { dst, 8 }, r = { (void *)src, 8 };
	ssize_t n;

	switch (how) {
	case 0:		/* write() to a pipe: copy_from_user */
		n = write(t->dpipe[1], src, 8);
		if (n == 8 && read(t->dpipe[0], dst, 8) != 8)
			return -2;
		return n;
	case 1:
		return process_vm_readv(fz.pid, &l, 1, &r, 1, 0);
	default:
		return pread(t->memfd, dst, 8, (off_t)(uintptr_t)src);
	}
}

static void op_sys_write(struct fz_thread *t)
{
	struct pick p;
	uint64_t v;
	ssize_t n;
	int how = rn(&t->rng, 3);

	if (!pick_live(t, P_PRIVATE, &p))
		return;
	v = w_val(p.r, p.page);
	n = sys_copy_in(t, (void *)w_ptr(p.w, p.r, p.page), &v, how);
	CHECK(t, n == 8, "copy into live run %#" PRIx64 " page %u (way %d): %zd (%s)",
	      p.r->off, p.page, how, n, strerror(errno));
	if (n == 8)
		w_mark(p.r, p.page);
}

static void op_sys_read(struct fz_thread *t)
{
	struct pick p;
	uint64_t v = 0;
	ssize_t n;
	int how = rn(&t->rng, 3);

	if (!pick_live(t, P_PRIVATE, &p))
		return;
	n = sys_copy_out(t, &v, (void *)w_ptr(p.w, p.r, p.page), how);
	CHECK(t, n == 8, "copy from live run %#" PRIx64 " page %u (way %d): %zd (%s)",
	      p.r->off, p.page, how, n, strerror(errno));
	if (n == 8)
		CHECK(t, v == w_expect(p.r, p.page),
		      "run %#" PRIx64 " page %u (way %d): got %#" PRIx64 ", expected %#" PRIx64,
		      p.r->off, p.page, how, v, w_expect(p.r, p.page));
}

static void check_page(struct fz_thread *t, struct pick *p)
{
	volatile uint64_t *pg = (volatile uint64_t *)(p->w->base + p->r->off +
						      (uint64_t)p->page * PAGE_SZ);
	unsigned int bad;
	uint64_t got = 0;

	if (!fz_scan(pg, FZ_PGWORDS, w_pos(p->r, p->page),
		     w_expect(p->r, p->page), &bad, &got)) {
		if (bad == ~0U)
			fz_fail(t, "scan of run %#" PRIx64 " page %u faulted at %p",
				p->r->off, p->page, fz_si_addr);
		else
			fz_fail(t, "run %#" PRIx64 " page %u word %u is %#" PRIx64 " (old bytes?)",
				p->r->off, p->page, bad, got);
	}
}

static void op_page_check(struct fz_thread *t)
{
	struct pick p;

	if (pick_live(t, P_PRIVATE, &p))
		check_page(t, &p);
}

static void op_chunk_check(struct fz_thread *t)
{
	struct pick p;
	uint32_t per = fz.cs / PAGE_SZ, first, end;

	if (!pick_live(t, P_PRIVATE, &p))
		return;
	/* A whole chunk of a chunk run, or a whole small run. */
	first = p.page / per * per;
	end = first + per < run_pages(p.r) ? first + per : run_pages(p.r);
	for (p.page = first; p.page < end && !t->failures; p.page++)
		check_page(t, &p);
}

/* A freed address: the access must fault exactly there. */
static void op_freed_probe(struct fz_thread *t)
{
	struct pick p;
	char *a, v = 0;
	bool ok, wr = chance(&t->rng, 50);

	if (!pick_freed(t, P_ANY, &p))
		return;
	a = p.w->base + p.r->off + (uint64_t)p.page * PAGE_SZ + rn(&t->rng, PAGE_SZ);
	ok = wr ? fz_store8(a, 1) : fz_load8(a, &v);
	if (ok) {
		fz_fail(t, "%s of freed run %#" PRIx64 " (arena %u) at +%#lx worked",
			wr ? "store" : "load", p.r->off, p.r->arena_id,
			(unsigned long)(a - p.w->base - p.r->off));
		return;
	}
	t->faults++;
	CHECK(t, fz_si_signo == SIGSEGV && fz_si_addr == a &&
	      fz_si_code == SEGV_MAPERR,
	      "freed access at %p: signal %d code %d at %p", a, fz_si_signo,
	      fz_si_code, fz_si_addr);
}

/* Copies into and out of freed memory: EFAULT (EIO for /proc/self/mem). */
static void op_freed_sys(struct fz_thread *t)
{
	struct pick p;
	uint64_t v = 1;
	int how = rn(&t->rng, 4);
	void *a;
	ssize_t n;

	if (!pick_freed(t, P_ANY, &p))
		return;
	a = (char *)p.w->base + p.r->off + (uint64_t)p.page * PAGE_SZ +
	    rn(&t->rng, PAGE_SZ / 8) * 8;
	errno = 0;
	if (how == 3) {
		struct iovec iov = { (void *)((uintptr_t)a & ~(PAGE_SZ - 1)),
				     PAGE_SZ };

		n = vmsplice(t->rpipe[1], &iov, 1, SPLICE_F_NONBLOCK);
		CHECK(t, n == -1 && errno == EFAULT,
		      "vmsplice of freed %p: %zd (%s)", a, n, strerror(errno));
		if (n > 0)
			drain_fd(t->rpipe[0]);
	} else if (chance(&t->rng, 50)) {
		n = sys_copy_in(t, a, &v, how);
		CHECK(t, n == -1 && errno == (how == 2 ? EIO : EFAULT),
		      "copy into freed %p (way %d): %zd (%s)", a, how, n,
		      strerror(errno));
	} else {
		n = sys_copy_out(t, &v, a, how);
		CHECK(t, n == -1 && errno == (how == 2 ? EIO : EFAULT),
		      "copy from freed %p (way %d): %zd (%s)", a, how, n,
		      strerror(errno));
		if (how == 0 && n != 8) {
			int e = errno;

			drain_fd(t->dpipe[0]);
			errno = e;
		}
	}
	t->efaults++;
}

/* Never handed out: faults too. */
static void op_wild_probe(struct fz_thread *t)
{
	struct fz_win *w = pick_win(t, false, true);
	uint64_t off;
	char *a, v;

	if (!w || w->hiwater >= w->lowater)
		return;
	off = w->hiwater + rnd(&t->rng) % (w->lowater - w->hiwater);
	if (chance(&t->rng, 20))
		off = w->lowater - 1 - rn(&t->rng, 64);
	a = w->base + off;
	if (fz_load8(a, &v)) {
		fz_fail(t, "load at never-allocated offset %#" PRIx64 " worked",
			off);
		return;
	}
	t->wild++;
	CHECK(t, fz_si_addr == a && fz_si_signo == SIGSEGV,
	      "wild access at %p: signal %d at %p", a, fz_si_signo, fz_si_addr);
}

/* ---- operations: ioctls ------------------------------------------------------------- */

static void op_ioc_info(struct fz_thread *t)
{
	struct fz_win *w = pick_win(t, true, false);
	struct arena_info *in;
	size_t extra = chance(&t->rng, 30) ? 8 * rn(&t->rng, 8) : 0;
	/* A caller that knows only the first version of the struct. */
	size_t size = chance(&t->rng, 20) ? cmd_minsize(C_INFO) :
		      sizeof(*in) + extra;
	struct iobuf b;
	int err;

	if (!w)
		return;
	in = (struct arena_info *)(IO_PAGE(t) + 8 * rn(&t->rng, 32));
	memset(in, CANARY, sizeof(*in) + extra + 64);
	memset(in, 0, size);
	in->size = size;
	io_snap(&b, (char *)in, in->size, 64);
	err = xioctl(w->fd, ARENA_IOC_GET_INFO, in);
	CHECK(t, !err, "GET_INFO (size %zu): %s", size, strerror(err));
	if (err)
		return;
	CHECK(t, in->size == size && !in->flags &&
	      in->out_abi_version == ARENA_ABI_VERSION &&
	      in->out_chunk_size == fz.cs &&
	      in->out_chunk_size == 1ULL << in->out_chunk_shift &&
	      in->out_window_size == fz.window &&
	      in->out_max_chunks == fz.nr_slots &&
	      (size < sizeof(*in) ||
	       (in->out_features == (ARENA_FEATURE_SMALL_RUNS |
				     ARENA_FEATURE_SMALL_WINDOW |
				     ARENA_FEATURE_FREE_NEXT |
				     ARENA_FEATURE_NOZERO |
				     ARENA_FEATURE_NOZERO_SMALL) &&
		in->out_small_window_size == fz.window)),
	      "GET_INFO answered size %u flags %u abi %u chunk %llu shift %u window %llu max %llu",
	      in->size, in->flags, in->out_abi_version,
	      (unsigned long long)in->out_chunk_size, in->out_chunk_shift,
	      (unsigned long long)in->out_window_size,
	      (unsigned long long)in->out_max_chunks);
	/* Nothing past the caller's struct, nor past the kernel's. */
	CHECK(t, io_tail_unchanged(&b, sizeof(*in)),
	      "GET_INFO wrote past its struct (size %zu)", size);
}

static void op_ioc_create(struct fz_thread *t)
{
	struct fz_win *w = pick_win(t, true, false);
	struct arena_create *cr;
	size_t extra = chance(&t->rng, 20) ? 8 * rn(&t->rng, 4) : 0;
	struct fz_arena *a = NULL;
	struct iobuf b;
	int err;

	if (!w)
		return;
	for (int i = 0; i < FZ_ARENAS; i++)
		if (w->ar[i].state == A_NONE) {
			a = &w->ar[i];
			break;
		}
	if (!a)
		return;
	cr = (struct arena_create *)(IO_PAGE(t) + 8 * rn(&t->rng, 32));
	memset(cr, CANARY, sizeof(*cr) + extra + 64);
	memset(cr, 0, sizeof(*cr) + extra);
	cr->size = sizeof(*cr) + extra;
	io_snap(&b, (char *)cr, cr->size, 64);
	err = xioctl(w->fd, ARENA_IOC_CREATE, cr);
	t->nomem_tries++;
	if (err == ENOMEM) {
		t->enomem++;
		return;
	}
	CHECK(t, !err, "CREATE: %s", strerror(err));
	if (err)
		return;
	CHECK(t, cr->out_arena_id > w->last_id && !cr->__reserved &&
	      !cr->flags && io_tail_unchanged(&b, sizeof(*cr)),
	      "CREATE gave id %u after %u (reserved %u)", cr->out_arena_id,
	      w->last_id, cr->__reserved);
	w->last_id = cr->out_arena_id;
	wlock(w);
	a->id = cr->out_arena_id;
	a->state = A_LIVE;
	a->nruns = 0;
	a->opaque = 0;
	atomic_store(&a->racer_freed, 0);
	wunlock(w);
}

/* Our live runs of @w must not overlap [off, off + npages pages). */
static bool overlaps_live(struct fz_win *w, uint64_t off, uint32_t npages)
{
	uint64_t end = off + (uint64_t)npages * PAGE_SZ;

	for (int i = 0; i < FZ_ARENAS; i++) {
		struct fz_arena *a = &w->ar[i];

		if (a->state == A_NONE)
			continue;
		for (int k = 0; k < a->nruns; k++) {
			uint64_t s = a->runs[k]->off,
				 e = s + (uint64_t)a->runs[k]->npages * PAGE_SZ;

			if (off < e && s < end)
				return true;
		}
	}
	return false;
}

static void do_free(struct fz_thread *t, struct fz_win *w, struct fz_arena *a,
		    bool rdonly_arg);
static void run_add(struct fz_thread *t, struct fz_win *w, struct fz_arena *a,
		    uint64_t off, uint32_t npages);

static void op_ioc_alloc(struct fz_thread *t)
{
	struct fz_win *w = pick_win(t, true, false);
	struct arena_alloc_chunks *ac;
	struct fz_arena *a;
		uint32_t nr = 1 + (chance(&t->rng, 80) ? rn(&t->rng, 3) :
			   rn(&t->rng, FZ_MAX_NR));
	bool reset = chance(&t->rng, 12);
	size_t extra = chance(&t->rng, 10) ? 8 : 0;
	struct iobuf b;
	int err;

	if (!w || !(a = pick_arena(t, w)))
		return;
	if ((!reset && a->nruns == FZ_RUNS) ||
	    t->live_pages + (int)(nr * fz.cs / PAGE_SZ) > FZ_LIVE_PAGES) {
		do_free(t, w, a, false);
		return;
	}
	ac = (struct arena_alloc_chunks *)(IO_PAGE(t) + 8 * rn(&t->rng, 32));
	memset(ac, CANARY, sizeof(*ac) + extra + 64);
	memset(ac, 0, sizeof(*ac) + extra);
	ac->size = sizeof(*ac) + extra;
	ac->flags = reset ? ARENA_ALLOC_RESET : 0;
	ac->arena_id = a->id;
	ac->nr_chunks = nr;
	io_snap(&b, (char *)ac, ac->size, 64);
	err = xioctl(w->fd, ARENA_IOC_ALLOC_CHUNKS, ac);
	t->nomem_tries++;
	if (err == ENOMEM) {
		/* The arena is left as it was, RESET or not. */
		t->enomem++;
		CHECK(t, io_unchanged(&b), "ALLOC_CHUNKS wrote on ENOMEM");
		return;
	}
	CHECK(t, !err, "ALLOC_CHUNKS(arena %u, %u%s): %s", a->id, nr,
	      reset ? ", RESET" : "", strerror(err));
	if (err)
		return;
	CHECK(t, ac->arena_id == a->id && ac->nr_chunks == nr &&
	      io_tail_unchanged(&b, sizeof(*ac)),
	      "ALLOC_CHUNKS changed its input fields");
	CHECK(t, ac->out_offset % fz.cs == 0 &&
	      ac->out_offset + nr * fz.cs <= fz.window,
	      "ALLOC_CHUNKS offset %#llx for %u chunks",
	      (unsigned long long)ac->out_offset, nr);
	wlock(w);
	if (reset)
		arena_runs_freed(t, w, a);
	run_add(t, w, a, ac->out_offset, nr * fz.cs / PAGE_SZ);
	wunlock(w);
}

/* A new live run of @a: in the model, with the window's bounds moved. */
static void run_add(struct fz_thread *t, struct fz_win *w, struct fz_arena *a,
		    uint64_t off, uint32_t npages)
{
	struct fz_run *r;

	CHECK(t, !overlaps_live(w, off, npages),
	      "new run at %#" PRIx64 " (%u pages) overlaps a live run", off,
	      npages);
	r = run_new(t, a->id, off, npages);
	if (r) {
		a->runs[a->nruns++] = r;
	} else {
		fz_fail(t, "out of run records");
		a->opaque += npages;
	}
	t->live_pages += npages;
	if (npages < fz.cs / PAGE_SZ) {
		/* In the small window, above lowater. */
	} else if (off + (uint64_t)npages * PAGE_SZ > w->hiwater) {
		w->hiwater = off + (uint64_t)npages * PAGE_SZ;
	}
}

/* Pages of @a we never learnt the offset of: bounds move the worst way. */
static void run_add_opaque(struct fz_thread *t, struct fz_win *w,
			   struct fz_arena *a, uint32_t npages)
{
	a->opaque += npages;
	t->live_pages += npages;
	/* Small runs are in the small window, beyond lowater. */
	if (npages >= fz.cs / PAGE_SZ)
		w->hiwater += cs_align_down(npages * PAGE_SZ + fz.cs - 1);
}

/*
 * ARENA_IOC_ALLOC: a small run (under a chunk: page granular, carved from
 * the window's shared chunk, in the small window) or whole chunks
 * (the length rounded up), into an arena, a new one (CREATE) or instead of
 * an arena's memory (RESET).
 */
static void op_ioc_alloc2(struct fz_thread *t)
{
	struct fz_win *w = pick_win(t, true, false);
	const uint32_t per = fz.cs / PAGE_SZ;
	struct fz_arena *a = NULL;
	struct arena_alloc *al;
	uint64_t len, want_len;
	uint32_t flags = 0, npages;
	unsigned int how = rn(&t->rng, 10);
	struct iobuf b;
	int err;

	if (!w)
		return;
	if (how < 7)
		len = PAGE_SZ * (1 + (chance(&t->rng, 60) ? rn(&t->rng, 8) :
				      rn(&t->rng, per - 1)));
	else if (how < 9)
		len = fz.cs * (1 + rn(&t->rng, 2));
	else
		len = fz.cs + PAGE_SZ * (1 + rn(&t->rng, per - 1));
	want_len = len < fz.cs ? len : (len + fz.cs - 1) & ~(uint64_t)(fz.cs - 1);
	npages = want_len / PAGE_SZ;
	if (chance(&t->rng, 35)) {
		for (int i = 0; i < FZ_ARENAS && !a; i++)
			if (w->ar[i].state == A_NONE)
				a = &w->ar[i];
		if (a)
			flags = ARENA_ALLOC_CREATE;
	}
	if (!a) {
		a = pick_arena(t, w);
		if (!a)
			return;
		if (a->nruns == FZ_RUNS || chance(&t->rng, 12))
			flags = ARENA_ALLOC_RESET;
	}
	if (t->live_pages + (int)npages > FZ_LIVE_PAGES) {
		if (!(flags & ARENA_ALLOC_CREATE))
			do_free(t, w, a, false);
		return;
	}
	al = (struct arena_alloc *)(IO_PAGE(t) + 8 * rn(&t->rng, 32));
	memset(al, CANARY, sizeof(*al) + 64);
	memset(al, 0, sizeof(*al));
	al->size = sizeof(*al);
	al->flags = flags;
	al->arena_id = flags & ARENA_ALLOC_CREATE ? 0 : a->id;
	al->length = len;
	io_snap(&b, (char *)al, al->size, 64);
	err = xioctl(w->fd, ARENA_IOC_ALLOC, al);
	t->nomem_tries++;
	if (err == ENOMEM) {
		t->enomem++;
		CHECK(t, io_unchanged(&b), "ALLOC wrote on ENOMEM");
		return;
	}
	CHECK(t, !err, "ALLOC(arena %u, %#" PRIx64 " bytes, flags %#x): %s",
	      al->arena_id, len, flags, strerror(err));
	if (err)
		return;
	CHECK(t, al->length == len && al->flags == flags &&
	      al->out_length == want_len && !al->__reserved &&
	      io_tail_unchanged(&b, sizeof(*al)),
	      "ALLOC of %#" PRIx64 ": out_length %#llx, fields changed?", len,
	      (unsigned long long)al->out_length);
	CHECK(t, al->out_offset % (len < fz.cs ? PAGE_SZ : fz.cs) == 0 &&
	      al->out_offset + want_len <= fz.span &&
	      (len < fz.cs) == (al->out_offset >= fz.window),
	      "ALLOC of %#" PRIx64 " at offset %#llx", len,
	      (unsigned long long)al->out_offset);
	wlock(w);
	if (flags & ARENA_ALLOC_CREATE) {
		CHECK(t, al->arena_id > w->last_id, "ALLOC CREATE gave id %u after %u",
		      al->arena_id, w->last_id);
		w->last_id = al->arena_id;
		a->id = al->arena_id;
		a->state = A_LIVE;
		a->nruns = 0;
		a->opaque = 0;
		atomic_store(&a->racer_freed, 0);
	} else {
		CHECK(t, al->arena_id == a->id, "ALLOC changed arena_id");
	}
	if (flags & ARENA_ALLOC_RESET)
		arena_runs_freed(t, w, a);
	run_add(t, w, a, al->out_offset, npages);
	wunlock(w);
}

/*
 * Free @a. In a shared window a racer may free it at the same moment: then
 * exactly one of the two frees returns 0.
 */
static void do_free(struct fz_thread *t, struct fz_win *w, struct fz_arena *a,
		    bool rdonly_arg)
{
	struct arena_free *fr;
	int err, racer;

	if (rdonly_arg) {
		/* FREE writes nothing back: a read-only argument is fine. */
		mprotect(IO_RDONLY(t), PAGE_SZ, PROT_READ | PROT_WRITE);
		fr = (struct arena_free *)IO_RDONLY(t);
		memset(fr, 0, sizeof(*fr));
		fr->size = sizeof(*fr);
		fr->arena_id = a->id;
		mprotect(IO_RDONLY(t), PAGE_SZ, PROT_READ);
	} else {
		fr = (struct arena_free *)(IO_PAGE(t) + 8 * rn(&t->rng, 32));
		memset(fr, 0, sizeof(*fr));
		fr->size = sizeof(*fr);
		fr->arena_id = a->id;
	}
	wlock(w);
	a->state = A_FREEING;
	wunlock(w);
	err = xioctl(w->fd, ARENA_IOC_FREE, fr);
	wlock(w);
	racer = atomic_load(&a->racer_freed);
	CHECK(t, (!err && !racer) || (err == ENOENT && racer),
	      "FREE(arena %u): %s, racer freed it: %d", a->id,
	      err ? strerror(err) : "0", racer);
	arena_gone(t, w, a);
	wunlock(w);
}

static void op_ioc_free(struct fz_thread *t)
{
	struct fz_win *w = pick_win(t, true, false);
	struct fz_arena *a;

	if (!w || !(a = pick_arena(t, w)))
		return;
	do_free(t, w, a, chance(&t->rng, 10));
}

/* Where @off of @w is, as the model knows it: 0 unknown, 1 exact. */
static int lookup_expect(struct fz_win *w, uint64_t off,
			 struct arena_lookup *want)
{
	memset(want, 0, sizeof(*want));
	if (off >= w->hiwater && off < w->lowater) {
		want->out_state = ARENA_SLOT_EMPTY;
		return 1;
	}
	for (int i = 0; i < FZ_ARENAS; i++) {
		struct fz_arena *a = &w->ar[i];

		if (a->state != A_LIVE)
			continue;
		for (int k = 0; k < a->nruns; k++) {
			struct fz_run *r = a->runs[k];

			if (off >= r->off &&
			    off < r->off + (uint64_t)r->npages * PAGE_SZ) {
				want->out_state = ARENA_SLOT_LIVE;
				want->out_arena_id = a->id;
				want->out_arena_offset = off - r->off;
				return 1;
			}
		}
	}
	for (unsigned int j = 0; j < w->nfreed; j++) {
		struct fz_run *r = w->freed[j];

		if (off >= r->off &&
		    off < r->off + (uint64_t)r->npages * PAGE_SZ) {
			want->out_state = ARENA_SLOT_FREED;
			want->out_arena_id = r->arena_id;
			want->out_arena_offset = off - r->off;
			return 1;
		}
	}
	return 0;
}

static void op_ioc_lookup(struct fz_thread *t)
{
	struct fz_win *w = pick_win(t, true, false);
	struct arena_lookup *lk, want;
	struct pick p;
	uint64_t off;
	struct iobuf b;
	int err, exact;

	if (!w)
		return;
	switch (rn(&t->rng, 4)) {
	case 0:
		if (pick_live(t, P_ANY, &p) && p.w == w) {
			off = p.r->off + (uint64_t)p.page * PAGE_SZ + rn(&t->rng, PAGE_SZ);
			break;
		}
		/* fall through */
	case 1:
		if (pick_freed(t, P_ANY, &p) && p.w == w) {
			off = p.r->off + (uint64_t)p.page * PAGE_SZ + rn(&t->rng, PAGE_SZ);
			break;
		}
		/* fall through */
	case 2:
		off = rnd(&t->rng) % fz.span;
		break;
	default:
		off = w->hiwater < w->lowater ?
		      w->hiwater + rnd(&t->rng) % (w->lowater - w->hiwater) : 0;
		break;
	}
	exact = lookup_expect(w, off, &want);
	lk = (struct arena_lookup *)(IO_PAGE(t) + 8 * rn(&t->rng, 32));
	/* Garbage in the out_ fields: every one must be written. */
	memset(lk, CANARY, sizeof(*lk) + 64);
	lk->size = sizeof(*lk);
	lk->flags = 0;
	lk->offset = off;
	lk->__reserved = 0;
	io_snap(&b, (char *)lk, lk->size, 64);
	err = xioctl(w->fd, ARENA_IOC_LOOKUP, lk);
	CHECK(t, !err, "LOOKUP(%#" PRIx64 "): %s", off, strerror(err));
	if (err)
		return;
	CHECK(t, lk->size == sizeof(*lk) && !lk->flags && lk->offset == off &&
	      !lk->__reserved && io_tail_unchanged(&b, sizeof(*lk)),
	      "LOOKUP changed its input fields");
	if (w->shared)
		/* A racer's free may be under way. */
		exact = exact && want.out_state != ARENA_SLOT_LIVE;
	if (!exact) {
		CHECK(t, lk->out_state <= ARENA_SLOT_FREED,
		      "LOOKUP state %u", lk->out_state);
		return;
	}
	CHECK(t, lk->out_state == want.out_state &&
	      lk->out_arena_id == want.out_arena_id &&
	      lk->out_arena_offset == want.out_arena_offset,
	      "LOOKUP(%#" PRIx64 "): state %u arena %u +%#llx, expected %u %u +%#llx",
	      off, lk->out_state, lk->out_arena_id,
	      (unsigned long long)lk->out_arena_offset, want.out_state,
	      want.out_arena_id, (unsigned long long)want.out_arena_offset);
	if (want.out_state == ARENA_SLOT_FREED)
		CHECK(t, lk->out_freed_by_pid == (uint32_t)fz.pid &&
		      lk->out_freed_ns_ago > 0 &&
		      lk->out_freed_ns_ago < 3600ULL * 1000000000ULL,
		      "LOOKUP of freed: by pid %u, %llu ns ago",
		      lk->out_freed_by_pid,
		      (unsigned long long)lk->out_freed_ns_ago);
	else
		CHECK(t, !lk->out_freed_by_pid && !lk->out_freed_ns_ago &&
		      (want.out_state != ARENA_SLOT_EMPTY ||
		       (!lk->out_arena_id && !lk->out_arena_offset)),
		      "LOOKUP left garbage in out fields (pid %u, ns %llu)",
		      lk->out_freed_by_pid,
		      (unsigned long long)lk->out_freed_ns_ago);
}

/*
 * Corrupt arguments: one thing wrong at a time, so that the errno is
 * exactly known, and the kernel must write nothing back.
 */
enum {
	K_SIZE0, K_SIZE_SMALL, K_SIZE_BIG_NZ, K_SIZE_HUGE, K_FLAGS,
	K_RESERVED, K_NR0, K_NR_HUGE, K_ID_UNKNOWN, K_OFF, K_PTR_NULL,
	K_PTR_KERNEL, K_PTR_GUARD, K_PTR_STRADDLE, K_PTR_FREED, K_PTR_WILD,
	K_PTR_RDONLY, K_CMD, K_LEN, K_CREATE_BAD, K_NKINDS
};

static const char *const kind_name[K_NKINDS] = {
	"size 0", "size too small", "size big, tail nonzero", "size huge",
	"unknown flags", "reserved nonzero", "nr_chunks 0", "nr_chunks huge",
	"unknown id", "offset past window", "NULL", "kernel pointer",
	"unmapped pointer", "struct straddling a hole", "freed arena memory",
	"never-allocated window memory", "read-only struct", "unknown command",
	"bad length", "CREATE with RESET or an id",
};

static void fill_valid(struct fz_thread *t, int c, char *p, struct fz_win *w,
		       struct fz_arena *a)
{
	memset(p, 0, cmds[c].ksize);
	*(uint32_t *)p = cmds[c].ksize;
	if (c == C_ALLOC) {
		((struct arena_alloc_chunks *)p)->arena_id = a->id;
		((struct arena_alloc_chunks *)p)->nr_chunks = 1;
	} else if (c == C_FREE) {
		((struct arena_free *)p)->arena_id = a->id;
	} else if (c == C_LOOKUP) {
		((struct arena_lookup *)p)->offset =
			rnd(&t->rng) % fz.span;
	} else if (c == C_ALLOC2) {
		((struct arena_alloc *)p)->arena_id = a->id;
		((struct arena_alloc *)p)->length = PAGE_SZ;
	}
	(void)w;
}

static void op_ioc_corrupt(struct fz_thread *t)
{
	struct fz_win *w = pick_win(t, true, false);
	int c = rn(&t->rng, C_NR), kind = rn(&t->rng, K_NKINDS), want, err;
	unsigned long cmd;
	struct fz_arena *a = NULL;
	struct pick p;
	struct iobuf b;
	char *s;

	if (!w)
		return;
	cmd = cmds[c].cmd;
	if (c == C_ALLOC || c == C_FREE || c == C_ALLOC2) {
		a = pick_arena(t, w);
		if (!a)
			return;
	}
	/* Kinds that do not apply to this command become another. */
	if (c == C_ALLOC2 && kind == K_NR0)
		kind = K_LEN;
	if (c == C_ALLOC2 && kind == K_NR_HUGE)
		kind = K_CREATE_BAD;
	if (((kind == K_LEN || kind == K_CREATE_BAD) && c != C_ALLOC2) ||
	    (kind == K_RESERVED && cmds[c].reserved_off < 0) ||
	    ((kind == K_NR0 || kind == K_NR_HUGE) && c != C_ALLOC) ||
	    (kind == K_ID_UNKNOWN && !a) || (kind == K_OFF && c != C_LOOKUP) ||
	    (kind == K_PTR_RDONLY && !cmds[c].out))
		kind = K_FLAGS;
	if ((kind == K_PTR_FREED && !pick_freed(t, P_ANY, &p)) ||
	    ((kind == K_PTR_WILD) && (!w->base || w->hiwater + 64 >= w->lowater)))
		kind = K_PTR_GUARD;
	if (kind == K_PTR_RDONLY && (c == C_ALLOC || c == C_ALLOC2) &&
	    (a->nruns == FZ_RUNS ||
	     t->live_pages + (int)(fz.cs / PAGE_SZ) > FZ_LIVE_PAGES))
		kind = K_SIZE_SMALL;

	s = IO_PAGE(t) + 8 * rn(&t->rng, 32);
	memset(s, CANARY, cmds[c].ksize + 128);
	fill_valid(t, c, s, w, a);
	want = EINVAL;
	switch (kind) {
	case K_SIZE0:
		*(uint32_t *)s = 0;
		break;
	case K_SIZE_SMALL:
		*(uint32_t *)s = 1 + rn(&t->rng, cmd_minsize(c) - 1);
		break;
	case K_SIZE_BIG_NZ: {
		uint32_t extra = 1 + rn(&t->rng, 56);

		memset(s + cmds[c].ksize, 0, extra);
		s[cmds[c].ksize + rn(&t->rng, extra)] = 1 + rn(&t->rng, 255);
		*(uint32_t *)s = cmds[c].ksize + extra;
		want = E2BIG;
		break;
	}
	case K_SIZE_HUGE: {
		/* The zero tail runs into the guard page. */
		size_t room = cmds[c].ksize + 8 * rn(&t->rng, 8);
		static const uint32_t huge[] = { 0, 4096, 1 << 20, 0x7fffffff,
						 0xffffffff };

		s = IO_GUARD(t) - room;
		memset(s, 0, room);
		fill_valid(t, c, s, w, a);
		*(uint32_t *)s = room + 1 + rn(&t->rng, 64);
		if (rn(&t->rng, 2))
			*(uint32_t *)s = huge[1 + rn(&t->rng, 4)];
		if (*(uint32_t *)s <= room)
			*(uint32_t *)s = room + 1;
		/* Above a page the size alone is refused (clone3()'s rule). */
		want = *(uint32_t *)s > PAGE_SZ ? E2BIG : EFAULT;
		break;
	}
	case K_FLAGS:
		do {
			((uint32_t *)s)[1] = rnd(&t->rng) >> rn(&t->rng, 32);
		} while (!(((uint32_t *)s)[1] & ~cmds[c].valid_flags));
		break;
	case K_RESERVED:
		*(uint32_t *)(s + cmds[c].reserved_off) = 1 + rn(&t->rng, 0xffff);
		break;
	case K_NR0:
		((struct arena_alloc_chunks *)s)->nr_chunks = 0;
		break;
	case K_NR_HUGE: {
		uint32_t v[] = { fz.nr_slots + 1, 0xffffffff, 0x80000000,
				 fz.nr_slots + 1 + rn(&t->rng, 1 << 20) };

		((struct arena_alloc_chunks *)s)->nr_chunks = v[rn(&t->rng, 4)];
		break;
	}
	case K_ID_UNKNOWN: {
		uint32_t id = 0x80000000 | rnd(&t->rng);

		if (chance(&t->rng, 30))
			id = 0;
		else if (w->dead_id && chance(&t->rng, 50))
			id = w->dead_id;
		if (c == C_ALLOC)
			((struct arena_alloc_chunks *)s)->arena_id = id;
		else if (c == C_ALLOC2)
			((struct arena_alloc *)s)->arena_id = id;
		else
			((struct arena_free *)s)->arena_id = id;
		want = ENOENT;
		break;
	}
	case K_LEN: {
		uint64_t v[] = { 0, 1 + rn(&t->rng, PAGE_SZ - 1),
				 PAGE_SZ * (1 + rn(&t->rng, 1024)) + 1 + rn(&t->rng, PAGE_SZ - 1),
				 fz.window + PAGE_SZ, ~0ULL & ~(PAGE_SZ - 1),
				 1ULL << 63, fz.window + fz.cs };

		((struct arena_alloc *)s)->length = v[rn(&t->rng, 7)];
		break;
	}
	case K_CREATE_BAD:
		if (chance(&t->rng, 50)) {
			((struct arena_alloc *)s)->flags =
				ARENA_ALLOC_CREATE | ARENA_ALLOC_RESET;
			((struct arena_alloc *)s)->arena_id = 0;
		} else {
			((struct arena_alloc *)s)->flags = ARENA_ALLOC_CREATE;
		}
		break;
	case K_OFF: {
		uint64_t v[] = { fz.span, fz.span + rn(&t->rng, 1 << 30),
				 ~0ULL, 1ULL << 63,
				 fz.span + (rnd(&t->rng) >> 8) };

		((struct arena_lookup *)s)->offset = v[rn(&t->rng, 5)];
		break;
	}
	case K_PTR_NULL:
		s = NULL;
		want = EFAULT;
		break;
	case K_PTR_KERNEL:
		s = (char *)(0xffff888000000000ULL + (rnd(&t->rng) & 0xfffffff8ULL));
		want = EFAULT;
		break;
	case K_PTR_GUARD:
		s = IO_GUARD(t) + 8 * rn(&t->rng, 16);
		want = EFAULT;
		break;
	case K_PTR_STRADDLE: {
		size_t in = 1 + rn(&t->rng, cmds[c].ksize - 1);

		s = IO_GUARD(t) - in;
		memset(s, 0, in);
		if (in >= 4)
			*(uint32_t *)s = cmds[c].ksize;
		want = EFAULT;
		break;
	}
	case K_PTR_FREED:
		s = p.w->base + p.r->off + (uint64_t)p.page * PAGE_SZ + 8 * rn(&t->rng, 16);
		want = EFAULT;
		break;
	case K_PTR_WILD:
		s = w->base + w->hiwater +
		    (rnd(&t->rng) % (w->lowater - w->hiwater) & ~7ULL);
		if (s + 64 > w->base + w->lowater)
			s = w->base + w->lowater - 64;
		want = EFAULT;
		break;
	case K_PTR_RDONLY:
		mprotect(IO_RDONLY(t), PAGE_SZ, PROT_READ | PROT_WRITE);
		s = IO_RDONLY(t);
		fill_valid(t, c, s, w, a);
		mprotect(IO_RDONLY(t), PAGE_SZ, PROT_READ);
		want = EFAULT;
		break;
	case K_CMD: {
		unsigned int nr;

		do {
			nr = rn(&t->rng, 256);
		} while (nr >= ARENA_CMD_BASE && nr <= ARENA_CMD_LOOKUP &&
			 chance(&t->rng, 50));
		cmd = _IOC(rn(&t->rng, 4), ARENA_IOC_MAGIC, nr,
			   rn(&t->rng, 1 << 14));
		for (int i = 0; i < C_NR; i++)
			if (cmd == cmds[i].cmd)
				cmd |= _IOC(0, 0, 0, 8);
		want = ENOTTY;
		break;
	}
	}
	/* Only the bytes of our own buffer page can be compared. */
	if (s >= IO_PAGE(t) && s < IO_GUARD(t))
		io_snap(&b, s, IO_GUARD(t) - s < 192 ? IO_GUARD(t) - s : 192, 0);
	else
		b.p = NULL;
	err = xioctl(w->fd, cmd, s);
	t->corrupt++;
	if (!err) {
		/* Should never happen; keep the model right anyway. */
		fz_fail(t, "%s with %s succeeded", cmds[c].name, kind_name[kind]);
		if (c == C_CREATE) {
			struct arena_free fr = { .size = sizeof(fr),
				.arena_id = ((struct arena_create *)s)->out_arena_id };

			xioctl(w->fd, ARENA_IOC_FREE, &fr);
		} else if (c == C_FREE) {
			wlock(w);
			arena_gone(t, w, a);
			wunlock(w);
		} else if (c == C_ALLOC) {
			run_add_opaque(t, w, a, fz.cs / PAGE_SZ);
		} else if (c == C_ALLOC2) {
			run_add_opaque(t, w, a, 1);
		}
		return;
	}
	if (kind == K_PTR_RDONLY && (c == C_ALLOC || c == C_ALLOC2)) {
		/* Memory joined the arena, but we never learnt where. */
		wlock(w);
		run_add_opaque(t, w, a, c == C_ALLOC ? fz.cs / PAGE_SZ : 1);
		wunlock(w);
	}
	if (kind == K_PTR_FREED || kind == K_PTR_WILD)
		t->efaults++;
	CHECK(t, err == want, "%s with %s: %s, expected %s", cmds[c].name,
	      kind_name[kind], strerror(err), strerror(want));
	if (b.p)
		CHECK(t, io_unchanged(&b), "%s with %s: the kernel wrote to the argument on error",
		      cmds[c].name, kind_name[kind]);
}

/* Arguments that live in arena memory: the ioctl faults them in. */
static void op_ioc_in_arena(struct fz_thread *t)
{
	struct pick p;
	char *pg;
	unsigned int pos, at;
	int err;

	if (!pick_live(t, P_PRIVATE, &p) || p.w->fd < 0)
		return;
	pg = p.w->base + p.r->off + (uint64_t)p.page * PAGE_SZ;
	pos = w_pos(p.r, p.page);
	/* 8 words that do not hold the page's word. */
	at = pos >= 8 ? 0 : 8;
	if (chance(&t->rng, 50)) {
		struct arena_info *in = (struct arena_info *)(pg + at * 8);

		in->size = sizeof(*in);
		in->flags = 0;
		err = xioctl(p.w->fd, ARENA_IOC_GET_INFO, in);
		CHECK(t, !err && in->out_window_size == fz.window,
		      "GET_INFO in arena memory: %s", strerror(err));
	} else {
		struct arena_lookup *lk = (struct arena_lookup *)(pg + at * 8);
		struct arena_lookup want;

		memset(lk, 0, sizeof(*lk));
		lk->size = sizeof(*lk);
		lk->offset = p.r->off;
		err = xioctl(p.w->fd, ARENA_IOC_LOOKUP, lk);
		lookup_expect(p.w, p.r->off, &want);
		CHECK(t, !err && lk->out_state == ARENA_SLOT_LIVE &&
		      lk->out_arena_id == p.a->id,
		      "LOOKUP in arena memory: %s, state %u arena %u (want %u)",
		      strerror(err), lk->out_state, lk->out_arena_id, p.a->id);
	}
	memset(pg + at * 8, 0, 64);
}

/* ---- operations: pins ------------------------------------------------------------------ */

static void pipe_drain_check(struct fz_thread *t)
{
	static __thread uint64_t buf[FZ_PGWORDS];

	for (int i = 0; i < t->nspliced; i++) {
		struct fz_run *r = t->spliced[i].run;
		uint32_t pg = t->spliced[i].page;
		ssize_t n = read(t->spipe[0], buf, PAGE_SZ);
		unsigned int pos = w_pos(r, pg);

		CHECK(t, n == PAGE_SZ, "pipe read of spliced page: %zd (%s)",
		      n, strerror(errno));
		if (n == PAGE_SZ) {
			for (unsigned int k = 0; k < FZ_PGWORDS; k++) {
				uint64_t want = k == pos ? w_expect(r, pg) : 0;

				if (buf[k] != want) {
					fz_fail(t, "spliced page %u of %s run %#" PRIx64 ": word %u is %#" PRIx64 ", expected %#" PRIx64,
						pg, r->freed ? "freed" : "live",
						r->off, k, buf[k], want);
					break;
				}
			}
		}
		run_put(t, r);
	}
	t->nspliced = 0;
	drain_fd(t->spipe[0]);
}

static void op_vmsplice(struct fz_thread *t)
{
	struct pick p;
	uint32_t k = 1 + rn(&t->rng, 3);
	struct iovec iov;
	ssize_t n;

	if (!pick_live(t, P_PRIVATE, &p))
		return;
	if (p.page + k > run_pages(p.r))
		k = run_pages(p.r) - p.page;
	if (t->nspliced + (int)k > FZ_PIPE_PAGES)
		pipe_drain_check(t);
	iov.iov_base = p.w->base + p.r->off + (uint64_t)p.page * PAGE_SZ;
	iov.iov_len = k * PAGE_SZ;
	n = vmsplice(t->spipe[1], &iov, 1, SPLICE_F_NONBLOCK);
	CHECK(t, n == (ssize_t)(k * PAGE_SZ), "vmsplice of %u live pages: %zd (%s)",
	      k, n, strerror(errno));
	if (n <= 0)
		return;
	for (uint32_t i = 0; i < n / PAGE_SZ; i++) {
		t->spliced[t->nspliced].run = p.r;
		t->spliced[t->nspliced++].page = p.page + i;
		p.r->refs++;
		t->spliced_pages++;
	}
}

static void op_pipe_drain(struct fz_thread *t)
{
	pipe_drain_check(t);
	if (t->nrpiped) {
		drain_fd(t->rpipe[0]);
		t->nrpiped = 0;
	}
}

/* ---- operations: the VMA ------------------------------------------------------------ */

/* The window is still one VMA, exactly where it was. */
static void check_window_intact(struct fz_thread *t, struct fz_win *w)
{
	char want[64], *line;
	int fd = open("/proc/self/maps", O_RDONLY | O_CLOEXEC);
	size_t len = 0;
	ssize_t n;

	if (fd < 0)
		return;
	while (len < sizeof(t->mapsbuf) - 1 &&
	       (n = read(fd, t->mapsbuf + len, sizeof(t->mapsbuf) - 1 - len)) > 0)
		len += n;
	close(fd);
	t->mapsbuf[len] = '\0';
	snprintf(want, sizeof(want), "%lx-%lx ", (unsigned long)w->base,
		 (unsigned long)(w->base + fz.window));
	for (line = t->mapsbuf; line && *line; ) {
		if (!strncmp(line, want, strlen(want)))
			return;
		line = strchr(line, '\n');
		if (line)
			line++;
	}
	fz_fail(t, "window %p is no longer one VMA of %zu bytes", w->base,
		fz.window);
}

static const struct {
	int advice;
	const char *name;
	bool flags;	/* changes vm_flags: a part of the window is refused */
} advices[] = {
	{ MADV_NORMAL, "NORMAL", true },
	{ MADV_RANDOM, "RANDOM", true },
	{ MADV_SEQUENTIAL, "SEQUENTIAL", true },
	{ MADV_WILLNEED, "WILLNEED", false },
	{ MADV_DONTNEED, "DONTNEED", false },
	{ MADV_FREE, "FREE", false },
	{ MADV_REMOVE, "REMOVE", false },
	{ MADV_DONTFORK, "DONTFORK", true },
	{ MADV_DOFORK, "DOFORK", true },
	{ MADV_MERGEABLE, "MERGEABLE", true },
	{ MADV_UNMERGEABLE, "UNMERGEABLE", true },
	{ MADV_HUGEPAGE, "HUGEPAGE", true },
	{ MADV_NOHUGEPAGE, "NOHUGEPAGE", true },
	{ MADV_DONTDUMP, "DONTDUMP", true },
	{ MADV_DODUMP, "DODUMP", true },
	{ MADV_WIPEONFORK, "WIPEONFORK", true },
	{ MADV_KEEPONFORK, "KEEPONFORK", true },
	{ MADV_COLD, "COLD", false },
	{ MADV_PAGEOUT, "PAGEOUT", false },
	{ MADV_POPULATE_READ, "POPULATE_READ", false },
	{ MADV_POPULATE_WRITE, "POPULATE_WRITE", false },
	{ MADV_DONTNEED_LOCKED, "DONTNEED_LOCKED", false },
	{ MADV_COLLAPSE, "COLLAPSE", false },
};

static bool advice_result_ok(int advice, bool whole, bool live, int err)
{
	switch (advice) {
	case MADV_FREE:
	case MADV_WIPEONFORK:
		/* Anonymous memory only. */
		return err == EINVAL;
	case MADV_REMOVE:
		return err == ENODEV || err == EOPNOTSUPP || err == EINVAL ||
		       err == EACCES;
	case MADV_POPULATE_READ:
	case MADV_POPULATE_WRITE:
		/* Only a range of live chunks can be populated. */
		return live ? !err : err == EFAULT;
	case MADV_COLLAPSE:
		return !err || err == EINVAL || err == EAGAIN || err == ENOMEM;
	case MADV_DODUMP:
		/* VM_DONTEXPAND is VM_SPECIAL: dumps stay off. */
		return err == EINVAL;
	case MADV_DOFORK:
		/*
		 * Refused on VM_SPECIAL VMAs after 6.12 (7.3's madvise);
		 * 6.1 and 6.12 refuse it on VM_IO only.
		 */
		return !err || err == EINVAL;
	case MADV_MERGEABLE:
	case MADV_UNMERGEABLE:
	case MADV_HUGEPAGE:
	case MADV_NOHUGEPAGE:
		/* EINVAL: no KSM or THP in this kernel, or a split. */
		return !err || err == EINVAL;
	default:
		break;
	}
	if (!whole)
		for (size_t i = 0; i < sizeof(advices) / sizeof(advices[0]); i++)
			if (advices[i].advice == advice && advices[i].flags)
				return !err || err == EINVAL;
	return !err;
}

static void op_madvise(struct fz_thread *t)
{
	int i = rn(&t->rng, sizeof(advices) / sizeof(advices[0]));
	struct fz_win *w;
	struct pick p;
	char *a;
	size_t len;
	bool whole = false, live = false;
	int err;

	switch (rn(&t->rng, 3)) {
	case 0:
		w = pick_win(t, false, true);
		if (!w)
			return;
		a = w->base;
		len = fz.span;		/* both parts */
		whole = true;
		break;
	case 1:
		if (!pick_live(t, P_ANY, &p))
			return;
		w = p.w;
		a = w->base + p.r->off + (uint64_t)p.page * PAGE_SZ;
		len = (1 + rn(&t->rng, run_pages(p.r) - p.page)) * PAGE_SZ;
		live = true;
		break;
	default:
		if (!pick_freed(t, P_ANY, &p))
			return;
		w = p.w;
		a = w->base + p.r->off;
		len = (size_t)p.r->npages * PAGE_SZ;
		break;
	}
	/* Populating the whole window stops at its first hole. */
	err = madvise(a, len, advices[i].advice) ? errno : 0;
	CHECK(t, advice_result_ok(advices[i].advice, whole, live, err),
	      "madvise(%s) of %s: %s", advices[i].name,
	      whole ? "the window" : live ? "live chunks" : "freed chunks",
	      strerror(err));
	if (whole && !err && advices[i].advice == MADV_DOFORK)
		w->dofork = true;
	if (whole && !err && advices[i].advice == MADV_DONTFORK)
		w->dofork = false;
	if (advices[i].flags && !whole)
		check_window_intact(t, w);
}

static void op_mprotect(struct fz_thread *t)
{
	struct fz_win *w = pick_win(t, false, true);
	struct pick p;
	int err;

	if (!w)
		return;
	switch (rn(&t->rng, 4)) {
	case 0:		/* part of it: would split */
		err = mprotect(w->base + cs_align_down(rnd(&t->rng) % fz.window),
			       fz.cs, PROT_READ) ? errno : 0;
		CHECK(t, err == EINVAL, "mprotect of part of the window: %s",
		      strerror(err));
		check_window_intact(t, w);
		break;
	case 1:		/* exec was taken away at mmap */
		err = mprotect(w->base, fz.window,
			       PROT_READ | PROT_WRITE | PROT_EXEC) ? errno : 0;
		CHECK(t, err == EACCES, "mprotect(PROT_EXEC): %s", strerror(err));
		break;
	case 2:		/* read-only for a moment: stores fault with ACCERR */
		if (w->shared || !pick_live(t, P_PRIVATE, &p) || p.w != w)
			break;
		/* Both parts: the page may be a small run's. */
		err = mprotect(w->base, fz.span, PROT_READ) ? errno : 0;
		CHECK(t, !err, "mprotect(PROT_READ) of the window: %s",
		      strerror(err));
		if (!err) {
			volatile uint64_t *q = w_ptr(w, p.r, p.page);

			CHECK(t, !fz_store(q, w_val(p.r, p.page)) &&
			      fz_si_code == SEGV_ACCERR && fz_si_addr == (void *)q,
			      "store to a read-only window: code %d at %p",
			      fz_si_code, fz_si_addr);
		}
		err = mprotect(w->base, fz.span, PROT_READ | PROT_WRITE) ?
		      errno : 0;
		CHECK(t, !err, "mprotect back to RW: %s", strerror(err));
		break;
	default:
		err = mprotect(w->base, fz.span, PROT_READ | PROT_WRITE) ?
		      errno : 0;
		CHECK(t, !err, "mprotect(RW) of the window: %s", strerror(err));
		break;
	}
}

static void op_mremap(struct fz_thread *t)
{
	struct fz_win *w = pick_win(t, false, true);
	void *r, *res = MAP_FAILED, *from;
	int how = rn(&t->rng, 5), err;
	uint64_t off;

	if (!w || w->shared)
		return;
	pthread_mutex_lock(&fz.vm_lock);
	errno = 0;
	from = w->base;
	switch (how) {
	case 0:		/* grow in place */
		res = mremap(w->base, fz.window, fz.window + fz.cs, 0);
		break;
	case 1:		/* shrink: splits */
		res = mremap(w->base, fz.window, fz.window - fz.cs, 0);
		break;
	case 2:		/* move the whole window elsewhere */
		r = mmap(NULL, fz.window, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (r == MAP_FAILED)
			break;
		res = mremap(w->base, fz.window, fz.window,
			     MREMAP_MAYMOVE | MREMAP_FIXED, r);
		/* The kernel may have unmapped r already; no one else maps. */
		if (res == MAP_FAILED)
			munmap(r, fz.window);
		break;
	case 3:		/* move a part */
		off = cs_align_down(rnd(&t->rng) % (fz.window - fz.cs));
		from = w->base + off;
		res = mremap(from, fz.cs, fz.cs, MREMAP_MAYMOVE);
		break;
	default:	/* keep the old one mapped too */
		res = mremap(w->base, fz.window, fz.window,
			     MREMAP_MAYMOVE | MREMAP_DONTUNMAP);
		break;
	}
	err = errno;
	pthread_mutex_unlock(&fz.vm_lock);
	if (res == from) {
		/* Same size, nothing to move: a no-op the kernel allows. */
		check_window_intact(t, w);
		return;
	}
	if (res != MAP_FAILED) {
		fz_fail(t, "mremap (way %d) of the window worked: %p -> %p", how,
			from, res);
		if (how == 2)
			w->base = res;
		return;
	}
	CHECK(t, err == EINVAL || err == EFAULT || err == ENOMEM,
	      "mremap (way %d): %s", how, strerror(err));
	check_window_intact(t, w);
}

/* munmap of the whole window: allowed; a closed file goes with it. */
static void win_unmap(struct fz_thread *t, struct fz_win *w)
{
	int err;

	wlock(w);
	pthread_mutex_lock(&fz.vm_lock);
	err = munmap(w->base, fz.span) ? errno : 0;
	pthread_mutex_unlock(&fz.vm_lock);
	CHECK(t, !err, "munmap of the whole window: %s", strerror(err));
	w->base = NULL;
	w->dofork = false;
	wunlock(w);
	if (w->fd < 0)
		/* Closed before: that was the last reference. */
		win_forget(t, w);
}

static void op_munmap(struct fz_thread *t)
{
	struct fz_win *w = pick_win(t, false, true);
	uint64_t off;
	int err;

	if (!w)
		return;
	if (chance(&t->rng, 80)) {
		off = cs_align_down(rnd(&t->rng) % fz.window) +
		      PAGE_SZ * rn(&t->rng, 512);
		err = munmap(w->base + off, PAGE_SZ * (1 + rn(&t->rng, 1024))) ?
		      errno : 0;
		CHECK(t, err == EINVAL, "munmap of part of the window: %s",
		      strerror(err));
		check_window_intact(t, w);
		return;
	}
	win_unmap(t, w);
}

static int do_mmap(struct fz_thread *t, struct fz_win *w)
{
	void *p;
	int err;

	/* Both parts, the small window right after the chunk window. */
	pthread_mutex_lock(&fz.vm_lock);
	p = arena_map_window(w->fd, fz.window);
	err = p ? 0 : errno;
	pthread_mutex_unlock(&fz.vm_lock);
	if (w->mapped_once) {
		CHECK(t, err == EBUSY, "second mmap of a window: %s",
		      strerror(err));
		if (!err) {
			munmap(p, fz.span);
		}
		return -1;
	}
	t->nomem_tries++;
	if (err == ENOMEM) {
		t->enomem++;
		return -1;
	}
	CHECK(t, !err, "mmap of the window: %s", strerror(err));
	if (err)
		return -1;
	CHECK(t, (uintptr_t)p % fz.cs == 0, "window at %p is not chunk aligned",
	      p);
	wlock(w);
	w->base = p;
	w->mapped_once = true;
	wunlock(w);
	return 0;
}

static void op_mmap(struct fz_thread *t)
{
	struct fz_win *w = pick_win(t, true, false);
	int how = rn(&t->rng, 8), err, want = EINVAL;
	void *p = MAP_FAILED;
	size_t len = fz.window;
	int prot = PROT_READ | PROT_WRITE, flags = MAP_SHARED;
	off_t off = 0;

	if (!w)
		return;
	if (how == 0 || !w->mapped_once) {
		if (how == 0 || chance(&t->rng, 60)) {
			do_mmap(t, w);
			return;
		}
	}
	switch (how) {
	case 1:
		len = chance(&t->rng, 50) ? fz.window - fz.cs :
		      fz.window + PAGE_SZ * (1 + rn(&t->rng, 600));
		break;
	case 2:
		off = PAGE_SZ * (1 + rn(&t->rng, 1024));
		break;
	case 3:
		/* Read-only: a private writable 64 GiB would hit overcommit. */
		flags = MAP_PRIVATE;
		prot = PROT_READ;
		break;
	case 4:
		prot |= PROT_EXEC;
		want = EPERM;
		break;
	case 5:
		len = PAGE_SZ * (1 + rn(&t->rng, 1024));
		break;
	case 6:	/* huge offset: pgoff overflow checks */
		off = (off_t)(~0ULL >> 1) & ~(off_t)(PAGE_SZ - 1);
		want = 0;	/* EINVAL or EOVERFLOW */
		break;
	default: {
		/*
		 * A hole of the window and two chunks; the window placed
		 * 1..511 pages past the hole's first chunk boundary, so
		 * never chunk aligned and always inside the hole.
		 */
		size_t hole = fz.window + 2 * fz.cs;
		void *h;

		pthread_mutex_lock(&fz.vm_lock);
		h = mmap(NULL, hole, PROT_NONE,
			 MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
		if (h != MAP_FAILED) {
			munmap(h, hole);
			h = (void *)(((uintptr_t)h + fz.cs - 1) &
				     ~(uintptr_t)(fz.cs - 1));
			p = mmap((char *)h + PAGE_SZ * (1 + rn(&t->rng, 511)),
				 fz.window, prot, flags | MAP_FIXED_NOREPLACE,
				 w->fd, 0);
		}
		err = p == MAP_FAILED ? errno : 0;
		pthread_mutex_unlock(&fz.vm_lock);
		/* EEXIST: libc mapped into the hole meanwhile; no verdict. */
		if (err == EEXIST)
			return;
		CHECK(t, err == EINVAL, "mmap at an unaligned fixed address: %s",
		      strerror(err));
		if (!err)
			munmap(p, fz.window);
		return;
	}
	}
	pthread_mutex_lock(&fz.vm_lock);
	p = mmap(NULL, len, prot, flags, w->fd, off);
	err = p == MAP_FAILED ? errno : 0;
	pthread_mutex_unlock(&fz.vm_lock);
	if (!err) {
		fz_fail(t, "mmap (way %d) worked", how);
		munmap(p, len);
		return;
	}
	if (want)
		CHECK(t, err == want || (w->mapped_once && err == EBUSY) ||
		      (how == 4 && err == EACCES),
		      "mmap (way %d): %s", how, strerror(err));
	else
		CHECK(t, err == EINVAL || err == EOVERFLOW || err == ENOMEM,
		      "mmap with huge offset: %s", strerror(err));
}

/* ---- operations: files ------------------------------------------------------------- */

static void op_open(struct fz_thread *t)
{
	struct fz_win *w = NULL;
	int fd;

	if (chance(&t->rng, 10)) {
		/* Read-only: no writable shared mapping. */
		void *p;
		int err;

		fd = open(ARENA_DEV, O_RDONLY | O_CLOEXEC);
		CHECK(t, fd >= 0, "open O_RDONLY: %s", strerror(errno));
		if (fd < 0)
			return;
		pthread_mutex_lock(&fz.vm_lock);
		p = mmap(NULL, fz.window, PROT_READ | PROT_WRITE, MAP_SHARED,
			 fd, 0);
		err = p == MAP_FAILED ? errno : 0;
		pthread_mutex_unlock(&fz.vm_lock);
		CHECK(t, err == EACCES, "writable mmap of an O_RDONLY file: %s",
		      strerror(err));
		if (!err)
			munmap(p, fz.window);
		close(fd);
		return;
	}
	for (int i = 0; i < FZ_WINS; i++)
		if (!t->win[i].used) {
			w = &t->win[i];
			break;
		}
	if (!w) {
		/* Every entry taken: let a closed file's window go. */
		for (int i = 0; i < FZ_WINS && !w; i++)
			if (t->win[i].fd < 0 && t->win[i].base)
				w = &t->win[i];
		if (w)
			win_unmap(t, w);
		return;
	}
	fd = open(ARENA_DEV, O_RDWR | O_CLOEXEC);
	t->nomem_tries++;
	if (fd < 0 && errno == ENOMEM) {
		t->enomem++;
		return;
	}
	CHECK(t, fd >= 0, "open: %s", strerror(errno));
	if (fd < 0)
		return;
	wlock(w);
	win_clear(w);
	w->fd = fd;
	w->used = true;
	/* The other threads race in one window in four. */
	__atomic_store_n(&w->shared, fz.threads > 1 && chance(&t->rng, 25),
			 __ATOMIC_RELEASE);
	wunlock(w);
	if (chance(&t->rng, 80))
		do_mmap(t, w);
}

static void op_close(struct fz_thread *t)
{
	struct fz_win *w = pick_win(t, true, false);

	if (!w)
		return;
	wlock(w);
	CHECK(t, !close(w->fd), "close: %s", strerror(errno));
	w->fd = -1;
	if (!w->base) {
		wunlock(w);
		win_forget(t, w);
		return;
	}
	/* The window lives on until munmap: its arenas too. */
	wunlock(w);
}

/* ---- operations: processes ------------------------------------------------------------ */

/*
 * A child of this (threaded) process: the inherited file is not its own
 * (EPERM); with MADV_DOFORK it shares live chunks; a freed address kills it
 * with SIGSEGV.
 */
static void op_fork_check(struct fz_thread *t)
{
	struct fz_win *w = pick_win(t, true, false), *wl = NULL;
	struct pick live, freed;
	bool have_live, have_freed, expect_segv;
	uint64_t lv = 0, want = 0;
	volatile uint64_t *lp = NULL;
	char *fa = NULL;
	int status;
	pid_t pid;

	if (!w)
		return;
	have_live = pick_live(t, P_PRIVATE, &live) && live.w->dofork;
	if (have_live) {
		wl = live.w;
		lp = w_ptr(wl, live.r, live.page);
		want = w_expect(live.r, live.page);
	}
	have_freed = pick_freed(t, P_ANY, &freed);
	if (have_freed)
		fa = freed.w->base + freed.r->off +
		     (uint64_t)freed.page * PAGE_SZ + rn(&t->rng, PAGE_SZ);
	/* Without DOFORK the child has no window at all: it faults too. */
	expect_segv = have_freed;
	t->forks++;
	pid = fork();
	if (pid < 0) {
		CHECK(t, errno == EAGAIN || errno == ENOMEM, "fork: %s",
		      strerror(errno));
		return;
	}
	if (pid == 0) {
		struct arena_info in = { .size = sizeof(in) };

		if (ioctl(w->fd, ARENA_IOC_GET_INFO, &in) != -1 || errno != EPERM)
			_exit(10);
		if (!w->base && !w->mapped_once &&
		    (mmap(NULL, fz.window, PROT_READ | PROT_WRITE, MAP_SHARED,
			  w->fd, 0) != MAP_FAILED || errno != EPERM))
			_exit(11);
		if (have_live) {
			if (!fz_load(lp, &lv))
				_exit(12);
			if (lv != want)
				_exit(13);
		}
		if (expect_segv) {
			signal(SIGSEGV, SIG_DFL);
			*(volatile char *)fa = 1;
			_exit(14);
		}
		_exit(0);
	}
	if (waitpid(pid, &status, 0) != pid) {
		fz_fail(t, "waitpid: %s", strerror(errno));
		return;
	}
	if (expect_segv)
		CHECK(t, WIFSIGNALED(status) && WTERMSIG(status) == SIGSEGV,
		      "child touching freed %p: %s %d", fa,
		      WIFSIGNALED(status) ? "signal" : "exit",
		      WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
	else
		CHECK(t, WIFEXITED(status) && !WEXITSTATUS(status),
		      "fork child: %s %d", WIFSIGNALED(status) ? "signal" : "exit",
		      WIFSIGNALED(status) ? WTERMSIG(status) : WEXITSTATUS(status));
}

/* A page a child fills: word 0 names it, the others follow from word 0. */
static uint64_t child_word(uint64_t w0, unsigned int i)
{
	return i ? w0 ^ (0x9e3779b97f4a7c15ULL * i) : w0;
}

/*
 * A child process opens its own window, makes arenas, fills and vmsplices
 * pages into a pipe we hold, frees some, and then exits, dies of SIGSEGV,
 * or is killed by us at a random moment (often in the middle of an ioctl).
 * The pages in the pipe must keep the child's bytes whatever happened.
 */
static void op_fork_exit(struct fz_thread *t)
{
	uint64_t seed = rnd(&t->rng);
	uint32_t seq = ++t->child_seq;
	int pfd[2], status, mode = rn(&t->rng, 4);
	static __thread uint64_t buf[FZ_PGWORDS];
	unsigned int pages = 0;
	pid_t pid;
	ssize_t n;

	if (pipe2(pfd, O_CLOEXEC | O_NONBLOCK))
		return;
	t->forks++;
	pid = fork();
	if (pid < 0) {
		close(pfd[0]);
		close(pfd[1]);
		return;
	}
	if (pid == 0) {
		struct rng r = { seed };
		struct arena_info in = { .size = sizeof(in) };
		int fd = open(ARENA_DEV, O_RDWR);
		uint32_t ids[3] = { 0 };
		char *base;

		close(pfd[0]);
		if (fd < 0 || ioctl(fd, ARENA_IOC_GET_INFO, &in))
			_exit(20);
		base = arena_map_window(fd, in.out_window_size);
		if (!base)
			_exit(21);
		for (int k = 0; k < 3; k++) {
			/* A small run (with CREATE) or whole chunks. */
			struct arena_alloc al = {
				.size = sizeof(al), .flags = ARENA_ALLOC_CREATE,
				.length = PAGE_SZ * (1 + rn(&r, 2 * in.out_chunk_size / PAGE_SZ)),
			};
			struct arena_create cr = { .size = sizeof(cr) };
			struct arena_alloc_chunks ac = { .size = sizeof(ac) };
			uint64_t npages;

			if (rn(&r, 2)) {
				if (ioctl(fd, ARENA_IOC_ALLOC, &al))
					continue;	/* ENOMEM: fine */
				ids[k] = al.arena_id;
				ac.out_offset = al.out_offset;
				npages = al.out_length / PAGE_SZ;
			} else {
				if (ioctl(fd, ARENA_IOC_CREATE, &cr))
					_exit(22);
				ids[k] = cr.out_arena_id;
				ac.arena_id = cr.out_arena_id;
				ac.nr_chunks = 1 + rn(&r, 2);
				if (ioctl(fd, ARENA_IOC_ALLOC_CHUNKS, &ac))
					continue;	/* ENOMEM: fine */
				npages = ac.nr_chunks * in.out_chunk_size / PAGE_SZ;
			}
			for (unsigned int pg = 0; pg < 4; pg++) {
				uint64_t *q = (uint64_t *)(base + ac.out_offset +
					       rn(&r, npages) * PAGE_SZ);
				uint64_t w0 = 0xc0de000000000000ULL |
					      (uint64_t)seq << 16 | (k * 4 + pg);
				struct iovec iov = { q, PAGE_SZ };

				for (unsigned int i = 0; i < FZ_PGWORDS; i++)
					q[i] = child_word(w0, i);
				if (rn(&r, 2))
					vmsplice(pfd[1], &iov, 1, SPLICE_F_NONBLOCK);
			}
			if (rn(&r, 2)) {
				struct arena_free fr = { .size = sizeof(fr),
							 .arena_id = ids[k] };

				ioctl(fd, ARENA_IOC_FREE, &fr);
				if (mode == 1) {
					signal(SIGSEGV, SIG_DFL);
					*(volatile char *)(base + ac.out_offset) = 1;
				}
			}
		}
		if (mode == 3)
			close(fd);	/* the window keeps the file */
		if (mode == 2)
			for (;;) {
				struct arena_create cr = { .size = sizeof(cr) };
				struct arena_alloc_chunks ac = { .size = sizeof(ac) };
				struct arena_free fr = { .size = sizeof(fr) };

				if (ioctl(fd, ARENA_IOC_CREATE, &cr))
					continue;
				ac.arena_id = fr.arena_id = cr.out_arena_id;
				ac.nr_chunks = 1;
				if (!ioctl(fd, ARENA_IOC_ALLOC_CHUNKS, &ac))
					base[ac.out_offset] = 1;
				ioctl(fd, ARENA_IOC_FREE, &fr);
			}
		_exit(0);
	}
	close(pfd[1]);
	if (mode == 2 || chance(&t->rng, 25)) {
		usleep(rn(&t->rng, 20000));
		kill(pid, SIGKILL);
		t->kills++;
	}
	if (waitpid(pid, &status, 0) != pid) {
		fz_fail(t, "waitpid: %s", strerror(errno));
	} else if (WIFEXITED(status)) {
		CHECK(t, WEXITSTATUS(status) == 0, "child %u exited %d", seq,
		      WEXITSTATUS(status));
	} else {
		CHECK(t, WTERMSIG(status) == SIGKILL ||
		      (mode == 1 && WTERMSIG(status) == SIGSEGV),
		      "child %u (mode %d) killed by signal %d", seq, mode,
		      WTERMSIG(status));
	}
	/* Its arenas are gone; what it spliced is still its data. */
	while ((n = read(pfd[0], buf, PAGE_SZ)) == PAGE_SZ) {
		pages++;
		CHECK(t, (buf[0] >> 48) == 0xc0de &&
		      ((buf[0] >> 16) & 0xffffffff) == seq,
		      "child %u's spliced page starts with %#" PRIx64, seq, buf[0]);
		for (unsigned int i = 1; i < FZ_PGWORDS; i++)
			if (buf[i] != child_word(buf[0], i)) {
				fz_fail(t, "child %u's spliced page: word %u is %#" PRIx64,
					seq, i, buf[i]);
				break;
			}
	}
	/*
	 * End of file, the child being gone; or EAGAIN when a child another
	 * thread forked meanwhile inherited the write end.
	 */
	CHECK(t, n == 0 || (n == -1 && errno == EAGAIN),
	      "child pipe: read %zd (%s) after %u pages", n, strerror(errno),
	      pages);
	t->spliced_pages += pages;
	close(pfd[0]);
}

/* ---- operations: tunables, counters, netlink ---------------------------------------------- */

static int param_write_str(const char *dir, const char *name, const char *v)
{
	char path[128];
	int fd, err = 0;

	snprintf(path, sizeof(path), "%s/%s", dir, name);
	fd = open(path, O_WRONLY | O_CLOEXEC);
	if (fd < 0)
		return errno;
	if (write(fd, v, strlen(v)) < 0)
		err = errno;
	close(fd);
	return err;
}

#define PARAMS "/sys/module/arena/parameters"

static void op_tunable(struct fz_thread *t)
{
	char v[32];
	int err;

	switch (rn(&t->rng, 6)) {
	case 0: {	/* a valid pair of watermarks, high first */
		unsigned int lo = rn(&t->rng, 9), hi = lo + rn(&t->rng, 40);

		snprintf(v, sizeof(v), "%u", hi > 64 ? 64 : hi);
		err = param_write_str(PARAMS, "pool_high", v);
		if (!err) {
			snprintf(v, sizeof(v), "%u", lo);
			err = param_write_str(PARAMS, "pool_low", v);
		}
		/* Another thread may have moved the other one: EINVAL. */
		CHECK(t, !err || err == EINVAL, "pool watermarks: %s",
		      strerror(err));
		break;
	}
	case 1: {	/* invalid values */
		static const char *const bad[] = { "65537", "-1", "x",
						   "99999999999999999999" };

		err = param_write_str(PARAMS, chance(&t->rng, 50) ? "pool_low" :
				      "pool_high", bad[rn(&t->rng, 4)]);
		CHECK(t, err == EINVAL || err == ERANGE, "bad watermark: %s",
		      strerror(err));
		break;
	}
	case 2:		/* more than RAM, or not a number */
		err = param_write_str(PARAMS, "max_mb",
				      chance(&t->rng, 50) ? "1099511627776" : "abc");
		CHECK(t, err == EINVAL || err == ERANGE, "bad max_mb: %s",
		      strerror(err));
		break;
	case 3:
		snprintf(v, sizeof(v), "%u", rn(&t->rng, 20000));
		err = param_write_str(PARAMS, "held_warn_ms", v);
		CHECK(t, !err, "held_warn_ms: %s", strerror(err));
		break;
	case 4:
		err = param_write_str("/sys/kernel/arena", "drain",
				      chance(&t->rng, 80) ? "1" : "0");
		CHECK(t, !err || err == EINVAL, "drain: %s", strerror(err));
		break;
	default:	/* read-only parameters stay read-only */
		err = param_write_str(PARAMS, chance(&t->rng, 50) ?
				      "chunk_kib" : "window_gib", "64");
		CHECK(t, err == EACCES || err == EPERM,
		      "write to a read-only parameter: %s", strerror(err));
		break;
	}
}

static void op_sysfs_read(struct fz_thread *t)
{
	static const char *const names[] = {
		"chunks_ready", "chunks_in_use", "chunks_quarantined",
		"chunks_dirty", "chunks_total", "arenas_live", "windows_open",
		"bytes_total", "node0/ready", "chunk_size",
	};
	long v = arena_counter(names[rn(&t->rng, 10)]);

	CHECK(t, v >= 0, "counter read: %ld", v);
}

static void op_netlink(struct fz_thread *t)
{
	static const uint8_t cmd[] = { ARENA_NL_CMD_POOL_GET,
				       ARENA_NL_CMD_ARENA_GET,
				       ARENA_NL_CMD_QUARANTINE_GET };
	int err;

	if (!t->nl_ok)
		return;
	err = anl_dump(t->nl, cmd[rn(&t->rng, 3)], NULL, NULL);
	CHECK(t, !err, "netlink dump: %s", strerror(-err));
}

/* ---- racing on another thread's shared window ----------------------------------------------- */

static void op_race(struct fz_thread *t)
{
	struct fz_thread *u;
	struct fz_win *w = NULL;
	struct fz_arena *a = NULL;
	struct fz_run *r = NULL;
	int s, n = 0, err;
	uint64_t v = rnd(&t->rng);
	char *addr;

	if (fz.threads < 2)
		return;
	u = &fz_threads[(t->idx + 1 + rn(&t->rng, fz.threads - 1)) % fz.threads];
	s = rn(&t->rng, FZ_WINS);
	for (int i = 0; i < FZ_WINS && !w; i++) {
		struct fz_win *c = &u->win[(s + i) % FZ_WINS];

		/* Rechecked under the lock. */
		if (__atomic_load_n(&c->shared, __ATOMIC_ACQUIRE))
			w = c;
	}
	if (!w)
		return;
	if (pthread_rwlock_tryrdlock(&w->lock))
		return;
	if (!w->used || !w->shared || !w->base)
		goto out;
	/* A live or freeing arena's run, or a freed run. */
	s = rn(&t->rng, FZ_ARENAS);
	for (int i = 0; i < FZ_ARENAS && !r; i++) {
		struct fz_arena *c = &w->ar[(s + i) % FZ_ARENAS];

		if (c->state != A_NONE && c->nruns) {
			a = c;
			r = c->runs[rn(&t->rng, c->nruns)];
		}
	}
	if (!r && w->nfreed)
		r = w->freed[rn(&t->rng, w->nfreed)];
	if (!r)
		goto out;
	addr = w->base + r->off + PAGE_SZ * (uint64_t)rn(&t->rng, run_pages(r)) +
	       8 * rn(&t->rng, FZ_PGWORDS);
	t->races++;
	switch (rn(&t->rng, 10)) {
	case 0:
		fz_store((volatile uint64_t *)addr, v);
		break;
	case 1:
		fz_load((volatile uint64_t *)addr, &v);
		break;
	case 2:
		n = sys_copy_in(t, addr, &v, 0);
		break;
	case 3: {
		struct iovec iov = { (void *)((uintptr_t)addr & ~(PAGE_SZ - 1)),
				     PAGE_SZ };

		if (t->nrpiped >= 8) {
			drain_fd(t->rpipe[0]);
			t->nrpiped = 0;
		}
		if (vmsplice(t->rpipe[1], &iov, 1, SPLICE_F_NONBLOCK) > 0)
			t->nrpiped++;
		break;
	}
	case 4:
		n = sys_copy_in(t, addr, &v, 1);
		break;
	case 5:
		err = madvise((void *)((uintptr_t)addr & ~(PAGE_SZ - 1)), PAGE_SZ,
			      MADV_DONTNEED) ? errno : 0;
		CHECK(t, !err, "racer DONTNEED: %s", strerror(err));
		break;
	case 6:
		err = madvise((void *)((uintptr_t)addr & ~(PAGE_SZ - 1)), PAGE_SZ,
			      MADV_POPULATE_WRITE) ? errno : 0;
		CHECK(t, !err || err == EFAULT, "racer POPULATE_WRITE: %s",
		      strerror(err));
		break;
	case 7:
		if (w->fd >= 0) {
			struct arena_lookup lk = { .size = sizeof(lk),
						   .offset = r->off };

			err = xioctl(w->fd, ARENA_IOC_LOOKUP, &lk);
			CHECK(t, !err && (lk.out_state == ARENA_SLOT_LIVE ||
					  lk.out_state == ARENA_SLOT_FREED),
			      "racer LOOKUP: %s, state %u", strerror(err),
			      lk.out_state);
		}
		break;
	case 8:		/* free it too, if its owner is freeing it */
		if (a && a->state == A_FREEING && w->fd >= 0) {
			struct arena_free fr = { .size = sizeof(fr),
						 .arena_id = a->id };

			err = xioctl(w->fd, ARENA_IOC_FREE, &fr);
			CHECK(t, !err || err == ENOENT, "racer FREE: %s",
			      strerror(err));
			if (!err)
				atomic_store(&a->racer_freed, 1);
		}
		break;
	default:
		if (w->fd >= 0) {
			struct arena_free fr = { .size = sizeof(fr),
				.arena_id = 0x80000000 | (uint32_t)v };

			err = xioctl(w->fd, ARENA_IOC_FREE, &fr);
			CHECK(t, err == ENOENT, "racer FREE of unknown id: %s",
			      strerror(err));
		}
		break;
	}
	(void)n;
out:
	pthread_rwlock_unlock(&w->lock);
}

/* ---- the loop ------------------------------------------------------------------------- */

static void (*const op_fn[FZ_NOPS])(struct fz_thread *) = {
	[OP_TOUCH_WRITE] = op_touch_write,
	[OP_TOUCH_READ] = op_touch_read,
	[OP_SYS_WRITE] = op_sys_write,
	[OP_SYS_READ] = op_sys_read,
	[OP_PAGE_CHECK] = op_page_check,
	[OP_CHUNK_CHECK] = op_chunk_check,
	[OP_FREED_PROBE] = op_freed_probe,
	[OP_FREED_SYS] = op_freed_sys,
	[OP_WILD_PROBE] = op_wild_probe,
	[OP_IOC_INFO] = op_ioc_info,
	[OP_IOC_CREATE] = op_ioc_create,
	[OP_IOC_ALLOC] = op_ioc_alloc,
	[OP_IOC_ALLOC2] = op_ioc_alloc2,
	[OP_IOC_FREE] = op_ioc_free,
	[OP_IOC_LOOKUP] = op_ioc_lookup,
	[OP_IOC_CORRUPT] = op_ioc_corrupt,
	[OP_IOC_IN_ARENA] = op_ioc_in_arena,
	[OP_VMSPLICE] = op_vmsplice,
	[OP_PIPE_DRAIN] = op_pipe_drain,
	[OP_MADVISE] = op_madvise,
	[OP_MPROTECT] = op_mprotect,
	[OP_MREMAP] = op_mremap,
	[OP_MUNMAP] = op_munmap,
	[OP_MMAP] = op_mmap,
	[OP_OPEN] = op_open,
	[OP_CLOSE] = op_close,
	[OP_FORK_CHECK] = op_fork_check,
	[OP_FORK_EXIT] = op_fork_exit,
	[OP_TUNABLE] = op_tunable,
	[OP_NETLINK] = op_netlink,
	[OP_SYSFS_READ] = op_sysfs_read,
	[OP_RACE] = op_race,
};

static int pick_op(struct fz_thread *t)
{
	static unsigned int total;
	unsigned int x;

	if (!total)
		for (int i = 0; i < FZ_NOPS; i++)
			total += fz_op_weight[i];
	x = rn(&t->rng, total);
	for (int i = 0; i < FZ_NOPS; i++) {
		if (x < fz_op_weight[i])
			return i;
		x -= fz_op_weight[i];
	}
	return OP_IOC_INFO;
}

/* A thread with no window, or no arena, gets one first. */
static int steer(struct fz_thread *t, int op)
{
	bool any_fd = false, any_live = false;

	for (int i = 0; i < FZ_WINS; i++) {
		struct fz_win *w = &t->win[i];

		if (w->used && w->fd >= 0)
			any_fd = true;
		for (int j = 0; w->used && j < FZ_ARENAS; j++)
			if (w->ar[j].state == A_LIVE && w->ar[j].nruns)
				any_live = true;
	}
	if (!any_fd)
		return OP_OPEN;
	if (!any_live && chance(&t->rng, 50))
		return chance(&t->rng, 50) ? OP_IOC_CREATE : OP_IOC_ALLOC;
	return op;
}

static void thread_cleanup(struct fz_thread *t)
{
	t->op = OP_CLOSE;
	pipe_drain_check(t);
	for (int i = 0; i < FZ_WINS; i++) {
		struct fz_win *w = &t->win[i];

		if (!w->used)
			continue;
		wlock(w);
		if (w->fd >= 0)
			close(w->fd);
		w->fd = -1;
		if (w->base) {
			pthread_mutex_lock(&fz.vm_lock);
			munmap(w->base, fz.span);
			pthread_mutex_unlock(&fz.vm_lock);
		}
		w->base = NULL;
		w->shared = false;
		wunlock(w);
	}
}

static uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000000000ULL + ts.tv_nsec;
}

static void *fz_thread_fn(void *arg)
{
	struct fz_thread *t = arg;
	uint64_t t0;

	cur = t;
	for (t->opno = 0; t->opno < t->nops && !atomic_load(&fz.stop); t->opno++) {
		int op = steer(t, pick_op(t));

		t->op = op;
		if (fz.trace)
			dprintf(2, "# fuzz t%d %lu %s\n", t->idx, t->opno,
				fz_op_name[op]);
		t0 = now_ns();
		op_fn[op](t);
		t->ns[op] += now_ns() - t0;
		t->n[op]++;
	}
	/* Windows are cleared only after every thread stopped racing. */
	return NULL;
}

/* ---- setup and the test ------------------------------------------------------------------ */

static int thread_init(struct fz_thread *t, int idx, unsigned long nops)
{
	memset(t, 0, sizeof(*t));
	t->idx = idx;
	t->nops = nops;
	t->rng.s = fz.seed ^ (0x632be59bd9b4e019ULL * (idx + 1));
	for (int i = 0; i < FZ_WINS; i++) {
		pthread_rwlockattr_t at;

		win_clear(&t->win[i]);
		pthread_rwlockattr_init(&at);
		/* The owner's wrlock must not starve behind racers. */
		pthread_rwlockattr_setkind_np(&at,
			PTHREAD_RWLOCK_PREFER_WRITER_NONRECURSIVE_NP);
		pthread_rwlock_init(&t->win[i].lock, &at);
		pthread_rwlockattr_destroy(&at);
	}
	for (int i = FZ_RUN_POOL - 1; i >= 0; i--) {
		t->runs[i].next_free = t->run_free;
		t->run_free = &t->runs[i];
	}
	if (pipe2(t->dpipe, O_CLOEXEC | O_NONBLOCK) ||
	    pipe2(t->spipe, O_CLOEXEC | O_NONBLOCK) ||
	    pipe2(t->rpipe, O_CLOEXEC | O_NONBLOCK))
		return -errno;
	t->memfd = open("/proc/self/mem", O_RDWR | O_CLOEXEC);
	if (t->memfd < 0)
		return -errno;
	t->iopg = mmap(NULL, 3 * PAGE_SZ, PROT_READ | PROT_WRITE,
		       MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
	if (t->iopg == MAP_FAILED)
		return -errno;
	if (mprotect(IO_GUARD(t), PAGE_SZ, PROT_NONE) ||
	    mprotect(IO_RDONLY(t), PAGE_SZ, PROT_READ))
		return -errno;
	t->nl = calloc(1, sizeof(*t->nl));
	if (t->nl && !anl_open(t->nl) && !anl_resolve(t->nl, ARENA_NL_FAMILY_NAME))
		t->nl_ok = true;
	return 0;
}

static void thread_fini(struct fz_thread *t)
{
	close(t->dpipe[0]);
	close(t->dpipe[1]);
	close(t->spipe[0]);
	close(t->spipe[1]);
	close(t->rpipe[0]);
	close(t->rpipe[1]);
	close(t->memfd);
	munmap(t->iopg, 3 * PAGE_SZ);
	for (int i = 0; i < FZ_WINS; i++)
		pthread_rwlock_destroy(&t->win[i].lock);
	if (t->nl_ok)
		anl_close(t->nl);
	free(t->nl);
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static const char *const baseline_names[] = {
	"arenas_live", "windows_open", "chunks_in_use", "chunks_quarantined",
	"chunks_total", "chunks_ready", "chunks_dirty",
};
#define NBASE (sizeof(baseline_names) / sizeof(baseline_names[0]))

/* Drained and settled: no chunk in flight, the pool empty. */
static bool settle_and_read(long *v)
{
	bool ok = arena_pool_settle(60000);

	if (arena_drain())
		ok = false;
	ok = arena_pool_settle(60000) && ok;
	for (size_t i = 0; i < NBASE; i++)
		v[i] = arena_counter(baseline_names[i]);
	return ok;
}

FIXTURE(fuzz) {
	long low, high, warn, va;
};

FIXTURE_SETUP(fuzz)
{
	struct arena_info in;
	int fd = open(ARENA_DEV, O_RDWR | O_CLOEXEC);

	self->low = -1;
	if (fd < 0)
		SKIP(return, "cannot open %s: %s", ARENA_DEV, strerror(errno));
	ASSERT_EQ(0, arena_get_info(fd, &in));
	close(fd);
	fz.cs = in.out_chunk_size;
	fz.window = in.out_window_size;
	fz.span = 2 * fz.window;
	fz.nr_slots = in.out_max_chunks;
	self->low = arena_param("pool_low");
	self->high = arena_param("pool_high");
	self->warn = arena_param("held_warn_ms");
	self->va = arena_param("va_quarantine_mb");
	ASSERT_GE(self->low, 0);
	/* The model counts on the default freed address-space budget. */
	ASSERT_EQ(0, arena_param_set("va_quarantine_mb", 4096));
}

FIXTURE_TEARDOWN(fuzz)
{
	if (self->low < 0)
		return;
	arena_param_set("pool_high", 65536);
	arena_param_set("pool_low", self->low);
	arena_param_set("pool_high", self->high);
	arena_param_set("held_warn_ms", self->warn);
	arena_param_set("va_quarantine_mb", self->va);
}

TEST_F_TIMEOUT(fuzz, random_operations, 3000)
{
	RETURN_IF_SKIPPED();
	long before[NBASE], after[NBASE];
	long uaf0 = arena_counter("uaf_faults"), wild0 = arena_counter("wild_faults");
	uint64_t tns[FZ_NOPS] = { 0 };
	unsigned long total[FZ_NOPS] = { 0 }, done = 0, faults = 0, efaults = 0, wild = 0;
	unsigned long enomem = 0, forks = 0, kills = 0, spliced = 0, corrupt = 0;
	unsigned long races = 0, nomem_tries = 0;
	double t0, secs;
	int failures = 0, err;
	char line[1024];
	size_t len;

	fz.pid = getpid();
	pthread_mutex_init(&fz.vm_lock, NULL);
	ASSERT_TRUE(settle_and_read(before));
	TH_LOG("seed %#" PRIx64 ", %lu operations, %u threads (replay: ARENA_FUZZ_SEED=%#" PRIx64 " ARENA_FUZZ_OPS=%lu ARENA_FUZZ_THREADS=%u)",
	       fz.seed, fz.ops, fz.threads, fz.seed, fz.ops, fz.threads);

	fz_threads = calloc(fz.threads, sizeof(*fz_threads));
	ASSERT_NE(NULL, fz_threads);
	for (unsigned int i = 0; i < fz.threads; i++) {
		unsigned long n = fz.ops / fz.threads +
				  (i < fz.ops % fz.threads ? 1 : 0);

		ASSERT_EQ(0, thread_init(&fz_threads[i], i, n));
	}
	fz_signals();
	t0 = now_s();
	for (unsigned int i = 0; i < fz.threads; i++)
		ASSERT_EQ(0, pthread_create(&fz_threads[i].th, NULL,
					    fz_thread_fn, &fz_threads[i]));
	for (unsigned int i = 0; i < fz.threads; i++)
		pthread_join(fz_threads[i].th, NULL);
	secs = now_s() - t0;
	for (unsigned int i = 0; i < fz.threads; i++) {
		struct fz_thread *t = &fz_threads[i];

		cur = t;
		thread_cleanup(t);
		for (int k = 0; k < FZ_NOPS; k++) {
			total[k] += t->n[k];
			tns[k] += t->ns[k];
		}
		done += t->opno;
		faults += t->faults;
		wild += t->wild;
		efaults += t->efaults;
		enomem += t->enomem;
		nomem_tries += t->nomem_tries;
		forks += t->forks;
		kills += t->kills;
		spliced += t->spliced_pages;
		corrupt += t->corrupt;
		races += t->races;
		for (int k = 0; k < t->failures && k < FZ_MSGS; k++)
			TH_LOG("%s", t->msg[k]);
		failures += t->failures;
		thread_fini(t);
	}
	cur = NULL;

	TH_LOG("%lu operations in %.1f s: %.0f per second", done, secs,
	       done / (secs > 0 ? secs : 1));
	len = 0;
	for (int k = 0; k < FZ_NOPS; k++) {
		/* count and mean microseconds per operation */
		len += snprintf(line + len, sizeof(line) - len, " %s=%lu/%.0fus",
				fz_op_name[k], total[k],
				total[k] ? tns[k] / 1e3 / total[k] : 0.0);
		if (len > 700 || k == FZ_NOPS - 1) {
			TH_LOG("ops:%s", line);
			len = 0;
		}
	}
	TH_LOG("faults on freed memory %lu, on never-allocated %lu, EFAULT/EIO copies %lu, corrupt ioctls %lu, races %lu, ENOMEM %lu of %lu, forks %lu (%lu killed), spliced pages checked %lu",
	       faults, wild, efaults, corrupt, races, enomem, nomem_tries, forks, kills, spliced);
	TH_LOG("uaf_faults +%ld, wild_faults +%ld",
	       arena_counter("uaf_faults") - uaf0,
	       arena_counter("wild_faults") - wild0);

	/* Every pin is gone: the counters come back to where they were. */
	err = arena_counter_wait("chunks_quarantined", before[3], 60000);
	EXPECT_TRUE(err);
	EXPECT_TRUE(settle_and_read(after));
	for (size_t i = 0; i < NBASE; i++) {
		if (before[i] != after[i])
			TH_LOG("%s: %ld before, %ld after", baseline_names[i],
			       before[i], after[i]);
		EXPECT_EQ(before[i], after[i]);
	}
	EXPECT_EQ(0, failures);
	EXPECT_EQ(fz.ops, done);
	/* ENOMEM may pass now and then, never as the rule. */
	EXPECT_GT(nomem_tries, 0);
	EXPECT_LE(enomem * 100, nomem_tries * FZ_ENOMEM_MAX_PCT)
		TH_LOG("ENOMEM for %lu of %lu calls that may say it", enomem,
		       nomem_tries);
	/* Each probe of freed or wild memory is one fault the module saw. */
	EXPECT_GE(arena_counter("uaf_faults") - uaf0, (long)faults);
	EXPECT_GE(arena_counter("wild_faults") - wild0, (long)wild);
	free(fz_threads);
}

/* What TEST_HARNESS_MAIN would add besides main(). */
static void __attribute__((constructor)) __constructor_order_last(void)
{
	if (!__constructor_order)
		__constructor_order = _CONSTRUCTOR_ORDER_BACKWARD;
}

static unsigned long env_ul(const char *name, unsigned long def)
{
	const char *v = getenv(name);

	return v && *v ? strtoul(v, NULL, 0) : def;
}

int main(int argc, char **argv)
{
	const char *v = getenv("ARENA_FUZZ_SEED");

	if (v && *v) {
		fz.seed = strtoull(v, NULL, 0);
		fz_seed_set = true;
	}
	fz.ops = env_ul("ARENA_FUZZ_OPS", 500000);
	fz.threads = env_ul("ARENA_FUZZ_THREADS", 4);
	fz.trace = env_ul("ARENA_FUZZ_TRACE", 0);
	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			fz.seed = strtoull(argv[++i], NULL, 0);
			fz_seed_set = true;
		} else if (!strcmp(argv[i], "--ops") && i + 1 < argc) {
			fz.ops = strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
			fz.threads = strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--trace")) {
			fz.trace = true;
		} else {
			fprintf(stderr, "usage: %s [--seed N] [--ops N] [--threads N] [--trace]\n",
				argv[0]);
			return 2;
		}
	}
	v = getenv("ARENA_FUZZ_ONLY");
	if (v && *v) {
		/* Only these operations (comma separated names), for triage. */
		for (int i = 0; i < FZ_NOPS; i++) {
			const char *m = strstr(v, fz_op_name[i]);
			size_t l = strlen(fz_op_name[i]);

			if (!m || (m[l] && m[l] != ','))
				fz_op_weight[i] = 0;
		}
	}
	if (!fz.threads)
		fz.threads = 1;
	if (fz.threads > FZ_MAX_THREADS)
		fz.threads = FZ_MAX_THREADS;
	if (!fz_seed_set) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		fz.seed = (uint64_t)ts.tv_sec * 1000000007ULL ^ ts.tv_nsec ^
			  (uint64_t)getpid() << 32;
	}
	/* Before the harness forks: the seed is in the log whatever happens. */
	printf("# arena_fuzz: seed %#" PRIx64 " ops %lu threads %u\n", fz.seed,
	       fz.ops, fz.threads);
	fflush(stdout);
	return test_harness_run(argc, argv);
}
