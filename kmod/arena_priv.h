/* SPDX-License-Identifier: GPL-2.0 */
/*
 * arena.ko internal types.
 *
 * One open file of /dev/arena is one struct arena_space: an address-space
 * window that its process maps once. The window is cut into slots of one
 * chunk each (2 MiB by default: one PMD). Worked numbers for the default
 * 64 GiB window:
 *
 *	window offset	  slot	  what
 *	0x0000000000	     0	  first slot (PMD aligned: thp_get_unmapped_area)
 *	0x0000200000	     1	  second slot
 *	...
 *	0xfffe00000	 32767	  last slot
 *
 * A slot is EMPTY (never handed out, or recycled), belongs to a LIVE run (a
 * run is the consecutive slots one allocation ioctl handed to an arena) or
 * to a FREED run (its arena was freed; the slot keeps faulting and
 * remembers who freed it until the window needs the address space back).
 *
 * Small runs (shorter than a chunk) are page granular. They live in the
 * small window: a second mapping of the file, at file offset window_size,
 * as large as the chunk window and cut into slots the same way (slot
 * numbers nr_slots and up). It is its own VMA because its pages are mapped
 * by the ioctl that makes a run, with vm_insert_pages(), which needs
 * VM_MIXEDMAP; the chunk window cannot have that flag, as the core would
 * then take its PMD-mapped chunks for special (pfn) mappings and skip their
 * rmap and reference when unmapping them (vma_is_special_huge()). Each
 * small slot is bump-allocated into runs of pages (struct arena_sslot),
 * and each small run's pages are carved, in turn, from the open file's
 * current shared physical chunk (arena_space.carve):
 *
 *	small window (VA)	    physical chunk (carve)
 *	small slot 32768: [A1|B1|A2 |C1 ...]   chunk 7: [A1|B1|A2 |C1 ...]
 *
 * A freed small run faults page by page like any freed run; the physical
 * chunk goes to the quarantine when every run carved from it is freed.
 */
#ifndef _ARENA_PRIV_H
#define _ARENA_PRIV_H

#include <linux/atomic.h>
#include <linux/bits.h>
#include <linux/list.h>
#include <linux/memcontrol.h>
#include <linux/mm_types.h>
#include <linux/mutex.h>
#include <linux/sched.h>
#include <linux/uidgid.h>
#include <linux/types.h>
#include <linux/xarray.h>

/* A reference on a memory cgroup that may be NULL (mem_cgroup_put()'s pair). */
static inline void arena_memcg_get(struct mem_cgroup *memcg)
{
#ifdef CONFIG_MEMCG
	if (memcg)
		css_get(&memcg->css);
#endif
}

/* Chunk geometry, fixed at module load (module parameter chunk_kib). */
extern unsigned int arena_chunk_shift;		/* log2 of the chunk size */
#define ARENA_CHUNK_SHIFT	arena_chunk_shift
#define ARENA_CHUNK_SIZE	BIT(arena_chunk_shift)
#define ARENA_CHUNK_ORDER	(arena_chunk_shift - PAGE_SHIFT)
#define ARENA_CHUNK_PAGES	BIT(ARENA_CHUNK_ORDER)
/* The folio order a chunk falls back to under fragmentation: 64 KiB. */
#define ARENA_FALLBACK_ORDER	4
/*
 * Chunks that small runs are carved from are made of single pages: the
 * core maps a single-page folio with one PTE and nothing else, whereas it
 * may map a larger one whole, with a PMD (do_set_pmd()) or, on newer
 * kernels, with all its PTEs at once (finish_fault()), which for a chunk
 * shared by several arenas would map their pages too.
 */
#define ARENA_CARVE_ORDER	0

/* Why a quarantined chunk is held (the first reason found). */
enum arena_hold {
	ARENA_HELD_NONE,
	ARENA_HELD_MAPPED,	/* a page table still maps a page */
	ARENA_HELD_PINNED,	/* a GUP pin (O_DIRECT, io_uring, ...) */
	ARENA_HELD_REFERENCED,	/* another reference (a pipe, ...) */
};

