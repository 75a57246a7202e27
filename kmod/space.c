// SPDX-License-Identifier: GPL-2.0
/*
 * The window: mmap, the fault handler, slots and arenas.
 *
 * Each open file gets a private inode on a small pseudo filesystem and points
 * file->f_mapping at its address_space (as drm_open() does), so the window's
 * VMAs hang off that address_space and unmap_mapping_range() on it reaches
 * every mapping of the window: the kernel's own reverse map does revocation.
 *
 * Whole chunks are mapped through .fault, never with PFN maps: the handler
 * returns the chunk's page locked and the core's finish_fault() installs
 * one PMD for the whole 2 MiB (the chunk window is PMD aligned, i_size
 * covers it, the chunk is a PMD-order folio). Small runs are mapped by the
 * ioctl that makes them, with vm_insert_pages() into the small window (its
 * own VM_MIXEDMAP VMA), and by .fault again after MADV_DONTNEED. Either way
 * the mapping takes a page reference and an rmap count like any file page,
 * so pins and mappings are visible to the quarantine and GUP works on arena
 * memory.
 *
 * Fault and free hand over under the folio lock: free marks the run FREED,
 * then locks each folio, unmaps, unlocks. The fault handler rechecks that the
 * slot is live after locking the folio, and finish_fault() installs the entry
 * before the folio is unlocked. So either the fault sees FREED and fails, or
 * its mapping exists before free's unmap runs and is torn down by it.
 */
#define pr_fmt(fmt) KBUILD_MODNAME ": " fmt

#include <linux/bitmap.h>
#include <linux/fs.h>
#include <linux/fs_context.h>
#include <linux/ktime.h>
#include <linux/memcontrol.h>
#include <linux/mm.h>
#include <linux/mount.h>
#include <linux/pagemap.h>
#include <linux/pid.h>
#include <linux/pid_namespace.h>
#include <linux/sched/task.h>
#include <net/netlink.h>
#include <linux/pseudo_fs.h>
#include <linux/capability.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>
#include <linux/slab.h>

#include <uapi/linux/arena.h>

#include "arena_priv.h"
#include "compat.h"
#include "trace.h"

#define ARENA_FS_MAGIC	0x6172656e	/* "aren" */

static struct vfsmount *arena_mnt;

/* Every open window, for the netlink dumps; taken before a space's lock. */
static DEFINE_MUTEX(arena_spaces_lock);
static LIST_HEAD(arena_spaces);

static int arena_fs_init_fs_context(struct fs_context *fc)
{
	return init_pseudo(fc, ARENA_FS_MAGIC) ? 0 : -ENOMEM;
}

static struct file_system_type arena_fs_type = {
	.name = "arena",
	.init_fs_context = arena_fs_init_fs_context,
	.kill_sb = kill_anon_super,
};

int arena_fs_init(void)
{
	arena_mnt = kern_mount(&arena_fs_type);
	return PTR_ERR_OR_ZERO(arena_mnt);
}

void arena_fs_exit(void)
{
	kern_unmount(arena_mnt);
}

/*
 * The opener's memory cgroup, which its chunks are charged to; NULL for the
 * root cgroup (never charged) or without the memory controller.
 */
static struct mem_cgroup *arena_memcg_of_current(void)
{
#ifdef CONFIG_MEMCG
	struct mem_cgroup *memcg = get_mem_cgroup_from_mm(current->mm);

	/* Only the root css has no parent. */
	if (memcg && !memcg->css.parent) {
		mem_cgroup_put(memcg);
		memcg = NULL;
	}
	return memcg;
#else
	return NULL;
#endif
}

struct arena_space *arena_space_create(void)
{
	struct arena_space *space;
	int err = -ENOMEM;

	space = kzalloc(sizeof(*space), GFP_KERNEL_ACCOUNT);
	if (!space)
		return ERR_PTR(-ENOMEM);
	space->nr_slots = arena_window_size >> ARENA_CHUNK_SHIFT;
	/* The chunk window's slots, then the small window's. */
	space->used = kvcalloc(BITS_TO_LONGS(2 * space->nr_slots),
			       sizeof(long), GFP_KERNEL_ACCOUNT);
	if (!space->used)
		goto free_space;
	space->inode = alloc_anon_inode(arena_mnt->mnt_sb);
	if (IS_ERR(space->inode)) {
		err = PTR_ERR(space->inode);
		goto free_bitmap;
	}
	/* 6.12 (and late 6.1 stables) map a PMD only below i_size. */
	i_size_write(space->inode, 2 * arena_window_size);

	mutex_init(&space->lock);
	xa_init(&space->slots);
	xa_init_flags(&space->arenas, XA_FLAGS_ALLOC1);
	INIT_LIST_HEAD(&space->freed_fifo);
	INIT_LIST_HEAD(&space->own);
	space->mm = current->mm;
	mmgrab(space->mm);
	space->user = get_current_user();
	space->owner = get_task_pid(current, PIDTYPE_TGID);
	space->uid = current_euid();
	/* As io_uring: CAP_IPC_LOCK may lock memory beyond RLIMIT_MEMLOCK. */
	space->charge = !capable(CAP_IPC_LOCK);
	space->memcg = arena_memcg_of_current();
	atomic_long_inc(&arena_stats.windows_open);
	mutex_lock(&arena_spaces_lock);
	list_add_tail(&space->entry, &arena_spaces);
	mutex_unlock(&arena_spaces_lock);
	arena_netlink_changed();
	return space;

free_bitmap:
	kvfree(space->used);
free_space:
	kfree(space);
	return ERR_PTR(err);
}

