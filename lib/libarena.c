/* SPDX-License-Identifier: MIT */
/*
 * libarena: arenas, the slow paths and the process-wide state.
 *
 * The first arena_new() (or arena_backend()) picks the backend: the kernel's
 * /dev/arena unless ARENA_BACKEND=mmap is set or the device cannot be
 * opened, and then plain mmap (backend_mmap.c). Either backend maps one
 * window of address space per process and hands out chunk-size aligned
 * runs of chunks in it; everything above that (bump ranges, large
 * requests, thread-safe cursors, accounting, fork) is here and common.
 *
 * A request larger than a quarter chunk gets its own run of consecutive
 * chunks, so the current run's remainder is not thrown away for it; a run
 * is freed and faults with its arena like any chunk.
 *
 * On the kernel backend a single-threaded arena grows through small runs:
 * one page first, each next one twice the last, up to 64 KiB, then whole
 * chunks. The kernel carves small runs of many arenas out of one physical
 * chunk and revokes them page by page, so thousands of small arenas cost
 * what they use, not 2 MiB each.
 *
 * Per-request arenas cost one system call a request there: arena_free()
 * asks the kernel for the thread's next arena in the same ioctl, and the
 * thread's next arena_new() takes it (see "the thread's spare").
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "libarena_priv.h"

struct arena_global __arena_g = {
	.lock = PTHREAD_MUTEX_INITIALIZER,
	.atfork_once = PTHREAD_ONCE_INIT,
	.fd = -1,
};
#define g __arena_g

/*
 * The backend arena_lookup() may read, published once it is set up (release)
 * and withdrawn first in a fork child: the lookup takes no lock, so that a
 * signal handler can call it (see there).
 */
static _Atomic int lookup_backend;

static const char *const backend_names[] = {
	[BACKEND_KERNEL] = "kernel",
	[BACKEND_MMAP] = "mmap",
};

/*
 * The largest small run. The kernel maps a small run's pages in the ioctl
 * that makes it (a module without the small window: one fault per page),
 * a whole chunk on its first touch with one PMD: an arena that outgrows
 * 64 KiB (five small runs) takes whole chunks from then on, so a big arena
 * neither pays for 512 4 KiB entries nor makes ever more small runs.
 */
#define SMALL_RUN_MAX	(64UL << 10)

static inline size_t round_align(size_t size)
{
	return (size + ARENA_ALIGN - 1) & ~(size_t)(ARENA_ALIGN - 1);
}

/* End of the chunk holding the byte before @cur; 0 for a cursor of 0. */
static inline uintptr_t chunk_end_of(uintptr_t cur)
{
	return ((cur - 1) | (g.chunk_size - 1)) + 1;
}

/* ---- the thread's spare ------------------------------------------------ */

/*
 * On the kernel backend, arena_free() of a growing arena (neither
 * ARENA_THREADSAFE nor ARENA_WHOLE_CHUNKS) asks
 * the kernel, in the ioctl that frees it, for the thread's next arena with
 * its first run already mapped at the learned size (ARENA_FREE_NEXT), and
 * keeps it here; the thread's next such arena_new() takes it without a
 * system call. A no-zero arena's free asks for a no-zero spare (where the
 * kernel has ARENA_FEATURE_NOZERO_SMALL), which only an ARENA_NOZERO
 * arena_new() takes: its memory may hold this process's old bytes.
 * At most one per thread. It is given back by arena_trim(),
 * by the thread's exit (the key's destructor) and with everything else when
 * the process closes the window (exit, exec). A fork child ignores the one
 * it inherits: its generation is not the child's (the window is gone).
 */
struct thread_spare {
	unsigned int id;		/* kernel arena id, 0 if none */
	unsigned int gen;		/* g.gen when it was made */
	int keyed;			/* the exit destructor is armed */
	int nozero;			/* made with ARENA_FREE_NEXT_NOZERO */
	char *base;
	size_t len;
};

static __thread struct thread_spare spare
	__attribute__((tls_model("initial-exec")));
static pthread_key_t spare_key;
static pthread_once_t spare_once = PTHREAD_ONCE_INIT;
static int spare_key_ok;