/**
 * struct arena_chunk - one chunk of physical memory
 * @node: in a node pool's ready or dirty list, or in the quarantine
 * @id: serial number, as the netlink quarantine dump shows it
 * @nid: NUMA node of the memory
 * @order: order of each folio; ARENA_CHUNK_ORDER unless the page allocator
 *	was fragmented when the chunk was made
 * @nr_folios: 1 << (ARENA_CHUNK_ORDER - @order)
 * @hold: in quarantine, an enum arena_hold
 * @warned: in quarantine, the long-held event has been sent
 * @since_ns: when the chunk entered its current pool state
 * @carved: while it is carved into small runs: pages handed out so far
 * @runs: while it is carved into small runs: runs not yet freed
 * @nozero: while it is carved into small runs: they are no-zero runs, and
 *	it is kept for the space's next ones once they are all freed
 * @memcg: the memory cgroup the folios are charged to (__GFP_ACCOUNT), a
 *	reference held; NULL for the root cgroup or without memcg. Only a
 *	window of the same cgroup is handed the chunk (pool.c).
 * @user: the user whose RLIMIT_MEMLOCK the chunk is charged to (a
 *	reference held), from the moment an arena takes it until nothing
 *	references it any more (quarantine included); NULL if uncharged
 * @folios: the memory; the module holds one reference on each
 *
 * States: ready (zeroed, in a node pool) -> in use (in an arena run) ->
 * quarantined (unmapped, still referenced) -> dirty (unreferenced, in a node
 * pool) -> ready. A chunk only ever moves forward round that cycle, or leaves
 * it back to the page allocator from ready or dirty.
 */
struct arena_chunk {
	struct list_head node;
	u64 id;
	int nid;
	unsigned int order;
	unsigned int nr_folios;
	unsigned int hold;
	bool warned;
	u64 since_ns;
	unsigned int carved;
	unsigned int runs;
	bool nozero;
	struct mem_cgroup *memcg;
	struct user_struct *user;
	struct folio *folios[];
};

enum arena_run_state {
	ARENA_RUN_RESERVED,	/* being set up: faults get SIGSEGV */
	ARENA_RUN_LIVE,
	ARENA_RUN_FREED,
};

/**
 * struct arena_run - window pages handed to one arena by one allocation
 * @pgoff: first page, in pages from the start of the window
 * @nr_pages: length in pages
 * @state: an enum arena_run_state; written under the space's slots xa_lock,
 *	which the fault handler reads it under
 * @arena_id: id of the arena that holds or held the run
 * @nr_chunks: whole chunks (@nr_pages is a multiple of the chunk); 0 for a
 *	small run, whose pages are @first.. of the shared chunk @chunks[0]
 * @nozero: made with ARENA_ALLOC_NOZERO: its chunks, once freed and
 *	unreferenced, are kept for the space's next no-zero runs
 * @first: small run: index of its first page in @chunks[0]
 * @node: in the arena's run list while live, in the space's freed FIFO after
 * @freed_ns: ktime_get_ns() when the arena was freed
 * @freed_by: the thread group that freed it (a reference is held)
 * @chunks: the chunks while live; NULL after free
 */
struct arena_run {
	unsigned long pgoff;
	unsigned long nr_pages;
	unsigned int state;
	u32 arena_id;
	unsigned int nr_chunks;
	unsigned int first;
	bool nozero;
	struct list_head node;
	u64 freed_ns;
	struct pid *freed_by;
	struct arena_chunk *chunks[];
};

static inline bool arena_run_small(const struct arena_run *run)
{
	return !run->nr_chunks;
}

/* Bits of arena_space.mapped. */
#define ARENA_MAPPED_CHUNKS	0
#define ARENA_MAPPED_SMALL	1

/*
 * Tag of a small slot's entry in arena_space.slots (whole-chunk slots hold
 * the struct arena_run pointer untagged).
 */
#define ARENA_SLOT_SMALL	1

/**
 * struct arena_sslot - a small slot: one chunk of window cut into runs
 * @slot: its slot number
 * @next: pages handed out so far; runs are cut from here (bump)
 * @pending: pages handed out whose runs are live or freed but not yet
 *	recycled; once 0 and the slot is full or replaced, it is emptied
 * @runs: per page, the run it belongs to (NULL: never handed out, or
 *	recycled); read by the fault handler under the slots xa_lock
 */
struct arena_sslot {
	unsigned long slot;
	unsigned int next;
	unsigned int pending;
	struct arena_run **runs;
};

/**
 * struct arena - an arena: a set of runs freed together
 * @id: the arena id userspace knows
 * @runs: its live runs, in allocation order (so mostly ascending slots)
 * @nr_chunks: whole chunks held
 * @nr_pages: pages held, in whole chunks and small runs
 */
struct arena {
	u32 id;
	struct list_head runs;
	unsigned long nr_chunks;
	unsigned long nr_pages;
};

