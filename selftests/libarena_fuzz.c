// SPDX-License-Identifier: GPL-2.0
/*
 * Description: a seeded, replayable fuzzer of libarena's public calls, on
 * each backend (libarena_fuzz.mmap; libarena_fuzz.kernel where /dev/arena
 * is, i.e. in the VM lanes). One thread runs a random sequence of
 * arena_new() (every flag combination, and bad flags), arena_alloc() (the
 * inline path), arena_alloc_aligned(), arena_calloc(), arena_alloc_array()
 * and ARENA_NEW_ARRAY(), arena_strdup()/arena_strndup(), arena_memdup(),
 * arena_sprintf(), arena_realloc(), arena_on_free(), arena_reset(),
 * arena_free(), arena_trim(), arena_contains(), arena_stats(),
 * arena_lookup() and arena_id(), plus bursts of threads allocating from an
 * ARENA_THREADSAFE arena and now and then a fork().
 *
 * It keeps a model of every live object: each is filled with bytes that
 * depend on the seed and the object's number, and checked (memcmp) before
 * its arena is freed or reset, and at random. Checked on every call: the
 * alignment, that a new object overlaps no live one, that fresh memory is
 * zero (but in ARENA_NOZERO arenas), copies and strings hold what they
 * should, arena_contains() and arena_lookup() (LIVE, the arena's id) agree,
 * mapped == requested + waste + available and requested covers the live
 * objects, cleanups run exactly once, newest first, before the memory goes
 * (each reads an object of its arena). Freed and reset objects must fault
 * with SIGSEGV at the exact address (SIGBUS is a failure) and arena_lookup()
 * must call them FREED by their arena (or UNKNOWN), unless the address is in
 * a live arena again. In a fork child the inherited arenas say ECHILD and
 * their objects fault; new arenas work.
 *
 * Failures are injected: the program is linked with -Wl,--wrap for
 * posix_memalign, realloc, mmap, mprotect, madvise and mremap
 * (selftests/Makefile), and an operation now and then runs with each of
 * those calls of the library failing at random (ENOMEM). Then each call
 * must succeed or give NULL with errno ENOMEM (-ENOMEM), change nothing
 * when it fails, and a freed or reset arena's memory must fault all the
 * same. Random injection never fails the last way to revoke memory
 * (mmap(MAP_FIXED, PROT_NONE)); in a fork child on the mmap backend, an
 * arena_free() with every way failing must abort (the documented last
 * resort), and nothing else may. Without injection, ENOMEM from more than
 * LF_ENOMEM_MAX_PCT percent of the calls that may say it fails the run.
 *
 * Replay: the seed is printed first. LIBARENA_FUZZ_SEED=<seed> (or --seed),
 * LIBARENA_FUZZ_OPS=<operations per backend> (--ops), LIBARENA_FUZZ_TRACE=1
 * (--trace: one line per operation); other arguments go to the harness
 * (-r global.mmap_backend runs one backend). Not arena_fuzz's ARENA_FUZZ_*:
 * the debug lane sets ARENA_FUZZ_OPS to a million for that one. A seed
 * gives the same operations and, but for the threads' interleaving and
 * real ENOMEM, the same results.
 */
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <pthread.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "libarena.h"

#include "kselftest_harness.h"
#include "fuzz_rng.h"

/* A long run (LIBARENA_FUZZ_OPS) under TCG takes minutes. */
#undef TEST_TIMEOUT_DEFAULT
#define TEST_TIMEOUT_DEFAULT 1800

#define LF_ARENAS	8	/* arenas alive at once */
#define LF_MAX_OBJS	3000	/* live objects, all arenas */
#define LF_MAX_BYTES	(48UL << 20)	/* live bytes, all arenas */
#define LF_FREED	256	/* freed objects remembered for probes */
#define LF_CLEANUPS	32	/* cleanups per arena */
#define LF_PAT		(8UL << 20)	/* pattern buffer */
#define LF_MSGS		8
#define LF_ENOMEM_MAX_PCT	10
#define LF_THREADS	4
#define LF_THREAD_OBJS	96

/* ---- configuration, random numbers ------------------------------------- */

static struct {
	uint64_t seed;
	unsigned long ops;
	bool trace;
} cfg;
static bool seed_set;

/* struct rng, rnd(), rn(), chance(): fuzz_rng.h */

/* ---- failure injection --------------------------------------------------- */

int __real_posix_memalign(void **p, size_t align, size_t size);
void *__real_realloc(void *p, size_t size);
void *__real_mmap(void *addr, size_t len, int prot, int flags, int fd,
		  off_t off);
int __real_mprotect(void *addr, size_t len, int prot);
int __real_madvise(void *addr, size_t len, int advice);
void *__real_mremap(void *old, size_t old_len, size_t new_len, int flags,
		    ...);

enum { INJ_OFF, INJ_RANDOM, INJ_NO_REVOKE };
static struct {
	int mode;
	unsigned int pct;		/* INJ_RANDOM: chance of each call */
	struct rng rng;
	unsigned long fired;		/* failures injected */
	unsigned long calls;		/* calls seen while armed */
} inj;
/* Only the fuzzer's main thread (and its fork children) is injected. */
static __thread bool inj_thread;

static bool inj_fail(void)
{
	if (inj.mode != INJ_RANDOM || !inj_thread)
		return false;
	inj.calls++;
	if (!chance(&inj.rng, inj.pct))
		return false;
	inj.fired++;
	return true;
}

int __wrap_posix_memalign(void **p, size_t align, size_t size)
{
	if (inj_fail())
		return ENOMEM;
	return __real_posix_memalign(p, align, size);
}

void *__wrap_realloc(void *p, size_t size)
{
	if (inj_fail()) {
		errno = ENOMEM;
		return NULL;
	}
	return __real_realloc(p, size);
}

void *__wrap_mmap(void *addr, size_t len, int prot, int flags, int fd,
		  off_t off)
{
	bool revoke = (flags & MAP_FIXED) && prot == PROT_NONE;

	if (inj.mode == INJ_NO_REVOKE && inj_thread && revoke) {
		inj.fired++;
		errno = ENOMEM;
		return MAP_FAILED;
	}
	/* The last way to revoke is never failed at random. */
	if (!revoke && inj_fail()) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	return __real_mmap(addr, len, prot, flags, fd, off);
}