static int spare_valid(void)
{
	return spare.id && spare.gen == g.gen && g.backend == BACKEND_KERNEL;
}

/* Give the thread's spare back to the kernel. */
static void spare_drop(void)
{
	if (spare_valid())
		__arena_kernel_free_id(spare.id, 0, 0, NULL);
	spare.id = 0;
}

/* The same, at thread exit (the key's destructor) or arena_trim(). */
static void spare_release(void *unused)
{
	(void)unused;
	spare_drop();
	spare.keyed = 0;
}

static void spare_key_init(void)
{
	spare_key_ok = !pthread_key_create(&spare_key, spare_release);
}

/* Keep @id at @base as the thread's spare (none is held). */
static void spare_keep(unsigned int id, char *base, size_t len, int nozero)
{
	/* Without the exit destructor a thread's spare would leak. */
	if (!spare.keyed) {
		pthread_once(&spare_once, spare_key_init);
		if (!spare_key_ok || pthread_setspecific(spare_key, &spare)) {
			__arena_kernel_free_id(id, 0, 0, NULL);
			return;
		}
		spare.keyed = 1;
	}
	spare.id = id;
	spare.gen = g.gen;
	spare.base = base;
	spare.len = len;
	spare.nozero = nozero;
}

ARENA_EXPORT int arena_trim(void)
{
	int saved_errno = errno;

	spare_release(NULL);
	__arena_mmap_trim();
	errno = saved_errno;
	return 0;
}

/* ---- fork ------------------------------------------------------------- */

static void atfork_prepare(void)
{
	pthread_mutex_lock(&g.lock);
}

static void atfork_parent(void)
{
	pthread_mutex_unlock(&g.lock);
}

/*
 * The child has no window: the kernel maps it VM_DONTCOPY (and refuses the
 * inherited file to any other process), the mmap backend marks it
 * MADV_DONTFORK. Kill the inherited arenas so the fast path misses and the
 * slow path says ECHILD, keep their old addresses faulting with a PROT_NONE
 * reservation (so a new window cannot land there and give a stale pointer a
 * meaning), and let the child pick a backend afresh if it creates arenas.
 */
static void atfork_child(void)
{
	struct __arena *ai;

	atomic_store_explicit(&lookup_backend, BACKEND_NONE,
			      memory_order_relaxed);
	for (ai = g.arenas; ai; ai = ai->next) {
		ai->dead = 1;
		ai->pub.cur_ = NULL;
		ai->pub.end_ = NULL;
	}
	g.arenas = NULL;
	if (g.base) {
		void *p = mmap(g.base, g.window_size, PROT_NONE,
			       MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE |
			       MAP_FIXED_NOREPLACE, -1, 0);

		/* Pre-4.17 kernels take the address as a hint only. */
		if (p != MAP_FAILED && p != g.base)
			munmap(p, g.window_size);
	}
	if (g.backend == BACKEND_KERNEL)
		__arena_kernel_forget();
	else if (g.backend == BACKEND_MMAP)
		__arena_mmap_forget();
	g.backend = BACKEND_NONE;
	/* Spares of the parent's threads are not the child's. */
	g.gen++;
	g.base = NULL;
	g.window_size = 0;
	g.chunk_size = 0;
	pthread_mutex_unlock(&g.lock);
}

static void atfork_register(void)
{
	pthread_atfork(atfork_prepare, atfork_parent, atfork_child);
}

/* ---- backend choice ---------------------------------------------------- */

/* Pick and set up the backend once. Called with g.lock held; 0 or -errno. */
static int backend_init(void)
{
	const char *env;
	int err, saved = errno;

	if (g.backend != BACKEND_NONE)
		return 0;
	pthread_once(&g.atfork_once, atfork_register);
	env = getenv("ARENA_BACKEND");
	if (!env || !*env || !strcmp(env, "auto")) {
		err = __arena_kernel_init();
		/*
		 * No usable device (absent, no module, no permission, a
		 * module of an ABI this library does not speak), or none for
		 * this process: no file descriptor left (EMFILE, ENFILE), or
		 * no room for its window (ENOMEM: RLIMIT_AS, the module's
		 * limits). Plain memory may still do.
		 */
		if (err == -ENOENT || err == -ENODEV || err == -ENXIO ||
		    err == -EACCES || err == -EPERM || err == -EPROTO ||
		    err == -ENOMEM || err == -EMFILE || err == -ENFILE)
			err = __arena_mmap_init();
	} else if (!strcmp(env, "kernel")) {
		err = __arena_kernel_init();
	} else if (!strcmp(env, "mmap")) {
		err = __arena_mmap_init();
	} else {
		err = -EINVAL;
	}
	if (!err) {
		atomic_store_explicit(&lookup_backend, g.backend,
				      memory_order_release);
		/* A fallback's failed open() is no error of the caller's. */
		errno = saved;
	}
	return err;
}