static struct arena_sslot *
arena_sslot_at(struct arena_space *space, unsigned long slot)
{
	void *entry = xa_load(&space->slots, slot);

	if (xa_pointer_tag(entry) != ARENA_SLOT_SMALL)
		return NULL;
	return xa_untag_pointer(entry);
}

/*
 * The run window page @pgoff belongs to (live, freed, or NULL: never handed
 * out or recycled). Called under the slots xa_lock or the space's lock.
 */
static struct arena_run *arena_run_at(struct arena_space *space,
				      unsigned long pgoff)
{
	void *entry = xa_load(&space->slots, pgoff >> ARENA_CHUNK_ORDER);
	struct arena_sslot *ss;

	if (xa_pointer_tag(entry) != ARENA_SLOT_SMALL)
		return entry;
	ss = xa_untag_pointer(entry);
	return ss->runs[pgoff & (ARENA_CHUNK_PAGES - 1)];
}

/* The page that backs window page @pgoff of a live @run. */
static struct page *arena_run_page(const struct arena_run *run,
				   unsigned long pgoff)
{
	unsigned long i = pgoff - run->pgoff;

	if (arena_run_small(run))
		return arena_chunk_page(run->chunks[0], run->first + i);
	return arena_chunk_page(run->chunks[i >> ARENA_CHUNK_ORDER],
				i & (ARENA_CHUNK_PAGES - 1));
}

/* Give a small slot's address space back to the window. */
static void arena_sslot_free(struct arena_space *space, struct arena_sslot *ss)
{
	lockdep_assert_held(&space->lock);
	xa_erase(&space->slots, ss->slot);
	clear_bit(ss->slot, space->used);
	kvfree(ss->runs);
	kfree(ss);
	space->nr_sslots--;
}

/* Forget the oldest freed run so its pages can be handed out again. */
static bool arena_recycle_oldest(struct arena_space *space)
{
	struct arena_sslot *ss;
	struct arena_run *run;
	unsigned long i, slot;

	lockdep_assert_held(&space->lock);
	run = list_first_entry_or_null(&space->freed_fifo, struct arena_run,
				       node);
	if (!run)
		return false;
	list_del(&run->node);
	space->freed_pages -= run->nr_pages;
	space->nr_freed--;
	slot = run->pgoff >> ARENA_CHUNK_ORDER;

	if (arena_run_small(run)) {
		ss = arena_sslot_at(space, slot);
		xa_lock(&space->slots);
		for (i = 0; i < run->nr_pages; i++)
			ss->runs[(run->pgoff & (ARENA_CHUNK_PAGES - 1)) + i] =
				NULL;
		xa_unlock(&space->slots);
		ss->pending -= run->nr_pages;
		/* A slot still being cut into runs stays until replaced. */
		if (!ss->pending && ss != space->sslot)
			arena_sslot_free(space, ss);
	} else {
		xa_lock(&space->slots);
		for (i = 0; i < run->nr_chunks; i++)
			__xa_erase(&space->slots, slot + i);
		xa_unlock(&space->slots);
		bitmap_clear(space->used, slot, run->nr_chunks);
	}
	put_pid(run->freed_by);
	kvfree(run);
	return true;
}

/*
 * Find @nr consecutive unused slots, lowest first, so that the window's
 * touched part (and the page tables 4 KiB mappings leave behind) stays as
 * small as the live arenas plus the freed-address budget. Freed slots are
 * not unused: they return only through arena_recycle_oldest(), when the
 * budget is exceeded or nothing else fits.
 */
static int arena_slots_take(struct arena_space *space, unsigned int nr,
			    unsigned long *start)
{
	unsigned long s;

	lockdep_assert_held(&space->lock);
	for (;;) {
		s = bitmap_find_next_zero_area(space->used, space->nr_slots,
					       0, nr, 0);
		if (s < space->nr_slots)
			break;
		if (!arena_recycle_oldest(space))
			return -ENOSPC;
	}
	bitmap_set(space->used, s, nr);
	*start = s;
	return 0;
}

/*
 * One unused slot of the small window for small runs, lowest first, so the
 * touched part of it (and the page tables its 4 KiB mappings leave) stays
 * as small as the live small runs plus the freed-address budget.
 */
static int arena_small_slot_take(struct arena_space *space,
				 unsigned long *slot)
{
	unsigned long end = 2 * space->nr_slots, s;

	lockdep_assert_held(&space->lock);
	for (;;) {
		s = find_next_zero_bit(space->used, end, space->nr_slots);
		if (s < end)
			break;
		if (!arena_recycle_oldest(space))
			return -ENOSPC;
	}
	set_bit(s, space->used);
	*slot = s;
	return 0;
}

/* Freed address space kept faulting, in pages (module parameter). */
static unsigned long arena_va_budget_pages(void)
{
	return READ_ONCE(arena_va_quarantine_mb) << (20 - PAGE_SHIFT);
}

/* Charge one chunk to the opener's RLIMIT_MEMLOCK, as io_uring does. */
static int arena_charge(struct arena_space *space)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	unsigned long cur, new;

	if (!space->charge)
		return 0;
	cur = atomic_long_read(&space->user->locked_vm);
	do {
		new = cur + ARENA_CHUNK_PAGES;
		if (new < cur || new > limit) {
			atomic_long_inc(&arena_stats.memlock_hits);
			return -ENOMEM;
		}
	} while (!atomic_long_try_cmpxchg(&space->user->locked_vm, &cur, new));
	return 0;
}

/*
 * A chunk of the space's cgroup from the pool, charged to the opener's
 * RLIMIT_MEMLOCK. The charge goes with the chunk, not with the arena: it
 * is given back only when nothing references the chunk any more
 * (arena_chunk_uncharge() from the pool), so pages pinned past a free
 * (vmsplice, O_DIRECT, io_uring) stay within the limit.
 */