int __wrap_mprotect(void *addr, size_t len, int prot)
{
	if ((inj.mode == INJ_NO_REVOKE && inj_thread && prot == PROT_NONE) ||
	    inj_fail()) {
		if (inj.mode == INJ_NO_REVOKE)
			inj.fired++;
		errno = ENOMEM;
		return -1;
	}
	return __real_mprotect(addr, len, prot);
}

#ifndef MADV_GUARD_INSTALL
#define MADV_GUARD_INSTALL 102
#endif

int __wrap_madvise(void *addr, size_t len, int advice)
{
	if ((inj.mode == INJ_NO_REVOKE && inj_thread &&
	     advice == MADV_GUARD_INSTALL) || inj_fail()) {
		if (inj.mode == INJ_NO_REVOKE)
			inj.fired++;
		errno = advice == MADV_GUARD_INSTALL ? ENOMEM : EAGAIN;
		return -1;
	}
	return __real_madvise(addr, len, advice);
}

void *__wrap_mremap(void *old, size_t old_len, size_t new_len, int flags,
		    ...)
{
	void *new_addr = NULL;
	va_list ap;

	va_start(ap, flags);
	if (flags & MREMAP_FIXED)
		new_addr = va_arg(ap, void *);
	va_end(ap);
	if (inj_fail()) {
		errno = ENOMEM;
		return MAP_FAILED;
	}
	return __real_mremap(old, old_len, new_len, flags, new_addr);
}

/* ---- fault probes ---------------------------------------------------------- */

static sigjmp_buf probe_jmp;
static volatile sig_atomic_t probing;
static void *volatile probe_addr;
static volatile int probe_sig;
static void *volatile probe_si_addr;

static void probe_handler(int sig, siginfo_t *si, void *uc)
{
	(void)uc;
	if (!probing) {
		/* Not a probe: die of it, as without the handler. */
		signal(sig, SIG_DFL);
		raise(sig);
		return;
	}
	probe_sig = sig;
	probe_si_addr = si->si_addr;
	probing = 0;
	siglongjmp(probe_jmp, 1);
}

static void probe_install(void)
{
	struct sigaction sa = { .sa_sigaction = probe_handler,
				.sa_flags = SA_SIGINFO | SA_NODEFER };

	sigemptyset(&sa.sa_mask);
	sigaction(SIGSEGV, &sa, NULL);
	sigaction(SIGBUS, &sa, NULL);
}

/* 0 if a read of @p worked, else the signal (si_addr in *@at). */
static int probe_read(const void *p, void **at)
{
	probe_sig = 0;
	probe_addr = (void *)p;
	if (sigsetjmp(probe_jmp, 1) == 0) {
		probing = 1;
		(void)*(volatile const char *)p;
		probing = 0;
		return 0;
	}
	*at = probe_si_addr;
	return probe_sig;
}

/* ---- the model ------------------------------------------------------------- */

struct lf_obj {
	char *p;
	size_t size;
	uint32_t oid;
};

struct lf_arena {
	struct arena *a;		/* NULL: the slot is free */
	unsigned int flags;
	unsigned int id;		/* arena_id() once known, else 0 */
	struct lf_obj *objs;
	size_t nobj, cap;
	char *newest;			/* the arena's last object (realloc) */
	size_t newest_size;
	uint32_t cleanups[LF_CLEANUPS];	/* registered, oldest first */
	unsigned int ncleanups;
};

struct lf_freed {
	char *p;
	unsigned int id;		/* arena's id, 0 if unknown */
};

/* A cleanup's record: which arena, and an object it reads. */
struct lf_cleanup {
	uint32_t no;			/* 0: unused */
	struct lf_arena *ar;
	const char *obj;
	char byte;			/* what obj[0] holds */
	bool try_reset;
};

static struct {
	const char *backend;
	size_t cs;
	unsigned char *pat;		/* LF_PAT + 64 KiB of pattern */
	struct rng rng;
	unsigned long opno;
	const char *opname;
	struct lf_arena ar[LF_ARENAS];
	size_t nobjs, bytes;
	uint32_t next_oid;
	struct lf_freed freed[LF_FREED];
	unsigned int nfreed, freed_next;

	struct lf_cleanup cl[LF_ARENAS * LF_CLEANUPS * 2];
	uint32_t next_cl;
	uint32_t ran[LF_CLEANUPS * 2];	/* cleanups run, in order */
	unsigned int nran;
	int cl_errors;

	/* results */
	int failures;
	char msg[LF_MSGS][512];
	unsigned long enomem, nomem_tries;	/* without injection */
	unsigned long inj_ops, inj_enomem;
	unsigned long probes, faults, recycled, unknown;
	unsigned long forks, aborts, thread_objs, checks;
	unsigned long n[32];
} m;

static void lf_fail(const char *fmt, ...)
{
	char buf[400];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(buf, sizeof(buf), fmt, ap);
	va_end(ap);
	dprintf(2, "# libarena_fuzz: FAIL seed %#" PRIx64 " op %lu (%s, %s): %s\n",
		cfg.seed, m.opno, m.opname, m.backend, buf);
	if (m.failures < LF_MSGS)
		snprintf(m.msg[m.failures], sizeof(m.msg[0]),
			 "op %lu (%s): %s", m.opno, m.opname, buf);
	m.failures++;
}

static const unsigned char *pattern(uint32_t oid)
{
	return m.pat + (((uint64_t)oid * 0x9e3779b1U) % (64 << 10));
}

static size_t round16(size_t n)
{
	return n ? (n + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1) :
		   ARENA_ALIGN;
}

static size_t nz_at;	/* all_zero(): the first byte that is not */

static bool all_zero(const char *p, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (p[i]) {
			nz_at = i;
			return false;
		}
	return true;
}

static bool obj_ok(const struct lf_obj *o)
{
	return !memcmp(o->p, pattern(o->oid), o->size);
}