ARENA_EXPORT const char *arena_backend(void)
{
	int err;

	pthread_mutex_lock(&g.lock);
	err = backend_init();
	pthread_mutex_unlock(&g.lock);
	if (err) {
		errno = -err;
		return NULL;
	}
	return backend_names[g.backend];
}

ARENA_EXPORT size_t arena_chunk_size(void)
{
	size_t cs;

	pthread_mutex_lock(&g.lock);
	cs = backend_init() ? 0 : g.chunk_size;
	pthread_mutex_unlock(&g.lock);
	return cs;
}

/* ---- arenas ------------------------------------------------------------ */

/*
 * Growth of small runs: from @start bytes, doubled until @room fits; a
 * whole chunk once that passes SMALL_RUN_MAX (or if @start is 0). *@next
 * gets the size of the run after it, 0 for whole chunks.
 */
static size_t grow_size(size_t start, size_t room, size_t *next)
{
	size_t size = start;

	while (size && size < room && size <= SMALL_RUN_MAX)
		size <<= 1;
	if (!size || size > SMALL_RUN_MAX || size >= g.chunk_size) {
		*next = 0;
		return g.chunk_size;
	}
	*next = size << 1;
	return size;
}

/*
 * The first run of a new growing arena (under g.lock): the learned size
 * (first_run_learn()) while the live growing arenas could not hold more
 * than FIRST_RUN_BUDGET in first runs that size, else a page. A process
 * that goes on to keep thousands of small arenas alive after a phase of
 * larger ones then pays at most the budget for it.
 */
#define FIRST_RUN_BUDGET	(8UL << 20)

static size_t first_run_size(void)
{
	if (!g.first_run ||
	    (g.nr_growing + 1) * g.first_run > FIRST_RUN_BUDGET)
		return g.page_size;
	return g.first_run;
}

/* Bytes a single-threaded arena bump-allocated (large runs left out). */
static size_t bump_used(const struct __arena *ai)
{
	size_t used = ai->handed - ai->large;

	if (ai->pub.cur_)
		used += ai->pub.cur_ - ai->chunk;
	return used;
}

/*
 * Learn a new arena's first run from what the arenas freed lately used
 * (under g.lock): per-request arenas of similar size then take their
 * memory in one run (one ioctl, no fault) instead of growing to it from a
 * page. The first run is the largest use of the last FIRST_RUN_HISTORY
 * arenas freed, so requests that straddle a size (28 KiB, now and then
 * 33) do not each pay a second run after a smaller one; it rises at most
 * twofold per free, so one large arena among small ones does not make the
 * next ones large, and it never passes SMALL_RUN_MAX.
 */
static void first_run_learn(const struct __arena *ai)
{
	size_t want, next, cur, max = 0;
	unsigned int i;

	/* Only arenas that grow by small runs, as the ones it is for. */
	if (!ai->nr_small)
		return;
	want = grow_size(g.page_size, bump_used(ai), &next);
	if (want > SMALL_RUN_MAX)
		want = SMALL_RUN_MAX;
	g.recent[g.recent_i++ % FIRST_RUN_HISTORY] = want;
	for (i = 0; i < FIRST_RUN_HISTORY; i++)
		if (g.recent[i] > max)
			max = g.recent[i];
	cur = g.first_run ? g.first_run : g.page_size;
	g.first_run = max > 2 * cur ? 2 * cur : max;
}

static int runs_reserve(struct __arena *ai);
static void run_add(struct __arena *ai, char *p, size_t len);