static struct arena_chunk *arena_get_chunk(struct arena_space *space,
					   bool small)
{
	struct arena_chunk *c;
	int err;

	err = arena_charge(space);
	if (err)
		return ERR_PTR(err);
	c = arena_pool_get(space->memcg, small);
	if (IS_ERR(c)) {
		if (space->charge)
			atomic_long_sub(ARENA_CHUNK_PAGES,
					&space->user->locked_vm);
		return c;
	}
	if (space->charge)
		c->user = get_uid(space->user);
	return c;
}

/*
 * A shared chunk leaves the space once nothing is carved from it any more
 * and no live or unrevoked run uses it: to the quarantine, like any chunk.
 */
static void arena_carve_put(struct arena_space *space, struct arena_chunk *c)
{
	lockdep_assert_held(&space->lock);
	if (c->runs || c == space->carve)
		return;
	atomic_long_dec(&arena_stats.chunks_shared);
	arena_quarantine_put(c);
	arena_pool_kick();
}

/* Make sure the current shared chunk has @nr pages left to carve. */
static int arena_carve_reserve(struct arena_space *space, unsigned int nr)
{
	struct arena_chunk *c = space->carve, *old = c;

	if (c && ARENA_CHUNK_PAGES - c->carved >= nr)
		return 0;
	c = arena_get_chunk(space, true);
	if (IS_ERR(c))
		return PTR_ERR(c);
	c->carved = 0;
	c->runs = 0;
	/* Shared chunks are mapped page by page: no rmap offset to keep. */
	arena_chunk_set_index(c, 0);
	atomic_long_inc(&arena_stats.chunks_shared);
	space->carve = c;
	if (old)
		arena_carve_put(space, old);
	return 0;
}

/* Make sure the current small slot has @nr pages of address space left. */
static int arena_sslot_reserve(struct arena_space *space, unsigned int nr)
{
	struct arena_sslot *ss = space->sslot, *old = ss;
	int err = -ENOMEM;

	if (ss && ARENA_CHUNK_PAGES - ss->next >= nr)
		return 0;
	/*
	 * Each small slot costs a page map: at the per-file bound, recycle
	 * freed runs (which may empty old slots) before giving up. The
	 * current slot goes below if nothing is pending in it.
	 */
	while (space->nr_sslots - (old && !old->pending) >=
	       READ_ONCE(arena_max_small_slots)) {
		if (!arena_recycle_oldest(space))
			return -ENOSPC;
	}
	ss = kzalloc(sizeof(*ss), GFP_KERNEL_ACCOUNT);
	if (!ss)
		return -ENOMEM;
	ss->runs = kvcalloc(ARENA_CHUNK_PAGES, sizeof(*ss->runs),
			    GFP_KERNEL_ACCOUNT);
	if (!ss->runs)
		goto free_ss;
	err = arena_small_slot_take(space, &ss->slot);
	if (err)
		goto free_runs;
	err = xa_err(xa_store(&space->slots, ss->slot,
			      xa_tag_pointer(ss, ARENA_SLOT_SMALL),
			      GFP_KERNEL_ACCOUNT));
	if (err) {
		clear_bit(ss->slot, space->used);
		goto free_runs;
	}
	space->sslot = ss;
	space->nr_sslots++;
	/* Full or too short: no more runs from it; gone once all recycled. */
	if (old && !old->pending)
		arena_sslot_free(space, old);
	return 0;

free_runs:
	kvfree(ss->runs);
free_ss:
	kfree(ss);
	return err;
}

/*
 * Cut a small run of @run->nr_pages pages: address space from the current
 * small slot, memory from the current shared chunk. The run is not visible
 * to the fault handler yet.
 */
static int arena_small_run(struct arena_space *space, struct arena_run *run)
{
	unsigned int nr = run->nr_pages;
	struct arena_chunk *c;
	struct arena_sslot *ss;
	int err;

	err = arena_carve_reserve(space, nr);
	if (err)
		return err;
	err = arena_sslot_reserve(space, nr);
	if (err)
		return err;
	ss = space->sslot;
	c = space->carve;
	run->pgoff = (ss->slot << ARENA_CHUNK_ORDER) + ss->next;
	ss->next += nr;
	ss->pending += nr;
	run->chunks[0] = c;
	run->first = c->carved;
	c->carved += nr;
	c->runs++;
	atomic_long_inc(&arena_stats.small_runs_mapped);
	trace_arena_small_run(run->arena_id, run->pgoff, nr, c, run->first);
	return 0;
}

static const struct vm_operations_struct arena_vm_ops;

/* Pages a small run maps per vm_insert_pages() call (a stack array). */
#define ARENA_INSERT_BATCH	32

/*
 * Map a small run's pages into the small window while it is still
 * RESERVED, in batches of vm_insert_pages(): touching them then takes no
 * page fault. The run is not live, so no fault can have mapped any of its
 * pages, and its address space was unmapped when it was last freed: every
 * entry is empty. Best effort: a page that cannot be mapped here (no memory
 * for a page table, the small window not mapped) is mapped by the fault
 * handler on first touch. The space's lock nests outside mmap_lock here;
 * nothing takes it under mmap_lock (see struct arena_space).
 */
static void arena_small_run_map(struct arena_space *space,
				struct arena_run *run)
{
	unsigned long small_pgoff = space->nr_slots << ARENA_CHUNK_ORDER;
	struct page *pages[ARENA_INSERT_BATCH];
	struct mm_struct *mm = space->mm;
	struct vm_area_struct *vma;
	unsigned long addr, done, n, left, i;