static void obj_check(struct lf_arena *ar, const struct lf_obj *o,
		      const char *when)
{
	m.checks++;
	if (!obj_ok(o)) {
		size_t i = 0;

		while (o->p[i] == (char)pattern(o->oid)[i])
			i++;
		lf_fail("object %u at %p (+%zu) of arena %u changed at byte %zu %s",
			o->oid, (void *)o->p, o->size, ar->id, i, when);
	}
}

static void arena_check_all(struct lf_arena *ar, const char *when)
{
	for (size_t i = 0; i < ar->nobj; i++)
		obj_check(ar, &ar->objs[i], when);
}

/* Where @p..+@size overlaps a live object, that object, else NULL. */
static struct lf_obj *overlap(const char *p, size_t size,
			      const struct lf_obj *skip)
{
	size_t sz = size ? size : 1;

	for (int k = 0; k < LF_ARENAS; k++) {
		struct lf_arena *ar = &m.ar[k];

		for (size_t i = 0; ar->a && i < ar->nobj; i++) {
			struct lf_obj *o = &ar->objs[i];
			size_t osz = o->size ? o->size : 1;

			if (o != skip && p < o->p + osz && o->p < p + sz)
				return o;
		}
	}
	return NULL;
}

static void learn_id(struct lf_arena *ar)
{
	unsigned int id = arena_id(ar->a);

	if (ar->id && id != ar->id)
		lf_fail("arena_id() changed from %u to %u", ar->id, id);
	if (!ar->id)
		ar->id = id;
}

/*
 * A new object @p of @size bytes from @ar: checks alignment, overlap and
 * that arena_contains() sees it, then fills it with its pattern and
 * records it. @fresh: its bytes must be zero (unless ARENA_NOZERO).
 */
static void obj_add(struct lf_arena *ar, char *p, size_t size, size_t align,
		    bool fresh)
{
	struct lf_obj *o;

	if ((uintptr_t)p % (align > ARENA_ALIGN ? align : ARENA_ALIGN))
		lf_fail("%p (+%zu) not aligned to %zu", (void *)p, size, align);
	if ((o = overlap(p, size, NULL)))
		lf_fail("new object %p (+%zu) overlaps live object %u at %p (+%zu)",
			(void *)p, size, o->oid, (void *)o->p, o->size);
	if (fresh && !(ar->flags & ARENA_NOZERO) && !all_zero(p, size))
		lf_fail("fresh object %p (+%zu) of arena %u (flags %#x) not zero at byte %zu (%#x)",
			(void *)p, size, ar->id, ar->flags, nz_at,
			(unsigned char)p[nz_at]);
	if (!arena_contains(ar->a, p) ||
	    (size > 1 && !arena_contains(ar->a, p + size - 1)))
		lf_fail("arena_contains() does not see %p (+%zu)", (void *)p,
			size);
	learn_id(ar);
	if (ar->nobj == ar->cap) {
		ar->cap = ar->cap ? 2 * ar->cap : 64;
		ar->objs = __real_realloc(ar->objs, ar->cap * sizeof(*o));
		if (!ar->objs)
			abort();
	}
	o = &ar->objs[ar->nobj++];
	o->p = p;
	o->size = size;
	o->oid = ++m.next_oid;
	memcpy(p, pattern(o->oid), size);
	ar->newest = p;
	ar->newest_size = size;
	m.nobjs++;
	m.bytes += size;
}

static void freed_push(char *p, unsigned int id)
{
	m.freed[m.freed_next] = (struct lf_freed){ p, id };
	m.freed_next = (m.freed_next + 1) % LF_FREED;
	if (m.nfreed < LF_FREED)
		m.nfreed++;
}

/* Is @p in a live arena's runs (so it may be handed out again)? */
static bool in_live_arena(const char *p)
{
	for (int k = 0; k < LF_ARENAS; k++)
		if (m.ar[k].a && arena_contains(m.ar[k].a, p))
			return true;
	return false;
}

/* A freed address: faults with SIGSEGV there, lookup says FREED. */
static void freed_probe(const struct lf_freed *f)
{
	struct arena_addr_info info;
	void *at = NULL;
	int sig, ret;

	if (in_live_arena(f->p)) {
		m.recycled++;
		return;
	}
	m.probes++;
	sig = probe_read(f->p, &at);
	if (sig == SIGSEGV && at == f->p)
		m.faults++;
	else if (sig == SIGSEGV)
		lf_fail("freed %p faulted at %p", (void *)f->p, at);
	else if (sig)
		lf_fail("freed %p gave signal %d (SIGSEGV expected)",
			(void *)f->p, sig);
	else
		lf_fail("freed %p of arena %u is readable", (void *)f->p, f->id);
	ret = arena_lookup(f->p, &info);
	if (ret)
		lf_fail("arena_lookup(freed %p) = %d", (void *)f->p, ret);
	else if (info.state == ARENA_ADDR_UNKNOWN)
		m.unknown++;
	else if (info.state != ARENA_ADDR_FREED ||
		 (f->id && info.arena_id != f->id))
		lf_fail("arena_lookup(freed %p of arena %u): state %d arena %u",
			(void *)f->p, f->id, info.state, info.arena_id);
}

static void live_lookup(struct lf_arena *ar, const struct lf_obj *o)
{
	struct arena_addr_info info;
	int ret = arena_lookup(o->p, &info);

	learn_id(ar);
	if (ret || info.state != ARENA_ADDR_LIVE || info.arena_id != ar->id)
		lf_fail("arena_lookup(live %p of arena %u) = %d: state %d arena %u",
			(void *)o->p, ar->id, ret, info.state, info.arena_id);
}

/* The arena's objects leave the model; some go to the freed ring. */
static void objs_drop(struct lf_arena *ar)
{
	for (size_t i = 0; i < ar->nobj; i++) {
		if (i < 4 || i + 4 >= ar->nobj || chance(&m.rng, 5))
			freed_push(ar->objs[i].p, ar->id);
		m.bytes -= ar->objs[i].size;
	}
	m.nobjs -= ar->nobj;
	ar->nobj = 0;
	ar->newest = NULL;
}

/* ---- cleanups ------------------------------------------------------------ */