/* A new growing arena takes the thread's spare: its kernel arena and run. */
static void spare_take(struct __arena *ai)
{
	ai->id = spare.id;
	run_add(ai, spare.base, spare.len);
	ai->chunk = spare.base;
	ai->run_size = spare.len;
	ai->pub.cur_ = spare.base;
	ai->pub.end_ = spare.base + spare.len;
	/* As if it had grown to this run: the next is twice as large. */
	grow_size(spare.len, spare.len, &ai->next_run);
	spare.id = 0;
}

ARENA_EXPORT struct arena *arena_new(unsigned int flags)
{
	struct __arena *ai;
	int err;

	if (flags & ~ARENA_VALID_FLAGS) {
		errno = EINVAL;
		return NULL;
	}
	/* posix_memalign() returns its error and leaves errno alone. */
	err = posix_memalign((void **)&ai, 64, sizeof(*ai));
	if (err) {
		errno = err;
		return NULL;
	}
	memset(ai, 0, sizeof(*ai));
	ai->flags = flags;
	/* Under a sanitizer every allocation goes out of line (sanitize.c). */
	if (__arena_instr_init(ai))
		ai->flags = flags |= ARENA_THREADSAFE;
	atomic_init(&ai->ts_cur, 0);
	atomic_init(&ai->pad, 0);
	if (flags & ARENA_THREADSAFE)
		pthread_mutex_init(&ai->lock, NULL);

	pthread_mutex_lock(&g.lock);
	err = backend_init();
	/* The kernel arena comes with the first allocation. */
	if (!err && g.backend == BACKEND_MMAP)
		err = __arena_mmap_create(ai);
	if (!err && g.small_runs &&
	    !(flags & (ARENA_THREADSAFE | ARENA_WHOLE_CHUNKS))) {
		ai->growing = 1;
		ai->next_run = first_run_size();
		g.nr_growing++;
	}
	if (err) {
		pthread_mutex_unlock(&g.lock);
		if (flags & ARENA_THREADSAFE)
			pthread_mutex_destroy(&ai->lock);
		__arena_instr_release(ai, 0);
		free(ai);
		errno = -err;
		return NULL;
	}
	ai->next = g.arenas;
	if (g.arenas)
		g.arenas->prev = ai;
	g.arenas = ai;
	pthread_mutex_unlock(&g.lock);
	/*
	 * A no-zero spare may hold old bytes: for no-zero arenas only. A
	 * default arena gives it back, so that its own free can make a
	 * default one (or a thread that switched kinds would never again
	 * have a spare it can take).
	 */
	if (ai->growing && spare_valid()) {
		if (spare.nozero && !(flags & ARENA_NOZERO))
			spare_drop();
		else if (!runs_reserve(ai))
			spare_take(ai);
	}
	return &ai->pub;
}

/* Forget the runs and the counters (after a free or a reset). */
static void arena_clear(struct __arena *ai)
{
	ai->pub.cur_ = NULL;
	ai->pub.end_ = NULL;
	ai->chunk = NULL;
	ai->run_size = 0;
	atomic_store(&ai->ts_cur, 0);
	ai->spare = NULL;
	ai->handed = 0;
	ai->tails = 0;
	ai->large = 0;
	atomic_store(&ai->pad, 0);
	ai->nr_chunks = 0;
	ai->nr_small = 0;
	ai->mapped = 0;
	ai->nr_runs = 0;
}