/**
 * struct arena_space - per open file state: one window
 * @inode: private inode whose address_space the window's VMAs hang off;
 *	unmap_mapping_range() on it reaches every mapping of the window
 * @mm: the process that opened the file (mmgrab'd); only it may use the file
 * @user: the user charged for the chunks (RLIMIT_MEMLOCK, as io_uring does)
 * @charge: false if the opener had CAP_IPC_LOCK: nothing is charged
 * @memcg: the opener's memory cgroup (a reference held), which the chunks
 *	are allocated and charged in; NULL for the root cgroup
 * @nr_slots: slots in the chunk window; the small window has as many,
 *	numbered @nr_slots to 2 * @nr_slots - 1
 * @lock: serialises the ioctls; protects @arenas, @used, @freed_fifo,
 *	@freed_pages, @sslot, @carve, @carve_nozero, @own, every small
 *	slot's @next and @pending and every carved chunk's @carved, @runs
 *	and @nozero. Never taken in the fault path or under mmap_lock (mmap
 *	uses @mapped alone), and no user memory is touched while it is held;
 *	mmap_lock is only ever tried under it (mmap_read_trylock() to map a
 *	small run), so it never waits for mmap_lock either.
 * @slots: slot -> struct arena_run *, or a struct arena_sslot * tagged
 *	ARENA_SLOT_SMALL; its xa_lock protects each run's @state and each
 *	small slot's @runs against the fault handler. A run's @chunks are
 *	not under it: the fault handler reads them only under the xa_lock
 *	while the run is LIVE, and they are cleared only after it is FREED.
 * @arenas: id -> struct arena *
 * @next_id: cursor for cyclic id allocation
 * @used: bitmap of slots (both windows) that belong to a live or freed
 *	run
 * @freed_fifo: freed runs, oldest first; recycled from the head once
 *	@freed_pages exceeds the va_quarantine_mb budget or nothing else fits
 * @freed_pages: pages in @freed_fifo
 * @nr_freed: runs in @freed_fifo (at most max_freed_runs)
 * @nr_empty: arenas that hold no memory (at most max_empty_arenas)
 * @nr_sslots: small slots, current one included (at most max_small_slots)
 * @sslot: the small slot new small runs are cut from, or NULL
 * @carve: the shared chunk new small runs are carved from, or NULL; it is
 *	charged to @user as a whole chunk while the space holds it
 * @carve_nozero: the same for no-zero small runs, which never share a
 *	chunk with default ones (it may hold old bytes of this space's)
 * @own: chunks of freed no-zero runs (whole chunks, and shared chunks
 *	no-zero small runs were carved from), unmapped and unreferenced,
 *	kept (still charged, not zeroed) for the next no-zero runs
 * @nr_own: chunks in @own (at most nozero_keep_mb)
 * @mapped: ARENA_MAPPED_* bits, set once each part of the window has been
 *	mmapped (each can be only once)
 * @small_start: the small window's address, read under mmap_lock; the
 *	VMA found there is checked to be ours before it is used
 * @owner: the opener's thread group, for the netlink arena dump
 * @uid: the opener's euid: unprivileged dumps show only their own
 * @entry: in the registry of open windows (window.c)
 */
struct arena_space {
	struct inode *inode;
	struct mm_struct *mm;
	struct user_struct *user;
	bool charge;
	struct mem_cgroup *memcg;
	unsigned long nr_slots;

	struct mutex lock;		/* see above */
	struct xarray slots;
	struct xarray arenas;
	u32 next_id;
	unsigned long *used;
	struct list_head freed_fifo;
	unsigned long freed_pages;
	unsigned int nr_freed;
	unsigned int nr_empty;
	unsigned int nr_sslots;
	struct arena_sslot *sslot;
	struct arena_chunk *carve;
	struct arena_chunk *carve_nozero;
	struct list_head own;
	unsigned int nr_own;
	unsigned long mapped;
	unsigned long small_start;
	struct pid *owner;
	kuid_t uid;
	struct list_head entry;
};

/*
 * Counters exported under /sys/kernel/arena/ (sysfs.c). The chunks_* state
 * counts are changed under the lock of the list that holds the chunk.
 */
struct arena_stats {
	/* chunks by state */
	atomic_long_t chunks_ready;
	atomic_long_t chunks_in_use;
	atomic_long_t chunks_quarantined;
	atomic_long_t chunks_dirty;
	atomic_long_t chunks_total;	/* all four: what the module holds */
	/* events since load */
	atomic_long_t chunks_allocated;	/* from the page allocator */
	atomic_long_t chunks_fallback;	/* ... of which in smaller folios */
	atomic_long_t chunks_released;	/* back to the page allocator */
	atomic_long_t chunks_reused;	/* handed out from the ready pool */
	atomic_long_t chunks_reused_nozero; /* to no-zero runs, unzeroed */
	atomic_long_t chunks_zeroed;	/* by the background workers */
	atomic_long_t chunks_zeroed_inline; /* by an ioctl: pool was cold */
	atomic_long_t chunks_held;	/* entered quarantine still referenced */
	atomic_long_t chunks_mapped;	/* handed to arenas */
	atomic_long_t pages_zeroed;	/* by the workers and inline */
	atomic_long_t arenas_created;
	atomic_long_t arenas_freed;
	atomic_long_t shrinker_released;
	atomic_long_t limit_hits;	/* ENOMEM from the global cap */
	atomic_long_t memlock_hits;	/* ENOMEM from RLIMIT_MEMLOCK */
	atomic_long_t uaf_faults;
	atomic_long_t wild_faults;
	atomic_long_t arenas_live;
	atomic_long_t windows_open;
	/* small runs */
	atomic_long_t chunks_shared;	/* in use, carved into small runs */
	atomic_long_t small_runs_mapped; /* handed to arenas */
	atomic_long_t pages_live;	/* pages of live arenas' runs */
};