static void cleanup_fn(void *arg)
{
	struct lf_cleanup *c = arg;

	if (m.nran < sizeof(m.ran) / sizeof(m.ran[0]))
		m.ran[m.nran] = c->no;
	m.nran++;
	/* Before the memory goes: the object is still there. */
	if (c->obj && c->obj[0] != c->byte)
		m.cl_errors++;
	if (c->try_reset && arena_reset(c->ar->a) != -EBUSY)
		m.cl_errors++;
}

static void cleanups_expect(struct lf_arena *ar, const char *what)
{
	if (m.nran != ar->ncleanups || m.cl_errors)
		lf_fail("%s: %u cleanups ran of %u registered, %d saw their arena gone",
			what, m.nran, ar->ncleanups, m.cl_errors);
	for (unsigned int i = 0; i < ar->ncleanups && i < m.nran; i++)
		if (m.ran[i] != ar->cleanups[ar->ncleanups - 1 - i]) {
			lf_fail("%s: cleanup %u ran %u-th, not newest first",
				what, m.ran[i], i);
			break;
		}
	for (unsigned int i = 0; i < ar->ncleanups; i++)
		m.cl[ar->cleanups[i] % (sizeof(m.cl) / sizeof(m.cl[0]))].no = 0;
	ar->ncleanups = 0;
	m.nran = 0;
	m.cl_errors = 0;
}

/* ---- operations -------------------------------------------------------------- */

#define LF_OPS(X)			\
	X(NEW, 40)			\
	X(ALLOC, 300)			\
	X(ALLOC_ALIGNED, 60)		\
	X(CALLOC, 50)			\
	X(ARRAY, 50)			\
	X(STRDUP, 40)			\
	X(MEMDUP, 40)			\
	X(SPRINTF, 40)			\
	X(REALLOC, 60)			\
	X(ON_FREE, 25)			\
	X(RESET, 15)			\
	X(FREE, 20)			\
	X(TRIM, 5)			\
	X(CHECK, 60)			\
	X(STATS, 30)			\
	X(LOOKUP, 40)			\
	X(PROBE, 40)			\
	X(BAD, 10)			\
	X(THREADS, 2)			\
	X(FORK, 1)

#define X_ENUM(name, w) OP_##name,
#define X_NAME(name, w) #name,
#define X_W(name, w) w,
enum { LF_OPS(X_ENUM) LF_NOPS };
static const char *const op_name[] = { LF_OPS(X_NAME) };
static const unsigned int op_weight[] = { LF_OPS(X_W) };

static size_t rand_size(void)
{
	unsigned int r = rn(&m.rng, 1000);

	if (r < 40)
		return 0;
	if (r < 450)
		return 1 + rn(&m.rng, 64);
	if (r < 800)
		return 65 + rn(&m.rng, 4032);
	if (r < 970)
		return 4096 + rn(&m.rng, 256 << 10);
	return (256 << 10) + rn(&m.rng, 3 << 20);
}

static struct lf_arena *pick_arena(void)
{
	int start = rn(&m.rng, LF_ARENAS);

	for (int k = 0; k < LF_ARENAS; k++) {
		struct lf_arena *ar = &m.ar[(start + k) % LF_ARENAS];

		if (ar->a)
			return ar;
	}
	return NULL;
}

static struct lf_obj *pick_obj(struct lf_arena **arp)
{
	struct lf_arena *ar = pick_arena();

	*arp = ar;
	if (!ar || !ar->nobj)
		return NULL;
	return &ar->objs[rn(&m.rng, ar->nobj)];
}

/*
 * The outcome of a call that may fail: true if it succeeded. A failure
 * must be @err (ENOMEM) and is counted against the cap unless failures
 * were injected during the call.
 */
static unsigned long op_fired;

static bool outcome(bool ok, int err, int expect, const char *what)
{
	bool injected = inj.fired != op_fired;

	if (!injected)
		m.nomem_tries++;
	if (ok)
		return true;
	if (err != expect)
		lf_fail("%s failed with %d (%s), %d expected%s", what, err,
			strerror(err), expect, injected ? " (injected)" : "");
	else if (!injected)
		m.enomem++;
	else
		m.inj_enomem++;
	return false;
}

static void do_new(void)
{
	static const unsigned int bad[] = { 0x8, 0x100, 0x80000000U };
	struct lf_arena *ar = NULL;
	unsigned int flags;
	struct arena *a;
	int e;

	for (int k = 0; k < LF_ARENAS; k++)
		if (!m.ar[k].a) {
			ar = &m.ar[k];
			break;
		}
	if (chance(&m.rng, 5)) {
		flags = bad[rn(&m.rng, 3)] | rn(&m.rng, 8);
		errno = 0;
		a = arena_new(flags);
		if (a || errno != EINVAL) {
			lf_fail("arena_new(%#x) = %p errno %d", flags, (void *)a,
				errno);
			arena_free(a);
		}
		return;
	}
	if (!ar)
		return;
	flags = rn(&m.rng, 8);
	errno = 0;
	a = arena_new(flags);
	e = errno;
	if (!outcome(a != NULL, e, ENOMEM, "arena_new()"))
		return;
	memset(ar, 0, offsetof(struct lf_arena, objs));
	ar->a = a;
	ar->flags = flags;
	ar->id = 0;
	ar->nobj = 0;
	ar->newest = NULL;
	ar->ncleanups = 0;
	if (!strcmp(m.backend, "mmap"))
		learn_id(ar);
	if (arena_contains(a, m.pat))
		lf_fail("new arena contains the pattern buffer");
}

/* Budget: too much live memory, free an arena instead. */
static bool over_budget(size_t size)
{
	return m.nobjs >= LF_MAX_OBJS || m.bytes + size > LF_MAX_BYTES;
}

static void do_free(struct lf_arena *ar);