	lockdep_assert_held(&space->lock);
	if (!test_bit(ARENA_MAPPED_SMALL, &space->mapped) || current->mm != mm)
		return;
	mmap_read_lock(mm);
	vma = vma_lookup(mm, space->small_start);
	/* Unmapped since, and maybe something else mapped there. */
	if (!vma || vma->vm_ops != &arena_vm_ops ||
	    vma->vm_file->private_data != space ||
	    vma->vm_pgoff != small_pgoff || !(vma->vm_flags & VM_MIXEDMAP))
		goto unlock;
	addr = vma->vm_start + ((run->pgoff - small_pgoff) << PAGE_SHIFT);
	for (done = 0; done < run->nr_pages; done += n) {
		n = min_t(unsigned long, run->nr_pages - done,
			  ARENA_INSERT_BATCH);
		for (i = 0; i < n; i++)
			pages[i] = arena_run_page(run, run->pgoff + done + i);
		left = n;
		if (vm_insert_pages(vma, addr + (done << PAGE_SHIFT), pages,
				    &left))
			break;
	}
unlock:
	mmap_read_unlock(mm);
}

/* Publish a small run to the fault handler: its pages are live now. */
static void arena_small_run_live(struct arena_space *space,
				 struct arena_run *run)
{
	struct arena_sslot *ss = space->sslot;
	unsigned long i, first = run->pgoff & (ARENA_CHUNK_PAGES - 1);

	xa_lock(&space->slots);
	for (i = 0; i < run->nr_pages; i++)
		ss->runs[first + i] = run;
	run->state = ARENA_RUN_LIVE;
	xa_unlock(&space->slots);
}

/*
 * A chunk a freed no-zero run of this space left, for a no-zero run: as
 * it is, old bytes and charges included. NULL if none is kept.
 */
static struct arena_chunk *arena_own_take(struct arena_space *space)
{
	struct arena_chunk *c;

	lockdep_assert_held(&space->lock);
	c = list_first_entry_or_null(&space->own, struct arena_chunk, node);
	if (!c)
		return NULL;
	list_del(&c->node);
	space->nr_own--;
	return c;
}

/*
 * Keep a freed no-zero run's chunk for the space's next no-zero runs
 * instead of sending it to the pool to be zeroed, if nothing references it
 * any more (the quarantine's own check: no mapping, no pin, no other
 * reference) and the space keeps fewer than nozero_keep_mb. It is unmapped
 * and its run is FREED, so nothing can map or pin it from now on; it
 * stays charged to the opener (memlock and memory cgroup) and in use.
 */
static bool arena_own_keep(struct arena_space *space, struct arena_chunk *c)
{
	unsigned long keep = READ_ONCE(arena_nozero_keep_mb) <<
			     (20 - ARENA_CHUNK_SHIFT);

	lockdep_assert_held(&space->lock);
	if (space->nr_own >= keep || arena_chunk_hold(c) != ARENA_HELD_NONE)
		return false;
	list_add(&c->node, &space->own);
	space->nr_own++;
	return true;
}

/* Give the kept no-zero chunks to the pool (zeroed there before reuse). */
static void arena_own_drain(struct arena_space *space)
{
	struct arena_chunk *c;

	while ((c = arena_own_take(space)))
		arena_quarantine_put(c);
	arena_pool_kick();
}

/* Take @run->nr_chunks chunks from the pool and place them in the window. */
static int arena_chunk_run(struct arena_space *space, struct arena_run *run)
{
	unsigned int i, got, nr = run->nr_chunks;
	unsigned long start, need = nr;
	int err;

	/* Kept chunks are charged already. */
	if (run->nozero)
		need -= min_t(unsigned long, nr, space->nr_own);
	/* Not worth taking (and zeroing) chunks that cannot all be had. */
	if (space->charge &&
	    atomic_long_read(&space->user->locked_vm) +
	    (need << ARENA_CHUNK_ORDER) >
	    rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT) {
		atomic_long_inc(&arena_stats.memlock_hits);
		return -ENOMEM;
	}
	for (got = 0; got < nr; got++) {
		struct arena_chunk *c = run->nozero ? arena_own_take(space) :
						      NULL;

		if (c)
			atomic_long_inc(&arena_stats.chunks_reused_nozero);
		else
			c = arena_get_chunk(space, false);

		if (IS_ERR(c)) {
			err = PTR_ERR(c);
			goto release_chunks;
		}
		run->chunks[got] = c;
	}
	err = arena_slots_take(space, nr, &start);
	if (err)
		goto release_chunks;

	run->pgoff = start << ARENA_CHUNK_ORDER;
	for (i = 0; i < nr; i++) {
		arena_chunk_set_index(run->chunks[i],
				      (start + i) << ARENA_CHUNK_ORDER);
		trace_arena_chunk_map(run->arena_id, start + i,
				      run->chunks[i]);
		err = xa_err(xa_store(&space->slots, start + i, run,
				      GFP_KERNEL_ACCOUNT));
		if (err)
			goto put_slots;
	}
	/* Only now can a fault map the chunks. */
	xa_lock(&space->slots);
	run->state = ARENA_RUN_LIVE;
	xa_unlock(&space->slots);
	return 0;

put_slots:
	xa_lock(&space->slots);
	for (i = 0; i < nr; i++)
		__xa_erase(&space->slots, start + i);
	xa_unlock(&space->slots);
	bitmap_clear(space->used, start, nr);
release_chunks:
	/* Never mapped (the run was not live), but let the pool re-zero. */
	while (got--)
		arena_quarantine_put(run->chunks[got]);
	arena_pool_kick();
	return err;
}

static struct arena *arena_new_locked(struct arena_space *space,
				      struct arena *arena)
{
	int err;

