/* SPDX-License-Identifier: MIT */
/*
 * libarena internals shared by the API (libarena.c) and the two backends
 * (backend_kernel.c, backend_mmap.c). Nothing here is exported: the version
 * script makes every symbol not in libarena.map local, and the files are
 * built with -fvisibility=hidden.
 *
 * An arena is a list of runs (memory mapped for it by one call: a small run
 * of a few pages, or consecutive whole chunks) plus a bump range in its
 * current run. On the kernel backend a single-threaded arena starts with a
 * one-page small run and doubles the size of each next one up to 64 KiB;
 * from then on (and from the start for ARENA_THREADSAFE and
 * ARENA_WHOLE_CHUNKS arenas, and on the mmap backend) it takes whole chunks. A single-threaded arena keeps the range
 * in the public struct arena, where the inline arena_alloc() bumps it; a
 * thread-safe one keeps only a cursor, ts_cur, that threads advance with a
 * compare-and-swap, and leaves the public range empty so that every
 * allocation comes here. Chunks are chunk-size aligned on both backends, so
 * the chunk of a cursor is implied by it: the cursor never rests on a
 * chunk's first byte (a new chunk is installed with its first allocation
 * already made), so cur - 1 is always inside the chunk.
 */
#ifndef LIBARENA_PRIV_H
#define LIBARENA_PRIV_H

#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "libarena.h"

#define ARENA_EXPORT __attribute__((visibility("default")))

enum arena_backend_kind {
	BACKEND_NONE = 0,
	BACKEND_KERNEL,
	BACKEND_MMAP,
};

/* Memory mapped together for an arena: a small run or whole chunks. */
struct arena_run {
	char *base;
	size_t len;
};

struct __arena {
	struct arena pub;		/* the fast path's part, first */
	unsigned int flags;		/* ARENA_THREADSAFE */
	unsigned int id;		/* kernel arena id, or the library's */
	int dead;			/* inherited across fork: unusable */

	/* arena_on_free() records, newest first (in the arena's memory). */
	struct arena_cleanup *cleanups;
	int in_cleanup;			/* running them: free/reset refused */
	/*
	 * Made under AddressSanitizer or Valgrind (sanitize.c): run as a
	 * thread-safe arena (every allocation out of line) with a poisoned
	 * gap after each object.
	 */
	int instr;

	/* Single-threaded arenas: the run pub.cur_ is in, and its size. */
	char *chunk;
	size_t run_size;
	/* Size of the next small run; 0 once runs are whole chunks. */
	size_t next_run;
	int growing;			/* made to grow by small runs */

	/*
	 * Thread-safe arenas: the bump cursor, 0 before the first chunk.
	 * Advanced lock-free; replaced (exchange) under @lock on a miss.
	 */
	_Atomic uintptr_t ts_cur __attribute__((aligned(64)));
	/* A fresh chunk from a kernel reset, not in use yet (under @lock). */
	char *spare;

	/*
	 * Serialises a thread-safe arena's slow path: mapping chunks, the run
	 * list and the counters below. Unused by single-threaded arenas.
	 */
	pthread_mutex_t lock __attribute__((aligned(64)));

	/* Accounting (see struct arena_stats), excluding the current chunk. */
	size_t handed;			/* bytes handed out in retired chunks
					 * and large runs, padding included */
	size_t tails;			/* bytes left unused in retired chunks
					 * and large runs */
	size_t large;			/* bytes handed out in large runs */
	_Atomic size_t pad;		/* alignment padding, all chunks */
	size_t nr_chunks;		/* whole chunks held */
	size_t nr_small;		/* small runs held */
	size_t mapped;			/* bytes of both */

	struct arena_run *runs;
	size_t nr_runs, runs_cap;

	/* The process's arenas, for fork (under g.lock). */
	struct __arena *prev, *next;
};

/* Process-wide state; @lock protects it and the arena list. */
/* Freed arenas whose use the first run follows (first_run_learn()). */
#define FIRST_RUN_HISTORY	8