ARENA_EXPORT void arena_free(struct arena *a)
{
	struct __arena *ai;
	int saved_errno = errno;
	size_t next_len = 0;
	int next_nozero = 0;
	unsigned int id;
	char *next;

	if (!a)
		return;
	ai = __arena_impl(a);
	/* From one of its own cleanups: the free under way goes on. */
	if (ai->in_cleanup)
		return;
	/* A fork child's inherited arena has no memory to run them in. */
	if (!ai->dead)
		__arena_run_cleanups(ai);
	pthread_mutex_lock(&g.lock);
	if (ai->growing && g.nr_growing)
		g.nr_growing--;
	if (!ai->dead) {
		first_run_learn(ai);
		if (ai->prev)
			ai->prev->next = ai->next;
		else
			g.arenas = ai->next;
		if (ai->next)
			ai->next->prev = ai->prev;
		/* The thread's next arena, made by the same ioctl. */
		if (g.backend == BACKEND_KERNEL && g.free_next &&
		    ai->growing && ai->id && !spare_valid()) {
			next_len = first_run_size();
			next_nozero = (ai->flags & ARENA_NOZERO) &&
				      g.nozero_small;
		}
	}
	pthread_mutex_unlock(&g.lock);
	if (!ai->dead) {
		/* Cannot fail for an arena this process created and holds. */
		if (g.backend == BACKEND_KERNEL) {
			id = __arena_kernel_free_id(ai->id, next_len,
						    next_nozero, &next);
			if (id)
				spare_keep(id, next, next_len, next_nozero);
			else if (__arena_kernel_lost())
				/* No ioctl reaches the device: by hand. */
				for (size_t r = 0; r < ai->nr_runs; r++)
					__arena_revoke_range(ai->runs[r].base,
							     ai->runs[r].len);
		} else {
			__arena_mmap_release(ai);
		}
	}
	__arena_instr_release(ai, 0);
	if (ai->flags & ARENA_THREADSAFE)
		pthread_mutex_destroy(&ai->lock);
	free(ai->runs);
	free(ai);
	errno = saved_errno;
}

/* Room for one more run record, before the chunks are mapped. */
static int runs_reserve(struct __arena *ai)
{
	struct arena_run *r;
	size_t cap;

	if (ai->nr_runs < ai->runs_cap)
		return 0;
	cap = ai->runs_cap ? ai->runs_cap * 2 : 8;
	r = realloc(ai->runs, cap * sizeof(*r));
	if (!r)
		return -ENOMEM;
	ai->runs = r;
	ai->runs_cap = cap;
	return 0;
}

/* Record a run mapped for @ai (room reserved by runs_reserve()). */
static void run_add(struct __arena *ai, char *p, size_t len)
{
	ai->runs[ai->nr_runs].base = p;
	ai->runs[ai->nr_runs].len = len;
	ai->nr_runs++;
	ai->mapped += len;
	if (len < g.chunk_size)
		ai->nr_small++;
	else
		ai->nr_chunks += len / g.chunk_size;
}

/*
 * Map @len bytes for @ai: a small run (a page multiple below a chunk,
 * kernel backend only) or whole chunks, and record them. Returns their
 * address or NULL with errno set. Thread-safe arenas call it with ai->lock
 * held.
 */
static char *run_map(struct __arena *ai, size_t len)
{
	char *p;

	if (runs_reserve(ai)) {
		errno = ENOMEM;
		return NULL;
	}
	if (g.backend == BACKEND_KERNEL)
		p = __arena_kernel_map(ai, len, 0);
	else
		p = __arena_mmap_chunks(ai, len / g.chunk_size);
	if (!p)
		return NULL;
	run_add(ai, p, len);
	__arena_instr_run(ai, p, len);
	return p;
}

/* A request of @need bytes (rounded, > a quarter chunk): its own run. */
static void *large_alloc(struct __arena *ai, size_t need)
{
	size_t cs = g.chunk_size, nr = need / cs + !!(need % cs);
	char *p = run_map(ai, nr * cs);

	if (p) {
		ai->handed += need;
		ai->large += need;
		ai->tails += nr * cs - need;
	}
	return p;
}

/* The bytes to take for a request of @size; 0 (errno set) if impossible. */
static size_t request_size(size_t size)
{
	size_t need;

	/* Also keeps the chunk count of a large request from overflowing. */
	if (size > SIZE_MAX - g.chunk_size) {
		errno = ENOMEM;
		return 0;
	}
	need = round_align(size);
	/* A zero-byte request gets an object of its own (libarena.h). */
	return need ? need : ARENA_ALIGN;
}