	lockdep_assert_held(&space->lock);
	INIT_LIST_HEAD(&arena->runs);
	err = xa_alloc_cyclic(&space->arenas, &arena->id, arena,
			      XA_LIMIT(1, U32_MAX), &space->next_id,
			      GFP_KERNEL_ACCOUNT);
	if (err < 0)
		return ERR_PTR(err == -EBUSY ? -ENOSPC : err);
	/* Empty until its first run (ARENA_ALLOC_CREATE adds it at once). */
	space->nr_empty++;
	atomic_long_inc(&arena_stats.arenas_live);
	atomic_long_inc(&arena_stats.arenas_created);
	trace_arena_create(arena->id);
	return arena;
}

int arena_create(struct arena_space *space, u32 *id)
{
	struct arena *arena, *ret;

	arena = kzalloc(sizeof(*arena), GFP_KERNEL_ACCOUNT);
	if (!arena)
		return -ENOMEM;
	mutex_lock(&space->lock);
	/* Arenas without memory are bounded by nothing else. */
	if (space->nr_empty >= READ_ONCE(arena_max_empty_arenas))
		ret = ERR_PTR(-ENOSPC);
	else
		ret = arena_new_locked(space, arena);
	/*
	 * Read the id under the lock: once it is dropped another thread may
	 * free the arena (ids are predictable) and @arena with it.
	 */
	if (!IS_ERR(ret))
		*id = arena->id;
	mutex_unlock(&space->lock);
	if (IS_ERR(ret)) {
		kfree(arena);
		return PTR_ERR(ret);
	}
	arena_netlink_changed();
	return 0;
}

static void arena_release_runs(struct arena_space *space,
			       struct arena *arena);
static void arena_destroy(struct arena_space *space, struct arena *arena);

/*
 * Add @nr_pages pages to arena *@id: a small run if less than a chunk, else
 * whole chunks (@nr_pages a multiple of the chunk). With ARENA_ALLOC_CREATE
 * the arena is made first and its id returned in *@id. With
 * ARENA_ALLOC_RESET, the arena's old runs are revoked in the same call,
 * once the new run is ready: if it cannot be had, the arena is left as it
 * was.
 */
int arena_alloc(struct arena_space *space, u32 *id, unsigned long nr_pages,
		u32 flags, u64 *offset)
{
	bool small = nr_pages < ARENA_CHUNK_PAGES;
	unsigned int nr_chunks = small ? 0 : nr_pages >> ARENA_CHUNK_ORDER;
	struct arena *arena, *fresh = NULL;
	struct arena_run *run;
	bool was_empty;
	int err;

	run = kvzalloc(struct_size(run, chunks, small ? 1 : nr_chunks),
		       GFP_KERNEL_ACCOUNT);
	if (!run)
		return -ENOMEM;
	if (flags & ARENA_ALLOC_CREATE) {
		fresh = kzalloc(sizeof(*fresh), GFP_KERNEL_ACCOUNT);
		if (!fresh) {
			kvfree(run);
			return -ENOMEM;
		}
	}

	mutex_lock(&space->lock);
	if (fresh) {
		arena = arena_new_locked(space, fresh);
		if (IS_ERR(arena)) {
			err = PTR_ERR(arena);
			kfree(fresh);
			fresh = NULL;
			goto unlock;
		}
	} else {
		arena = xa_load(&space->arenas, *id);
		if (!arena) {
			err = -ENOENT;
			goto unlock;
		}
	}
	run->nr_pages = nr_pages;
	run->nr_chunks = nr_chunks;
	run->nozero = flags & ARENA_ALLOC_NOZERO;
	run->arena_id = arena->id;
	run->state = ARENA_RUN_RESERVED;
	err = small ? arena_small_run(space, run) :
		      arena_chunk_run(space, run);
	if (err)
		goto unlock;
	if (small) {
		arena_small_run_map(space, run);
		arena_small_run_live(space, run);
	}

	was_empty = !arena->nr_pages;
	if (flags & ARENA_ALLOC_RESET)
		arena_release_runs(space, arena);
	if (was_empty)
		space->nr_empty--;
	list_add_tail(&run->node, &arena->runs);
	arena->nr_chunks += nr_chunks;
	arena->nr_pages += nr_pages;
	atomic_long_add(nr_pages, &arena_stats.pages_live);
	/*
	 * What is returned is read under the lock: once it is dropped another
	 * thread may free the arena, and recycle and kvfree() the run.
	 */
	*id = arena->id;
	*offset = (u64)run->pgoff << PAGE_SHIFT;
	mutex_unlock(&space->lock);
	if (fresh)
		arena_netlink_changed();
	return 0;

unlock:
	if (fresh) {
		xa_erase(&space->arenas, arena->id);
		arena_destroy(space, arena);
	}
	mutex_unlock(&space->lock);
	kvfree(run);
	return err;
}

static void arena_lock_folio(struct folio *folio, bool lock)
{
	if (lock)
		folio_lock(folio);
	else
		folio_unlock(folio);
}

/*
 * Lock or unlock the folios of the runs @first..@end. No folio belongs to
 * two runs: whole chunks are one run's own, and the shared chunks small
 * runs are carved from are made of single pages (ARENA_CARVE_ORDER), each
 * in one run. They are taken in the window's order, and only ever several
 * at a time here, under the space's lock.
 */
static void arena_lock_runs(struct list_head *first, struct list_head *end,
			    bool lock)
{
	struct arena_chunk *c;
	struct list_head *pos;
	struct arena_run *run;
	unsigned long f, last;
	unsigned int i;

	for (pos = first; pos != end; pos = pos->next) {
		run = list_entry(pos, struct arena_run, node);
		if (arena_run_small(run)) {
			c = run->chunks[0];
			last = (run->first + run->nr_pages - 1) >> c->order;
			for (f = run->first >> c->order; f <= last; f++)
				arena_lock_folio(c->folios[f], lock);
			continue;
		}
		for (i = 0; i < run->nr_chunks; i++) {
			c = run->chunks[i];
			for (f = 0; f < c->nr_folios; f++)
				arena_lock_folio(c->folios[f], lock);
		}
	}
}