struct arena_global {
	pthread_mutex_t lock;
	pthread_once_t atfork_once;
	enum arena_backend_kind backend;
	size_t chunk_size;
	size_t chunk_shift;
	size_t page_size;
	int small_runs;			/* the backend maps small runs */
	int free_next;			/* ARENA_FREE_NEXT: threads' spares */
	int nozero;			/* ARENA_ALLOC_NOZERO */
	int nozero_small;		/* ... small runs, ARENA_FREE_NEXT_NOZERO */
	unsigned int gen;		/* bumped in a fork child */
	size_t first_run;		/* a new arena's first run (0: page) */
	size_t recent[FIRST_RUN_HISTORY]; /* runs the last frees wanted */
	unsigned int recent_i;
	size_t nr_growing;		/* live arenas that grow by small runs */
	char *base;			/* the window */
	size_t window_size;
	struct __arena *arenas;

	/* kernel backend */
	int fd;

	/* mmap backend (all under @lock) */
	unsigned int next_id;
	size_t nr_slots;
	struct arena_mslot *slots;	/* per-slot state, for lookups */
	size_t slots_bytes;
	unsigned long *used;		/* bitmap: slot live or quarantined */
	size_t first_free;		/* no free slot below this one */
	struct arena_qrun *quar;	/* freed runs, oldest first (ring) */
	size_t quar_head, quar_len, quar_cap;
	size_t quar_slots;		/* slots in the quarantine */
	size_t quar_budget;		/* most slots kept faulting */
};

extern struct arena_global __arena_g;

static inline struct __arena *__arena_impl(const struct arena *a)
{
	return (struct __arena *)a;
}

/* libarena.c: arena_lookup() (extras.c exports it at LIBARENA_1.0 and 1.2). */
int __arena_lookup(const void *addr, struct arena_addr_info *info);

/* extras.c: run @ai's cleanups (arena_on_free()). */
void __arena_run_cleanups(struct __arena *ai);

/*
 * sanitize.c: AddressSanitizer's and Valgrind's view of arena memory.
 * instr_init() says whether either is there (once per arena); the others
 * do nothing for an arena without ai->instr.
 */
#define ARENA_REDZONE	ARENA_ALIGN
int __arena_instr_init(struct __arena *ai);
void __arena_instr_run(struct __arena *ai, void *p, size_t len);
void __arena_instr_alloc(struct __arena *ai, void *p, size_t size);
void __arena_instr_release(struct __arena *ai, int reset);

/* kernel backend: 0 or -errno; -ENOENT etc. when /dev/arena is unusable. */
int __arena_kernel_init(void);
char *__arena_kernel_map(struct __arena *ai, size_t len, int reset);
unsigned int __arena_kernel_free_id(unsigned int id, size_t next_len,
				    int next_nozero, char **next);
int __arena_kernel_lookup(uintptr_t p, struct arena_addr_info *info);
void __arena_kernel_forget(void);
/* The library's /dev/arena descriptor was closed under it (EBADF). */
int __arena_kernel_lost(void);
/*
 * Make a range fault without the device (mprotect and fallbacks), or
 * abort: the module's window cannot be split, so today it aborts.
 */
void __arena_revoke_range(char *p, size_t len);

/*
 * mmap backend: the same, plus revoking all of an arena's runs (which
 * cannot fail: if no way to make them fault works, the process aborts),
 * and giving back the freed chunks it keeps for the next arenas (trim).
 */
int __arena_mmap_init(void);
int __arena_mmap_create(struct __arena *ai);
char *__arena_mmap_chunks(struct __arena *ai, size_t nr);
int __arena_mmap_release(struct __arena *ai);
void __arena_mmap_trim(void);

/*
 * The memory calls the mmap backend makes once its window exists (to hand
 * out, revoke and keep chunks), through this table: the selftests, linked
 * with libarena.a, swap an entry to make one fail (as at vm.max_map_count).
 * Not exported; off the allocation hit path.
 */
struct arena_mmap_sys {
	int (*mprotect)(void *addr, size_t len, int prot);
	int (*madvise)(void *addr, size_t len, int advice);
	void *(*mmap)(void *addr, size_t len, int prot, int flags, int fd,
		      off_t off);
	void *(*mremap)(void *old, size_t old_len, size_t new_len, int flags,
			...);
};
extern struct arena_mmap_sys __arena_mmap_sys;
int __arena_mmap_lookup(uintptr_t p, struct arena_addr_info *info);
void __arena_mmap_forget(void);

#endif /* LIBARENA_PRIV_H */