extern struct arena_stats arena_stats;

/* Chunk counts of one NUMA node, by state (pool.c). */
struct arena_node_stats {
	unsigned long ready, in_use, quarantined, dirty;
};

void arena_node_stats(int nid, struct arena_node_stats *st);
void arena_node_in_use_add(int nid, long delta);
void arena_node_quarantined_add(int nid, long delta);
extern unsigned long arena_window_size;

/* params.c: tunables, read with READ_ONCE() */
extern unsigned long arena_max_chunks;
extern unsigned int arena_pool_low;
extern unsigned int arena_pool_high;
extern unsigned long arena_va_quarantine_mb;
extern unsigned int arena_max_empty_arenas;
extern unsigned int arena_max_freed_runs;
extern unsigned int arena_max_small_slots;
extern unsigned long arena_nozero_keep_mb;
int arena_params_init(void);

/* window.c: the per open file state, its mapping */
struct arena_space *arena_space_create(void);
void arena_space_destroy(struct arena_space *space);
int arena_space_mmap(struct arena_space *space, struct vm_area_struct *vma);
int arena_fs_init(void);
void arena_fs_exit(void);

/* arenas.c: arenas */
int arena_create(struct arena_space *space, u32 *id);
int arena_alloc(struct arena_space *space, u32 *id, unsigned long nr_pages,
		u32 flags, u64 *offset);
int arena_free(struct arena_space *space, u32 id);
struct arena_lookup;
int arena_lookup(struct arena_space *space, struct arena_lookup *lk);

/* chunk.c: one chunk's memory */
struct arena_chunk *arena_chunk_new(int nid, struct mem_cgroup *memcg,
				    unsigned int order);
void arena_chunk_uncharge(struct arena_chunk *c);
void arena_chunk_zero(struct arena_chunk *c);
void arena_chunk_release(struct arena_chunk *c);
unsigned int arena_chunk_hold(struct arena_chunk *c);
void arena_chunk_set_index(struct arena_chunk *c, pgoff_t pgoff);
struct page *arena_chunk_page(struct arena_chunk *c, unsigned long idx);

/* pool.c: per-node ready and dirty lists, the worker, the shrinker */
struct arena_chunk *arena_pool_get(struct mem_cgroup *memcg, bool small);
void arena_pool_add_dirty(struct arena_chunk *c);
void arena_pool_kick(void);
void arena_pool_drain(void);
int arena_pool_init(void);
void arena_pool_exit(void);

/* quarantine.c */
void arena_quarantine_put(struct arena_chunk *c);
void arena_quarantine_exit(void);
extern unsigned int arena_held_warn_ms;

/* netlink.c (the events the core sends are in events.h) */
int arena_netlink_init(void);
void arena_netlink_exit(void);

/*
 * Walkers for the netlink dumps: call @fn for each item after the first
 * @skip, until it returns nonzero; return the number of items passed
 * (skipped, or sent: @fn returned 0), where the next round resumes.
 */
struct arena_view {
	pid_t pid;			/* the caller's pid namespace */
	const char *comm;
	u32 id;
	unsigned long chunks;
	unsigned long pages;
};

typedef int (*arena_arena_fn)(void *arg, const struct arena_view *v);
/* window.c: live arenas of the windows a caller of @uid may see */
long arena_arenas_walk(pid_t only_pid, bool all_users, kuid_t uid, long skip,
		       arena_arena_fn fn, void *arg);

typedef int (*arena_qchunk_fn)(void *arg, const struct arena_chunk *c,
			       u64 held_ms);
/* quarantine.c: quarantined chunks, oldest first */
long arena_quarantine_walk(long skip, arena_qchunk_fn fn, void *arg);

/* sysfs.c */
int arena_sysfs_init(void);
void arena_sysfs_exit(void);

#endif /* _ARENA_PRIV_H */