/*
 * Can @next, which starts where the stretch ending with @run ends, be
 * unmapped with it? Runs of the same kind: whole chunks with whole chunks,
 * small runs with small runs.
 */
static bool arena_can_coalesce(const struct arena_run *run,
			       const struct arena_run *next)
{
	return arena_run_small(run) == arena_run_small(next);
}

/*
 * Unmap every run of @arena, one unmap_mapping_range() (so one TLB flush)
 * per stretch of runs that sit next to each other in the window: a growing
 * arena's small runs usually do, as nothing else was cut from its small
 * slot in between. The runs are FREED already; holding their folios locked
 * closes the window in which a fault that saw them live could still install
 * an entry.
 */
static void arena_revoke(struct arena_space *space, struct arena *arena)
{
	struct address_space *mapping = space->inode->i_mapping;
	struct list_head *first, *end;
	struct arena_run *run, *last, *next;
	unsigned long pgoff, nr;

	first = arena->runs.next;
	while (first != &arena->runs) {
		run = list_entry(first, struct arena_run, node);
		last = run;
		pgoff = run->pgoff;
		nr = run->nr_pages;
		for (end = first->next; end != &arena->runs; end = end->next) {
			next = list_entry(end, struct arena_run, node);
			if (next->pgoff != pgoff + nr ||
			    !arena_can_coalesce(last, next))
				break;
			nr += next->nr_pages;
			last = next;
		}
		arena_lock_runs(first, end, true);
		unmap_mapping_range(mapping, (loff_t)pgoff << PAGE_SHIFT,
				    (loff_t)nr << PAGE_SHIFT, 1);
		arena_lock_runs(first, end, false);
		first = end;
	}
}

/*
 * Revoke and release every run of @arena: its chunks leave for the pool (or
 * the quarantine), its small runs' shared chunks once nothing else uses
 * them, and its pages keep faulting as freed runs. The arena itself stays,
 * empty.
 */
static void arena_release_runs(struct arena_space *space, struct arena *arena)
{
	struct arena_run *run, *tmp;
	struct pid *pid = get_task_pid(current, PIDTYPE_TGID);
	u64 now = ktime_get_ns();
	unsigned int i;

	lockdep_assert_held(&space->lock);
	/* From here on the fault handler fails for every page of the arena. */
	xa_lock(&space->slots);
	list_for_each_entry(run, &arena->runs, node) {
		run->state = ARENA_RUN_FREED;
		run->freed_ns = now;
		run->freed_by = get_pid(pid);
	}
	xa_unlock(&space->slots);

	arena_revoke(space, arena);

	list_for_each_entry_safe(run, tmp, &arena->runs, node) {
		if (arena_run_small(run)) {
			run->chunks[0]->runs--;
			arena_carve_put(space, run->chunks[0]);
			run->chunks[0] = NULL;
		}
		for (i = 0; i < run->nr_chunks; i++) {
			if (!run->nozero ||
			    !arena_own_keep(space, run->chunks[i]))
				arena_quarantine_put(run->chunks[i]);
			run->chunks[i] = NULL;
		}
		list_move_tail(&run->node, &space->freed_fifo);
		space->freed_pages += run->nr_pages;
		space->nr_freed++;
	}
	/* The chunks' memlock charges go when nothing references them. */
	arena_pool_kick();
	atomic_long_sub(arena->nr_pages, &arena_stats.pages_live);
	arena->nr_chunks = 0;
	arena->nr_pages = 0;
	/*
	 * Keep at most the budget of freed address space faulting, and at
	 * most max_freed_runs records of it (a record per run is slab).
	 */
	while (space->freed_pages > arena_va_budget_pages() ||
	       space->nr_freed > READ_ONCE(arena_max_freed_runs))
		arena_recycle_oldest(space);
	put_pid(pid);
}

/* Free @arena, already removed from space->arenas. */
static void arena_destroy(struct arena_space *space, struct arena *arena)
{
	trace_arena_free(arena->id, arena->nr_chunks);
	if (!arena->nr_pages)
		space->nr_empty--;
	arena_release_runs(space, arena);
	atomic_long_dec(&arena_stats.arenas_live);
	atomic_long_inc(&arena_stats.arenas_freed);
	arena_netlink_changed();
	kfree(arena);
}

int arena_free(struct arena_space *space, u32 id)
{
	struct arena *arena;

	mutex_lock(&space->lock);
	arena = xa_erase(&space->arenas, id);
	if (arena)
		arena_destroy(space, arena);
	mutex_unlock(&space->lock);
	return arena ? 0 : -ENOENT;
}

int arena_lookup(struct arena_space *space, struct arena_lookup *lk)
{
	struct arena_run *run;

	if (lk->offset >= 2 * (u64)arena_window_size)
		return -EINVAL;
	mutex_lock(&space->lock);
	run = arena_run_at(space, lk->offset >> PAGE_SHIFT);
	if (run && run->state != ARENA_RUN_RESERVED) {
		lk->out_arena_id = run->arena_id;
		lk->out_arena_offset = lk->offset -
				       ((u64)run->pgoff << PAGE_SHIFT);
		if (run->state == ARENA_RUN_LIVE) {
			lk->out_state = ARENA_SLOT_LIVE;
		} else {
			lk->out_state = ARENA_SLOT_FREED;
			lk->out_freed_ns_ago = ktime_get_ns() - run->freed_ns;
			lk->out_freed_by_pid = pid_vnr(run->freed_by);
		}
	}
	mutex_unlock(&space->lock);
	return 0;
}