/* Single-threaded arenas: the exact fit, aligned requests and misses. */
static void *st_alloc(struct __arena *ai, size_t size, size_t align)
{
	struct arena *a = &ai->pub;
	uintptr_t cur = (uintptr_t)a->cur_, end = (uintptr_t)a->end_, p;
	size_t need = request_size(size), len;
	char *c;

	if (!need)
		return NULL;
	p = (cur + align - 1) & ~(uintptr_t)(align - 1);
	if (cur && p <= end && need <= end - p) {
		if (p != cur)
			atomic_fetch_add_explicit(&ai->pad, p - cur,
						  memory_order_relaxed);
		a->cur_ = (char *)(p + need);
		return (void *)p;
	}
	/* Whole-chunk runs are chunk aligned: any alignment is met. */
	if (need > g.chunk_size / 4)
		return large_alloc(ai, need);

	/* Small runs are page aligned: leave room to align within one. */
	len = grow_size(ai->next_run, need + (align > g.page_size ?
					      align - g.page_size : 0),
			&ai->next_run);
	c = run_map(ai, len);
	if (!c)
		return NULL;
	if (cur) {
		ai->handed += cur - (uintptr_t)ai->chunk;
		ai->tails += end - cur;
	}
	p = ((uintptr_t)c + align - 1) & ~(uintptr_t)(align - 1);
	if (p != (uintptr_t)c)
		atomic_fetch_add_explicit(&ai->pad, p - (uintptr_t)c,
					  memory_order_relaxed);
	ai->chunk = c;
	ai->run_size = len;
	a->cur_ = (char *)(p + need);
	a->end_ = c + len;
	return (void *)p;
}

/*
 * Thread-safe arenas. The hit path is lock-free: a compare-and-swap moves
 * the cursor past the request. A miss takes the lock, makes sure no other
 * thread has installed a chunk meanwhile, maps one, and installs it with
 * the request already taken from it: the exchange retires the old cursor
 * (whatever other threads took from the old chunk in between included)
 * and makes every CAS still aiming at the old chunk fail and retry.
 */
static void *ts_alloc(struct __arena *ai, size_t size, size_t align)
{
	size_t need = request_size(size);
	uintptr_t cur, end, p, old;
	char *c;

	if (!need)
		return NULL;
	if (need > g.chunk_size / 4) {
		pthread_mutex_lock(&ai->lock);
		c = large_alloc(ai, need);
		pthread_mutex_unlock(&ai->lock);
		return c;
	}
	for (;;) {
		cur = atomic_load_explicit(&ai->ts_cur, memory_order_acquire);
		end = chunk_end_of(cur);
		p = (cur + align - 1) & ~(uintptr_t)(align - 1);
		if (p >= cur && p <= end && need <= end - p) {
			if (!atomic_compare_exchange_weak_explicit(&ai->ts_cur,
					&cur, p + need, memory_order_acq_rel,
					memory_order_relaxed))
				continue;
			if (p != cur)
				atomic_fetch_add_explicit(&ai->pad, p - cur,
							  memory_order_relaxed);
			return (void *)p;
		}

		pthread_mutex_lock(&ai->lock);
		if (atomic_load_explicit(&ai->ts_cur,
					 memory_order_relaxed) != cur) {
			pthread_mutex_unlock(&ai->lock);
			continue;
		}
		if (ai->spare) {
			c = ai->spare;
			ai->spare = NULL;
		} else {
			c = run_map(ai, g.chunk_size);
		}
		if (!c) {
			pthread_mutex_unlock(&ai->lock);
			return NULL;
		}
		old = atomic_exchange_explicit(&ai->ts_cur,
					       (uintptr_t)c + need,
					       memory_order_acq_rel);
		if (old) {
			end = chunk_end_of(old);
			ai->handed += old - (end - g.chunk_size);
			ai->tails += end - old;
		}
		pthread_mutex_unlock(&ai->lock);
		return c;
	}
}

/*
 * Under a sanitizer (ai->instr): a poisoned gap of ARENA_REDZONE bytes
 * after each object, counted as padding, so an overflow into the next
 * object is seen.
 */
static void *instr_alloc(struct __arena *ai, size_t size, size_t align)
{
	void *p;

	if (size > SIZE_MAX - ARENA_REDZONE) {
		errno = ENOMEM;
		return NULL;
	}
	p = ts_alloc(ai, size + ARENA_REDZONE, align);
	if (p) {
		atomic_fetch_add_explicit(&ai->pad, ARENA_REDZONE,
					  memory_order_relaxed);
		__arena_instr_alloc(ai, p, size);
	}
	return p;
}

