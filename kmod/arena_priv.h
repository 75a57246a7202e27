/* SPDX-License-Identifier: GPL-2.0 */
/*
 * arena.ko internal types.
 *
 * One open file of /dev/arena is one struct arena_space: an address-space
 * window that its process maps once. The window is cut into slots of one
 * chunk each (2 MiB: one PMD). Worked numbers for the default 64 GiB window:
 *
 *	window offset	  slot	  what
 *	0x0000000000	     0	  first slot (PMD aligned: thp_get_unmapped_area)
 *	0x0000200000	     1	  second slot
 *	...
 *	0xfffe00000	 32767	  last slot
 *
 * A slot is EMPTY (never handed out, or recycled), belongs to a LIVE run (a
 * run is the consecutive slots one ARENA_IOC_ALLOC_CHUNKS call handed to an
 * arena) or to a FREED run (its arena was freed; the slot keeps faulting and
 * remembers who freed it until the window needs the address space back).
 */
#ifndef _ARENA_PRIV_H
#define _ARENA_PRIV_H

#include <linux/atomic.h>
#include <linux/list.h>
#include <linux/mm_types.h>
#include <linux/mutex.h>
#include <linux/types.h>
#include <linux/xarray.h>

#define ARENA_CHUNK_SHIFT	PMD_SHIFT
#define ARENA_CHUNK_SIZE	(1UL << ARENA_CHUNK_SHIFT)
#define ARENA_CHUNK_ORDER	(ARENA_CHUNK_SHIFT - PAGE_SHIFT)

enum arena_run_state {
	ARENA_RUN_RESERVED,	/* being set up: faults get SIGSEGV */
	ARENA_RUN_LIVE,
	ARENA_RUN_FREED,
};

/**
 * struct arena_run - consecutive window slots handed to one arena at once
 * @start: first slot
 * @nr: number of slots (and of chunks while live)
 * @state: an enum arena_run_state; written under the space's slots xa_lock
 * @arena_id: id of the arena that holds or held the run
 * @node: in the arena's run list while live, in the space's freed FIFO after
 * @freed_ns: ktime_get_ns() when the arena was freed
 * @freed_by: the thread group that freed it (a reference is held)
 * @folios: one chunk per slot while live; NULL after free
 */
struct arena_run {
	unsigned long start;
	unsigned int nr;
	unsigned int state;
	u32 arena_id;
	struct list_head node;
	u64 freed_ns;
	struct pid *freed_by;
	struct folio *folios[];
};

/**
 * struct arena - an arena: a set of runs freed together
 * @id: the arena id userspace knows
 * @runs: its live runs, in allocation order (so mostly ascending slots)
 * @nr_chunks: chunks held
 */
struct arena {
	u32 id;
	struct list_head runs;
	unsigned long nr_chunks;
};

/**
 * struct arena_space - per open file state: one window
 * @inode: private inode whose address_space the window's VMAs hang off;
 *	unmap_mapping_range() on it reaches every mapping of the window
 * @mm: the process that opened the file (mmgrab'd); only it may use the file
 * @nr_slots: slots in the window
 * @lock: serialises the ioctls and mmap; protects @arenas, @used, @cursor,
 *	@freed_fifo and @freed_slots. Never taken in the fault path or under
 *	mmap_lock (mmap uses @mapped alone), and no user memory is touched
 *	while it is held, so it nests neither inside nor outside mmap_lock.
 * @slots: slot -> struct arena_run *; its xa_lock protects each run's
 *	@state and @folios against the fault handler
 * @arenas: id -> struct arena *
 * @next_id: cursor for cyclic id allocation
 * @used: bitmap of slots that belong to a live or freed run
 * @cursor: next-fit cursor into @used, so never-used slots go first
 * @freed_fifo: freed runs, oldest first; recycled from the head
 * @freed_slots: slots in @freed_fifo
 * @mapped: 1 once the window has been mmapped (it can be only once)
 */
struct arena_space {
	struct inode *inode;
	struct mm_struct *mm;
	unsigned long nr_slots;

	struct mutex lock;
	struct xarray slots;
	struct xarray arenas;
	u32 next_id;
	unsigned long *used;
	unsigned long cursor;
	struct list_head freed_fifo;
	unsigned long freed_slots;
	atomic_t mapped;
};

/* Counters exported under /sys/kernel/arena/ (sysfs.c). */
struct arena_stats {
	atomic_long_t chunks_in_use;
	atomic_long_t arenas_live;
	atomic_long_t windows_open;
	atomic_long_t uaf_faults;
	atomic_long_t wild_faults;
};

extern struct arena_stats arena_stats;
extern unsigned long arena_window_size;

/* space.c */
struct arena_space *arena_space_create(void);
void arena_space_destroy(struct arena_space *space);
int arena_space_mmap(struct arena_space *space, struct vm_area_struct *vma);
int arena_create(struct arena_space *space, u32 *id);
int arena_alloc_chunks(struct arena_space *space, u32 id, unsigned int nr,
		       u64 *offset);
int arena_free(struct arena_space *space, u32 id);
struct arena_lookup;
int arena_lookup(struct arena_space *space, struct arena_lookup *lk);
int arena_fs_init(void);
void arena_fs_exit(void);

/* chunk.c */
struct folio *arena_chunk_alloc(void);
void arena_chunk_release(struct folio *folio);

/* sysfs.c */
int arena_sysfs_init(void);
void arena_sysfs_exit(void);

#endif /* _ARENA_PRIV_H */
