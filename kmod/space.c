// SPDX-License-Identifier: GPL-2.0
/*
 * The window: mmap, the fault handler, slots and arenas.
 *
 * Each open file gets a private inode on a small pseudo filesystem and points
 * file->f_mapping at its address_space (as drm_open() does), so the window's
 * VMAs hang off that address_space and unmap_mapping_range() on it reaches
 * every mapping of the window: the kernel's own reverse map does revocation.
 *
 * Chunks are mapped through .fault, never with vm_insert_page() or PFN maps:
 * the handler returns the chunk's page locked and the core's finish_fault()
 * installs one PMD for the whole 2 MiB (the window is PMD aligned, i_size
 * covers it, the chunk is a PMD-order folio). The mapping takes a page
 * reference and an rmap count like any file page, so pins and mappings are
 * visible to the quarantine and GUP works on arena memory.
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

struct arena_space *arena_space_create(void)
{
	struct arena_space *space;
	int err = -ENOMEM;

	space = kzalloc(sizeof(*space), GFP_KERNEL_ACCOUNT);
	if (!space)
		return ERR_PTR(-ENOMEM);
	space->nr_slots = arena_window_size >> ARENA_CHUNK_SHIFT;
	space->used = kvcalloc(BITS_TO_LONGS(space->nr_slots), sizeof(long),
			       GFP_KERNEL_ACCOUNT);
	if (!space->used)
		goto free_space;
	space->inode = alloc_anon_inode(arena_mnt->mnt_sb);
	if (IS_ERR(space->inode)) {
		err = PTR_ERR(space->inode);
		goto free_bitmap;
	}
	/* 6.12 (and late 6.1 stables) map a PMD only below i_size. */
	i_size_write(space->inode, arena_window_size);

	mutex_init(&space->lock);
	xa_init(&space->slots);
	xa_init_flags(&space->arenas, XA_FLAGS_ALLOC1);
	INIT_LIST_HEAD(&space->freed_fifo);
	space->mm = current->mm;
	mmgrab(space->mm);
	space->user = get_current_user();
	space->owner = get_task_pid(current, PIDTYPE_TGID);
	space->uid = current_euid();
	/* As io_uring: CAP_IPC_LOCK may lock memory beyond RLIMIT_MEMLOCK. */
	space->charge = !capable(CAP_IPC_LOCK);
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