/* Called when the last reference to the file is gone: no VMA maps it. */
void arena_space_destroy(struct arena_space *space)
{
	struct arena *arena;
	unsigned long id;

	mutex_lock(&arena_spaces_lock);
	list_del(&space->entry);
	mutex_unlock(&arena_spaces_lock);
	arena_netlink_changed();

	mutex_lock(&space->lock);
	xa_for_each(&space->arenas, id, arena) {
		xa_erase(&space->arenas, id);
		arena_destroy(space, arena);
	}
	while (arena_recycle_oldest(space))
		;
	arena_own_drain(space);
	/* Every run is recycled: the last small slot and shared chunk go. */
	if (space->sslot) {
		arena_sslot_free(space, space->sslot);
		space->sslot = NULL;
	}
	if (space->carve) {
		struct arena_chunk *c = space->carve;

		space->carve = NULL;
		arena_carve_put(space, c);
	}
	mutex_unlock(&space->lock);

	xa_destroy(&space->slots);
	xa_destroy(&space->arenas);
	iput(space->inode);
	mmdrop(space->mm);
	mem_cgroup_put(space->memcg);
	free_uid(space->user);
	put_pid(space->owner);
	kvfree(space->used);
	atomic_long_dec(&arena_stats.windows_open);
	kfree(space);
}

/*
 * Who the report names: the window's owner, and the task that made the
 * access when it is not the owner (another process reaching in with
 * ptrace, /proc/pid/mem or process_vm_readv(): GUP on a remote mm; or a
 * kernel thread working on the owner's mm with kthread_use_mm()). io_uring's
 * SQPOLL and io-wq threads are the owner's own threads (PF_IO_WORKER) and
 * are reported as the owner, with their comm.
 */
static void arena_fault_who(struct vm_fault *vmf, struct arena_space *space,
			    struct arena_uaf_report *r)
{
	struct task_struct *owner;

	r->via_pid = 0;
	r->via_comm[0] = '\0';
	/* A kernel thread on the owner's mm (kthread_use_mm()) is not it. */
	if (current->mm == vmf->vma->vm_mm && !(current->flags & PF_KTHREAD)) {
		r->pid = task_tgid_nr(current);
		get_task_comm(r->comm, current);
		return;
	}
	r->via_pid = task_tgid_nr(current);
	get_task_comm(r->via_comm, current);
	r->pid = pid_nr(space->owner);
	r->comm[0] = '\0';
	owner = get_pid_task(space->owner, PIDTYPE_TGID);
	if (owner) {
		get_task_comm(r->comm, owner);
		put_task_struct(owner);
	}
}

/*
 * A fault on a slot that is not live: count it, fill @r if it was a
 * use-after-free (r->arena_id != 0), else log the wild access. Called with
 * the slots' xa_lock held; arena_fault_report() says the rest after it.
 */
static vm_fault_t arena_fault_fail(struct vm_fault *vmf,
				   struct arena_space *space,
				   struct arena_run *run,
				   struct arena_uaf_report *r)
{
	/* real_address: vmf->address is rounded down to the page. */
	unsigned long addr = vmf->real_address;
	unsigned long off = vmf->pgoff << PAGE_SHIFT | (addr & ~PAGE_MASK);

	r->arena_id = 0;
	arena_fault_who(vmf, space, r);
	if (run && run->state == ARENA_RUN_FREED) {
		atomic_long_inc(&arena_stats.uaf_faults);
		r->addr = addr;
		r->arena_id = run->arena_id;
		r->offset = off - (run->pgoff << PAGE_SHIFT);
		r->freed_ns_ago = ktime_get_ns() - run->freed_ns;
		r->freed_by = pid_nr(run->freed_by);
	} else {
		atomic_long_inc(&arena_stats.wild_faults);
		if (r->via_pid)
			pr_notice_ratelimited("fault outside any arena: pid %d (%s) address %#lx (window offset %#lx); accessed by pid %d (%s) from outside\n",
					      r->pid, r->comm, addr, off,
					      r->via_pid, r->via_comm);
		else
			pr_notice_ratelimited("fault outside any arena: pid %d (%s) address %#lx (window offset %#lx)\n",
					      r->pid, r->comm, addr, off);
	}
	return VM_FAULT_SIGSEGV;
}

/* The log line, the tracepoint and the netlink event of a use-after-free. */
static void arena_fault_report(const struct arena_uaf_report *r)
{
	if (!r->arena_id)
		return;
	if (r->via_pid)
		pr_notice_ratelimited("use-after-free: pid %d (%s) address %#lx: arena %u offset %#llx, freed %llu us ago by pid %d; accessed by pid %d (%s) from outside\n",
				      r->pid, r->comm, r->addr, r->arena_id,
				      r->offset,
				      div_u64(r->freed_ns_ago, NSEC_PER_USEC),
				      r->freed_by, r->via_pid, r->via_comm);
	else
		pr_notice_ratelimited("use-after-free: pid %d (%s) address %#lx: arena %u offset %#llx, freed %llu us ago by pid %d\n",
				      r->pid, r->comm, r->addr, r->arena_id,
				      r->offset,
				      div_u64(r->freed_ns_ago, NSEC_PER_USEC),
				      r->freed_by);
	trace_arena_uaf_fault(r);
	arena_netlink_uaf(r);
}