ARENA_EXPORT void *arena_alloc_slow(struct arena *a, size_t size)
{
	struct __arena *ai = __arena_impl(a);

	if (ai->dead) {
		errno = ECHILD;
		return NULL;
	}
	if (ai->instr)
		return instr_alloc(ai, size, ARENA_ALIGN);
	if (ai->flags & ARENA_THREADSAFE)
		return ts_alloc(ai, size, ARENA_ALIGN);
	return st_alloc(ai, size, ARENA_ALIGN);
}

/* Its name in the 1.0 and 1.1 headers, which programs built with them call. */
ARENA_EXPORT void *__arena_alloc_slow(struct arena *a, size_t size)
	__attribute__((alias("arena_alloc_slow")));

ARENA_EXPORT void *arena_alloc_aligned(struct arena *a, size_t size,
				       size_t align)
{
	struct __arena *ai = __arena_impl(a);

	if (!a || !align || (align & (align - 1))) {
		errno = EINVAL;
		return NULL;
	}
	if (ai->dead) {
		errno = ECHILD;
		return NULL;
	}
	/* The chunk size is set: @a exists. A chunk is the most we can do. */
	if (align > g.chunk_size) {
		errno = EINVAL;
		return NULL;
	}
	if (align <= ARENA_ALIGN)
		return arena_alloc(a, size);
	if (ai->instr)
		return instr_alloc(ai, size, align);
	if (ai->flags & ARENA_THREADSAFE)
		return ts_alloc(ai, size, align);
	return st_alloc(ai, size, align);
}

ARENA_EXPORT void *arena_calloc(struct arena *a, size_t n, size_t size)
{
	size_t total;
	void *p;

	if (!a) {
		errno = EINVAL;
		return NULL;
	}
	if (__builtin_mul_overflow(n, size, &total)) {
		errno = ENOMEM;
		return NULL;
	}
	/* Arena memory is zero when handed out, unless ARENA_NOZERO. */
	p = arena_alloc(a, total);
	if (p && (__arena_impl(a)->flags & ARENA_NOZERO))
		memset(p, 0, total);
	return p;
}

ARENA_EXPORT char *arena_strndup(struct arena *a, const char *s, size_t n)
{
	size_t len;
	char *p;

	if (!a || !s) {
		errno = EINVAL;
		return NULL;
	}
	len = strnlen(s, n);
	p = arena_alloc(a, len + 1);
	if (p) {
		memcpy(p, s, len);
		p[len] = '\0';
	}
	return p;
}

ARENA_EXPORT char *arena_strdup(struct arena *a, const char *s)
{
	return arena_strndup(a, s, SIZE_MAX);
}

ARENA_EXPORT int arena_reset(struct arena *a)
{
	struct __arena *ai = __arena_impl(a);
	int ts, err = 0, saved_errno = errno;
	uintptr_t cur = 0;
	char *c;

	if (!a)
		return -EINVAL;
	if (ai->dead)
		return -ECHILD;
	/* From one of its own cleanups. */
	if (ai->in_cleanup)
		return -EBUSY;
	__arena_run_cleanups(ai);
	ts = ai->flags & ARENA_THREADSAFE;
	if (ts) {
		pthread_mutex_lock(&ai->lock);
		/*
		 * An allocation racing the reset is forbidden, but must not
		 * bump into revoked memory: with the cursor at 0 first, it
		 * misses into ts_alloc()'s slow path, which waits for the
		 * lock and sees the reset.
		 */
		cur = atomic_exchange_explicit(&ai->ts_cur, 0,
					       memory_order_acq_rel);
	}
	if (!ai->nr_runs) {
		/* Nothing to revoke; a pending spare chunk is still fresh. */
		if (ts)
			atomic_store(&ai->ts_cur, cur);
	} else if (g.backend == BACKEND_KERNEL) {
		/*
		 * One ioctl revokes every run and maps a fresh one, which
		 * becomes the current run. On failure nothing changed. A
		 * growing arena's fresh run holds what this cycle used (the
		 * next cycle likely uses as much) in one run.
		 */
		size_t len = g.chunk_size, next = 0;

		if (!ts && g.small_runs && !(ai->flags & ARENA_WHOLE_CHUNKS))
			len = grow_size(g.page_size, bump_used(ai), &next);
		c = __arena_kernel_map(ai, len, 1);
		if (!c) {
			err = -errno;
			atomic_store(&ai->ts_cur, cur);	/* unchanged */
		} else {
			__arena_instr_release(ai, 1);
			arena_clear(ai);
			run_add(ai, c, len);
			__arena_instr_run(ai, c, len);
			ai->next_run = next;
			if (ts) {
				ai->spare = c;
			} else {
				ai->chunk = c;
				ai->run_size = len;
				ai->pub.cur_ = c;
				ai->pub.end_ = c + len;
			}
		}
	} else {
		/*
		 * The runs leave the arena even if one could not be made
		 * inaccessible (-ENOMEM: no memory map left for the split).
		 */
		err = __arena_mmap_release(ai);
		__arena_instr_release(ai, 1);
		arena_clear(ai);
	}
	if (ts)
		pthread_mutex_unlock(&ai->lock);
	errno = saved_errno;
	return err;
}

