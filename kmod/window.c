// SPDX-License-Identifier: GPL-2.0
/*
 * The window: its pseudo filesystem, the per open file state, mmap and the
 * fault handler.
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
#include <linux/pseudo_fs.h>
#include <linux/capability.h>
#include <linux/sched/mm.h>
#include <linux/sched/signal.h>
#include <linux/sched/user.h>
#include <linux/slab.h>

#include <uapi/linux/arena.h>

#include "arena_priv.h"
#include "events.h"
#include "space.h"
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
	/*
	 * The chunk window's slots, then the small window's: 8 KiB at the
	 * default geometry, so a failure may come from vmalloc; the caller
	 * gets ENOMEM, the log no allocation-failure dump.
	 */
	space->used = kvcalloc(BITS_TO_LONGS(2 * space->nr_slots),
			       sizeof(long), GFP_KERNEL_ACCOUNT | __GFP_NOWARN);
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
	arena_event_changed();
	return space;

free_bitmap:
	kvfree(space->used);
free_space:
	kfree(space);
	return ERR_PTR(err);
}

/* Called when the last reference to the file is gone: no VMA maps it. */
void arena_space_destroy(struct arena_space *space)
{
	mutex_lock(&arena_spaces_lock);
	list_del(&space->entry);
	mutex_unlock(&arena_spaces_lock);
	arena_event_changed();

	arena_space_empty(space);

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
void arena_small_run_map(struct arena_space *space, struct arena_run *run)
{
	unsigned long small_pgoff = space->nr_slots << ARENA_CHUNK_ORDER;
	struct page *pages[ARENA_INSERT_BATCH];
	struct mm_struct *mm = space->mm;
	struct vm_area_struct *vma;
	unsigned long addr, done, n, left, i;
	int err;

	lockdep_assert_held(&space->lock);
	if (!test_bit(ARENA_MAPPED_SMALL, &space->mapped) || current->mm != mm)
		return;
	/*
	 * Never wait for mmap_lock under the space's lock (a writer queued
	 * behind a long mremap would hold every ioctl of the file, and the
	 * dumps that wait for the space's lock): if it is taken, the run's
	 * pages are left to the fault handler.
	 */
	if (!mmap_read_trylock(mm))
		return;
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
		err = vm_insert_pages(vma, addr + (done << PAGE_SHIFT), pages,
				      &left);
		/* An entry in the way breaks the invariant above. */
		WARN_ON_ONCE(err == -EBUSY);
		if (err)
			break;
	}
unlock:
	mmap_read_unlock(mm);
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
	arena_event_uaf(r);
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
 * The live arenas of every open window a caller may see, for the netlink
 * arena dump (arena_priv.h): @fn is called under the registry's and each
 * window's lock, and must not sleep on either.
 */
long arena_arenas_walk(pid_t only_pid, bool all_users, kuid_t uid, long skip,
		       arena_arena_fn fn, void *arg)
{
	struct pid_namespace *ns = task_active_pid_ns(current);
	char comm[TASK_COMM_LEN];
	struct arena_space *space;
	struct task_struct *task;
	struct arena_view v = { .comm = comm };
	struct arena *arena;
	unsigned long id;
	long n = 0;
	int stop = 0;

	mutex_lock(&arena_spaces_lock);
	list_for_each_entry(space, &arena_spaces, entry) {
		v.pid = pid_nr_ns(space->owner, ns);
		if (!v.pid || (only_pid && v.pid != only_pid))
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
			v.id = arena->id;
			v.chunks = arena->nr_chunks;
			v.pages = arena->nr_pages;
			stop = fn(arg, &v);
			if (stop)
				break;
			n++;
		}
		mutex_unlock(&space->lock);
		if (stop)
			break;
	}
	mutex_unlock(&arena_spaces_lock);
	return n;
}