static void do_alloc(int op)
{
	struct lf_arena *ar = pick_arena();
	size_t size = rand_size(), align = ARENA_ALIGN, n = 1;
	char *p = NULL;
	bool fresh = true;
	int e;

	if (!ar)
		return;
	if (over_budget(size)) {
		do_free(ar);
		return;
	}
	errno = 0;
	switch (op) {
	case OP_ALLOC:
		p = arena_alloc(ar->a, size);
		break;
	case OP_ALLOC_ALIGNED:
		align = (size_t)1 << rn(&m.rng, chance(&m.rng, 3) ? 22 : 13);
		if (align > m.cs)
			align = m.cs;
		p = arena_alloc_aligned(ar->a, size, align);
		break;
	case OP_CALLOC:
		n = 1 + rn(&m.rng, 16);
		size = size / n;
		p = arena_calloc(ar->a, n, size);
		fresh = true;
		size *= n;
		/* calloc zeroes even in an ARENA_NOZERO arena */
		if (p && !all_zero(p, size))
			lf_fail("arena_calloc() %p (+%zu) not zero", (void *)p,
				size);
		break;
	case OP_ARRAY:
		if (chance(&m.rng, 50)) {
			n = size / sizeof(long double);
			p = (char *)ARENA_NEW_ARRAY(ar->a, long double, n);
			size = n * sizeof(long double);
			align = __alignof__(long double);
		} else {
			size_t es = 1 + rn(&m.rng, 40);

			align = (size_t)1 << rn(&m.rng, 9);
			n = size / es;
			p = arena_alloc_array(ar->a, n, es, align);
			size = n * es;
		}
		break;
	}
	e = errno;
	if (!outcome(p != NULL, e, ENOMEM, op_name[op]))
		return;
	obj_add(ar, p, size, align, fresh);
}

static char strbuf[8192];

static void do_copy(int op)
{
	struct lf_arena *ar = pick_arena();
	size_t len = rn(&m.rng, chance(&m.rng, 5) ? sizeof(strbuf) - 1 : 200);
	char *p = NULL, *want;
	size_t size = 0;
	int e;

	if (!ar || over_budget(len))
		return;
	errno = 0;
	switch (op) {
	case OP_STRDUP: {
		size_t n = chance(&m.rng, 50) ? len + 1 : rn(&m.rng, len + 2);

		for (size_t i = 0; i < len; i++)
			strbuf[i] = 'a' + rn(&m.rng, 26);
		strbuf[len] = 0;
		want = strbuf;
		if (n > len) {
			p = arena_strdup(ar->a, strbuf);
			size = len + 1;
		} else {
			p = arena_strndup(ar->a, strbuf, n);
			size = n + 1;
		}
		e = errno;
		if (p && (memcmp(p, want, size - 1) || p[size - 1]))
			lf_fail("strdup/strndup copy wrong");
		break;
	}
	case OP_MEMDUP:
		want = (char *)m.pat + rn(&m.rng, 4096);
		size = len;
		p = arena_memdup(ar->a, want, size);
		e = errno;
		if (p && memcmp(p, want, size))
			lf_fail("arena_memdup() copy wrong");
		break;
	default: {
		unsigned int u = rnd(&m.rng);
		int w = rn(&m.rng, chance(&m.rng, 10) ? 6000 : 40);
		int n = snprintf(strbuf, sizeof(strbuf), "%u:%*s|%x", u, w,
				 "s", u);

		p = arena_sprintf(ar->a, "%u:%*s|%x", u, w, "s", u);
		e = errno;
		size = n + 1;
		if (p && strcmp(p, strbuf))
			lf_fail("arena_sprintf() wrote \"%.40s\", not \"%.40s\"",
				p, strbuf);
		break;
	}
	}
	if (!outcome(p != NULL, e, ENOMEM, op_name[op]))
		return;
	obj_add(ar, p, size, ARENA_ALIGN, false);
}

static void do_realloc(void)
{
	struct lf_arena *ar;
	struct lf_obj *o = pick_obj(&ar), old;
	size_t size;
	char *p;
	int e;

	if (!o)
		return;
	/* Often the newest object, where it resizes in place. */
	if (ar->newest && chance(&m.rng, 60)) {
		for (size_t i = ar->nobj; i-- > 0;)
			if (ar->objs[i].p == ar->newest) {
				o = &ar->objs[i];
				break;
			}
	}
	obj_check(ar, o, "before arena_realloc()");
	old = *o;
	size = chance(&m.rng, 30) ? rn(&m.rng, o->size + 1) :
				    o->size + rand_size();
	if (over_budget(size) || size > LF_PAT)
		return;
	errno = 0;
	p = arena_realloc(ar->a, o->p, o->size, size);
	e = errno;
	if (!outcome(p != NULL, e, ENOMEM, "arena_realloc()")) {
		obj_check(ar, o, "after a failed arena_realloc()");
		return;
	}
	if (!size) {
		if (p != old.p)
			lf_fail("arena_realloc(p, %zu, 0) moved it", old.size);
		return;
	}
	if (memcmp(p, pattern(old.oid), size < old.size ? size : old.size))
		lf_fail("arena_realloc() %p -> %p (%zu -> %zu) lost bytes",
			(void *)old.p, (void *)p, old.size, size);
	if (size > old.size && !(ar->flags & ARENA_NOZERO) &&
	    !all_zero(p + old.size, size - old.size))
		lf_fail("arena_realloc() %p -> %p (%zu -> %zu): new bytes not zero",
			(void *)old.p, (void *)p, old.size, size);
	if (p == old.p) {
		/* Resized in place: the record takes the new size. */
		struct lf_obj *x;

		m.bytes += size - o->size;
		o->size = size;
		if ((x = overlap(p, size, o)))
			lf_fail("arena_realloc() in place %p (+%zu) overlaps object %u",
				(void *)p, size, x->oid);
		memcpy(p, pattern(o->oid), size);
		ar->newest = p;
		ar->newest_size = size;
		return;
	}
	if (size < old.size)
		lf_fail("arena_realloc() moved a shrink");
	obj_check(ar, o, "the old copy after arena_realloc()");
	/* p's bytes were checked above; now it is an object like any. */
	memset(p, 0, size);
	obj_add(ar, p, size, ARENA_ALIGN, false);
}

static void do_on_free(void)
{
	struct lf_arena *ar;
	struct lf_obj *o = pick_obj(&ar);
	struct lf_cleanup *c;
	uint32_t no;
	int ret;

	if (!ar || ar->ncleanups == LF_CLEANUPS)
		return;
	no = ++m.next_cl;
	c = &m.cl[no % (sizeof(m.cl) / sizeof(m.cl[0]))];
	if (c->no)
		return;	/* the table is full there: try later */
	*c = (struct lf_cleanup){ .no = no, .ar = ar,
				  .obj = o && o->size ? o->p : NULL,
				  .byte = o && o->size ? o->p[0] : 0,
				  .try_reset = chance(&m.rng, 10) };
	ret = arena_on_free(ar->a, cleanup_fn, c);
	if (!outcome(!ret, -ret, ENOMEM, "arena_on_free()")) {
		c->no = 0;
		return;
	}
	ar->cleanups[ar->ncleanups++] = no;
	/* Its record took room in the arena: not the newest object now. */
	ar->newest = NULL;
}