ARENA_EXPORT int arena_contains(const struct arena *a, const void *p)
{
	struct __arena *ai = __arena_impl(a);
	uintptr_t x = (uintptr_t)p;
	int found = 0;
	size_t i;

	if (!a || ai->dead)
		return 0;
	if (ai->flags & ARENA_THREADSAFE)
		pthread_mutex_lock(&ai->lock);
	for (i = 0; i < ai->nr_runs && !found; i++) {
		uintptr_t b = (uintptr_t)ai->runs[i].base;

		found = x >= b && x - b < ai->runs[i].len;
	}
	if (ai->flags & ARENA_THREADSAFE)
		pthread_mutex_unlock(&ai->lock);
	return found;
}

ARENA_EXPORT int arena_stats(const struct arena *a, struct arena_stats *st)
{
	struct __arena *ai = __arena_impl(a);
	size_t used = 0, avail = 0, pad;

	if (!a || !st)
		return -EINVAL;
	if (ai->dead)
		return -ECHILD;
	memset(st, 0, sizeof(*st));
	if (ai->flags & ARENA_THREADSAFE) {
		uintptr_t cur, end;

		pthread_mutex_lock(&ai->lock);
		cur = atomic_load(&ai->ts_cur);
		if (cur) {
			end = chunk_end_of(cur);
			used = cur - (end - g.chunk_size);
			avail = end - cur;
		}
		if (ai->spare)
			avail += g.chunk_size;
	} else if (ai->pub.cur_) {
		used = ai->pub.cur_ - ai->chunk;
		avail = ai->pub.end_ - ai->pub.cur_;
	}
	pad = atomic_load(&ai->pad);
	st->requested = ai->handed + used - pad;
	st->waste = ai->tails + pad;
	st->available = avail;
	st->chunks = ai->nr_chunks;
	st->small_runs = ai->nr_small;
	st->mapped = ai->mapped;
	if (ai->flags & ARENA_THREADSAFE)
		pthread_mutex_unlock(&ai->lock);
	return 0;
}

/*
 * Async-signal-safe (a SIGSEGV handler's call): no lock, no allocation,
 * errno kept. What it reads is set up before lookup_backend is published
 * and stays until a fork child withdraws it: the kernel backend's file and
 * window (one ioctl), the mmap backend's slot table (never reallocated,
 * read lock-free, see __arena_mmap_lookup()). Exported as arena_lookup at
 * two versions: see extras.c.
 */
int __arena_lookup(const void *addr, struct arena_addr_info *info)
{
	int err, saved_errno = errno;

	if (!info)
		return -EINVAL;
	memset(info, 0, sizeof(*info));
	switch (atomic_load_explicit(&lookup_backend, memory_order_acquire)) {
	case BACKEND_KERNEL:
		err = __arena_kernel_lookup((uintptr_t)addr, info);
		break;
	case BACKEND_MMAP:
		err = __arena_mmap_lookup((uintptr_t)addr, info);
		break;
	default:
		err = -ENOENT;
	}
	errno = saved_errno;
	return err;
}

ARENA_EXPORT unsigned int arena_id(const struct arena *a)
{
	return a ? __arena_impl(a)->id : 0;
}