/* Forget the oldest freed run so its slots can be handed out again. */
static bool arena_recycle_oldest(struct arena_space *space)
{
	struct arena_run *run;
	unsigned int i;

	lockdep_assert_held(&space->lock);
	run = list_first_entry_or_null(&space->freed_fifo, struct arena_run,
				       node);
	if (!run)
		return false;
	list_del(&run->node);
	space->freed_slots -= run->nr;

	xa_lock(&space->slots);
	for (i = 0; i < run->nr; i++)
		__xa_erase(&space->slots, run->start + i);
	xa_unlock(&space->slots);
	bitmap_clear(space->used, run->start, run->nr);

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

/* Freed address space kept faulting, in slots (module parameter). */
static unsigned long arena_va_budget_slots(void)
{
	return (READ_ONCE(arena_va_quarantine_mb) << 20) >> ARENA_CHUNK_SHIFT;
}

/* Charge @chunks to the opener's RLIMIT_MEMLOCK, as io_uring does. */
static int arena_charge(struct arena_space *space, unsigned long chunks)
{
	unsigned long limit = rlimit(RLIMIT_MEMLOCK) >> PAGE_SHIFT;
	unsigned long pages = chunks << ARENA_CHUNK_ORDER;
	unsigned long cur, new;

	if (!space->charge)
		return 0;
	cur = atomic_long_read(&space->user->locked_vm);
	do {
		new = cur + pages;
		if (new < cur || new > limit) {
			atomic_long_inc(&arena_stats.memlock_hits);
			return -ENOMEM;
		}
	} while (!atomic_long_try_cmpxchg(&space->user->locked_vm, &cur, new));
	return 0;
}

static void arena_uncharge(struct arena_space *space, unsigned long chunks)
{
	if (space->charge)
		atomic_long_sub(chunks << ARENA_CHUNK_ORDER,
				&space->user->locked_vm);
}

static void arena_slots_put(struct arena_space *space, unsigned long start,
			    unsigned int nr)
{
	unsigned int i;

	xa_lock(&space->slots);
	for (i = 0; i < nr; i++)
		__xa_erase(&space->slots, start + i);
	xa_unlock(&space->slots);
	bitmap_clear(space->used, start, nr);
}

int arena_create(struct arena_space *space, u32 *id)
{
	struct arena *arena;
	int err;

	arena = kzalloc(sizeof(*arena), GFP_KERNEL_ACCOUNT);
	if (!arena)
		return -ENOMEM;
	INIT_LIST_HEAD(&arena->runs);

	mutex_lock(&space->lock);
	err = xa_alloc_cyclic(&space->arenas, &arena->id, arena,
			      XA_LIMIT(1, U32_MAX), &space->next_id,
			      GFP_KERNEL_ACCOUNT);
	mutex_unlock(&space->lock);
	if (err < 0) {
		kfree(arena);
		return err == -EBUSY ? -ENOSPC : err;
	}
	atomic_long_inc(&arena_stats.arenas_live);
	atomic_long_inc(&arena_stats.arenas_created);
	arena_netlink_changed();
	trace_arena_create(arena->id);
	*id = arena->id;
	return 0;
}

static void arena_release_runs(struct arena_space *space,
			       struct arena *arena);

/*
 * Add a run of @nr fresh chunks to arena @id. With ARENA_ALLOC_RESET, the
 * arena's old runs are revoked in the same call, once the new run is ready:
 * if the new chunks cannot be had, the arena is left as it was.
 */
int arena_alloc_chunks(struct arena_space *space, u32 id, unsigned int nr,
		       u32 flags, u64 *offset)
{
	struct arena *arena;
	struct arena_run *run;
	unsigned long start;
	unsigned int i, got = 0;
	int err;

	run = kvzalloc(struct_size(run, chunks, nr), GFP_KERNEL_ACCOUNT);
	if (!run)
		return -ENOMEM;

	mutex_lock(&space->lock);
	arena = xa_load(&space->arenas, id);
	if (!arena) {
		err = -ENOENT;
		goto unlock;
	}
	err = arena_charge(space, nr);
	if (err)
		goto unlock;
	for (got = 0; got < nr; got++) {
		struct arena_chunk *c = arena_pool_get();

		if (IS_ERR(c)) {
			err = PTR_ERR(c);
			goto release_chunks;
		}
		run->chunks[got] = c;
	}
	err = arena_slots_take(space, nr, &start);
	if (err)
		goto release_chunks;

	run->start = start;
	run->nr = nr;
	run->arena_id = id;
	run->state = ARENA_RUN_RESERVED;
	for (i = 0; i < nr; i++) {
		arena_chunk_set_index(run->chunks[i],
				      (start + i) << ARENA_CHUNK_ORDER);
		trace_arena_chunk_map(id, start + i, run->chunks[i]);
		err = xa_err(xa_store(&space->slots, start + i, run,
				      GFP_KERNEL_ACCOUNT));
		if (err)
			goto put_slots;
	}
	/* Only now can a fault map the chunks. */
	xa_lock(&space->slots);
	run->state = ARENA_RUN_LIVE;
	xa_unlock(&space->slots);

	if (flags & ARENA_ALLOC_RESET)
		arena_release_runs(space, arena);
	list_add_tail(&run->node, &arena->runs);
	arena->nr_chunks += nr;
	mutex_unlock(&space->lock);
	*offset = (u64)start << ARENA_CHUNK_SHIFT;
	return 0;

put_slots:
	arena_slots_put(space, start, nr);
release_chunks:
	/* Never mapped (the run was not live), but let the pool re-zero. */
	while (got--)
		arena_quarantine_put(run->chunks[got]);
	arena_pool_kick();
	arena_uncharge(space, nr);
unlock:
	mutex_unlock(&space->lock);
	kvfree(run);
	return err;
}

static void arena_lock_folios(struct list_head *first, struct list_head *end,
			      bool lock)
{
	struct list_head *pos;
	struct arena_run *run;
	unsigned int i, j;

	for (pos = first; pos != end; pos = pos->next) {
		run = list_entry(pos, struct arena_run, node);
		for (i = 0; i < run->nr; i++) {
			struct arena_chunk *c = run->chunks[i];

			for (j = 0; j < c->nr_folios; j++) {
				if (lock)
					folio_lock(c->folios[j]);
				else
					folio_unlock(c->folios[j]);
			}
		}
	}
}

/*
 * Unmap every run of @arena, one unmap_mapping_range() (so one TLB flush)
 * per stretch of runs that sit next to each other in the window. The runs
 * are FREED already; holding their folios locked closes the window in which
 * a fault that saw them live could still install an entry.
 */
static void arena_revoke(struct arena_space *space, struct arena *arena)
{
	struct address_space *mapping = space->inode->i_mapping;
	struct list_head *first, *end;
	struct arena_run *run, *next;
	unsigned long start, nr;

	first = arena->runs.next;
	while (first != &arena->runs) {
		run = list_entry(first, struct arena_run, node);
		start = run->start;
		nr = run->nr;
		for (end = first->next; end != &arena->runs; end = end->next) {
			next = list_entry(end, struct arena_run, node);
			if (next->start != start + nr)
				break;
			nr += next->nr;
		}
		arena_lock_folios(first, end, true);
		unmap_mapping_range(mapping, (loff_t)start << ARENA_CHUNK_SHIFT,
				    (loff_t)nr << ARENA_CHUNK_SHIFT, 1);
		arena_lock_folios(first, end, false);
		first = end;
	}
}

/*
 * Revoke and release every run of @arena: its chunks leave for the pool (or
 * the quarantine) and its slots keep faulting as freed runs. The arena
 * itself stays, empty.
 */
static void arena_release_runs(struct arena_space *space, struct arena *arena)
{
	struct arena_run *run, *tmp;
	struct pid *pid = get_task_pid(current, PIDTYPE_TGID);
	u64 now = ktime_get_ns();
	unsigned int i;

	lockdep_assert_held(&space->lock);
	/* From here on the fault handler fails for every slot of the arena. */
	xa_lock(&space->slots);
	list_for_each_entry(run, &arena->runs, node) {
		run->state = ARENA_RUN_FREED;
		run->freed_ns = now;
		run->freed_by = get_pid(pid);
	}
	xa_unlock(&space->slots);

	arena_revoke(space, arena);

	list_for_each_entry_safe(run, tmp, &arena->runs, node) {
		for (i = 0; i < run->nr; i++) {
			arena_quarantine_put(run->chunks[i]);
			run->chunks[i] = NULL;
		}
		list_move_tail(&run->node, &space->freed_fifo);
		space->freed_slots += run->nr;
	}
	arena_pool_kick();
	arena_uncharge(space, arena->nr_chunks);
	arena->nr_chunks = 0;
	/* Keep at most the budget of freed address space faulting. */
	while (space->freed_slots > arena_va_budget_slots())
		arena_recycle_oldest(space);
	put_pid(pid);
}

/* Free @arena, already removed from space->arenas. */
static void arena_destroy(struct arena_space *space, struct arena *arena)
{
	trace_arena_free(arena->id, arena->nr_chunks);
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

	if (lk->offset >= arena_window_size)
		return -EINVAL;
	mutex_lock(&space->lock);
	run = xa_load(&space->slots, lk->offset >> ARENA_CHUNK_SHIFT);
	if (run && run->state != ARENA_RUN_RESERVED) {
		lk->out_arena_id = run->arena_id;
		lk->out_arena_offset = lk->offset -
				       ((u64)run->start << ARENA_CHUNK_SHIFT);
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
	mutex_unlock(&space->lock);

	xa_destroy(&space->slots);
	xa_destroy(&space->arenas);
	iput(space->inode);
	mmdrop(space->mm);
	free_uid(space->user);
	put_pid(space->owner);
	kvfree(space->used);
	atomic_long_dec(&arena_stats.windows_open);
	kfree(space);
}

/*
 * A fault on a slot that is not live: count it, fill @r if it was a
 * use-after-free (r->arena_id != 0), else log the wild access. Called with
 * the slots' xa_lock held; arena_fault_report() says the rest after it.
 */
static vm_fault_t arena_fault_fail(struct vm_fault *vmf,
				   struct arena_run *run,
				   struct arena_uaf_report *r)
{
	/* real_address: vmf->address is rounded down to the page. */
	unsigned long addr = vmf->real_address;
	unsigned long off = vmf->pgoff << PAGE_SHIFT | (addr & ~PAGE_MASK);

	r->arena_id = 0;
	if (run && run->state == ARENA_RUN_FREED) {
		atomic_long_inc(&arena_stats.uaf_faults);
		r->pid = task_tgid_nr(current);
		get_task_comm(r->comm, current);
		r->addr = addr;
		r->arena_id = run->arena_id;
		r->offset = off - (run->start << ARENA_CHUNK_SHIFT);
		r->freed_ns_ago = ktime_get_ns() - run->freed_ns;
		r->freed_by = pid_nr(run->freed_by);
	} else {
		atomic_long_inc(&arena_stats.wild_faults);
		pr_notice_ratelimited("fault outside any arena: pid %d (%s) address %#lx (window offset %#lx)\n",
				      task_tgid_vnr(current), current->comm,
				      addr, off);
	}
	return VM_FAULT_SIGSEGV;
}

/* The log line, the tracepoint and the netlink event of a use-after-free. */
static void arena_fault_report(const struct arena_uaf_report *r)
{
	if (!r->arena_id)
		return;
	pr_notice_ratelimited("use-after-free: pid %d (%s) address %#lx: arena %u offset %#llx, freed %llu us ago by pid %d\n",
			      r->pid, r->comm, r->addr, r->arena_id,
			      r->offset, div_u64(r->freed_ns_ago, NSEC_PER_USEC),
			      r->freed_by);
	trace_arena_uaf_fault(r);
	arena_netlink_uaf(r);
}

static vm_fault_t arena_fault(struct vm_fault *vmf)
{
	struct arena_space *space = vmf->vma->vm_file->private_data;
	unsigned long slot = vmf->pgoff >> ARENA_CHUNK_ORDER;
	struct arena_uaf_report report;
	struct arena_chunk *chunk;
	struct arena_run *run;
	struct folio *folio;
	struct page *page;
	vm_fault_t ret;

	xa_lock(&space->slots);
	run = xa_load(&space->slots, slot);
	if (!run || run->state != ARENA_RUN_LIVE) {
		ret = arena_fault_fail(vmf, run, &report);
		xa_unlock(&space->slots);
		arena_fault_report(&report);
		return ret;
	}
	chunk = run->chunks[slot - run->start];
	page = arena_chunk_page(chunk, vmf->pgoff & (ARENA_CHUNK_PAGES - 1));
	folio = page_folio(page);
	/* The mapping's reference; the PMD or PTE keeps it. */
	folio_get(folio);
	xa_unlock(&space->slots);

	folio_lock(folio);
	xa_lock(&space->slots);
	run = xa_load(&space->slots, slot);
	if (!run || run->state != ARENA_RUN_LIVE ||
	    run->chunks[slot - run->start] != chunk) {
		/* Freed while we waited for the lock. */
		ret = arena_fault_fail(vmf, run, &report);
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

int arena_space_mmap(struct arena_space *space, struct vm_area_struct *vma)
{
	/* MAP_PRIVATE would copy arena pages into memory free cannot revoke. */
	if (!(vma->vm_flags & VM_SHARED))
		return -EINVAL;
	if (vma->vm_flags & VM_EXEC)
		return -EPERM;
	/* One window, mapped whole and PMD aligned, so chunks map as PMDs. */
	if (vma->vm_pgoff || vma->vm_end - vma->vm_start != arena_window_size ||
	    !IS_ALIGNED(vma->vm_start, ARENA_CHUNK_SIZE))
		return -EINVAL;

	/* No space->lock here: mmap_lock is held, and ioctls may fault. */
	if (atomic_cmpxchg(&space->mapped, 0, 1))
		return -EBUSY;

	arena_vm_flags_set(vma, VM_DONTCOPY | VM_DONTEXPAND | VM_NORESERVE |
			   VM_DONTDUMP);
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
						       arena->nr_chunks);
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