static void do_reset(struct lf_arena *ar)
{
	int ret, e = errno = 1234;

	arena_check_all(ar, "before arena_reset()");
	m.nran = 0;
	ret = arena_reset(ar->a);
	if (errno != e)
		lf_fail("arena_reset() changed errno to %d", errno);
	cleanups_expect(ar, "arena_reset()");
	if (!outcome(!ret, -ret, ENOMEM, "arena_reset()")) {
		arena_check_all(ar, "after a failed arena_reset()");
		return;
	}
	if (ar->nobj && !strcmp(m.backend, "kernel"))
		learn_id(ar);
	objs_drop(ar);
	/* Probe a few of them at once. */
	for (unsigned int i = 0; i < 3 && i < m.nfreed; i++)
		freed_probe(&m.freed[(m.freed_next + LF_FREED - 1 - i) %
				     LF_FREED]);
}

static void do_free(struct lf_arena *ar)
{
	arena_check_all(ar, "before arena_free()");
	m.nran = 0;
	errno = 4321;
	arena_free(ar->a);
	if (errno != 4321)
		lf_fail("arena_free() changed errno to %d", errno);
	cleanups_expect(ar, "arena_free()");
	ar->a = NULL;
	objs_drop(ar);
	for (unsigned int i = 0; i < 3 && i < m.nfreed; i++)
		freed_probe(&m.freed[(m.freed_next + LF_FREED - 1 - i) %
				     LF_FREED]);
}

static void do_stats(void)
{
	struct lf_arena *ar = pick_arena();
	struct arena_stats st;
	size_t want = 0;
	int ret;

	if (!ar)
		return;
	memset(&st, 0xa5, sizeof(st));
	ret = arena_stats(ar->a, &st);
	if (ret) {
		lf_fail("arena_stats() = %d", ret);
		return;
	}
	for (size_t i = 0; i < ar->nobj; i++)
		want += round16(ar->objs[i].size);
	if (st.mapped != st.requested + st.waste + st.available)
		lf_fail("stats: mapped %zu != requested %zu + waste %zu + available %zu",
			st.mapped, st.requested, st.waste, st.available);
	if (st.requested < want)
		lf_fail("stats: requested %zu < %zu the live objects hold",
			st.requested, want);
	if (st.chunks * m.cs > st.mapped)
		lf_fail("stats: %zu chunks but %zu mapped", st.chunks,
			st.mapped);
	if (st.reserved_[0] || st.reserved_[1])
		lf_fail("stats: reserved fields not zero");
}

static void do_lookup(void)
{
	struct lf_arena *ar, *other;
	struct lf_obj *o = pick_obj(&ar);

	if (!o)
		return;
	live_lookup(ar, o);
	other = pick_arena();
	if (other != ar && arena_contains(other->a, o->p))
		lf_fail("arena %u contains object %u of arena %u", other->id,
			o->oid, ar->id);
}

static void do_bad(void)
{
	struct lf_arena *ar = pick_arena();
	void *p;

	if (!ar)
		return;
	switch (rn(&m.rng, 5)) {
	case 0:
		errno = 0;
		p = arena_alloc(ar->a, SIZE_MAX - rn(&m.rng, 64));
		if (p || errno != ENOMEM)
			lf_fail("arena_alloc(huge) = %p errno %d", p, errno);
		break;
	case 1:
		errno = 0;
		p = arena_calloc(ar->a, SIZE_MAX / 2, 3);
		if (p || errno != ENOMEM)
			lf_fail("arena_calloc(overflow) = %p errno %d", p, errno);
		break;
	case 2:
		errno = 0;
		p = arena_alloc_aligned(ar->a, 16, chance(&m.rng, 50) ? 48 :
						    2 * m.cs);
		if (p || errno != EINVAL)
			lf_fail("arena_alloc_aligned(bad align) = %p errno %d",
				p, errno);
		break;
	case 3:
		errno = 0;
		p = arena_alloc_array(ar->a, SIZE_MAX / 8, 16, 16);
		if (p || errno != ENOMEM)
			lf_fail("arena_alloc_array(overflow) = %p errno %d", p,
				errno);
		break;
	default:
		if (arena_on_free(ar->a, NULL, NULL) != -EINVAL)
			lf_fail("arena_on_free(NULL fn) != -EINVAL");
		if (arena_contains(ar->a, NULL))
			lf_fail("arena_contains(NULL)");
		break;
	}
	/* A failed call leaves the arena as it was. */
	if (ar->nobj)
		obj_check(ar, &ar->objs[ar->nobj - 1], "after a bad call");
}

/* ---- threads on an ARENA_THREADSAFE arena ---------------------------- */

struct lf_tobj {
	char *p;
	size_t size;
};

struct lf_thread {
	pthread_t th;
	struct arena *a;
	struct rng rng;
	bool nozero;
	unsigned int n, enomem, bad;
	struct lf_tobj o[LF_THREAD_OBJS];
};

static void *thread_fn(void *arg)
{
	struct lf_thread *t = arg;

	for (unsigned int i = 0; i < LF_THREAD_OBJS; i++) {
		size_t size = rn(&t->rng, 3) ? rn(&t->rng, 300) :
					       rn(&t->rng, 70000);
		char *p;

		switch (rn(&t->rng, 3)) {
		case 0:
			p = arena_alloc(t->a, size);
			break;
		case 1:
			p = arena_alloc_aligned(t->a, size,
						(size_t)1 << rn(&t->rng, 12));
			break;
		default:
			p = arena_calloc(t->a, 1, size);
			break;
		}
		if (!p) {
			t->enomem += errno == ENOMEM;
			t->bad += errno != ENOMEM;
			continue;
		}
		if (!t->nozero && !all_zero(p, size))
			t->bad++;
		memset(p, 0xee, size);
		t->o[t->n++] = (struct lf_tobj){ p, size };
	}
	return NULL;
}