static vm_fault_t arena_fault(struct vm_fault *vmf)
{
	struct arena_space *space = vmf->vma->vm_file->private_data;
	struct arena_uaf_report report;
	struct arena_run *run;
	struct folio *folio;
	struct page *page;
	vm_fault_t ret;

	xa_lock(&space->slots);
	run = arena_run_at(space, vmf->pgoff);
	if (!run || run->state != ARENA_RUN_LIVE) {
		ret = arena_fault_fail(vmf, space, run, &report);
		xa_unlock(&space->slots);
		arena_fault_report(&report);
		return ret;
	}
	page = arena_run_page(run, vmf->pgoff);
	folio = page_folio(page);
	/* The mapping's reference; the PMD or PTE keeps it. */
	folio_get(folio);
	xa_unlock(&space->slots);

	/*
	 * Whatever the core does with the page from here is its documented
	 * behaviour for the folio: a whole chunk's PMD-order folio may be
	 * mapped whole (one PMD, or every PTE), which is the point; a small
	 * run's page is a single-page folio (ARENA_CARVE_ORDER), mapped by
	 * one PTE in a page table finish_fault() makes if there is none.
	 */
	folio_lock(folio);
	xa_lock(&space->slots);
	run = arena_run_at(space, vmf->pgoff);
	if (run && run->state == ARENA_RUN_LIVE &&
	    arena_run_page(run, vmf->pgoff) != page) {
		/*
		 * Freed, recycled and handed to a new run while we waited:
		 * the address is live again. Install nothing and let the
		 * access run again; it faults in the new run's page.
		 */
		xa_unlock(&space->slots);
		folio_unlock(folio);
		folio_put(folio);
		return VM_FAULT_NOPAGE;
	}
	if (!run || run->state != ARENA_RUN_LIVE) {
		/* Freed while we waited for the lock. */
		ret = arena_fault_fail(vmf, space, run, &report);
		xa_unlock(&space->slots);
		folio_unlock(folio);
		folio_put(folio);
		arena_fault_report(&report);
		return ret;
	}
	xa_unlock(&space->slots);

	vmf->page = page;
	return VM_FAULT_LOCKED;
}

/* The window is one VMA for its whole life: no splitting, no moving. */
static int arena_may_split(struct vm_area_struct *vma, unsigned long addr)
{
	return -EINVAL;
}

static int arena_mremap(struct vm_area_struct *vma)
{
	return -EINVAL;
}

static const struct vm_operations_struct arena_vm_ops = {
	.fault = arena_fault,
	.may_split = arena_may_split,
	.mremap = arena_mremap,
};

/*
 * The file is mapped in two parts (see struct arena_space): the chunk
 * window at offset 0, PMD aligned, where chunks are mapped by the fault
 * handler with one PMD each; and the small window at offset window_size,
 * VM_MIXEDMAP, where the ioctls map small runs with vm_insert_pages().
 */
int arena_space_mmap(struct arena_space *space, struct vm_area_struct *vma)
{
	unsigned long len = vma->vm_end - vma->vm_start;
	unsigned long small_pgoff = space->nr_slots << ARENA_CHUNK_ORDER;
	vm_flags_t flags = VM_DONTCOPY | VM_DONTEXPAND | VM_NORESERVE |
			   VM_DONTDUMP;
	int part;

	/* MAP_PRIVATE would copy arena pages into memory free cannot revoke. */
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	/* Each part mapped whole; the chunk window PMD aligned. */
	if (len != arena_window_size)
		return -EINVAL;
	if (!vma->vm_pgoff && IS_ALIGNED(vma->vm_start, ARENA_CHUNK_SIZE)) {
		part = ARENA_MAPPED_CHUNKS;
	} else if (vma->vm_pgoff == small_pgoff) {
		part = ARENA_MAPPED_SMALL;
		/* vm_insert_pages() needs it; set here, under mmap_lock. */
		flags |= VM_MIXEDMAP;
	} else {
		return -EINVAL;
	}

	/* No space->lock here: mmap_lock is held, and ioctls take it inside. */
	if (test_and_set_bit(part, &space->mapped))
		return -EBUSY;
	if (part == ARENA_MAPPED_SMALL)
		WRITE_ONCE(space->small_start, vma->vm_start);

	arena_vm_flags_set(vma, flags);
	arena_vm_flags_clear(vma, VM_MAYEXEC);
	vma->vm_ops = &arena_vm_ops;
	return 0;
}

/*
 * Netlink: one message per live arena of the windows the caller may see,
 * resuming after the cb->args[0] arenas already sent.
 */
int arena_spaces_dump(struct sk_buff *skb, struct netlink_callback *cb,
		      pid_t only_pid, bool all_users, kuid_t uid)
{
	struct pid_namespace *ns = task_active_pid_ns(current);
	long n = 0, skip = cb->args[0];
	char comm[TASK_COMM_LEN];
	struct arena_space *space;
	struct task_struct *task;
	struct arena *arena;
	unsigned long id;
	pid_t pid;
	int err = 0;

	mutex_lock(&arena_spaces_lock);
	list_for_each_entry(space, &arena_spaces, entry) {
		pid = pid_nr_ns(space->owner, ns);
		if (!pid || (only_pid && pid != only_pid))
			continue;
		if (!all_users && !uid_eq(space->uid, uid))
			continue;
		comm[0] = '\0';
		task = get_pid_task(space->owner, PIDTYPE_TGID);
		if (task) {
			get_task_comm(comm, task);
			put_task_struct(task);
		}
		mutex_lock(&space->lock);
		xa_for_each(&space->arenas, id, arena) {
			if (n < skip) {
				n++;
				continue;
			}
			err = arena_netlink_fill_arena(skb, cb, pid, comm,
						       arena->id,
						       arena->nr_chunks,
						       arena->nr_pages);
			if (err)
				break;
			n++;
		}
		mutex_unlock(&space->lock);
		if (err)
			break;
	}
	mutex_unlock(&arena_spaces_lock);
	cb->args[0] = n;
	/* A full skb ends this round; the next resumes at arena n. */
	return err && !skb->len ? err : skb->len;
}