static void do_threads(void)
{
	struct lf_thread *t;
	struct lf_arena *ar = NULL;
	unsigned int nt = 2 + rn(&m.rng, LF_THREADS - 1);

	for (int k = 0; k < LF_ARENAS; k++)
		if (m.ar[k].a && (m.ar[k].flags & ARENA_THREADSAFE))
			ar = &m.ar[k];
	if (!ar || over_budget(nt * LF_THREAD_OBJS * 30000))
		return;
	t = calloc(nt, sizeof(*t));
	if (!t)
		abort();
	for (unsigned int i = 0; i < nt; i++) {
		t[i].a = ar->a;
		t[i].rng.s = rnd(&m.rng);
		t[i].nozero = ar->flags & ARENA_NOZERO;
		if (pthread_create(&t[i].th, NULL, thread_fn, &t[i]))
			abort();
	}
	for (unsigned int i = 0; i < nt; i++)
		pthread_join(t[i].th, NULL);
	for (unsigned int i = 0; i < nt; i++) {
		m.nomem_tries += LF_THREAD_OBJS;
		m.enomem += t[i].enomem;
		if (t[i].bad)
			lf_fail("thread %u: %u allocations failed or were not zero",
				i, t[i].bad);
		for (unsigned int j = 0; j < t[i].n; j++) {
			/* Each thread wrote 0xee: the pattern replaces it. */
			char *p = t[i].o[j].p;
			size_t size = t[i].o[j].size;

			for (size_t b = 0; b < size; b++)
				if ((unsigned char)p[b] != 0xee) {
					lf_fail("thread %u object %p (+%zu) overwritten at %zu",
						i, (void *)p, size, b);
					break;
				}
			memset(p, 0, size);
			obj_add(ar, p, size, ARENA_ALIGN, false);
			m.thread_objs++;
		}
	}
	ar->newest = NULL;
	free(t);
}

/* ---- fork ---------------------------------------------------------------- */

static int child_checks(bool abort_test)
{
	struct lf_arena *ar;
	struct lf_obj *o = pick_obj(&ar);
	struct arena *a;
	void *at;
	char *p;

	if (ar) {
		errno = 0;
		if (arena_alloc(ar->a, 16) || errno != ECHILD)
			return 10;
		if (arena_reset(ar->a) != -ECHILD)
			return 11;
		if (arena_on_free(ar->a, cleanup_fn, NULL) != -ECHILD)
			return 12;
		if (o && probe_read(o->p, &at) != SIGSEGV)
			return 13;
	}
	a = arena_new(rn(&m.rng, 8));
	if (!a)
		return 20;
	p = arena_alloc(a, 5000);
	if (!p || !all_zero(p, 5000))
		return 21;
	memset(p, 1, 5000);
	if (abort_test) {
		/* Every way to revoke fails: the documented abort. */
		inj.mode = INJ_NO_REVOKE;
		arena_free(a);
		return 30;	/* should not get here */
	}
	arena_free(a);
	if (probe_read(p, &at) != SIGSEGV || at != p)
		return 22;
	if (ar)
		arena_free(ar->a);	/* a dead arena can be freed */
	return 0;
}

static void do_fork(void)
{
	bool abort_test = !strcmp(m.backend, "mmap") && chance(&m.rng, 50);
	int st;
	pid_t pid;

	fflush(NULL);
	pid = fork();
	if (pid < 0) {
		lf_fail("fork: %s", strerror(errno));
		return;
	}
	if (!pid) {
		int devnull;

		if (abort_test) {
			/* The library's "aborting" line is expected. */
			devnull = open("/dev/null", O_WRONLY);
			if (devnull >= 0)
				dup2(devnull, 2);
		}
		_exit(child_checks(abort_test));
	}
	m.forks++;
	if (waitpid(pid, &st, 0) != pid) {
		lf_fail("waitpid: %s", strerror(errno));
		return;
	}
	if (abort_test && WIFSIGNALED(st) && WTERMSIG(st) == SIGABRT) {
		m.aborts++;
		return;
	}
	if (abort_test || !WIFEXITED(st) || WEXITSTATUS(st))
		lf_fail("fork child%s: %s %d", abort_test ? " (no way to revoke)" : "",
			WIFEXITED(st) ? "exit" : "signal",
			WIFEXITED(st) ? WEXITSTATUS(st) : WTERMSIG(st));
}

/* ---- the run ---------------------------------------------------------------- */

static int pick_op(void)
{
	static unsigned int total;
	unsigned int r;

	if (!total)
		for (int i = 0; i < LF_NOPS; i++)
			total += op_weight[i];
	r = rn(&m.rng, total);
	for (int i = 0; i < LF_NOPS; i++) {
		if (r < op_weight[i])
			return i;
		r -= op_weight[i];
	}
	return 0;
}

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec + ts.tv_nsec / 1e9;
}

static void run_op(int op)
{
	struct lf_arena *ar;
	struct lf_obj *o;

	switch (op) {
	case OP_NEW:
		do_new();
		break;
	case OP_ALLOC:
	case OP_ALLOC_ALIGNED:
	case OP_CALLOC:
	case OP_ARRAY:
		do_alloc(op);
		break;
	case OP_STRDUP:
	case OP_MEMDUP:
	case OP_SPRINTF:
		do_copy(op);
		break;
	case OP_REALLOC:
		do_realloc();
		break;
	case OP_ON_FREE:
		do_on_free();
		break;
	case OP_RESET:
		if ((ar = pick_arena()))
			do_reset(ar);
		break;
	case OP_FREE:
		if ((ar = pick_arena()))
			do_free(ar);
		break;
	case OP_TRIM:
		if (arena_trim())
			lf_fail("arena_trim() failed");
		break;
	case OP_CHECK:
		if ((o = pick_obj(&ar)))
			obj_check(ar, o, "at random");
		break;
	case OP_STATS:
		do_stats();
		break;
	case OP_LOOKUP:
		do_lookup();
		break;
	case OP_PROBE:
		if (m.nfreed)
			freed_probe(&m.freed[rn(&m.rng, m.nfreed)]);
		break;
	case OP_BAD:
		do_bad();
		break;
	case OP_THREADS:
		do_threads();
		break;
	case OP_FORK:
		do_fork();
		break;
	}
}

static void fuzz(struct __test_metadata *_metadata, const char *backend)
{
	const char *got;
	double t0, secs;
	char line[600];
	size_t len = 0;

	setenv("ARENA_BACKEND", backend, 1);
	got = arena_backend();
	if (!got)
		SKIP(return, "no %s backend: %s", backend, strerror(errno));
	ASSERT_STREQ(backend, got);
	memset(&m, 0, sizeof(m));
	m.backend = backend;
	m.cs = arena_chunk_size();
	m.rng.s = cfg.seed ^ (backend[0] == 'k' ? 0x5bd1e995ULL : 0);
	inj.rng.s = cfg.seed * 3 + 1;
	m.pat = malloc(LF_PAT + (64 << 10));
	ASSERT_NE(NULL, m.pat);
	for (size_t i = 0; i < LF_PAT + (64 << 10); i += 8) {
		uint64_t v = rnd(&m.rng);

		memcpy(m.pat + i, &v, 8);
	}
	probe_install();
	inj_thread = true;
	TH_LOG("backend %s, seed %#" PRIx64 ", %lu operations (replay: LIBARENA_FUZZ_SEED=%#" PRIx64 " LIBARENA_FUZZ_OPS=%lu libarena_fuzz -r global.%s)",
	       backend, cfg.seed, cfg.ops, cfg.seed, cfg.ops,
	       _metadata->name);

	t0 = now_s();
	for (m.opno = 0; m.opno < cfg.ops && m.failures < 50; m.opno++) {
		int op = pick_op();
		bool armed = op != OP_THREADS && op != OP_FORK &&
			     chance(&m.rng, 8);

		m.opname = op_name[op];
		m.n[op]++;
		if (cfg.trace)
			dprintf(2, "# op %lu %s%s\n", m.opno, m.opname,
				armed ? " (injecting)" : "");
		op_fired = inj.fired;
		if (armed) {
			inj.pct = 5 + rn(&m.rng, 60);
			inj.mode = INJ_RANDOM;
			m.inj_ops++;
		}
		run_op(op);
		inj.mode = INJ_OFF;
	}
	secs = now_s() - t0;
	/* Everything left is checked, then freed and probed. */
	m.opname = "teardown";
	for (int k = 0; k < LF_ARENAS; k++)
		if (m.ar[k].a)
			do_free(&m.ar[k]);
	for (unsigned int i = 0; i < m.nfreed; i++)
		freed_probe(&m.freed[i]);
	arena_trim();

	TH_LOG("%lu operations in %.2f s: %.0f per second", m.opno, secs,
	       m.opno / (secs > 0 ? secs : 1));
	for (int k = 0; k < LF_NOPS; k++) {
		len += snprintf(line + len, sizeof(line) - len, " %s=%lu",
				op_name[k], m.n[k]);
		if (len > 400 || k == LF_NOPS - 1) {
			TH_LOG("ops:%s", line);
			len = 0;
		}
	}
	TH_LOG("objects checked %lu (%lu from threads); freed probes %lu (faulted %lu, lookup UNKNOWN %lu), %lu in live arenas again; forks %lu (expected aborts %lu)",
	       m.checks, m.thread_objs, m.probes, m.faults, m.unknown,
	       m.recycled, m.forks, m.aborts);
	TH_LOG("injected: %lu failures in %lu operations (%lu ENOMEM results); without injection ENOMEM %lu of %lu calls",
	       inj.fired, m.inj_ops, m.inj_enomem, m.enomem, m.nomem_tries);
	for (int k = 0; k < m.failures && k < LF_MSGS; k++)
		TH_LOG("%s", m.msg[k]);
	EXPECT_EQ(0, m.failures);
	EXPECT_EQ(cfg.ops, m.opno);
	EXPECT_EQ(m.probes, m.faults);
	/* ENOMEM may pass now and then, never as the rule. */
	EXPECT_GT(m.nomem_tries, 0);
	EXPECT_LE(m.enomem * 100, m.nomem_tries * LF_ENOMEM_MAX_PCT)
		TH_LOG("ENOMEM for %lu of %lu calls that may say it", m.enomem,
		       m.nomem_tries);
	for (int k = 0; k < LF_ARENAS; k++)
		__real_realloc(m.ar[k].objs, 0);
	free(m.pat);
}

TEST(mmap_backend)
{
	fuzz(_metadata, "mmap");
}

TEST(kernel_backend)
{
	fuzz(_metadata, "kernel");
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
	const char *v = getenv("LIBARENA_FUZZ_SEED");

	if (v && *v) {
		cfg.seed = strtoull(v, NULL, 0);
		seed_set = true;
	}
	cfg.ops = env_ul("LIBARENA_FUZZ_OPS", 12000);
	cfg.trace = env_ul("LIBARENA_FUZZ_TRACE", 0);
	int hargc = 1;

	for (int i = 1; i < argc; i++) {
		if (!strcmp(argv[i], "--seed") && i + 1 < argc) {
			cfg.seed = strtoull(argv[++i], NULL, 0);
			seed_set = true;
		} else if (!strcmp(argv[i], "--ops") && i + 1 < argc) {
			cfg.ops = strtoul(argv[++i], NULL, 0);
		} else if (!strcmp(argv[i], "--trace")) {
			cfg.trace = true;
		} else {
			/* The harness's own options (-r, -l, ...). */
			argv[hargc++] = argv[i];
		}
	}
	argv[hargc] = NULL;
	if (!seed_set) {
		struct timespec ts;

		clock_gettime(CLOCK_REALTIME, &ts);
		cfg.seed = (uint64_t)ts.tv_sec * 1000000007ULL ^ ts.tv_nsec ^
			   (uint64_t)getpid() << 32;
	}
	/* Before the harness forks: the seed is in the log whatever happens. */
	printf("# libarena_fuzz: seed %#" PRIx64 " ops %lu\n", cfg.seed,
	       cfg.ops);
	fflush(stdout);
	return test_harness_run(hargc, argv);
}
